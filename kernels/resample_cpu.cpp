// Resampling family, CPU loops (OpenMP over planes; adjoints scatter serially inside a plane).
#include <vector>
#include "kernels/resample.h"

namespace yoco::kernels::cpu {

namespace {
std::vector<LinearTap> taps(int64_t in_size, int64_t out_size) {
  std::vector<LinearTap> t(static_cast<size_t>(out_size));
  for (int64_t i = 0; i < out_size; ++i) t[i] = bilinear_tap(i, in_size, out_size);
  return t;
}
}  // namespace

void resize_bilinear(const float* x, float* y, int64_t planes, int64_t ih, int64_t iw, int64_t oh, int64_t ow) {
  const std::vector<LinearTap> th = taps(ih, oh), tw = taps(iw, ow);
#pragma omp parallel for schedule(static) if (planes * oh * ow > 32768)
  for (int64_t p = 0; p < planes; ++p) {
    const float* xp = x + p * ih * iw;
    float* yp = y + p * oh * ow;
    for (int64_t i = 0; i < oh; ++i) {
      const LinearTap& a = th[i];
      const float* r0 = xp + a.i0 * iw;
      const float* r1 = xp + a.i1 * iw;
      for (int64_t j = 0; j < ow; ++j) {
        const LinearTap& b = tw[j];
        yp[i * ow + j] = a.l0 * (b.l0 * r0[b.i0] + b.l1 * r0[b.i1]) + a.l1 * (b.l0 * r1[b.i0] + b.l1 * r1[b.i1]);
      }
    }
  }
}

void resize_bilinear_adjoint(const float* g, float* dx, int64_t planes, int64_t ih, int64_t iw, int64_t oh,
                             int64_t ow) {
  const std::vector<LinearTap> th = taps(ih, oh), tw = taps(iw, ow);
#pragma omp parallel for schedule(static) if (planes * oh * ow > 32768)
  for (int64_t p = 0; p < planes; ++p) {
    const float* gp = g + p * oh * ow;
    float* dp = dx + p * ih * iw;
    for (int64_t k = 0; k < ih * iw; ++k) dp[k] = 0.f;
    for (int64_t i = 0; i < oh; ++i) {
      const LinearTap& a = th[i];
      for (int64_t j = 0; j < ow; ++j) {
        const LinearTap& b = tw[j];
        const float v = gp[i * ow + j];
        dp[a.i0 * iw + b.i0] += a.l0 * b.l0 * v;
        dp[a.i0 * iw + b.i1] += a.l0 * b.l1 * v;
        dp[a.i1 * iw + b.i0] += a.l1 * b.l0 * v;
        dp[a.i1 * iw + b.i1] += a.l1 * b.l1 * v;
      }
    }
  }
}

void resize_nearest(const float* x, float* y, int64_t planes, int64_t ih, int64_t iw, int64_t oh, int64_t ow) {
#pragma omp parallel for schedule(static) if (planes * oh * ow > 32768)
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t i = 0; i < oh; ++i) {
      const float* row = x + p * ih * iw + nearest_src(i, ih, oh) * iw;
      for (int64_t j = 0; j < ow; ++j) y[(p * oh + i) * ow + j] = row[nearest_src(j, iw, ow)];
    }
}

void affine_grid(const float* theta, float* grid, int64_t n, int64_t h, int64_t w) {
  for (int64_t b = 0; b < n; ++b) {
    const float* t = theta + b * 6;
    for (int64_t i = 0; i < h; ++i) {
      const float y = affine_base(i, h);
      for (int64_t j = 0; j < w; ++j) {
        const float x = affine_base(j, w);
        float* o = grid + ((b * h + i) * w + j) * 2;
        o[0] = t[0] * x + t[1] * y + t[2];
        o[1] = t[3] * x + t[4] * y + t[5];
      }
    }
  }
}

void grid_sample(const float* x, const float* grid, float* y, int64_t n, int64_t c, int64_t ih, int64_t iw,
                 int64_t oh, int64_t ow) {
#pragma omp parallel for schedule(static) if (n * c * oh * ow > 32768)
  for (int64_t p = 0; p < n * c; ++p) {
    const float* xp = x + p * ih * iw;
    const float* gp = grid + (p / c) * oh * ow * 2;
    float* yp = y + p * oh * ow;
    for (int64_t k = 0; k < oh * ow; ++k) {
      const GridTaps t = grid_taps(gp[2 * k], gp[2 * k + 1], ih, iw);
      float v = 0.f;
      for (int q = 0; q < 4; ++q)
        if (t.idx[q] >= 0) v += t.w[q] * xp[t.idx[q]];
      yp[k] = v;
    }
  }
}

void grid_sample_adjoint(const float* g, const float* grid, float* dx, int64_t n, int64_t c, int64_t ih, int64_t iw,
                         int64_t oh, int64_t ow) {
#pragma omp parallel for schedule(static) if (n * c * oh * ow > 32768)
  for (int64_t p = 0; p < n * c; ++p) grid_sample_adjoint_plane(g, grid, dx, p, c, ih, iw, oh, ow);
}

}  // namespace yoco::kernels::cpu
