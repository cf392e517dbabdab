// Streaming dynamics statistics and the scores derived from them (see scores.h).
#include "apps/common/scores.h"
#include <algorithm>
#include <numeric>
#include "engine/per_sample.h"

namespace yoco::app {

DynamicsRecorder::DynamicsRecorder(int64_t n, int64_t epochs, const ScoreConfig& cfg)
    : n_(n), epochs_(epochs), logged_(std::min(epochs, std::max(cfg.stop_epoch, cfg.el2n_epochs))), cfg_(cfg) {
  el2n_.assign(static_cast<size_t>(logged_ * n), 0.f);
  correct_num_.assign(static_cast<size_t>(epochs), 0);
  forgetting_.assign(static_cast<size_t>(n), 0.f);
  aum_.assign(static_cast<size_t>(n), 0.f);
  prev_correct_.assign(static_cast<size_t>(n), -1);
}

void DynamicsRecorder::observe(const BatchView& b) {
  // One fused pass over the logits; the per-sample results (5 floats each) are folded here.
  PerSample s = per_sample_stats(b.logits, b.labels);
  std::vector<float> el2n = s.el2n.to_vector(), correct = s.correct.to_vector(), margin = s.margin.to_vector();
  YOCO_CHECK(b.epoch < epochs_, "DynamicsRecorder: epoch ", b.epoch, " beyond ", epochs_);
  for (size_t j = 0; j < b.indices.size(); ++j) {
    const int64_t i = b.indices[j];
    YOCO_CHECK(i >= 0 && i < n_, "DynamicsRecorder: sample index ", i, " outside [0, ", n_, ")");
    const bool ok = correct[j] > 0.5f;
    if (b.epoch < logged_) el2n_[static_cast<size_t>(b.epoch * n_ + i)] += el2n[j];
    correct_num_[static_cast<size_t>(b.epoch)] += ok;
    if (prev_correct_[i] == 1 && !ok) forgetting_[i] += 1.f;  // a correct → incorrect transition
    prev_correct_[i] = ok ? 1 : 0;
    aum_[i] += margin[j];
  }
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
