// PNG grid export of an image set (one row per class for class-major sets) for visual inspection.
#pragma once
#include <cstdint>
#include <string>
#include "engine/tensor.h"

namespace yoco::data {

// images: f32 [N,C,H,W] in [0,1] (values are clamped; C=1 is drawn gray, C=3 RGB); labels: i64 [N].
// cols = 0: one row per run of equal labels (class-major sets give one row per class), with the class index
// drawn at the row start and a coloured separator between classes. cols > 0: plain row-major grid.
// pad: pixels between cells. Atomic write (temp file + rename).
void write_png_grid(const std::string& path, const Tensor& images, const Tensor& labels, int64_t cols = 0,
                    int pad = 2);

}  // namespace yoco::data
