// Shift family: per-sample integer translation with zero fill and per-sample box zeroing (DSA crop/translate and
// cutout), element math shared by CPU and CUDA. Images are [N, C, H, W]; shifts and boxes are i64 per sample.
#pragma once
#include <cstdint>
#include "kernels/common.h"

namespace yoco::kernels {

// Source index along one axis of output index i under the shift sign * d, or -1 outside [0, size). d is clamped
// to [-size, size] first: any larger shift already moves the whole axis out, and the clamp keeps i + sign * d
// from overflowing for huge (or INT64_MIN) shifts, whose result is then simply all zero.
YOCO_HD int64_t shifted_src(int64_t i, int64_t d, int64_t sign, int64_t size) {
  d = d < -size ? -size : (d > size ? size : d);
  const int64_t s = i + sign * d;
  return s >= 0 && s < size ? s : -1;
}

// out[i, j] of one plane xp (h x w) translated by sign * (dh, dw): xp[i + sign*dh, j + sign*dw], 0 outside.
// A pure copy or +0: the adjoint of translate(+d) is exactly translate(-d) (each output reads at most one input
// and each input feeds at most one output, both ways with zero fill), so the backward is the same kernel, sign
// flipped.
YOCO_HD float translate_at(const float* xp, int64_t i, int64_t j, int64_t dh, int64_t dw, int64_t sign, int64_t h,
                           int64_t w) {
  const int64_t si = shifted_src(i, dh, sign, h), sj = shifted_src(j, dw, sign, w);
  return si >= 0 && sj >= 0 ? xp[si * w + sj] : 0.f;
}

// v at (i, j) of a plane whose box = {h0, h1, w0, w1} (half-open) is cut out: v * 0 inside, v * 1 outside. A
// multiplication, not a select, so results equal the former mask multiply bit for bit: finite v inside the box
// become +0 or -0 by v's sign; inf and NaN inside become NaN (a cut-out box does not hide non-finite inputs).
// Multiplying by a 0/1 mask is self-adjoint: the backward is the same op on the gradient.
YOCO_HD float cutout_at(float v, int64_t i, int64_t j, const int64_t* box) {
  const bool inside = i >= box[0] && i < box[1] && j >= box[2] && j < box[3];
  return v * (inside ? 0.f : 1.f);
}

namespace cpu {
// x, y: [n, c, h, w]; shifts: [n, 2] (dh, dw); sign +1 (forward) or -1 (its adjoint).
void translate(const float* x, const int64_t* shifts, float* y, int64_t n, int64_t c, int64_t h, int64_t w,
               int64_t sign);
// x, y: [n, c, h, w]; boxes: [n, 4] (h0, h1, w0, w1), the box of sample k cut out in all its channels.
void cutout(const float* x, const int64_t* boxes, float* y, int64_t n, int64_t c, int64_t h, int64_t w);
}  // namespace cpu
namespace cuda {
void translate(const float* x, const int64_t* shifts, float* y, int64_t n, int64_t c, int64_t h, int64_t w,
               int64_t sign, void* stream);
void cutout(const float* x, const int64_t* boxes, float* y, int64_t n, int64_t c, int64_t h, int64_t w,
            void* stream);
}  // namespace cuda

}  // namespace yoco::kernels
