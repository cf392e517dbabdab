// Resampling ops beyond engine/ops.h: nearest resize (PyTorch 'nearest'), used by IDC's 'mix' initialisation.
#pragma once
#include <cstdint>
#include "engine/tensor.h"

namespace yoco {

// x [N, C, H, W] -> [N, C, out_h, out_w], source index floor(dst * in / out). Not differentiable.
Tensor resize_nearest(const Tensor& x, int64_t out_h, int64_t out_w);

}  // namespace yoco
