// Colour family: DSA's flip + brightness + saturation + contrast as one per-sample map, element math shared by
// CPU and CUDA. Images are [N, C, H, W]; params are f32 [N, 4] = (flip, brightness, saturation, contrast).
#pragma once
#include <cstdint>
#include "kernels/common.h"

namespace yoco::kernels {

// Which parts run (bits of `ops`): a part left out is not computed at all, so its absence is bit-exact.
constexpr int kColorFlip = 1, kColorColor = 2;

// The map is affine: y = A x + b with A = Contrast * Saturation * Flip, each factor symmetric (contrast
// cI + (1-c)M and saturation sI + (1-s)M_c with M, M_c averaging projections; flip a symmetric permutation).
// forward: A x + brightness; adjoint: A^T g = Flip * Saturation * Contrast g (no brightness); linear: A x, the
// adjoint's adjoint. Each mode's backward is another mode of the same kernel. (The factors even commute, since
// M M_c = M_c M = M and flip commutes with both, so A is symmetric and the modes differ only in rounding order;
// the adjoint keeps the literal transpose's order.)
enum ColorMode : int { kColorForward = 0, kColorAdjoint = 1, kColorLinear = 2 };

// One sample's parameters, with `ops` and the mode applied.
struct ColorArgs {
  bool flip, color, adjoint;
  float bright, sat, con;
};

YOCO_HD ColorArgs color_args(const float* p, int ops, int mode) {
  ColorArgs a;
  a.flip = (ops & kColorFlip) && p[0] != 0.f;
  a.color = (ops & kColorColor) != 0;
  a.adjoint = mode == kColorAdjoint;
  a.bright = mode == kColorForward ? p[1] : 0.f;
  a.sat = p[2];
  a.con = p[3];
  return a;
}

// (v - m) * f + m: saturation (m = the pixel's channel mean) and contrast (m = the sample's mean).
YOCO_HD float around(float v, float m, float f) { return (v - m) * f + m; }

// The pixel of output (row start q - j, column j) reads its source pixel here: flipped along W, or itself.
YOCO_HD int64_t color_src(int64_t q, int64_t j, int64_t w, bool flip) { return flip ? q + w - 1 - 2 * j : q; }

// Value of channel k of one pixel before the channel mean: forward: x + brightness; adjoint: contrast first.
// xp points at the pixel in channel 0, channels `plane` apart; m is the sample mean (adjoint only).
YOCO_HD float color_pre(const float* xp, int64_t k, int64_t plane, const ColorArgs& a, float m) {
  const float v = xp[k * plane];
  return a.adjoint ? around(v, m, a.con) : v + a.bright;
}

// The pixel's channel mean of color_pre, summed in double and divided by C (as the composed mean did).
YOCO_HD float color_channel_mean(const float* xp, int64_t c, int64_t plane, const ColorArgs& a, float m) {
  double acc = 0.0;
  for (int64_t k = 0; k < c; ++k) acc += static_cast<double>(color_pre(xp, k, plane, a, m));
  return static_cast<float>(acc / static_cast<double>(c));
}

// First pass, colour only: the pixel's share of the sum whose mean the contrast needs. Forward: the saturated
// values (recomputed in the second pass rather than stored); adjoint: the incoming values themselves.
YOCO_HD double color_pixel_sum(const float* xp, int64_t c, int64_t plane, const ColorArgs& a) {
  double acc = 0.0;
  if (a.adjoint) {
    for (int64_t k = 0; k < c; ++k) acc += static_cast<double>(xp[k * plane]);
    return acc;
  }
  const float mc = color_channel_mean(xp, c, plane, a, 0.f);
  for (int64_t k = 0; k < c; ++k) acc += static_cast<double>(around(color_pre(xp, k, plane, a, 0.f), mc, a.sat));
  return acc;
}

// Second pass: writes the C channels of one output pixel from its (possibly flipped) source pixel xp. Without
// colour a pure copy; forward: saturation then contrast around m; adjoint: contrast around m then saturation.
YOCO_HD void color_pixel_write(const float* xp, float* yp, int64_t c, int64_t plane, const ColorArgs& a,
                               float m) {
  if (!a.color) {
    for (int64_t k = 0; k < c; ++k) yp[k * plane] = xp[k * plane];
    return;
  }
  const float mc = color_channel_mean(xp, c, plane, a, m);
  for (int64_t k = 0; k < c; ++k) {
    const float s = around(color_pre(xp, k, plane, a, m), mc, a.sat);
    yp[k * plane] = a.adjoint ? s : around(s, m, a.con);
  }
}

// The sample mean from the first pass's double sum, divided by C * H * W (as the composed mean did).
YOCO_HD float color_mean(double sum, int64_t count) { return static_cast<float>(sum / static_cast<double>(count)); }

namespace cpu {
// x, y: [n, c, h, w] (distinct buffers); params: [n, 4]; ops: kColorFlip | kColorColor; mode: ColorMode.
void dsa_color(const float* x, const float* params, float* y, int64_t n, int64_t c, int64_t h, int64_t w, int ops,
               int mode);
}  // namespace cpu
namespace cuda {
void dsa_color(const float* x, const float* params, float* y, int64_t n, int64_t c, int64_t h, int64_t w, int ops,
               int mode, void* stream);
}  // namespace cuda

}  // namespace yoco::kernels
