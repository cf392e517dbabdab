// Resampling family: bilinear/nearest resize, affine grids and bilinear grid sampling (PyTorch semantics,
// align_corners = false), with exact adjoints. Images are planes of [H, W] (P = N*C planes).
#pragma once
#include <cmath>
#include <cstdint>
#include "kernels/common.h"

namespace yoco::kernels {

// One output coordinate of a bilinear resize: source = (dst + 0.5) * scale - 0.5 clamped at 0,
// scale = in / out; neighbours i0, i1 (i1 clamped to the last index) and the weight l1 of i1.
struct LinearTap {
  int64_t i0, i1;
  float l0, l1;
};
YOCO_HD LinearTap bilinear_tap(int64_t dst, int64_t in_size, int64_t out_size) {
  const float scale = static_cast<float>(in_size) / static_cast<float>(out_size);
  float src = scale * (static_cast<float>(dst) + 0.5f) - 0.5f;
  src = src < 0.f ? 0.f : src;
  LinearTap t;
  t.i0 = static_cast<int64_t>(src);
  if (t.i0 > in_size - 1) t.i0 = in_size - 1;
  t.i1 = t.i0 < in_size - 1 ? t.i0 + 1 : t.i0;
  t.l1 = src - static_cast<float>(t.i0);
  t.l0 = 1.f - t.l1;
  return t;
}

// PyTorch 'nearest': identity for equal sizes, else floor(dst * (in / out)) clamped to the last index.
YOCO_HD int64_t nearest_src(int64_t dst, int64_t in_size, int64_t out_size) {
  if (in_size == out_size) return dst;
  const float scale = static_cast<float>(in_size) / static_cast<float>(out_size);
  const int64_t s = static_cast<int64_t>(floorf(static_cast<float>(dst) * scale));
  return s < in_size - 1 ? s : in_size - 1;
}

// affine_grid base coordinate for align_corners = false: the centre of pixel i in [-1, 1].
YOCO_HD float affine_base(int64_t i, int64_t size) {
  return (2.f * static_cast<float>(i) + 1.f) / static_cast<float>(size) - 1.f;
}

// The four bilinear corners of a grid point (gx, gy) in [-1, 1] (align_corners = false):
// idx = y * w + x, or -1 where the corner lies outside (zero padding).
struct GridTaps {
  int64_t idx[4];
  float w[4];
};
YOCO_HD GridTaps grid_taps(float gx, float gy, int64_t h, int64_t w) {
  const float ix = ((gx + 1.f) * static_cast<float>(w) - 1.f) * 0.5f;
  const float iy = ((gy + 1.f) * static_cast<float>(h) - 1.f) * 0.5f;
  const float fx = floorf(ix), fy = floorf(iy);
  const int64_t x0 = static_cast<int64_t>(fx), y0 = static_cast<int64_t>(fy);
  const float tx = ix - fx, ty = iy - fy;
  GridTaps t;
  const int64_t xs[4] = {x0, x0 + 1, x0, x0 + 1}, ys[4] = {y0, y0, y0 + 1, y0 + 1};
  const float ws[4] = {(1.f - tx) * (1.f - ty), tx * (1.f - ty), (1.f - tx) * ty, tx * ty};
  for (int k = 0; k < 4; ++k) {
    const bool in = xs[k] >= 0 && xs[k] < w && ys[k] >= 0 && ys[k] < h;
    t.idx[k] = in ? ys[k] * w + xs[k] : -1;
    t.w[k] = in ? ws[k] : 0.f;
  }
  return t;
}

// Adjoint of grid_sample for one (n, c) plane p: a serial scatter in a fixed order (deterministic, no atomics).
YOCO_HD void grid_sample_adjoint_plane(const float* g, const float* grid, float* dx, int64_t p, int64_t c, int64_t ih,
                                       int64_t iw, int64_t oh, int64_t ow) {
  const float* gp = grid + (p / c) * oh * ow * 2;
  const float* go = g + p * oh * ow;
  float* dp = dx + p * ih * iw;
  for (int64_t k = 0; k < ih * iw; ++k) dp[k] = 0.f;
  for (int64_t k = 0; k < oh * ow; ++k) {
    const GridTaps t = grid_taps(gp[2 * k], gp[2 * k + 1], ih, iw);
    for (int q = 0; q < 4; ++q)
      if (t.idx[q] >= 0) dp[t.idx[q]] += t.w[q] * go[k];
  }
}

namespace cpu {
void resize_bilinear(const float* x, float* y, int64_t planes, int64_t ih, int64_t iw, int64_t oh, int64_t ow);
// dx = R^T g, gathered serially per plane (deterministic); dx is overwritten.
void resize_bilinear_adjoint(const float* g, float* dx, int64_t planes, int64_t ih, int64_t iw, int64_t oh,
                             int64_t ow);
void resize_nearest(const float* x, float* y, int64_t planes, int64_t ih, int64_t iw, int64_t oh, int64_t ow);
// theta [n, 2, 3] -> grid [n, h, w, 2].
void affine_grid(const float* theta, float* grid, int64_t n, int64_t h, int64_t w);
// x [n, c, ih, iw], grid [n, oh, ow, 2] -> y [n, c, oh, ow].
void grid_sample(const float* x, const float* grid, float* y, int64_t n, int64_t c, int64_t ih, int64_t iw,
                 int64_t oh, int64_t ow);
// dx = S^T g: one task per (n, c) plane scattering serially (deterministic); dx is overwritten.
void grid_sample_adjoint(const float* g, const float* grid, float* dx, int64_t n, int64_t c, int64_t ih, int64_t iw,
                         int64_t oh, int64_t ow);
}  // namespace cpu
namespace cuda {
void resize_bilinear(const float* x, float* y, int64_t planes, int64_t ih, int64_t iw, int64_t oh, int64_t ow,
                     void* stream);
void resize_bilinear_adjoint(const float* g, float* dx, int64_t planes, int64_t ih, int64_t iw, int64_t oh,
                             int64_t ow, void* stream);
void resize_nearest(const float* x, float* y, int64_t planes, int64_t ih, int64_t iw, int64_t oh, int64_t ow,
                    void* stream);
void affine_grid(const float* theta, float* grid, int64_t n, int64_t h, int64_t w, void* stream);
void grid_sample(const float* x, const float* grid, float* y, int64_t n, int64_t c, int64_t ih, int64_t iw,
                 int64_t oh, int64_t ow, void* stream);
void grid_sample_adjoint(const float* g, const float* grid, float* dx, int64_t n, int64_t c, int64_t ih, int64_t iw,
                         int64_t oh, int64_t ow, void* stream);
}  // namespace cuda

}  // namespace yoco::kernels
