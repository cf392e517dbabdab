// Pooling family, CUDA: one thread per output element (forward) or per input element (adjoint, a gather:
// each input reads the one window gradient it belongs to, so no atomics are needed).
#include "kernels/cuda_check.cuh"
#include "kernels/pool.h"

namespace yoco::kernels::cuda {

namespace {
__global__ void avg_pool2x2_kernel(const float* x, float* y, int64_t n, int64_t h, int64_t w) {
  const int64_t t = global_index();
  if (t >= n) return;
  const int64_t oh = h / 2, ow = w / 2;
  const int64_t j = t % ow, i = (t / ow) % oh, p = t / (oh * ow);
  y[t] = avg_pool2x2_at(x, p, i, j, h, w);
}

__global__ void avg_pool2x2_backward_kernel(const float* g, float* gx, int64_t n, int64_t h, int64_t w) {
  const int64_t t = global_index();
  if (t >= n) return;
  const int64_t oh = h / 2, ow = w / 2;
  const int64_t j = t % w, i = (t / w) % h, p = t / (h * w);
  // The adjoint of the 1/4-weighted window sum (pool.h has no backward helper; this is its transpose).
  gx[t] = 0.25f * g[(p * oh + i / 2) * ow + j / 2];
}
}  // namespace

void avg_pool2x2(const float* x, float* y, int64_t planes, int64_t h, int64_t w, void* stream) {
  const int64_t n = planes * (h / 2) * (w / 2);
  launch_1d(avg_pool2x2_kernel, n, stream, x, y, n, h, w);
}

void avg_pool2x2_backward(const float* g, float* gx, int64_t planes, int64_t h, int64_t w, void* stream) {
  const int64_t n = planes * h * w;
  launch_1d(avg_pool2x2_backward_kernel, n, stream, g, gx, n, h, w);
}

}  // namespace yoco::kernels::cuda
