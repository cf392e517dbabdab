// The training loop's plumbing on the CPU: a "resident" training set there is the same set (no copy), batches
// are gathered rows of the images, and the training step gives the numbers recorded before it became one code path.
#include <doctest/doctest.h>
#include <cstdint>
#include <cstdio>
#include <vector>
#include "apps/common/trainer.h"
#include "engine/context.h"
#include "engine/ops.h"
#include "tests/unit/test_util.h"

using namespace yoco;

TEST_CASE("on the CPU the training set stays where it is, and batches are its rows") {
  const data::Dataset d = test::two_class_dataset(30, 9300);
  const data::Dataset r = app::resident_for_training(d, Device::CPU);
  CHECK(r.images.data<float>() == d.images.data<float>());  // shared storage, not a copy
  CHECK(r.labels.data<int64_t>() == d.labels.data<int64_t>());
  const std::vector<int64_t> idx{29, 3, 3, 0};
  const Tensor b = data::gather_images(r, idx, Device::CPU);
  REQUIRE(b.shape() == Shape{4, d.channels, d.height, d.width});
  const std::vector<float> all = d.images.to_vector(), got = b.to_vector();
  const size_t row = static_cast<size_t>(d.channels * d.height * d.width);
  for (size_t k = 0; k < idx.size(); ++k)
    for (size_t e = 0; e < row; ++e) REQUIRE(got[k * row + e] == all[static_cast<size_t>(idx[k]) * row + e]);
}

namespace {
// Three epochs of 23 samples in batches of 8 (two batch sizes: 8 and 7), DSA + CutMix at p = 0.5 (mixed and
// unmixed batches), the lr dropping after epoch 2; a hook reading each batch's logits.
struct TrainRun {
  std::vector<std::vector<float>> params;
  std::vector<float> logit_sums;
  app::TrainResult res;
};
TrainRun run_training(bool cuda_graph) {
  const data::Dataset d = test::two_class_dataset(23, 9400);
  ConvNet net(app::convnet_for(d), 6, Device::CPU);
  app::TrainConfig tc;
  tc.epochs = 3, tc.batch = 8, tc.cutmix_p = 0.5f, tc.progress = false, tc.seed = 17, tc.cuda_graph = cuda_graph;
  TrainRun out;
  out.res = app::train_model(net, d, nullptr, tc, [&](const app::BatchView& b) {
    out.logit_sums.push_back(sum(b.logits).item());  // valid until the next step of the same batch size
  });
  for (const Tensor& p : net.parameters()) out.params.push_back(p.to_vector());
  return out;
}
}  // namespace

TEST_CASE("the training step gives the numbers recorded from the former eager step, bit for bit (CPU, im2col)") {
  // Recorded with the eager train_batch that preceded the one step path (hard-label cross_entropy when unmixed):
  // its replacement, the step object run without capture (one-hot targets, static input buffers), must not move
  // a bit. Re-recorded once since, for a deliberate change of the numerics: group norm's mean corrected by its
  // residual (a constant plane normalises to exactly 0); the loss kept its bits, the parameters moved in the last
  // bits. The one step path on that engine writes the same condensed set as the former eager steps on it.
  const test::Im2colConvolutions im2col;
  const TrainRun run = run_training(/*cuda_graph=*/true);  // ignored on the CPU
  uint64_t params = test::kFingerprintStart;
  for (const std::vector<float>& p : run.params) params = test::bits_fingerprint(p, params);
  const uint64_t logit_sums = test::bits_fingerprint(run.logit_sums);
  char got[128];  // what to record again, should a deliberate change of the numerics move them
  std::snprintf(got, sizeof got, "final loss %a, params 0x%llx, logit sums 0x%llx", run.res.final_loss,
                static_cast<unsigned long long>(params), static_cast<unsigned long long>(logit_sums));
  INFO(got);
  REQUIRE(run.logit_sums.size() == 9);
  CHECK(run.res.final_loss == 0x1.598f3cp+0f);
  CHECK(params == 0xe21a4ad1858f6539ull);
  CHECK(logit_sums == 0xdf93e343af74ca0cull);
  // The CPU never captures: every step ran eagerly.
  CHECK(run.res.graph_captures == 0);
  CHECK(run.res.graph_replays == 0);
  CHECK(run.res.graph_error.empty());
}

TEST_CASE("evaluate_accuracy counts first-maximum top-1 hits, across batches, as a host argmax does") {
  const data::Dataset d = test::two_class_dataset(53, 9800);
  ConvNet net(app::convnet_for(d), 12, Device::CPU);
  // The reference: logits of the whole set at once, argmax on the host (first maximum wins).
  NoGradGuard no_grad;
  net.set_training(false);
  const std::vector<float> logits = net.forward(data::normalize(d.images, d.mean, d.std)).to_vector();
  net.set_training(true);
  const std::vector<int64_t> labels = d.labels.to_int_vector();
  int64_t hits = 0;
  for (int64_t i = 0; i < d.size(); ++i) {
    const float* row = logits.data() + i * d.num_classes;
    int64_t best = 0;
    for (int64_t k = 1; k < d.num_classes; ++k)
      if (row[k] > row[best]) best = k;
    hits += best == labels[i];
  }
  REQUIRE(hits > 0);
  REQUIRE(hits < d.size());  // neither all right nor all wrong: the count itself is checked
  for (int64_t batch : {7, 53, 500}) {
    CAPTURE(batch);
    CHECK(app::evaluate_accuracy(net, d, batch) == static_cast<float>(hits) / static_cast<float>(d.size()));
  }
  CHECK(net.training());  // restored
}
