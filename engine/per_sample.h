// Fused per-sample statistics of a batch of logits (EL2N, loss, correctness, AUM margin, entropy) for pruning.
#pragma once
#include "engine/tensor.h"

namespace yoco {

// Each field is f32 [N]; see kernels::PerSampleStats for the definitions. Not differentiable.
struct PerSample {
  Tensor el2n, loss, correct, margin, entropy;
};
// logits f32 [N, C], labels i64 [N] with values in [0, C).
PerSample per_sample_stats(const Tensor& logits, const Tensor& labels);

}  // namespace yoco
