// The training loop's plumbing on the CPU: a "resident" training set there is the same set (no copy), batches
// are gathered rows of the images, and the static-buffer step that CUDA graphs replay gives the eager numbers.
#include <doctest/doctest.h>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>
#include "apps/common/trainer.h"
#include "engine/context.h"
#include "kernels/conv.h"
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
struct GraphRun {
  std::vector<std::vector<float>> params;
  std::vector<float> logit_sums;
  app::TrainResult res;
};
GraphRun run_training(bool cuda_graph, Device dev) {
  const data::Dataset d = test::two_class_dataset(23, 9400);
  ConvNet net(app::convnet_for(d), 6, dev);
  app::TrainConfig tc;
  tc.epochs = 3, tc.batch = 8, tc.cutmix_p = 0.5f, tc.progress = false, tc.seed = 17, tc.cuda_graph = cuda_graph;
  GraphRun out;
  out.res = app::train_model(net, d, nullptr, tc, [&](const app::BatchView& b) {
    out.logit_sums.push_back(sum(b.logits).item());  // valid until the next step of the same batch size
  });
  for (const Tensor& p : net.parameters()) out.params.push_back(p.to_vector());
  return out;
}
}  // namespace

TEST_CASE("the static-buffer (CUDA-graph) training step equals the eager one bit for bit (CPU: eager replays)") {
  const GraphRun eager = run_training(false, Device::CPU), graphed = run_training(true, Device::CPU);
  REQUIRE(eager.params.size() == graphed.params.size());
  for (size_t k = 0; k < eager.params.size(); ++k) {
    CAPTURE(k);
    CHECK(graphed.params[k] == eager.params[k]);
  }
  CHECK(graphed.logit_sums == eager.logit_sums);
  REQUIRE(eager.logit_sums.size() == 9);
  CHECK(graphed.res.final_loss == eager.res.final_loss);
  // The CPU never captures: every step ran eagerly on the static buffers.
  CHECK(graphed.res.graph_captures == 0);
  CHECK(graphed.res.graph_replays == 0);
  CHECK(graphed.res.graph_error.empty());
  // And the run did train (a bitwise match of two runs that did nothing would prove nothing).
  const data::Dataset d = test::two_class_dataset(23, 9400);
  ConvNet fresh(app::convnet_for(d), 6, Device::CPU);
  CHECK(fresh.parameters()[0].to_vector() != eager.params[0]);
}

namespace {
// FNV-1a over the bits of the values: a fingerprint of a whole run's numbers.
uint64_t bits_hash(const std::vector<float>& v, uint64_t h = 1469598103934665603ull) {
  for (float f : v) {
    uint32_t b;
    std::memcpy(&b, &f, sizeof b);
    h = (h ^ b) * 1099511628211ull;
  }
  return h;
}
}  // namespace

TEST_CASE("the training step gives the numbers recorded from the former eager step, bit for bit (CPU, im2col)") {
  // Recorded with the eager train_batch that preceded the one step path (hard-label cross_entropy when unmixed):
  // its replacement, the step object run without capture (one-hot targets, static input buffers), must not move
  // a bit. im2col convolutions: the same bits for any thread count (oneDNN's depend on it).
  Context& ctx = Context::get();
  const kernels::ConvAlgo saved = ctx.conv_algo;
  ctx.conv_algo = kernels::ConvAlgo::Im2col;
  const GraphRun run = run_training(false, Device::CPU);
  ctx.conv_algo = saved;
  uint64_t params = 1469598103934665603ull;
  for (const std::vector<float>& p : run.params) params = bits_hash(p, params);
  char got[128];
  std::snprintf(got, sizeof got, "final loss %a, params 0x%llx, logit sums 0x%llx", run.res.final_loss,
                static_cast<unsigned long long>(params), static_cast<unsigned long long>(bits_hash(run.logit_sums)));
  INFO(got);
  REQUIRE(run.logit_sums.size() == 9);
  CHECK(run.res.final_loss == 0x1.598f3cp+0f);
  CHECK(params == 0xc0e9aa4779726ad8ull);
  CHECK(bits_hash(run.logit_sums) == 0x1b51643737dac5dfull);
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
