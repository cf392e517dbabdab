// Training dynamics on CUDA: the device recorder equals the CPU recorder bit for bit on the same per-sample inputs,
// and a CUDA train_model run (per-step losses kept on the device) reports the losses a CPU recomputation gives.
// Skipped (exit 77) on machines without a CUDA device.
#include <doctest/doctest.h>
#include <algorithm>
#include <random>
#include <vector>
#include "apps/common/scores.h"
#include "apps/common/trainer.h"
#include "engine/context.h"
#include "engine/ops.h"
#include "engine/per_sample.h"
#include "tests/unit/test_util.h"

using namespace yoco;
using namespace yoco::app;
using test::contains;
using test::cuda_ready;
using test::error_of;

namespace {

constexpr Device kCuda = Device::CUDA;

Tensor vec(const std::vector<float>& v) { return from_vector(v, {static_cast<int64_t>(v.size())}); }

void check_same(const DynamicsRecorder& dev, const DynamicsRecorder& cpu) {
  CHECK(dev.el2n_by_epoch() == cpu.el2n_by_epoch());
  CHECK(dev.correct_by_epoch() == cpu.correct_by_epoch());
  CHECK(dev.forgetting() == cpu.forgetting());
  CHECK(dev.aum() == cpu.aum());
}

}  // namespace

TEST_CASE("CUDA DynamicsRecorder equals the CPU recorder bitwise on the same per-sample statistics") {
  if (!cuda_ready()) return;
  std::mt19937_64 rng(test::test_seed());
  std::uniform_real_distribution<float> u(0.f, 1.f);
  const int64_t n = 1500, epochs = 6, batch = 600;  // batches of 3 blocks, the last one short (300)
  ScoreConfig cfg;
  cfg.stop_epoch = 4, cfg.el2n_epochs = 2;
  DynamicsRecorder dev(n, epochs, cfg), cpu(n, epochs, cfg);
  std::vector<float> rate(n);
  for (float& r : rate) r = u(rng);
  for (int64_t e = 0; e < epochs; ++e) {
    std::vector<int64_t> order(n);
    for (int64_t i = 0; i < n; ++i) order[i] = i;
    std::shuffle(order.begin(), order.end(), rng);
    for (int64_t s = 0; s < n; s += batch) {
      std::vector<int64_t> idx(order.begin() + s, order.begin() + std::min(n, s + batch));
      std::vector<float> el2n, correct, margin;
      for (int64_t i : idx) {
        el2n.push_back(1.4f * u(rng));
        correct.push_back(u(rng) < rate[i] ? 1.f : 0.f);
        margin.push_back(2.f * u(rng) - 1.f);
      }
      cpu.observe_stats(idx, vec(el2n), vec(correct), vec(margin), e);
      dev.observe_stats(idx, vec(el2n).to(kCuda), vec(correct).to(kCuda), vec(margin).to(kCuda), e);
    }
  }
  check_same(dev, cpu);
  // A repeated index is refused on the host, before anything is enqueued.
  Tensor one = ones({2}, kCuda);
  CHECK(contains(error_of([&] { dev.observe_stats({3, 3}, one, one, one, 0); }), "appears twice in one batch"));
  check_same(dev, cpu);
  CHECK(contains(error_of([] { Context::get().synchronize(); }), "<no error>"));
}

TEST_CASE("CUDA recorder fed by logits equals a CPU fold of the same CUDA per-sample statistics") {
  if (!cuda_ready()) return;
  const int64_t n = 700, c = 10, epochs = 3;
  DynamicsRecorder dev(n, epochs, ScoreConfig{}), cpu(n, epochs, ScoreConfig{});
  for (int64_t e = 0; e < epochs; ++e) {
    for (int64_t s = 0; s < n; s += 256) {
      const int64_t b = std::min<int64_t>(256, n - s);
      std::vector<int64_t> idx, lab;
      for (int64_t j = 0; j < b; ++j) idx.push_back((s + j) * 211 % n), lab.push_back((s + j + e) % c);
      Tensor logits = test::random_tensor({b, c}, 730000 + 10 * e + s, -3.f, 3.f).to(kCuda);
      Tensor labels = from_int_vector(lab, {b}, kCuda);
      dev.observe(BatchView{idx, logits, labels, e});
      PerSample ps = per_sample_stats(logits, labels);  // deterministic: the same bits the hook folded
      cpu.observe_stats(idx, ps.el2n.cpu(), ps.correct.cpu(), ps.margin.cpu(), e);
    }
  }
  check_same(dev, cpu);
  int64_t total = 0;
  for (int64_t k : dev.correct_by_epoch()) total += k;
  CHECK(total > 0);
}

TEST_CASE("CUDA train_model reports the losses a CPU recomputation of its steps gives") {
  if (!cuda_ready()) return;
  data::Dataset d = test::two_class_dataset(24, 6);
  ConvNet net(convnet_for(d), 5, kCuda);
  TrainConfig tc;
  tc.epochs = 3, tc.batch = 10, tc.cutmix_p = 0.f, tc.progress = true, tc.label = "[gpu test] ";  // DSA on
  // Without CutMix a step's loss is cross_entropy(logits, labels) of what the hook sees: recompute it on the CPU
  // and, with the same CUDA kernels, on the device (those bits must match the kept per-step losses exactly).
  std::vector<double> cpu_sum(3, 0.0), dev_sum(3, 0.0);
  std::vector<int64_t> steps(3, 0);
  TrainResult r = train_model(net, d, nullptr, tc, [&](const BatchView& b) {
    cpu_sum[b.epoch] += cross_entropy(b.logits.cpu(), b.labels.cpu()).item();
    dev_sum[b.epoch] += cross_entropy(b.logits, b.labels).item();
    ++steps[b.epoch];
  });
  REQUIRE(steps[2] == 3);
  CHECK(r.final_loss == static_cast<float>(dev_sum[2] / 3.0));
  CHECK(r.final_loss == doctest::Approx(cpu_sum[2] / 3.0).epsilon(1e-5));
  CHECK(r.images_per_sec > 0.0);
}
