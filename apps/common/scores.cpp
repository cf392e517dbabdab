// Streaming dynamics statistics and the scores derived from them (see scores.h).
#include "apps/common/scores.h"
#include <algorithm>
#include <numeric>
#include "engine/per_sample.h"
#include "engine/tensor.h"

namespace yoco::app {

DynamicsRecorder::DynamicsRecorder(int64_t n, int64_t epochs, const ScoreConfig& cfg)
    : n_(n), epochs_(epochs), logged_(std::min(epochs, std::max(cfg.stop_epoch, cfg.el2n_epochs))), cfg_(cfg) {
  YOCO_CHECK(n >= 0 && epochs >= 0, "DynamicsRecorder: bad sizes n ", n, ", epochs ", epochs);
  host_.el2n.assign(static_cast<size_t>(logged_ * n), 0.f);
  host_.correct.assign(static_cast<size_t>(epochs), 0);
  host_.forgetting.assign(static_cast<size_t>(n), 0.f);
  host_.aum.assign(static_cast<size_t>(n), 0.f);
}

void DynamicsRecorder::observe(const BatchView& b) {
  // One fused pass over the logits, then one fold of its per-sample results, both on the logits' device.
  PerSample s = per_sample_stats(b.logits, b.labels);
  observe_stats(b.indices, s.el2n, s.correct, s.margin, b.epoch);
}

void DynamicsRecorder::observe_stats(const std::vector<int64_t>& indices, const Tensor& el2n, const Tensor& correct,
                                     const Tensor& margin, int64_t epoch) {
  YOCO_CHECK(epoch >= 0 && epoch < epochs_, "DynamicsRecorder: epoch ", epoch, " outside [0, ", epochs_, ")");
  if (!state_.forgetting.defined()) state_ = training_dynamics(n_, epochs_, logged_, el2n.device());
  // fold_dynamics checks the indices (in [0, n), distinct within the batch) from this host vector.
  fold_dynamics(state_, el2n, correct, margin, indices, epoch);
  host_stale_ = true;
}

const DynamicsRecorder::Host& DynamicsRecorder::host() const {
  if (host_stale_) {  // the recorder's only host waits: the whole state, back to back, after the last fold
    host_.el2n = state_.el2n.to_vector();
    host_.correct = state_.correct_num.to_int_vector();
    host_.forgetting = state_.forgetting.to_vector();
    host_.aum = state_.aum.to_vector();
    host_stale_ = false;
  }
  return host_;
}

std::vector<float> lbpe_topk(const std::vector<float>& el2n_by_epoch, const std::vector<int64_t>& correct_by_epoch,
                             int64_t n, int64_t stop_epoch, int64_t k, std::vector<int64_t>* chosen_epochs) {
  int64_t logged = static_cast<int64_t>(el2n_by_epoch.size()) / std::max<int64_t>(n, 1);
  int64_t stop = std::min({stop_epoch, logged, static_cast<int64_t>(correct_by_epoch.size())});
  YOCO_CHECK(stop > 0, "LBPE: no logged epochs (stop_epoch ", stop_epoch, ", logged ", logged, ")");
  std::vector<int64_t> ep(static_cast<size_t>(stop));
  std::iota(ep.begin(), ep.end(), 0);
  std::stable_sort(ep.begin(), ep.end(), [&](int64_t a, int64_t b) { return correct_by_epoch[a] > correct_by_epoch[b]; });
  ep.resize(static_cast<size_t>(std::min(k, stop)));
  std::sort(ep.begin(), ep.end());
  if (chosen_epochs) *chosen_epochs = ep;
  std::vector<float> out(static_cast<size_t>(n), 0.f);
  for (int64_t e : ep)
    for (int64_t i = 0; i < n; ++i) out[i] += el2n_by_epoch[static_cast<size_t>(e * n + i)];
  return out;
}

std::vector<float> el2n_sum(const std::vector<float>& el2n_by_epoch, int64_t n, int64_t epochs) {
  int64_t logged = static_cast<int64_t>(el2n_by_epoch.size()) / std::max<int64_t>(n, 1);
  int64_t stop = std::min(epochs, logged);
  std::vector<float> out(static_cast<size_t>(n), 0.f);
  for (int64_t e = 0; e < stop; ++e)
    for (int64_t i = 0; i < n; ++i) out[i] += el2n_by_epoch[static_cast<size_t>(e * n + i)];
  return out;
}

}  // namespace yoco::app
