// Pooling family: 2×2 average pooling (stride 2) and its adjoint, element math shared by CPU and CUDA. Odd sizes
// floor as PyTorch's avg_pool2d does: the last row / column of an odd plane is in no window (adjoint: gradient 0).
#pragma once
#include <cstdint>
#include "kernels/common.h"

namespace yoco::kernels {

// One window's mean (a, b: its top row; c, d: its bottom row), summed in this order everywhere it is taken.
YOCO_HD float pool4(float a, float b, float c, float d) { return 0.25f * ((a + b) + (c + d)); }
// What each of a window's four inputs receives of the window's gradient g (the pool's adjoint).
YOCO_HD float pool4_share(float g) { return 0.25f * g; }

// Output element (plane p, row i, col j) of the pool over an h×w input plane (i < h/2, j < w/2).
YOCO_HD float avg_pool2x2_at(const float* x, int64_t p, int64_t i, int64_t j, int64_t h, int64_t w) {
  const float* q = x + p * h * w + (2 * i) * w + 2 * j;
  return pool4(q[0], q[1], q[w], q[w + 1]);
}

namespace cpu {
// x: [planes, h, w] -> y: [planes, h/2, w/2] (floored).
void avg_pool2x2(const float* x, float* y, int64_t planes, int64_t h, int64_t w);
// g: [planes, h/2, w/2] -> gx: [planes, h, w], each input gets a quarter of its window's gradient (0 outside
// every window: an odd plane's last row and column).
void avg_pool2x2_backward(const float* g, float* gx, int64_t planes, int64_t h, int64_t w);
}  // namespace cpu
namespace cuda {
void avg_pool2x2(const float* x, float* y, int64_t planes, int64_t h, int64_t w, void* stream);
void avg_pool2x2_backward(const float* g, float* gx, int64_t planes, int64_t h, int64_t w, void* stream);
}  // namespace cuda

}  // namespace yoco::kernels
