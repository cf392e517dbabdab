// Streaming training-dynamics statistics for pruning (YOCO §1.3-§1.4, CCS baselines §2): per-sample
// statistics are folded into N × few arrays while the scoring model trains, never logged per iteration.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>
#include "apps/common/trainer.h"
#include "engine/per_sample.h"

namespace yoco::app {

struct ScoreConfig {
  int64_t stop_epoch = 100;  // LBPE looks at epochs [0, stop_epoch)
  int64_t top_k = 10;        // ... and sums over the top-K epochs by training accuracy
  int64_t el2n_epochs = 10;  // EL2N = Σ over epochs [0, el2n_epochs) of ‖p − y‖₂
};

// Folds each training batch's fused per-sample statistics into per-sample/per-epoch accumulators. The state lives
// on the device of the batches (engine TrainingDynamics), so a CUDA training loop never waits for the host here;
// the accessors download it once, at the first read after the last fold.
class DynamicsRecorder {
 public:
  DynamicsRecorder(int64_t n, int64_t epochs, const ScoreConfig& cfg);
  void observe(const BatchView& b);  // the trainer's BatchHook
  // Folds precomputed statistics (f32 [B], one device) of the rows `indices` (unique, in [0, n)) in `epoch`.
  void observe_stats(const std::vector<int64_t>& indices, const Tensor& el2n, const Tensor& correct,
                     const Tensor& margin, int64_t epoch);
  // Host copies of the state, current as of the last fold (the first call after a fold waits for the device).
  const std::vector<float>& el2n_by_epoch() const { return host().el2n; }         // [min(E, stop), N]
  const std::vector<int64_t>& correct_by_epoch() const { return host().correct; }  // [E]
  const std::vector<float>& forgetting() const { return host().forgetting; }      // [N]
  const std::vector<float>& aum() const { return host().aum; }                    // [N] Σ p_y − max_{k≠y} p_k
  int64_t n() const { return n_; }
  int64_t logged_epochs() const { return logged_; }

 private:
  struct Host {
    std::vector<float> el2n, forgetting, aum;
    std::vector<int64_t> correct;
  };
  const Host& host() const;  // downloads the state when a fold happened since the last download

  int64_t n_, epochs_, logged_;
  ScoreConfig cfg_;
  TrainingDynamics state_;  // allocated on the first batch's device
  mutable Host host_;
  mutable bool host_stale_ = false;
};

// LBPE_topK(x) = Σ_{e ∈ top-K epochs by correct count in [0, stop)} ‖p_e(x) − y‖₂. Ties between epochs with
// equal counts go to the earlier epoch (torch.topk's order is unspecified; we fix one).
std::vector<float> lbpe_topk(const std::vector<float>& el2n_by_epoch, const std::vector<int64_t>& correct_by_epoch,
                             int64_t n, int64_t stop_epoch, int64_t k, std::vector<int64_t>* chosen_epochs = nullptr);
// EL2N = Σ over epochs [0, epochs) of ‖p − y‖₂.
std::vector<float> el2n_sum(const std::vector<float>& el2n_by_epoch, int64_t n, int64_t epochs);

}  // namespace yoco::app
