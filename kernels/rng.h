// Philox4x32-10 counter-based RNG: the same (seed, stream, offset) gives the same numbers on CPU and CUDA.
#pragma once
#include <cmath>
#include <cstdint>
#include "kernels/common.h"

namespace yoco::kernels {

struct Philox4 {
  uint32_t v[4];
};

YOCO_HD uint32_t philox_mulhilo(uint32_t a, uint32_t b, uint32_t* hi) {
  uint64_t p = static_cast<uint64_t>(a) * static_cast<uint64_t>(b);
  *hi = static_cast<uint32_t>(p >> 32);
  return static_cast<uint32_t>(p);
}

// Counter = (offset_lo, offset_hi, stream_lo, stream_hi); key = seed. Ten rounds (Salmon et al. 2011).
YOCO_HD Philox4 philox4x32_10(uint64_t seed, uint64_t stream, uint64_t offset) {
  uint32_t c0 = static_cast<uint32_t>(offset), c1 = static_cast<uint32_t>(offset >> 32);
  uint32_t c2 = static_cast<uint32_t>(stream), c3 = static_cast<uint32_t>(stream >> 32);
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  for (int r = 0; r < 10; ++r) {
    uint32_t hi0, hi1;
    uint32_t lo0 = philox_mulhilo(0xD2511F53u, c0, &hi0);
    uint32_t lo1 = philox_mulhilo(0xCD9E8D57u, c2, &hi1);
    uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
    c0 = n0; c1 = n1; c2 = n2; c3 = n3;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  Philox4 out{{c0, c1, c2, c3}};
  return out;
}

// Uniform float in [0, 1) from 24 high bits: exact in float, identical on every device.
YOCO_HD float uint_to_unit_float(uint32_t x) { return static_cast<float>(x >> 8) * (1.0f / 16777216.0f); }

// Element i of a stream: block i/4 of the counter, word i%4.
YOCO_HD uint32_t philox_u32(uint64_t seed, uint64_t stream, uint64_t index) {
  Philox4 r = philox4x32_10(seed, stream, index >> 2);
  return r.v[index & 3];
}

YOCO_HD float philox_uniform(uint64_t seed, uint64_t stream, uint64_t index) {
  return uint_to_unit_float(philox_u32(seed, stream, index));
}

// Declared launchers: fill out[i] = lo + (hi-lo) * U(seed, stream, offset + i).
namespace cpu {
void rng_uniform(float* out, int64_t n, uint64_t seed, uint64_t stream, uint64_t offset, float lo, float hi);
void rng_normal(float* out, int64_t n, uint64_t seed, uint64_t stream, uint64_t offset, float mean, float std);
}  // namespace cpu
namespace cuda {
void rng_uniform(float* out, int64_t n, uint64_t seed, uint64_t stream, uint64_t offset, float lo, float hi, void* s);
void rng_normal(float* out, int64_t n, uint64_t seed, uint64_t stream, uint64_t offset, float mean, float std, void* s);
}  // namespace cuda

// Box-Muller on two uniforms of one pair; element i uses words 2*i and 2*i+1 (log/cos in float: the
// CUDA side uses the same libm-accurate logf/cosf, so values agree to a few ulp, not bit-exactly).
YOCO_HD float philox_normal_from(uint32_t a, uint32_t b) {
  float u1 = (static_cast<float>(a >> 8) + 1.0f) * (1.0f / 16777216.0f);  // (0,1]
  float u2 = uint_to_unit_float(b);
  float r = sqrtf(-2.0f * logf(u1));
  return r * cosf(6.28318530717958647692f * u2);
}

}  // namespace yoco::kernels
