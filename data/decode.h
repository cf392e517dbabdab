// IDC multi-formation: decode stored images into f*f sub-images, and the 'mix' initialisation (spec §3.1).
#pragma once
#include <cstdint>
#include <utility>
#include "engine/tensor.h"

namespace yoco::data {

// stored [n,C,H,W] -> [n*f*f, C, H, W], differentiable w.r.t. stored (IDC decode_zoom, type 'single').
// Pads bottom/right with 0.5 when H (or W) % f != 0, takes the f*f crops of size ceil(H/f) in row-major
// order (q = i*f + j) and concatenates them QUADRANT-MAJOR: output index = q*n + image. Each crop is
// resized bilinearly (align_corners=false) back to H x W. factor 1 returns `stored` unchanged.
Tensor decode(const Tensor& stored, int64_t factor);

// Where decoded image j of a block of n stored images comes from: (stored image j % n, quadrant j / n).
std::pair<int64_t, int64_t> decoded_source(int64_t j, int64_t n);

// IDC init 'mix': real_first [n*f*f, C, H, W] (the first n*f^2 real images of a class, dataset order)
// -> stored [n, C, H, W]. Chunk k = real images [k*n, (k+1)*n) is nearest-downsized (PyTorch
// F.interpolate default) into quadrant k (row-major) of the n stored images, so real image q*n + m
// lands in quadrant q of stored image m and decode(mix_init(real))[q*n + m] approximates real[q*n + m].
// Not differentiable (an initialisation). factor 1 returns a copy of real_first.
Tensor mix_init(const Tensor& real_first, int64_t n, int64_t factor);

}  // namespace yoco::data
