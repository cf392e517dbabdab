// apps/bench: times ConvNet-3 training steps and IDC gradient-matching steps on our engine (median of N runs
// after warm-up) and reports peak memory; bench/compare.py runs PyTorch on the same cases and prints ratios.
// --graph (CUDA) also times the train/match steps replayed from a captured CUDA graph (rows "<case>+graph"), and
// aug28/cond28 through the apps' --cuda-graph steps.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include "apps/common/cli.h"
#include "apps/common/condense.h"
#include "apps/bench/lbpe_bench.h"
#include "apps/bench/timing.h"
#include "apps/common/matching.h"
#include "apps/common/trainer.h"
#include "apps/common/omp_wait.h"
#include "data/augment.h"
#include "data/decode.h"
#include "engine/autograd.h"
#include "engine/context.h"
#include "engine/cuda_graph.h"
#include "engine/ops.h"
#include "engine/optim.h"
#include "models/convnet.h"

using namespace yoco;

namespace {

struct Case {
  std::string name;
  int64_t channels, size;
  bool matching;
};

using bench::median;

ConvNetConfig net_config(const Case& c) {
  ConvNetConfig nc;
  nc.channels = c.channels;
  nc.image_size = c.size;
  return nc;
}

// Steps built with graph = true are for CUDA-graph capture, where host syncs are illegal: no trailing
// .item(). Their labels are expanded to one-hot targets once, up front, as when the graph timings were first
// measured (cross_entropy's mask was then built on the host; it is device-side and capturable now), so those
// timings stay comparable. cross_entropy_soft with those targets is the same arithmetic.
Tensor loss_of(const Tensor& logits, const Tensor& labels, const Tensor& onehot) {
  return onehot.defined() ? cross_entropy_soft(logits, onehot) : cross_entropy(logits, labels);
}

// n random [0,1) images of channels x size x size standing in for Fashion-MNIST (its mean/std, 10 classes, label
// i % 10), host-side as a loaded dataset is.
data::Dataset random_fashion_set(int64_t n, int64_t channels, int64_t size, uint64_t seed) {
  data::Dataset d;
  d.name = "fashion-mnist", d.num_classes = 10, d.channels = channels, d.height = size, d.width = size;
  d.mean = {0.2861f}, d.std = {0.3530f};
  d.images = rand_uniform({n, channels, size, size}, seed, 0, 0);
  std::vector<int64_t> lab(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) lab[i] = i % 10;
  d.labels = from_int_vector(lab, {n});
  return d;
}

// The apps' training step as evaluate and the scoring run take it (app::train_batch): a batch of 64 gathered from
// a set of 640 images kept where the net is, normalised, DSA color_crop_flip_scale_rotate per sample, CutMix with
// p = 0.5, then forward, loss, backward, SGD. Each run draws a new batch and new augmentations. graphed: the
// network half replays from a CUDA graph as with the apps' --cuda-graph (app::TrainStep).
std::function<void()> augmented_step(const Case& c, Device dev, bool graphed = false) {
  constexpr int64_t kSet = 640, kBatch = 64;
  auto net = std::make_shared<ConvNet>(net_config(c), 1, dev);
  auto opt = std::make_shared<SGD>(net->parameters(), 0.01f, 0.9f, 5e-4f);
  auto set = std::make_shared<data::Dataset>(
      app::resident_for_training(random_fashion_set(kSet, c.channels, c.size, 3), dev));
  auto dsa = std::make_shared<data::Dsa>("color_crop_flip_scale_rotate", /*batch=*/false);
  auto step = std::make_shared<uint64_t>(0);
  auto gs = std::make_shared<app::TrainStep>(*net, *opt, graphed);
  return [net, opt, set, dsa, step, gs] {
    const std::vector<int64_t> order = app::shuffled_indices(kSet, 4, 11, *step / (kSet / kBatch));
    const int64_t at = static_cast<int64_t>(*step % (kSet / kBatch)) * kBatch;
    const std::vector<int64_t> idx(order.begin() + at, order.begin() + at + kBatch);
    app::train_batch(*gs, *set, idx, dsa.get(), 0.5f, 4, (*step)++).item();  // synchronises
  };
}

// The apps' condense inner step (app::condense_inner_step, Fashion-MNIST defaults at IPC 10, factor 2: every class
// matched once with Siamese DSA, then 500 real images of network training with DSA + CutMix) on 1000 random
// 28x28 images of 10 classes. graphed: with --cuda-graph's CondenseSteps. Engine only (no PyTorch twin).
std::function<void()> condense_step(Device dev, bool graphed) {
  const data::Dataset d = random_fashion_set(1000, 1, 28, 7);
  auto cfg = std::make_shared<app::CondenseConfig>(app::default_condense_config("fashion-mnist", 10, 2));
  cfg->device = dev, cfg->progress = false;
  cfg->inner = int64_t{1} << 20;  // one net for every timed step; keeps each step's draws distinct
  auto st = std::make_shared<app::CondenseState>(app::condense_init(d, *cfg));
  auto set = std::make_shared<data::Dataset>(app::resident_for_training(d, dev));
  auto net = std::make_shared<ConvNet>(app::convnet_for(d), 1, dev);
  auto opt = std::make_shared<SGD>(net->parameters(), 0.01f, 0.9f, 5e-4f);
  auto steps = std::make_shared<app::CondenseSteps>(*net, *opt, cfg->metric, graphed);
  auto inner = std::make_shared<int64_t>(0);
  return [cfg, st, set, net, opt, steps, inner] {
    (void)app::condense_inner_step(*set, *cfg, *st, *steps, 0, (*inner)++);  // reads its loss
  };
}

// One training step: forward, cross-entropy, backward, SGD (momentum 0.9, wd 5e-4).
std::function<void()> train_step(const Case& c, int64_t batch, Device dev, bool graph) {
  auto net = std::make_shared<ConvNet>(net_config(c), 1, dev);
  auto opt = std::make_shared<SGD>(net->parameters(), 0.01f, 0.9f, 5e-4f);
  Tensor x = rand_uniform({batch, c.channels, c.size, c.size}, 2, 0, 0, -1.f, 1.f, dev);
  std::vector<int64_t> lab(batch);
  for (int64_t i = 0; i < batch; ++i) lab[i] = i % 10;
  Tensor y = from_int_vector(lab, {batch}, dev);
  Tensor target = graph ? one_hot(y, 10) : Tensor();
  return [net, opt, x, y, target, graph] {
    Tensor loss = loss_of(net->forward(x), y, target);
    opt->zero_grad();
    backward(loss);
    opt->step();
    if (!graph) loss.item();  // synchronises with the device
  };
}

// One IDC matching step for one class: real grads (no graph), synthetic grads (create_graph), l1 distance
// over conv weights, gradient to the synthetic images.
std::function<void()> match_step(const Case& c, int64_t n_real, int64_t n_syn, Device dev, bool graph) {
  auto net = std::make_shared<ConvNet>(net_config(c), 1, dev);
  Tensor xr = rand_uniform({n_real, c.channels, c.size, c.size}, 3, 0, 0, -1.f, 1.f, dev);
  Tensor xs = rand_uniform({n_syn, c.channels, c.size, c.size}, 4, 0, 0, -1.f, 1.f, dev);
  xs.set_requires_grad(true);
  Tensor yr = from_int_vector(std::vector<int64_t>(n_real, 3), {n_real}, dev);
  Tensor ys = from_int_vector(std::vector<int64_t>(n_syn, 3), {n_syn}, dev);
  Tensor tr = graph ? one_hot(yr, 10) : Tensor(), ts = graph ? one_hot(ys, 10) : Tensor();
  return [net, xr, xs, yr, ys, tr, ts, graph] {
    std::vector<Tensor> w = net->conv_weights();
    std::vector<Tensor> gr = grad({loss_of(net->forward(xr), yr, tr)}, w);
    std::vector<Tensor> gs = grad({loss_of(net->forward(xs), ys, ts)}, w, {}, true);
    Tensor d = app::match_distance(gr, gs, app::MatchMetric::L1);
    Tensor gx = grad({d}, {xs})[0];
    Tensor total = sum(gx);
    if (!graph) total.item();  // synchronises with the device
  };
}

// One IDC inner step without augmentation (both engines do exactly this): for each of 10 classes, decode 10
// stored images (factor 2) into 40, match l1 conv-weight gradients against 64 real images, step the stored
// images (SGD, momentum 0.5); then 8 network SGD steps on batches of 64 real images.
std::function<void()> inner_step(const Case& c, Device dev) {
  auto net = std::make_shared<ConvNet>(net_config(c), 1, dev);
  auto opt = std::make_shared<SGD>(net->parameters(), 0.01f, 0.9f, 5e-4f);
  auto stored = std::make_shared<std::vector<Tensor>>();
  auto momentum = std::make_shared<std::vector<Tensor>>(10);
  for (int k = 0; k < 10; ++k) {
    Tensor s = rand_uniform({10, c.channels, c.size, c.size}, 5, k, 0, 0.f, 1.f, dev);
    s.set_requires_grad(true);
    stored->push_back(s);
  }
  Tensor xr = rand_uniform({64, c.channels, c.size, c.size}, 6, 0, 0, -1.f, 1.f, dev);
  std::vector<int64_t> lab(64);
  for (int64_t i = 0; i < 64; ++i) lab[i] = i % 10;
  Tensor y_net = from_int_vector(lab, {64}, dev);
  return [net, opt, stored, momentum, xr, y_net, dev] {
    std::vector<Tensor> w = net->conv_weights();
    for (int k = 0; k < 10; ++k) {
      Tensor yr = from_int_vector(std::vector<int64_t>(64, k), {64}, dev);
      Tensor ys = from_int_vector(std::vector<int64_t>(40, k), {40}, dev);
      std::vector<Tensor> gr = grad({cross_entropy(net->forward(xr), yr)}, w);
      Tensor xs = data::normalize(data::decode((*stored)[k], 2), {0.2861f}, {0.3530f});
      std::vector<Tensor> gs = grad({cross_entropy(net->forward(xs), ys)}, w, {}, true);
      Tensor g = grad({app::match_distance(gr, gs, app::MatchMetric::L1)}, {(*stored)[k]})[0];
      NoGradGuard no_grad;
      Tensor& m = (*momentum)[k];
      m = m.defined() ? add(mul_scalar(m, 0.5f), g) : g.clone();
      Tensor next = sub((*stored)[k].detach(), mul_scalar(m, 1e-4f));
      copy_((*stored)[k], next);
    }
    for (int s = 0; s < 8; ++s) {
      Tensor loss = cross_entropy(net->forward(xr), y_net);
      opt->zero_grad();
      backward(loss);
      opt->step();
    }
    sum((*stored)[0].detach()).item();
  };
}

struct Timing {
  std::vector<double> ms;
  double peak_mib = 0;
  double host_waits = 0, uploads = 0, upload_bytes = 0;  // per run, inside the run (Context::transfers)
};

// Runs `run` reps times, each followed by a device sync, timing each run and the peak memory above the
// memory live before the first, and counting the host waits and uploads inside each run.
Timing time_runs(const std::function<void()>& run, int64_t reps, Device dev) {
  CachingAllocator& alloc = Context::get().allocator(dev);
  alloc.reset_peak();
  const size_t base = alloc.stats().live_bytes;
  Timing t;
  int64_t waits = 0, uploads = 0, upload_bytes = 0;
  for (int64_t i = 0; i < reps; ++i) {
    Context::get().synchronize();
    Context::get().reset_transfers();
    auto t0 = std::chrono::steady_clock::now();
    run();
    const TransferStats in_step = Context::get().transfers();  // the step's own, before the timing's wait
    Context::get().synchronize();
    t.ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    waits += in_step.host_waits, uploads += in_step.uploads, upload_bytes += in_step.upload_bytes;
  }
  t.peak_mib = static_cast<double>(alloc.stats().peak_bytes - base) / (1 << 20);
  const double r = static_cast<double>(std::max<int64_t>(reps, 1));
  t.host_waits = static_cast<double>(waits) / r;
  t.uploads = static_cast<double>(uploads) / r;
  t.upload_bytes = static_cast<double>(upload_bytes) / r;
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  yoco::app::bound_omp_spinning(argv);
  CLI::App app{"Engine benchmarks: ConvNet-3 train step and IDC gradient-matching step"};
  std::string device = "cpu", json_out, cases_arg = "train28,train32,match28,match32,inner28,score28,aug28";
  int64_t reps = 10, warmup = 3, batch = 256, n_real = 64, n_syn = 40;
  bool graph = false;
  app.add_option("--device", device, "cpu | cuda");
  app.add_option("--reps", reps, "timed runs (median reported)")->check(CLI::PositiveNumber);
  app.add_option("--warmup", warmup, "untimed runs first");
  app.add_option("--batch", batch, "train-step batch")->check(CLI::PositiveNumber);
  app.add_option("--real", n_real, "matching step: real images")->check(CLI::PositiveNumber);
  app.add_option("--syn", n_syn, "matching step: synthetic images")->check(CLI::PositiveNumber);
  app.add_option("--cases", cases_arg,
                 "comma list of train28, train32, match28, match32, inner28, score28, aug28 (the apps' step: DSA + "
                 "CutMix, batch 64); not in the default list: cond28 (the apps' condense inner step, engine only), "
                 "lbpe (the fused per-sample kernel's bandwidth against a device copy)");
  app.add_option("--json", json_out, "write results as JSON");
  app.add_flag("--graph", graph, "CUDA: also time train/match steps replayed from a captured CUDA graph");
  bool tf32 = false;
  app.add_flag("--allow-tf32", tf32, "CUDA: let cuBLAS/cuDNN use TF32 tensor cores (default: FP32, as YOCO_ALLOW_TF32)");
  std::string conv_search;
  app.add_option("--conv-search", conv_search,
                 "CUDA convolution algorithms: heuristic (cuDNN's pick, reproducible) | measured (time cuDNN's "
                 "deterministic graph-API and legacy candidates and our direct kernels per shape); default as "
                 "YOCO_CONV_SEARCH")
      ->check(CLI::IsMember({"heuristic", "measured"}));
  bool show_plans = false;
  app.add_flag("--conv-plans", show_plans, "CUDA: print each convolution shape's chosen algorithms at the end");
  return app::run_cli("bench", app, argc, argv, [&] {
    Device dev = app::parse_device(device);
    if (tf32) Context::get().allow_tf32 = true;
    if (!conv_search.empty())
      Context::get().conv_search =
          conv_search == "measured" ? kernels::ConvSearch::Measured : kernels::ConvSearch::Heuristic;
    if (graph && dev != Device::CUDA) {
      std::printf("--graph: CUDA graphs need --device cuda; ignored on CPU\n");
      graph = false;
    }
    std::vector<Case> all = {{"train28", 1, 28, false}, {"train32", 3, 32, false}, {"match28", 1, 28, true},
                             {"match32", 3, 32, true},   {"inner28", 1, 28, true},   {"score28", 1, 28, false},
                             {"aug28", 1, 28, false}, {"cond28", 1, 28, false}};
    nlohmann::json out = nlohmann::json::array();
    std::printf("%-9s %-34s %10s %10s %12s\n", "case", "what", "median ms", "min ms", "peak MiB");
    for (const Case& c : all) {
      if (("," + cases_arg + ",").find("," + c.name + ",") == std::string::npos) continue;
      const int64_t train_batch = c.name == "score28" ? 64 : batch;
      // inner28 and aug28 upload per-step data (labels, batch indices, augmentation draws) from the host inside
      // their steps, so they cannot be captured whole (aug28+graph captures its network half, as the apps do).
      const bool graphable = c.name != "inner28" && c.name != "aug28" && c.name != "cond28";
      auto build = [&](bool for_graph) {
        return c.name == "inner28"  ? inner_step(c, dev)
               : c.name == "aug28"  ? augmented_step(c, dev)
               : c.name == "cond28" ? condense_step(dev, false)
               : c.matching        ? match_step(c, n_real, n_syn, dev, for_graph)
                                   : train_step(c, train_batch, dev, for_graph);
      };
      auto step = build(false);
      for (int64_t i = 0; i < warmup; ++i) step();
      Context::get().profiler().reset();
      Timing t = time_runs(step, reps, dev);
      std::string what = c.name == "inner28"   ? std::string("IDC inner step, 10 classes, no aug")
                       : c.name == "aug28"     ? std::string("DSA+CutMix step, batch 64, 1x28x28")
                       : c.name == "cond28"    ? std::string("apps' condense inner step, 10 classes")
                       : c.name == "score28" ? std::string("scoring-run step, batch 64, 1x28x28")
                       : c.matching ? cat(n_real, " real + ", n_syn, " syn, ", c.channels, "x", c.size, "x", c.size)
                                     : cat("batch ", batch, ", ", c.channels, "x", c.size, "x", c.size);
      const double med = median(t.ms), mn = *std::min_element(t.ms.begin(), t.ms.end());
      std::printf("%-9s %-34s %10.1f %10.1f %12.1f\n", c.name.c_str(), what.c_str(), med, mn, t.peak_mib);
      if (dev == Device::CUDA)  // a wait inside the step stops the host from queueing ahead of the GPU
        std::printf("%-9s per step: %.1f host waits, %.1f uploads (%.0f bytes)\n", "", t.host_waits, t.uploads,
                    t.upload_bytes);
      if (Context::get().profiler().enabled())
        std::printf("per-kernel time over %lld runs:\n%s", static_cast<long long>(reps),
                    Context::get().profiler().report().c_str());
      std::fflush(stdout);
      out.push_back({{"case", c.name}, {"what", what}, {"median_ms", med}, {"min_ms", mn}, {"peak_mib", t.peak_mib},
                     {"device", device}, {"numerics", app::numerics_json()}, {"host_waits_per_step", t.host_waits},
                     {"uploads_per_step", t.uploads}, {"upload_bytes_per_step", t.upload_bytes}});
      if (graph && (c.name == "aug28" || c.name == "cond28")) {
        // The apps' --cuda-graph steps: the input pipeline stays eager, the network halves replay from graphs
        // recorded after two eager warm-up runs; timed whole, as the eager row.
        step = nullptr;
        auto gstep = c.name == "aug28" ? augmented_step(c, dev, /*graphed=*/true) : condense_step(dev, true);
        for (int64_t i = 0; i < std::max<int64_t>(warmup, 3); ++i) gstep();
        Timing tg = time_runs(gstep, reps, dev);
        const double gmed = median(tg.ms), gmn = *std::min_element(tg.ms.begin(), tg.ms.end());
        const std::string gname = c.name + "+graph";
        std::printf("%-9s %-34s %10.1f %10.1f %12.1f\n", gname.c_str(), what.c_str(), gmed, gmn, tg.peak_mib);
        std::printf("%-9s per step: %.1f host waits, %.1f uploads (%.0f bytes)\n", "", tg.host_waits, tg.uploads,
                    tg.upload_bytes);
        out.push_back({{"case", gname}, {"what", what}, {"median_ms", gmed}, {"min_ms", gmn},
                       {"peak_mib", tg.peak_mib}, {"device", device}, {"graph", true},
                       {"host_waits_per_step", tg.host_waits}, {"uploads_per_step", tg.uploads}});
        std::fflush(stdout);
        continue;
      }
      if (!graph || !graphable) continue;

      // The same step replayed from a CUDA graph: warm-up fills the allocator's cache (capture may not
      // allocate), one capture, then timed replays. The eager step's memory is released first.
      step = nullptr;
      const std::string gname = c.name + "+graph";
      auto gstep = build(true);
      for (int64_t i = 0; i < std::max<int64_t>(warmup, 3); ++i) gstep();
      CachingAllocator& alloc = Context::get().allocator(dev);
      alloc.reset_peak();  // the graph's memory is what its capture allocates: replays allocate nothing
      const size_t base = alloc.stats().live_bytes;
      CudaGraph g;
      try {
        g.capture(gstep);
      } catch (const std::exception& e) {
        // Capture is the experimental part: report why and keep benchmarking the other cases.
        std::printf("%s: capture failed: %s\n", gname.c_str(), e.what());
        std::fflush(stdout);
        out.push_back({{"case", gname}, {"what", what}, {"graph", true}, {"error", e.what()}, {"device", device}});
        continue;
      }
      const double capture_peak = static_cast<double>(alloc.stats().peak_bytes - base) / (1 << 20);
      Timing tg = time_runs([&g] { g.replay(); }, reps, dev);
      tg.peak_mib = std::max(tg.peak_mib, capture_peak);
      const double gmed = median(tg.ms), gmn = *std::min_element(tg.ms.begin(), tg.ms.end());
      std::printf("%-9s %-34s %10.1f %10.1f %12.1f\n", gname.c_str(), what.c_str(), gmed, gmn, tg.peak_mib);
      out.push_back({{"case", gname}, {"what", what}, {"median_ms", gmed}, {"min_ms", gmn}, {"peak_mib", tg.peak_mib},
                     {"device", device}, {"graph", true}});
      std::fflush(stdout);
    }
    if (("," + cases_arg + ",").find(",lbpe,") != std::string::npos)
      for (auto& r : bench::bench_lbpe_bandwidth(dev, reps)) out.push_back(r);
    if (show_plans && dev == Device::CUDA)
      std::printf("convolution plans (%s search):\n%s",
                  Context::get().conv_search == kernels::ConvSearch::Measured ? "measured" : "heuristic",
                  Context::get().conv_plan_report().c_str());
    if (!json_out.empty()) app::write_json_atomic(json_out, out);
  });
}
