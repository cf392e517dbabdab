// Colour family, CUDA: one block per sample, its threads striding over the pixels and each looping over its
// pixel's channels (saturation needs all of them). Only the reduction scratch lives in shared memory, so any
// image size works. Pass 1 sums in double through block_sum's fixed tree (deterministic, no atomics); pass 2
// recomputes each pixel from the input (cheaper than storing and re-reading it) and writes it.
#include <climits>
#include <cstdint>
#include "kernels/color.h"
#include "kernels/cuda_check.cuh"

namespace yoco::kernels::cuda {

namespace {
// I: index type of the per-pixel modulo, uint32_t when the plane is below 2^31 pixels (64-bit division costs
// several times more on the GPU); sample offsets are formed in 64 bits either way.
template <class I>
__global__ void dsa_color_kernel(const float* x, const float* params, float* y, int64_t c, int64_t h, int64_t w,
                                 int ops, int mode) {
  __shared__ double sh[kThreads];
  const int64_t s = blockIdx.x, plane = h * w, per = c * plane;
  const ColorArgs a = color_args(params + s * 4, ops, mode);
  const float* xs = x + s * per;
  float* ys = y + s * per;
  const I pl = static_cast<I>(plane), ww = static_cast<I>(w);
  float m = 0.f;
  if (a.color) {  // `ops` is uniform over the block, so every thread reaches block_sum's barriers
    double acc = 0.0;
    for (I q = threadIdx.x; q < pl; q += kThreads)
      acc += color_pixel_sum(xs + color_src(q, q % ww, w, a.flip), c, plane, a);
    m = color_mean(block_sum(acc, sh), per);
  }
  for (I q = threadIdx.x; q < pl; q += kThreads)
    color_pixel_write(xs + color_src(q, q % ww, w, a.flip), ys + q, c, plane, a, m);
}
}  // namespace

void dsa_color(const float* x, const float* params, float* y, int64_t n, int64_t c, int64_t h, int64_t w, int ops,
               int mode, void* stream) {
  if (n * c * h * w == 0) return;
  if (h * w <= INT32_MAX)
    launch_grid(dsa_color_kernel<uint32_t>, n, kThreads, 0, stream, x, params, y, c, h, w, ops, mode);
  else
    launch_grid(dsa_color_kernel<int64_t>, n, kThreads, 0, stream, x, params, y, c, h, w, ops, mode);
}

}  // namespace yoco::kernels::cuda
