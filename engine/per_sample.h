// Fused per-sample statistics of a batch of logits (EL2N, loss, correctness, AUM margin, entropy) for pruning,
// and the device-resident fold of those statistics into training-dynamics state.
#pragma once
#include <cstdint>
#include <vector>
#include "engine/tensor.h"

namespace yoco {

// Each field is f32 [N]; see kernels::PerSampleStats for the definitions. Not differentiable.
struct PerSample {
  Tensor el2n, loss, correct, margin, entropy;
};
// logits f32 [N, C], labels i64 [N] with values in [0, C).
PerSample per_sample_stats(const Tensor& logits, const Tensor& labels);

// Running training dynamics of n samples over `epochs` epochs, all on one device (see kernels/dynamics.h):
// the state stays there while training, so folding a batch needs no host sync.
struct TrainingDynamics {
  Tensor el2n;          // f32 [logged, n]: EL2N of each sample in each of the first `logged` epochs
  Tensor correct_num;   // i64 [epochs]: correctly classified samples per epoch
  Tensor prev_correct;  // i64 [n]: correctness at the previous visit, -1 before the first
  Tensor forgetting;    // f32 [n]: correct -> incorrect transitions
  Tensor aum;           // f32 [n]: sum of the probability margins
};
// Zeroed state (prev_correct = -1) on `device`.
TrainingDynamics training_dynamics(int64_t n, int64_t epochs, int64_t logged, Device device);

// Folds one batch of epoch `epoch` into `s`: el2n/correct/margin are f32 [B] on the state's device (e.g. from
// per_sample_stats), indices the host vector of the rows' dataset indices. The indices are checked here (in
// [0, n) and unique within the batch, so the fold has no write races) and uploaded without a host sync.
// Bit-identical on CPU and CUDA.
void fold_dynamics(TrainingDynamics& s, const Tensor& el2n, const Tensor& correct, const Tensor& margin,
                   const std::vector<int64_t>& indices, int64_t epoch);

}  // namespace yoco
