// The apps' training loops on CUDA: a training set made resident on the device gives bitwise the same batches and
// train steps as one gathered on the host and uploaded, and its labels stay on the host; a train step (DSA +
// CutMix) never makes the host wait for the device and uploads only small per-batch parameters, eagerly or
// replayed from a CUDA graph (which gives the eager numbers bit for bit); a condense inner step waits once.
// Skipped (exit 77) on machines without a CUDA device.
#include <doctest/doctest.h>
#include <cmath>
#include <cstdint>
#include <vector>
#include "apps/common/condense.h"
#include "apps/common/trainer.h"
#include "data/augment.h"
#include "engine/context.h"
#include "engine/ops.h"
#include "tests/unit/test_util.h"

using namespace yoco;
using test::cuda_ready;

namespace {

constexpr Device kCuda = Device::CUDA;

// Every parameter of the net, downloaded.
std::vector<std::vector<float>> params_of(ConvNet& net) {
  std::vector<std::vector<float>> out;
  for (const Tensor& p : net.parameters()) out.push_back(p.to_vector());
  return out;
}

}  // namespace

TEST_CASE("a resident training set: images on the device, labels on the host, the same rows") {
  if (!cuda_ready()) return;
  const data::Dataset host = test::two_class_dataset(40, 9100);
  const data::Dataset dev = app::resident_for_training(host, kCuda);
  CHECK(dev.images.device() == kCuda);
  CHECK(dev.labels.device() == Device::CPU);
  CHECK(dev.images.to_vector() == host.images.to_vector());
  const std::vector<int64_t> idx{7, 0, 39, 7, 12};
  CHECK(data::gather_images(dev, idx, kCuda).to_vector() == data::gather_images(host, idx, kCuda).to_vector());
  // Already resident: no second copy.
  CHECK(app::resident_for_training(dev, kCuda).images.data<float>() == dev.images.data<float>());
  // A subset of a resident set is gathered on the device, labels on the host as before.
  const data::Dataset sub = data::subset(dev, idx), sub_host = data::subset(host, idx);
  CHECK(sub.images.device() == kCuda);
  CHECK(sub.images.to_vector() == sub_host.images.to_vector());
  CHECK(sub.labels.to_int_vector() == sub_host.labels.to_int_vector());
}

TEST_CASE("train steps from a resident set equal train steps from host batches, bitwise") {
  if (!cuda_ready()) return;
  const data::Dataset host = test::two_class_dataset(48, 9200);
  const data::Dataset dev = app::resident_for_training(host, kCuda);
  REQUIRE(dev.images.device() == kCuda);
  const data::Dsa dsa("color_crop_flip_scale_rotate", /*batch=*/false);
  auto run = [&](const data::Dataset& d) {
    ConvNet net(app::convnet_for(d), 5, kCuda);
    SGD opt(net.parameters(), 0.01f, 0.9f, 5e-4f);
    app::TrainStep train_step(net, opt);
    std::vector<float> losses;
    for (uint64_t step = 0; step < 3; ++step) {
      const std::vector<int64_t> idx = app::shuffled_indices(d.size(), 3, 11, step);
      const std::vector<int64_t> batch(idx.begin(), idx.begin() + 16);
      losses.push_back(app::train_batch(train_step, d, batch, &dsa, 0.5f, 3, step).item());
    }
    std::vector<std::vector<float>> out = params_of(net);
    out.push_back(losses);
    return out;
  };
  const auto a = run(dev), b = run(host);
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    INFO("result ", i);
    CHECK(a[i] == b[i]);
  }
}

// Per-pixel uploads (the former translate index: 8 bytes per element; cutout mask: 4 per pixel and sample) are far
// above this for a 16-image batch of 28x28; per-sample parameters, the CutMix box and soft targets stay below.
constexpr int64_t kSmallUpload = 8 << 10;

TEST_CASE("a CUDA train step with DSA and CutMix makes no host wait and uploads no per-pixel data") {
  if (!cuda_ready()) return;
  const data::Dataset dev = app::resident_for_training(test::two_class_dataset(48, 9400), kCuda);
  const data::Dsa dsa("color_crop_cutout_flip_scale_rotate", /*batch=*/false);
  ConvNet net(app::convnet_for(dev), 6, kCuda);
  SGD opt(net.parameters(), 0.01f, 0.9f, 5e-4f);
  app::TrainStep train_step(net, opt);
  const std::vector<int64_t> idx = app::shuffled_indices(dev.size(), 4, 11, 0);
  const std::vector<int64_t> batch(idx.begin(), idx.begin() + 16);
  (void)app::train_batch(train_step, dev, batch, &dsa, 1.f, 4, 0);  // warm-up: plans, workspaces
  Context::get().synchronize();
  Context::get().reset_transfers();
  Tensor loss;
  for (uint64_t step = 1; step <= 6; ++step) loss = app::train_batch(train_step, dev, batch, &dsa, 0.5f, 4, step);
  const TransferStats t = Context::get().transfers();
  CHECK(t.host_waits == 0);
  CHECK(t.uploads > 0);
  CHECK_MESSAGE(t.largest_upload <= kSmallUpload, "largest upload " << t.largest_upload << " bytes");
  CHECK(std::isfinite(loss.item()));
}

TEST_CASE("train_model with CUDA graphs equals eager train_model bitwise; replays neither wait nor upload pixels") {
  if (!cuda_ready()) return;
  // 23 samples in batches of 8: sizes 8 and 7 each get a graph; 12 epochs with the lr dropping after epochs 8
  // and 10, each drop recording both again (2 x 3 captures). Size 8 runs 24 steps, size 7 12: all but the
  // first two of each are replays.
  const data::Dataset d = test::two_class_dataset(23, 9500);
  auto run = [&](bool graph, std::vector<float>* logit_sums) {
    ConvNet net(app::convnet_for(d), 8, kCuda);
    app::TrainConfig tc;
    tc.epochs = 12, tc.batch = 8, tc.cutmix_p = 0.5f, tc.progress = false, tc.seed = 21, tc.cuda_graph = graph;
    app::TrainResult r = app::train_model(net, d, nullptr, tc, [&](const app::BatchView& b) {
      logit_sums->push_back(sum(b.logits).item());
    });
    return std::make_pair(params_of(net), r);
  };
  std::vector<float> sums_eager, sums_graph;
  const auto eager = run(false, &sums_eager), graphed = run(true, &sums_graph);
  CHECK(graphed.second.graph_error == "");
  CHECK(graphed.second.graph_captures == 6);
  CHECK(graphed.second.graph_replays == 32);
  CHECK(eager.second.graph_replays == 0);
  REQUIRE(eager.first.size() == graphed.first.size());
  for (size_t k = 0; k < eager.first.size(); ++k) {
    CAPTURE(k);
    CHECK(graphed.first[k] == eager.first[k]);
  }
  CHECK(sums_graph == sums_eager);
  CHECK(graphed.second.final_loss == eager.second.final_loss);

  // Steady state: a replayed step's host side (gather, DSA, CutMix, copies into the graph's inputs) queues
  // its work without waiting for the device, and uploads only per-batch parameters.
  const data::Dataset dev = app::resident_for_training(test::two_class_dataset(48, 9600), kCuda);
  const data::Dsa dsa("color_crop_cutout_flip_scale_rotate", /*batch=*/false);
  ConvNet net(app::convnet_for(dev), 6, kCuda);
  SGD opt(net.parameters(), 0.01f, 0.9f, 5e-4f);
  app::TrainStep graphed_step(net, opt, /*cuda_graph=*/true);
  const std::vector<int64_t> idx = app::shuffled_indices(dev.size(), 4, 11, 0);
  const std::vector<int64_t> batch(idx.begin(), idx.begin() + 16);
  for (uint64_t step = 0; step < 3; ++step)  // two eager warm-ups, then the capture and its first replay
    (void)app::train_batch(graphed_step, dev, batch, &dsa, 0.5f, 4, step);
  REQUIRE(graphed_step.captures() == 1);
  Context::get().synchronize();
  Context::get().reset_transfers();
  Tensor loss;
  for (uint64_t step = 3; step <= 8; ++step)
    loss = app::train_batch(graphed_step, dev, batch, &dsa, 0.5f, 4, step);
  const TransferStats t = Context::get().transfers();
  CHECK(graphed_step.replays() == 7);
  CHECK(t.host_waits == 0);
  CHECK_MESSAGE(t.largest_upload <= kSmallUpload, "largest upload " << t.largest_upload << " bytes");
  CHECK(std::isfinite(loss.item()));
  CHECK(opt.step_count() == 9);  // replays count as steps; the capture itself does not
}

TEST_CASE("a CUDA condense inner step waits for the device once (its loss) and uploads no per-pixel data") {
  if (!cuda_ready()) return;
  const data::Dataset host = test::two_class_dataset(24, 9500);
  const data::Dataset dev = app::resident_for_training(host, kCuda);  // as condense_run makes it
  app::CondenseConfig cfg = app::default_condense_config("fashion-mnist", 1, 2);
  cfg.batch_real = 8, cfg.n_data = 16, cfg.batch_net = 8, cfg.niter = 1, cfg.inner = 2, cfg.progress = false;
  cfg.device = kCuda;
  app::CondenseState st = app::condense_init(host, cfg);
  ConvNet net(app::convnet_for(dev), 7, kCuda);
  SGD opt(net.parameters(), 0.01f, 0.9f, 5e-4f);
  app::CondenseSteps steps(net, opt, cfg.metric, /*cuda_graph=*/false);
  (void)app::condense_inner_step(dev, cfg, st, steps, 0, 0);  // warm-up
  Context::get().reset_transfers();
  const float loss = app::condense_inner_step(dev, cfg, st, steps, 0, 1);
  const TransferStats t = Context::get().transfers();
  CHECK(t.host_waits == 1);
  CHECK_MESSAGE(t.largest_upload <= kSmallUpload, "largest upload " << t.largest_upload << " bytes");
  CHECK(std::isfinite(loss));
}

TEST_CASE("CUDA condensation with graphed matching and network steps equals the eager one bitwise") {
  if (!cuda_ready()) return;
  const data::Dataset host = test::two_class_dataset(24, 9700);
  const data::Dataset dev = app::resident_for_training(host, kCuda);
  app::CondenseConfig cfg = app::default_condense_config("fashion-mnist", 1, 2);
  cfg.batch_real = 8, cfg.n_data = 16, cfg.batch_net = 8, cfg.niter = 1, cfg.inner = 4, cfg.progress = false;
  cfg.device = kCuda;
  // Four inner steps: 2 classes x 4 = 8 matching steps (one shape: 8 real, 4 synthetic) and 2 x 4 = 8 network
  // steps (batch 8); each: two eager warm-ups, one capture, six replays.
  struct Run {
    std::vector<std::vector<float>> values;
    int64_t match_replays = 0, train_replays = 0, captures = 0;
  };
  auto run = [&](bool graph) {
    app::CondenseState st = app::condense_init(host, cfg);
    ConvNet net(app::convnet_for(dev), 7, kCuda);
    SGD opt(net.parameters(), 0.01f, 0.9f, 5e-4f);
    app::CondenseSteps steps(net, opt, cfg.metric, /*cuda_graph=*/graph);
    std::vector<float> losses;
    for (int64_t inner = 0; inner < cfg.inner; ++inner)
      losses.push_back(app::condense_inner_step(dev, cfg, st, steps, 0, inner));
    Run r;
    r.values = params_of(net);
    for (const Tensor& s : st.stored) r.values.push_back(s.to_vector());
    r.values.push_back(losses);
    r.match_replays = steps.match.replays(), r.train_replays = steps.train.replays();
    r.captures = steps.match.captures() + steps.train.captures();
    CHECK(steps.match.capture_error() == "");
    CHECK(steps.train.capture_error() == "");
    return r;
  };
  const Run eager = run(false), graphed = run(true);
  CHECK(graphed.captures == 2);
  CHECK(graphed.match_replays == 6);
  CHECK(graphed.train_replays == 6);
  CHECK(eager.match_replays + eager.train_replays == 0);
  REQUIRE(eager.values.size() == graphed.values.size());
  for (size_t k = 0; k < eager.values.size(); ++k) {
    CAPTURE(k);  // net parameters, then the stored images per class, then the inner steps' losses
    CHECK(graphed.values[k] == eager.values[k]);
  }
}

TEST_CASE("evaluate_accuracy on CUDA counts on the device: the CPU's accuracy, one host wait") {
  if (!cuda_ready()) return;
  const data::Dataset host = test::two_class_dataset(203, 9900);
  const data::Dataset dev = app::resident_for_training(host, kCuda);
  ConvNet net_cpu(app::convnet_for(host), 13, Device::CPU), net_gpu(app::convnet_for(host), 13, kCuda);
  const float want = app::evaluate_accuracy(net_cpu, host, 50);
  (void)app::evaluate_accuracy(net_gpu, dev, 50);  // warm-up: convolution plans
  Context::get().synchronize();
  Context::get().reset_transfers();
  const float got = app::evaluate_accuracy(net_gpu, dev, 50);
  CHECK(Context::get().transfers().host_waits == 1);
  // A prediction within rounding of a tie may flip between the backends: allow one sample.
  CHECK(std::fabs(got - want) <= 1.f / 203.f + 1e-6f);
}
