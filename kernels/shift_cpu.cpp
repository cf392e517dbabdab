// Shift family, CPU loops (OpenMP over planes).
#include "kernels/shift.h"

namespace yoco::kernels::cpu {

namespace {
// y[p][i][j] = at(x plane p, that plane's sample row of `per` (cols values per sample), i, j) for every plane.
template <class At>
void per_plane(const float* x, const int64_t* per, int64_t cols, float* y, int64_t n, int64_t c, int64_t h, int64_t w,
               At at) {
  const int64_t planes = n * c;
#pragma omp parallel for schedule(static) if (planes * h * w > 65536)
  for (int64_t p = 0; p < planes; ++p) {
    const int64_t* row = per + (p / c) * cols;
    const float* xp = x + p * h * w;
    float* yp = y + p * h * w;
    for (int64_t i = 0; i < h; ++i)
      for (int64_t j = 0; j < w; ++j) yp[i * w + j] = at(xp, row, i, j);
  }
}
}  // namespace

void translate(const float* x, const int64_t* shifts, float* y, int64_t n, int64_t c, int64_t h, int64_t w,
               int64_t sign) {
  per_plane(x, shifts, 2, y, n, c, h, w, [&](const float* xp, const int64_t* d, int64_t i, int64_t j) {
    return translate_at(xp, i, j, d[0], d[1], sign, h, w);
  });
}

void cutout(const float* x, const int64_t* boxes, float* y, int64_t n, int64_t c, int64_t h, int64_t w) {
  per_plane(x, boxes, 4, y, n, c, h, w, [&](const float* xp, const int64_t* box, int64_t i, int64_t j) {
    return cutout_at(xp[i * w + j], i, j, box);
  });
}

}  // namespace yoco::kernels::cpu
