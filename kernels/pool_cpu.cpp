// Pooling family, CPU loops (OpenMP over planes).
#include "kernels/pool.h"

namespace yoco::kernels::cpu {

void avg_pool2x2(const float* x, float* y, int64_t planes, int64_t h, int64_t w) {
  const int64_t oh = h / 2, ow = w / 2;
#pragma omp parallel for schedule(static) if (planes * h * w > 65536)
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t i = 0; i < oh; ++i)
      for (int64_t j = 0; j < ow; ++j) y[(p * oh + i) * ow + j] = avg_pool2x2_at(x, p, i, j, h, w);
}

void avg_pool2x2_backward(const float* g, float* gx, int64_t planes, int64_t h, int64_t w) {
  const int64_t oh = h / 2, ow = w / 2;
#pragma omp parallel for schedule(static) if (planes * h * w > 65536)
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t i = 0; i < h; ++i) {
      float* out = gx + (p * h + i) * w;
      if (i >= 2 * oh) {  // an odd plane's last row
        for (int64_t j = 0; j < w; ++j) out[j] = 0.f;
        continue;
      }
      const float* gr = g + (p * oh + i / 2) * ow;
      for (int64_t j = 0; j < 2 * ow; ++j) out[j] = pool4_share(gr[j / 2]);
      if (w > 2 * ow) out[w - 1] = 0.f;  // an odd plane's last column
    }
}

}  // namespace yoco::kernels::cpu
