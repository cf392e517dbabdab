// Shift family, CPU loops (OpenMP over planes).
#include "kernels/shift.h"

namespace yoco::kernels::cpu {

void translate(const float* x, const int64_t* shifts, float* y, int64_t n, int64_t c, int64_t h, int64_t w,
               int64_t sign) {
  const int64_t planes = n * c;
#pragma omp parallel for schedule(static) if (planes * h * w > 65536)
  for (int64_t p = 0; p < planes; ++p) {
    const int64_t* d = shifts + (p / c) * 2;
    const float* xp = x + p * h * w;
    float* yp = y + p * h * w;
    for (int64_t i = 0; i < h; ++i)
      for (int64_t j = 0; j < w; ++j) yp[i * w + j] = translate_at(xp, i, j, d[0], d[1], sign, h, w);
  }
}

void cutout(const float* x, const int64_t* boxes, float* y, int64_t n, int64_t c, int64_t h, int64_t w) {
  const int64_t planes = n * c;
#pragma omp parallel for schedule(static) if (planes * h * w > 65536)
  for (int64_t p = 0; p < planes; ++p) {
    const int64_t* box = boxes + (p / c) * 4;
    const float* xp = x + p * h * w;
    float* yp = y + p * h * w;
    for (int64_t i = 0; i < h; ++i)
      for (int64_t j = 0; j < w; ++j) yp[i * w + j] = cutout_at(xp[i * w + j], i, j, box);
  }
}

}  // namespace yoco::kernels::cpu
