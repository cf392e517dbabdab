// RNG family, CPU fill loops over the shared Philox math.
#include "kernels/rng.h"

namespace yoco::kernels::cpu {

void rng_uniform(float* out, int64_t n, uint64_t seed, uint64_t stream, uint64_t offset, float lo, float hi) {
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) out[i] = lo + (hi - lo) * philox_uniform(seed, stream, offset + i);
}

void rng_normal(float* out, int64_t n, uint64_t seed, uint64_t stream, uint64_t offset, float mean, float std) {
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) {
    uint64_t j = 2 * (offset + i);
    out[i] = mean + std * philox_normal_from(philox_u32(seed, stream, j), philox_u32(seed, stream, j + 1));
  }
}

}  // namespace yoco::kernels::cpu
