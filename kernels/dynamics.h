// Training-dynamics family: folds one batch's per-sample statistics into the pruning scores' running state.
#pragma once
#include <cstdint>
#include "kernels/common.h"

namespace yoco::kernels {

// A batch's inputs: per-sample statistics of its b rows and the dataset index of each row. Indices are unique
// within a batch and lie in [0, n) (the engine checks both on the host), so row j writes only sample
// indices[j]'s slots: no two rows of a launch touch the same per-sample slot.
struct DynamicsBatch {
  const float* el2n;      // [b] ||p - onehot(y)||_2
  const float* correct;   // [b] 1 when argmax p == y, else 0 (NaN for a bad CUDA label: counts as incorrect)
  const float* margin;    // [b] p_y - max_{k != y} p_k
  const int64_t* indices; // [b] dataset index of each row
  int64_t b;
};

// The running state, per sample i in [0, n) and per epoch.
struct DynamicsState {
  float* el2n;            // [logged, n] EL2N of sample i in epoch e (epochs >= logged are not kept)
  int64_t* correct_num;   // [epochs] correctly classified samples per epoch
  int64_t* prev_correct;  // [n] correctness at the sample's previous visit: -1 not seen yet, 0 or 1
  float* forgetting;      // [n] correct -> incorrect transitions
  float* aum;             // [n] sum of the margins
  int64_t n, logged;
};

// Folds row j of the batch (epoch `epoch`) into sample indices[j]'s slots and returns whether it was correct;
// the caller adds that to correct_num[epoch] (a sum over the batch). Every update is one float add or an
// integer store, the same on host and device, so CPU and CUDA states stay bit-identical.
YOCO_HD bool fold_dynamics_row(const DynamicsBatch& in, int64_t j, int64_t epoch, const DynamicsState& st) {
  const int64_t i = in.indices[j];
  const bool ok = in.correct[j] > 0.5f;
  // += rather than =: a sample seen twice in one epoch (in different batches) accumulates, as the host fold did.
  if (epoch < st.logged) st.el2n[epoch * st.n + i] += in.el2n[j];
  if (st.prev_correct[i] == 1 && !ok) st.forgetting[i] += 1.f;  // a correct -> incorrect transition
  st.prev_correct[i] = ok ? 1 : 0;
  st.aum[i] += in.margin[j];
  return ok;
}

namespace cpu {
// Rows in order (cheap: a batch is a few hundred rows); epoch in [0, len(correct_num)).
void fold_dynamics(const DynamicsBatch& in, int64_t epoch, const DynamicsState& st);
}  // namespace cpu
namespace cuda {
// One launch, one thread per row; the batch's correct count is added with integer atomics (order-independent,
// so deterministic). No host sync.
void fold_dynamics(const DynamicsBatch& in, int64_t epoch, const DynamicsState& st, void* stream);
}  // namespace cuda

}  // namespace yoco::kernels
