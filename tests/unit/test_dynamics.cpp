// Training dynamics: the fold_dynamics op (via DynamicsRecorder) equals a plain host fold bit for bit over random
// shuffled batches and several epochs; bad batches are refused before any write; train_model's reported loss is
// the mean of its steps' losses.
#include <doctest/doctest.h>
#include <algorithm>
#include <cstdio>
#include <random>
#include <vector>
#include "apps/common/scores.h"
#include "apps/common/trainer.h"
#include "engine/ops.h"
#include "engine/per_sample.h"
#include "tests/unit/test_util.h"

using namespace yoco;
using namespace yoco::app;
using test::contains;
using test::error_of;

namespace {

// The fold as the recorder did it on the host before it moved to the device: the reference.
struct HostFold {
  int64_t n, logged;
  std::vector<float> el2n, forgetting, aum;
  std::vector<int64_t> correct;
  std::vector<int8_t> prev;
  HostFold(int64_t n_, int64_t epochs, int64_t logged_)
      : n(n_), logged(logged_), el2n(static_cast<size_t>(logged_ * n_), 0.f), forgetting(n_, 0.f), aum(n_, 0.f),
        correct(epochs, 0), prev(n_, -1) {}
  void fold(const std::vector<int64_t>& idx, const std::vector<float>& e, const std::vector<float>& c,
            const std::vector<float>& m, int64_t epoch) {
    for (size_t j = 0; j < idx.size(); ++j) {
      const int64_t i = idx[j];
      const bool ok = c[j] > 0.5f;
      if (epoch < logged) el2n[static_cast<size_t>(epoch * n + i)] += e[j];
      correct[epoch] += ok;
      if (prev[i] == 1 && !ok) forgetting[i] += 1.f;
      prev[i] = ok ? 1 : 0;
      aum[i] += m[j];
    }
  }
};

// One random batch of statistics for the rows `idx`: correctness drawn per sample from a sample-specific rate
// (so some samples flip often: many forgetting events), EL2N and margin with full-precision mantissas.
struct Batch {
  std::vector<int64_t> idx;
  std::vector<float> el2n, correct, margin;
};
Batch random_batch(std::vector<int64_t> idx, std::mt19937_64& rng, const std::vector<float>& rate) {
  std::uniform_real_distribution<float> u(0.f, 1.f);
  Batch b;
  for (int64_t i : idx) {
    b.el2n.push_back(1.4f * u(rng));
    b.correct.push_back(u(rng) < rate[i] ? 1.f : 0.f);
    b.margin.push_back(2.f * u(rng) - 1.f);
  }
  b.idx = std::move(idx);
  return b;
}

Tensor vec(const std::vector<float>& v) { return from_vector(v, {static_cast<int64_t>(v.size())}); }

}  // namespace

TEST_CASE("DynamicsRecorder (fold_dynamics on the CPU) equals the host fold bit for bit") {
  std::mt19937_64 rng(test::test_seed());
  const int64_t n = 53, epochs = 7;
  ScoreConfig cfg;
  cfg.stop_epoch = 4, cfg.el2n_epochs = 3;  // logged = 4 < epochs: later epochs skip the EL2N slots
  DynamicsRecorder rec(n, epochs, cfg);
  REQUIRE(rec.logged_epochs() == 4);
  HostFold ref(n, epochs, rec.logged_epochs());
  std::vector<float> rate(n);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  for (float& r : rate) r = u(rng);
  for (int64_t e = 0; e < epochs; ++e) {
    std::vector<int64_t> order(n);
    for (int64_t i = 0; i < n; ++i) order[i] = i;
    std::shuffle(order.begin(), order.end(), rng);
    if (e == 2) order.push_back(order[5]);  // a sample seen twice in one epoch (different batches) accumulates
    for (size_t s = 0; s < order.size(); s += 8) {  // batches of 8, the last one short
      Batch b = random_batch(std::vector<int64_t>(order.begin() + s, order.begin() + std::min(order.size(), s + 8)),
                             rng, rate);
      ref.fold(b.idx, b.el2n, b.correct, b.margin, e);
      rec.observe_stats(b.idx, vec(b.el2n), vec(b.correct), vec(b.margin), e);
      if (e == 3 && s == 16) CHECK(rec.aum() == ref.aum);  // a read mid-training, then more folds
    }
  }
  CHECK(rec.el2n_by_epoch() == ref.el2n);
  CHECK(rec.correct_by_epoch() == ref.correct);
  CHECK(rec.forgetting() == ref.forgetting);
  CHECK(rec.aum() == ref.aum);
  float events = 0;
  for (float f : ref.forgetting) events += f;
  CHECK(events > 10.f);  // the random rates did make transitions to check
}

TEST_CASE("fold_dynamics refuses a repeated or out-of-range index before writing anything") {
  TrainingDynamics s = training_dynamics(10, 2, 1, Device::CPU);
  const std::vector<float> one(3, 1.f);
  std::string err = error_of([&] { fold_dynamics(s, vec(one), vec(one), vec(one), {4, 7, 4}, 0); });
  CHECK(contains(err, "sample index 4 appears twice in one batch (rows 0 and 2)"));
  err = error_of([&] { fold_dynamics(s, vec(one), vec(one), vec(one), {4, 10, 1}, 0); });
  CHECK(contains(err, "sample index 10 of row 1 is outside [0, 10)"));
  err = error_of([&] { fold_dynamics(s, vec(one), vec(one), vec(one), {1, 2, 3}, 2); });
  CHECK(contains(err, "epoch 2 outside [0, 2)"));
  err = error_of([&] { fold_dynamics(s, vec(one), vec(one), vec({1.f, 1.f}), {1, 2, 3}, 0); });
  CHECK(contains(err, "for 3 indices"));
  CHECK(s.aum.to_vector() == std::vector<float>(10, 0.f));
  CHECK(s.correct_num.to_int_vector() == std::vector<int64_t>{0, 0});
  CHECK(s.prev_correct.to_int_vector() == std::vector<int64_t>(10, -1));
  // The recorder reports the same error through its hook.
  DynamicsRecorder rec(10, 2, ScoreConfig{});
  Tensor logits = zeros({2, 3}), labels = from_int_vector({0, 1}, {2});
  const std::vector<int64_t> dup = {6, 6};
  err = error_of([&] { rec.observe(BatchView{dup, logits, labels, 0}); });
  CHECK(contains(err, "sample index 6 appears twice in one batch"));
}

TEST_CASE("train_model reports the mean of its last epoch's step losses (summed in double, step order)") {
  data::Dataset d = test::two_class_dataset(20, 6);
  ConvNet net(convnet_for(d), 5);
  TrainConfig tc;
  tc.epochs = 2, tc.batch = 8, tc.dsa = "none", tc.cutmix_p = 0.f, tc.progress = false;  // 3 steps, the last short
  // Without CutMix the step loss is cross_entropy(logits, labels): recompute it from what the hook sees.
  std::vector<std::vector<float>> steps(2);
  TrainResult r = train_model(net, d, nullptr, tc, [&](const BatchView& b) {
    steps[b.epoch].push_back(cross_entropy(b.logits, b.labels).item());
  });
  REQUIRE(steps[1].size() == 3);
  double sum = 0;
  for (float v : steps[1]) sum += v;
  CHECK(r.final_loss == static_cast<float>(sum / 3.0));  // the same float ops as training: bit-identical
}
