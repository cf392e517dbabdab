// Colour family, CPU: one task per sample (OpenMP over samples), the contrast's sum in double in pixel order.
#include "kernels/color.h"

namespace yoco::kernels::cpu {

void dsa_color(const float* x, const float* params, float* y, int64_t n, int64_t c, int64_t h, int64_t w, int ops,
               int mode) {
  const int64_t plane = h * w, per = c * plane;
#pragma omp parallel for schedule(static) if (n * per > 65536)
  for (int64_t s = 0; s < n; ++s) {
    const ColorArgs a = color_args(params + s * 4, ops, mode);
    const float* xs = x + s * per;
    float* ys = y + s * per;
    // Pass 1 visits the source pixels in output order, so flip + colour sums exactly as colour on a flipped x.
    float m = 0.f;
    if (a.color) {
      double acc = 0.0;
      for (int64_t i = 0; i < h; ++i)
        for (int64_t j = 0; j < w; ++j) acc += color_pixel_sum(xs + color_src(i * w + j, j, w, a.flip), c, plane, a);
      m = color_mean(acc, per);
    }
    for (int64_t i = 0; i < h; ++i)
      for (int64_t j = 0; j < w; ++j) {
        const int64_t q = i * w + j;
        color_pixel_write(xs + color_src(q, j, w, a.flip), ys + q, c, plane, a, m);
      }
  }
}

}  // namespace yoco::kernels::cpu
