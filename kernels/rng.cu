// RNG family, CUDA: the same Philox functions as the CPU loop, element for element, so uniform streams are
// bitwise equal to the CPU's and normal streams agree to a few ulp (device logf/cosf). The affine map
// lo + (hi-lo)*u is one explicit FMA: the CPU build (gnu++17, -mfma, default fp-contract) contracts it to
// vfmadd, so spelling the rounding out keeps the two bitwise equal whatever nvcc's --fmad choice.
#include "kernels/cuda_check.cuh"
#include "kernels/rng.h"

namespace yoco::kernels::cuda {

namespace {
__global__ void rng_uniform_kernel(float* out, int64_t n, uint64_t seed, uint64_t stream, uint64_t offset, float lo,
                                   float hi) {
  const int64_t i = global_index();
  if (i >= n) return;
  out[i] = __fmaf_rn(hi - lo, philox_uniform(seed, stream, offset + static_cast<uint64_t>(i)), lo);
}

__global__ void rng_normal_kernel(float* out, int64_t n, uint64_t seed, uint64_t stream, uint64_t offset, float mean,
                                  float std) {
  const int64_t i = global_index();
  if (i >= n) return;
  const uint64_t j = 2 * (offset + static_cast<uint64_t>(i));
  out[i] = __fmaf_rn(std, philox_normal_from(philox_u32(seed, stream, j), philox_u32(seed, stream, j + 1)), mean);
}
}  // namespace

void rng_uniform(float* out, int64_t n, uint64_t seed, uint64_t stream, uint64_t offset, float lo, float hi, void* s) {
  launch_1d(rng_uniform_kernel, n, s, out, n, seed, stream, offset, lo, hi);
}

void rng_normal(float* out, int64_t n, uint64_t seed, uint64_t stream, uint64_t offset, float mean, float std,
                void* s) {
  launch_1d(rng_normal_kernel, n, s, out, n, seed, stream, offset, mean, std);
}

}  // namespace yoco::kernels::cuda
