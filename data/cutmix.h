// CutMix for network training in IDC's recipe (misc/utils.py::rand_bbox, train.py), with Philox draws.
#pragma once
#include <array>
#include <cstdint>
#include <vector>
#include "engine/tensor.h"

namespace yoco::data {

struct CutMixResult {
  Tensor images;  // x with the partner's box pasted in (x itself when not applied)
  Tensor target;  // soft [N, num_classes]: lam * onehot(y) + (1 - lam) * onehot(y[perm]); rows sum to 1
  float lam = 1.f;  // kept-area ratio 1 - box_area / (H*W) (the loss weight IDC uses); 1 when not applied
  bool applied = false;
  std::array<int64_t, 4> box{};  // [h0, w0, h1, w1): rows h0..h1-1, cols w0..w1-1 (all 0 when not applied)
  std::vector<int64_t> perm;   // partner of each sample (identity when not applied)
};

// With probability `prob`: lam ~ Beta(1,1) = U[0,1), a random permutation (Fisher-Yates on Philox), a box
// of half-sizes int(H*sqrt(1-lam))//2, int(W*sqrt(1-lam))//2 around a uniform centre, clipped, filled
// from the partner; lam is then replaced by the kept-area ratio. Otherwise target = one_hot(labels).
// Randomness: Philox(seed, fixed stream per quantity, index = (draw_id << 32) + k). labels: i64 [N].
// Differentiable w.r.t. x through the blend, though training inputs do not need it.
// `labels` are read on the host (they pick the soft targets' columns): training loops pass the host copy they
// built the batch from, so no step waits for the device to download them.
CutMixResult cutmix(const Tensor& x, const std::vector<int64_t>& labels, int64_t num_classes, float prob,
                    uint64_t seed, uint64_t draw_id);
// The same with labels in a tensor (a host wait when they live on a device).
CutMixResult cutmix(const Tensor& x, const Tensor& labels, int64_t num_classes, float prob, uint64_t seed,
                    uint64_t draw_id);

}  // namespace yoco::data
