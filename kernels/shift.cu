// Shift family, CUDA: one thread per output element; the per-sample shifts and boxes are read from device memory
// (a few bytes per sample), so a step uploads no per-element index or mask.
#include <climits>
#include <cstdint>
#include "kernels/cuda_check.cuh"
#include "kernels/shift.h"

namespace yoco::kernels::cuda {

namespace {
// I: index type of the per-element div/mod, uint32_t below 2^31 elements (64-bit division costs several times
// more on the GPU); the plane offset is formed in 64 bits either way.
template <class I>
__global__ void translate_kernel(const float* x, const int64_t* shifts, float* y, int64_t total, int64_t c,
                                 int64_t h, int64_t w, int64_t sign) {
  const int64_t g = global_index();
  if (g >= total) return;
  const I t = static_cast<I>(g), hh = static_cast<I>(h), ww = static_cast<I>(w);
  const I j = t % ww, i = (t / ww) % hh, p = t / (hh * ww);
  const int64_t* d = shifts + (static_cast<int64_t>(p) / c) * 2;
  y[g] = translate_at(x + static_cast<int64_t>(p) * h * w, i, j, d[0], d[1], sign, h, w);
}

template <class I>
__global__ void cutout_kernel(const float* x, const int64_t* boxes, float* y, int64_t total, int64_t c, int64_t h,
                              int64_t w) {
  const int64_t g = global_index();
  if (g >= total) return;
  const I t = static_cast<I>(g), hh = static_cast<I>(h), ww = static_cast<I>(w);
  const I j = t % ww, i = (t / ww) % hh, p = t / (hh * ww);
  y[g] = cutout_at(x[g], i, j, boxes + (static_cast<int64_t>(p) / c) * 4);
}
}  // namespace

void translate(const float* x, const int64_t* shifts, float* y, int64_t n, int64_t c, int64_t h, int64_t w,
               int64_t sign, void* stream) {
  const int64_t total = n * c * h * w;
  if (total <= INT32_MAX)
    launch_1d(translate_kernel<uint32_t>, total, stream, x, shifts, y, total, c, h, w, sign);
  else
    launch_1d(translate_kernel<int64_t>, total, stream, x, shifts, y, total, c, h, w, sign);
}

void cutout(const float* x, const int64_t* boxes, float* y, int64_t n, int64_t c, int64_t h, int64_t w,
            void* stream) {
  const int64_t total = n * c * h * w;
  if (total <= INT32_MAX)
    launch_1d(cutout_kernel<uint32_t>, total, stream, x, boxes, y, total, c, h, w);
  else
    launch_1d(cutout_kernel<int64_t>, total, stream, x, boxes, y, total, c, h, w);
}

}  // namespace yoco::kernels::cuda
