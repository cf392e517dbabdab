// Pooling family, CUDA: one thread per output element (forward) or per input element (adjoint, a gather:
// each input reads the one window gradient it belongs to, so no atomics are needed; odd sizes floor).
#include <climits>
#include <cstdint>
#include "kernels/cuda_check.cuh"
#include "kernels/pool.h"

namespace yoco::kernels::cuda {

namespace {
// I: index type of the per-element div/mod, uint32_t below 2^31 elements (64-bit division costs several times
// more on the GPU, and these kernels run it for every element).
template <class I>
__global__ void avg_pool2x2_kernel(const float* x, float* y, int64_t n, int64_t h, int64_t w) {
  const int64_t g = global_index();
  if (g >= n) return;
  const I t = static_cast<I>(g), oh = static_cast<I>(h / 2), ow = static_cast<I>(w / 2);
  const I j = t % ow, i = (t / ow) % oh, p = t / (oh * ow);
  y[g] = avg_pool2x2_at(x, p, i, j, h, w);
}

template <class I>
__global__ void avg_pool2x2_backward_kernel(const float* g, float* gx, int64_t n, int64_t h, int64_t w) {
  const int64_t at = global_index();
  if (at >= n) return;
  const I t = static_cast<I>(at), hh = static_cast<I>(h), ww = static_cast<I>(w), oh = hh / 2, ow = ww / 2;
  const I j = t % ww, i = (t / ww) % hh, p = t / (hh * ww);
  // An odd plane's last row or column is in no window (floored as PyTorch's avg_pool2d).
  gx[at] = i >= 2 * oh || j >= 2 * ow ? 0.f : pool4_share(g[(static_cast<int64_t>(p) * oh + i / 2) * ow + j / 2]);
}
}  // namespace

void avg_pool2x2(const float* x, float* y, int64_t planes, int64_t h, int64_t w, void* stream) {
  const int64_t n = planes * (h / 2) * (w / 2);
  if (planes * h * w <= INT32_MAX)
    launch_1d(avg_pool2x2_kernel<uint32_t>, n, stream, x, y, n, h, w);
  else
    launch_1d(avg_pool2x2_kernel<int64_t>, n, stream, x, y, n, h, w);
}

void avg_pool2x2_backward(const float* g, float* gx, int64_t planes, int64_t h, int64_t w, void* stream) {
  const int64_t n = planes * h * w;
  if (n <= INT32_MAX)
    launch_1d(avg_pool2x2_backward_kernel<uint32_t>, n, stream, g, gx, n, h, w);
  else
    launch_1d(avg_pool2x2_backward_kernel<int64_t>, n, stream, g, gx, n, h, w);
}

}  // namespace yoco::kernels::cuda
