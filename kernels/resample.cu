// Resampling family, CUDA: one thread per output element for the forward maps. The adjoints avoid atomics:
// resize's adjoint is a gather (each input pixel visits the few outputs whose taps reach it, in the CPU's
// raster order, so results equal the CPU's scatter bitwise); grid_sample's adjoint (arbitrary grids, no
// bounded gather window) runs one thread per plane doing the CPU's serial scatter.
#include <cmath>
#include "kernels/cuda_check.cuh"
#include "kernels/resample.h"

namespace yoco::kernels::cuda {

namespace {
__global__ void resize_bilinear_kernel(const float* x, float* y, int64_t n, int64_t ih, int64_t iw, int64_t oh,
                                       int64_t ow) {
  const int64_t t = global_index();
  if (t >= n) return;
  const int64_t j = t % ow, i = (t / ow) % oh, p = t / (oh * ow);
  const LinearTap a = bilinear_tap(i, ih, oh), b = bilinear_tap(j, iw, ow);
  const float* r0 = x + p * ih * iw + a.i0 * iw;
  const float* r1 = x + p * ih * iw + a.i1 * iw;
  y[t] = a.l0 * (b.l0 * r0[b.i0] + b.l1 * r0[b.i1]) + a.l1 * (b.l0 * r1[b.i0] + b.l1 * r1[b.i1]);
}

// Output indices [lo, hi] whose bilinear taps can reach input index `in` (src = (dst+0.5)*in/out - 0.5 and
// taps floor(src), floor(src)+1); one index of slack each side absorbs float rounding, exact taps decide.
__device__ void tap_window(int64_t in, int64_t in_size, int64_t out_size, int64_t* lo, int64_t* hi) {
  const double inv = static_cast<double>(out_size) / static_cast<double>(in_size);
  int64_t l = static_cast<int64_t>(floor((static_cast<double>(in) - 0.5) * inv - 0.5)) - 1;
  int64_t h = static_cast<int64_t>(ceil((static_cast<double>(in) + 1.5) * inv - 0.5)) + 1;
  *lo = l < 0 ? 0 : l;
  *hi = h > out_size - 1 ? out_size - 1 : h;
}

__global__ void resize_bilinear_adjoint_kernel(const float* g, float* dx, int64_t n, int64_t ih, int64_t iw,
                                               int64_t oh, int64_t ow) {
  const int64_t t = global_index();
  if (t >= n) return;
  const int64_t xx = t % iw, yy = (t / iw) % ih, p = t / (ih * iw);
  int64_t i_lo, i_hi, j_lo, j_hi;
  tap_window(yy, ih, oh, &i_lo, &i_hi);
  tap_window(xx, iw, ow, &j_lo, &j_hi);
  const float* gp = g + p * oh * ow;
  float acc = 0.f;
  for (int64_t i = i_lo; i <= i_hi; ++i) {
    const LinearTap a = bilinear_tap(i, ih, oh);
    if (a.i0 != yy && a.i1 != yy) continue;
    for (int64_t j = j_lo; j <= j_hi; ++j) {
      const LinearTap b = bilinear_tap(j, iw, ow);
      const float v = gp[i * ow + j];
      // The CPU scatters the four corners in this order; matching it keeps the sums bitwise equal.
      if (a.i0 == yy && b.i0 == xx) acc += a.l0 * b.l0 * v;
      if (a.i0 == yy && b.i1 == xx) acc += a.l0 * b.l1 * v;
      if (a.i1 == yy && b.i0 == xx) acc += a.l1 * b.l0 * v;
      if (a.i1 == yy && b.i1 == xx) acc += a.l1 * b.l1 * v;
    }
  }
  dx[t] = acc;
}

__global__ void resize_nearest_kernel(const float* x, float* y, int64_t n, int64_t ih, int64_t iw, int64_t oh,
                                      int64_t ow) {
  const int64_t t = global_index();
  if (t >= n) return;
  const int64_t j = t % ow, i = (t / ow) % oh, p = t / (oh * ow);
  y[t] = x[p * ih * iw + nearest_src(i, ih, oh) * iw + nearest_src(j, iw, ow)];
}

__global__ void affine_grid_kernel(const float* theta, float* grid, int64_t n, int64_t h, int64_t w) {
  const int64_t t = global_index();
  if (t >= n) return;
  const int64_t j = t % w, i = (t / w) % h, b = t / (h * w);
  const float* th = theta + b * 6;
  const float x = affine_base(j, w), y = affine_base(i, h);
  // theta applied to the homogeneous base point (x, y, 1); resample.h has no helper for this product.
  grid[2 * t] = th[0] * x + th[1] * y + th[2];
  grid[2 * t + 1] = th[3] * x + th[4] * y + th[5];
}

__global__ void grid_sample_kernel(const float* x, const float* grid, float* y, int64_t n, int64_t c, int64_t ih,
                                   int64_t iw, int64_t oh, int64_t ow) {
  const int64_t t = global_index();
  if (t >= n) return;
  const int64_t k = t % (oh * ow), p = t / (oh * ow);
  const float* gp = grid + (p / c) * oh * ow * 2;
  const float* xp = x + p * ih * iw;
  const GridTaps taps = grid_taps(gp[2 * k], gp[2 * k + 1], ih, iw);
  float v = 0.f;
  for (int q = 0; q < 4; ++q)
    if (taps.idx[q] >= 0) v += taps.w[q] * xp[taps.idx[q]];
  y[t] = v;
}

__global__ void grid_sample_adjoint_kernel(const float* g, const float* grid, float* dx, int64_t planes, int64_t c,
                                           int64_t ih, int64_t iw, int64_t oh, int64_t ow) {
  const int64_t p = global_index();
  if (p >= planes) return;
  grid_sample_adjoint_plane(g, grid, dx, p, c, ih, iw, oh, ow);
}
}  // namespace

void resize_bilinear(const float* x, float* y, int64_t planes, int64_t ih, int64_t iw, int64_t oh, int64_t ow,
                     void* stream) {
  const int64_t n = planes * oh * ow;
  launch_1d(resize_bilinear_kernel, n, stream, x, y, n, ih, iw, oh, ow);
}

void resize_bilinear_adjoint(const float* g, float* dx, int64_t planes, int64_t ih, int64_t iw, int64_t oh,
                             int64_t ow, void* stream) {
  const int64_t n = planes * ih * iw;
  launch_1d(resize_bilinear_adjoint_kernel, n, stream, g, dx, n, ih, iw, oh, ow);
}

void resize_nearest(const float* x, float* y, int64_t planes, int64_t ih, int64_t iw, int64_t oh, int64_t ow,
                    void* stream) {
  const int64_t n = planes * oh * ow;
  launch_1d(resize_nearest_kernel, n, stream, x, y, n, ih, iw, oh, ow);
}

void affine_grid(const float* theta, float* grid, int64_t n, int64_t h, int64_t w, void* stream) {
  launch_1d(affine_grid_kernel, n * h * w, stream, theta, grid, n * h * w, h, w);
}

void grid_sample(const float* x, const float* grid, float* y, int64_t n, int64_t c, int64_t ih, int64_t iw,
                 int64_t oh, int64_t ow, void* stream) {
  const int64_t total = n * c * oh * ow;
  launch_1d(grid_sample_kernel, total, stream, x, grid, y, total, c, ih, iw, oh, ow);
}

void grid_sample_adjoint(const float* g, const float* grid, float* dx, int64_t n, int64_t c, int64_t ih, int64_t iw,
                         int64_t oh, int64_t ow, void* stream) {
  launch_1d(grid_sample_adjoint_kernel, n * c, stream, g, grid, dx, n * c, c, ih, iw, oh, ow);
}

}  // namespace yoco::kernels::cuda
