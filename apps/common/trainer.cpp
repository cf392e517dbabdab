// The IDC/YOCO training protocol: SGD(0.01, 0.9, 5e-4), MultiStep ×0.2 at 2/3 and 5/6, DSA per sample,
// CutMix p=0.5 (Beta(1,1)), test at four evenly spaced checkpoints.
#include "apps/common/trainer.h"
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include "apps/common/finite_check.h"
#include "data/augment.h"
#include "data/cutmix.h"
#include "engine/context.h"
#include "engine/ops.h"
#include "engine/optim.h"
#include "engine/per_sample.h"
#include "kernels/philox_shuffle.h"

namespace yoco::app {

namespace {
// Philox streams of the training loop (init uses 1000+, DSA and CutMix their own).
constexpr uint64_t kShuffleStream = 11;
using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }
}  // namespace

std::vector<int64_t> shuffled_indices(int64_t n, uint64_t seed, uint64_t stream, uint64_t epoch) {
  std::vector<int64_t> idx(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) idx[i] = i;
  kernels::philox_shuffle(idx.data(), n, seed, stream, epoch * static_cast<uint64_t>(n), kernels::ShuffleDraw::Modulo);
  return idx;
}

std::string format_duration(double s) {
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%dh%02dm", static_cast<int>(s / 3600), static_cast<int>(s / 60) % 60);
  else if (s >= 60)
    std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(s / 60), static_cast<int>(s) % 60);
  else
    std::snprintf(buf, sizeof buf, "%.1fs", s);
  return buf;
}

float evaluate_accuracy(ConvNet& net, const data::Dataset& test, int64_t batch) {
  NoGradGuard no_grad;
  bool was_training = net.training();
  net.set_training(false);
  const int64_t n = test.size();
  YOCO_CHECK(n < (int64_t{1} << 24), "evaluate_accuracy: ", n, " test images: the f32 count would round");
  const Device dev = net.device();
  const std::vector<int64_t> labels = test.labels.to_int_vector();
  // Correct predictions are counted where the net is (the fused per-sample kernel's flag: the label is the first
  // maximum, as torch.argmax) and read once: one host wait per evaluation, not one per batch. Sums of 0/1 in f32
  // are exact below 2^24.
  Tensor correct;
  for (int64_t s = 0; s < n; s += batch) {
    const int64_t e = std::min(n, s + batch);
    Tensor x = data::normalize(slice(test.images, 0, s, e).to(dev), test.mean, test.std);
    Tensor y = from_int_vector(std::vector<int64_t>(labels.begin() + s, labels.begin() + e), {e - s}, dev);
    Tensor c = sum(per_sample_stats(net.forward(x), y).correct);
    correct = correct.defined() ? add(correct, c) : c;
  }
  net.set_training(was_training);
  return n ? correct.item() / static_cast<float>(n) : 0.f;
}

void validate(const TrainConfig& cfg, const SettingNames& names) {
  const SettingCheck check("TrainConfig", names);
  check.at_least("epochs", cfg.epochs, 1);
  check.at_least("batch", cfg.batch, 1);
  check.positive_finite("lr", cfg.lr);
  check.fraction_below_one("momentum", cfg.momentum);
  check.non_negative_finite("weight_decay", cfg.weight_decay);
  check.positive_finite("gamma", cfg.gamma);
  check.within("cutmix_p", cfg.cutmix_p, 0, 1);
  check.at_least("eval_points", cfg.eval_points, 0);
  check.at_least("eval_batch", cfg.eval_batch, 1);
}

ConvNetConfig convnet_for(const data::Dataset& d) {
  ConvNetConfig nc;
  nc.channels = d.channels;
  nc.image_size = d.height;
  nc.num_classes = d.num_classes;
  return nc;
}

data::Dataset resident_for_training(const data::Dataset& d, Device dev) {
  if (dev != Device::CUDA || !d.images.defined() || d.images.device() == dev ||
      d.images.numel() * static_cast<int64_t>(sizeof(float)) > static_cast<int64_t>(kResidentImageBytes))
    return d;
  data::Dataset r = d;
  r.images = d.images.to(dev);
  return r;
}

Tensor train_batch(TrainStep& step, const data::Dataset& train, const std::vector<int64_t>& idx,
                   const data::Dsa* dsa, float cutmix_p, uint64_t seed, uint64_t draw_id, Tensor* logits_out,
                   Tensor* labels_out) {
  NvtxRange nvtx("train_batch");
  const Device dev = step.net().device();
  const int64_t b = static_cast<int64_t>(idx.size());
  Tensor x = data::gather_images(train, idx, dev);
  const int64_t* all = train.labels.data<int64_t>();
  std::vector<int64_t> lab(idx.size());
  for (size_t i = 0; i < idx.size(); ++i) lab[i] = all[idx[i]];
  Tensor y = from_int_vector(lab, {b}, dev);
  data::CutMixResult mix;
  {
    NoGradGuard no_grad;  // input augmentation needs no history
    x = data::normalize(x, train.mean, train.std);
    if (dsa) x = (*dsa)(x, seed, draw_id);
    if (cutmix_p > 0.f) {
      mix = data::cutmix(x, lab, train.num_classes, cutmix_p, seed, draw_id);  // host labels: no download
      x = mix.images;
    }
  }
  if (labels_out) *labels_out = y;
  // One-hot targets for unmixed batches keep one target shape (a graph's); the soft loss on them is the same
  // composition as cross_entropy's (engine/ops_softmax.cpp), so the numbers are those of the labels.
  return step.run(x, mix.applied ? mix.target : one_hot(y, train.num_classes), logits_out);
}

TrainResult train_model(ConvNet& net, const data::Dataset& train_set, const data::Dataset* test,
                        const TrainConfig& cfg, const BatchHook& hook) {
  validate(cfg);
  YOCO_CHECK(train_set.size() > 0, "train_model: empty training set");
  const data::Dataset train = resident_for_training(train_set, net.device());
  // The test images too: each evaluation point then slices them on the device instead of uploading every batch
  // of them again from pageable memory.
  data::Dataset test_resident;
  if (test) test_resident = resident_for_training(*test, net.device());
  const int64_t n = train.size();
  const int64_t iters_per_epoch = (n + cfg.batch - 1) / cfg.batch;  // no drop_last: each sample once per epoch
  const int64_t total_steps = cfg.lr_per_iteration ? cfg.epochs * iters_per_epoch : cfg.epochs;
  SGD opt(net.parameters(), cfg.lr, cfg.momentum, cfg.weight_decay);
  MultiStepLR sched(opt, {total_steps * 2 / 3, total_steps * 5 / 6}, cfg.gamma);
  TrainStep train_step(net, opt, cfg.cuda_graph);
  const bool use_dsa = !cfg.dsa.empty() && cfg.dsa != "none";
  data::Dsa dsa(use_dsa ? cfg.dsa : "color", /*batch=*/false);
  std::vector<int64_t> eval_epochs;
  for (int64_t k = 1; k <= cfg.eval_points; ++k) eval_epochs.push_back(cfg.epochs * k / cfg.eval_points);

  TrainResult res;
  net.set_training(true);
  auto t0 = Clock::now();
  double last_print = -1e9;
  int64_t step = 0, seen = 0;
  // Each step's loss stays on the net's device, in its slot of the epoch (a device-to-device copy, no host
  // sync); the host reads the slots only where a value is reported: a progress line or the last epoch's mean.
  // The epoch loss is then summed on the host in double, in step order, from the same float per step as the
  // former per-step item(): the reported numbers are bit-identical to it on CPU and CUDA (a device running sum
  // in f32 would change the rounding). The CPU takes the same path (its copy is a memcpy).
  // Slot iters_per_epoch + e holds epoch e's nonfinite_probe of its step losses (0, or NaN once one was NaN or
  // inf), queued at the epoch's end: a read of the losses sees every epoch so far, with no wait of its own.
  Tensor loss_slots = empty({iters_per_epoch + cfg.epochs}, DType::F32, net.device());
  Tensor step_losses = make_view(loss_slots, {iters_per_epoch}, 0);
  auto epoch_mean_loss = [&](int64_t epoch) {
    std::vector<float> lv = loss_slots.to_vector();  // the one host wait of a reported epoch
    const size_t probes = static_cast<size_t>(iters_per_epoch);
    const int64_t bad = first_nonfinite(lv, probes, probes + static_cast<size_t>(epoch) + 1);
    if (bad >= 0) {
      const int64_t bad_epoch = bad - iters_per_epoch;
      const int64_t it = bad_epoch == epoch ? first_nonfinite(lv, 0, probes) : -1;  // earlier epochs: overwritten
      YOCO_CHECK(false, cfg.label, "training stopped: the loss is ", it >= 0 ? std::to_string(lv[it]) : "not finite",
                 " at epoch ", bad_epoch + 1, "/", cfg.epochs,
                 it >= 0 ? ", iteration " + std::to_string(it + 1) + "/" + std::to_string(iters_per_epoch) : "",
                 " (lr ", cfg.lr, "): the network diverged");
    }
    double loss_sum = 0;
    for (size_t i = 0; i < probes; ++i) loss_sum += lv[i];
    return static_cast<float>(loss_sum / static_cast<double>(iters_per_epoch));
  };
  for (int64_t epoch = 0; epoch < cfg.epochs; ++epoch) {
    NvtxRange nvtx("train_epoch");
    std::vector<int64_t> order = shuffled_indices(n, cfg.seed, kShuffleStream, static_cast<uint64_t>(epoch));
    Tensor y_hook;
    for (int64_t it = 0; it < iters_per_epoch; ++it, ++step) {
      std::vector<int64_t> idx(order.begin() + it * cfg.batch, order.begin() + std::min(n, (it + 1) * cfg.batch));
      Tensor logits;
      Tensor loss = train_batch(train_step, train, idx, use_dsa ? &dsa : nullptr, cfg.cutmix_p, cfg.seed,
                                static_cast<uint64_t>(step), hook ? &logits : nullptr, hook ? &y_hook : nullptr);
      if (cfg.lr_per_iteration) sched.step();
      Tensor slot = make_view(step_losses, {1}, it);  // a view: the copy lands in step_losses
      copy_(slot, loss);
      seen += static_cast<int64_t>(idx.size());
      if (hook) hook(BatchView{idx, logits, y_hook, epoch});
      // Long epochs (whole datasets) also report inside the epoch, every ~10 s.
      double el_it = since(t0);
      if (cfg.progress && el_it - last_print > 10.0 && it + 1 < iters_per_epoch) {
        const float lv = loss.item();  // waits for the device, so the rate and ETA below count finished work
        el_it = since(t0);
        last_print = el_it;
        double done = static_cast<double>(epoch) + static_cast<double>(it + 1) / static_cast<double>(iters_per_epoch);
        std::fprintf(stderr, "%sepoch %lld/%lld (batch %lld/%lld) loss %.4f %.0f img/s ETA %s\n", cfg.label.c_str(),
                     static_cast<long long>(epoch + 1), static_cast<long long>(cfg.epochs), static_cast<long long>(it + 1),
                     static_cast<long long>(iters_per_epoch), lv, static_cast<double>(seen) / el_it,
                     format_duration(el_it / done * (static_cast<double>(cfg.epochs) - done)).c_str());
      }
    }
    if (!cfg.lr_per_iteration) sched.step();
    Tensor probe_slot = make_view(loss_slots, {1}, iters_per_epoch + epoch);
    copy_(probe_slot, nonfinite_probe(step_losses));
    const bool last_epoch = epoch + 1 == cfg.epochs;
    const bool is_eval = test && std::find(eval_epochs.begin(), eval_epochs.end(), epoch + 1) != eval_epochs.end();
    const bool report = cfg.progress && (since(t0) - last_print > 2.0 || last_epoch || is_eval);
    // The losses (and the non-finite guard) are read where the host waits anyway: the last epoch (its mean
    // reaches TrainResult), a progress line, an eval point (its accuracy waits for the device; a diverged net is
    // then stopped before it is tested).
    float epoch_loss = 0.f;
    if (last_epoch || report || is_eval) epoch_loss = epoch_mean_loss(epoch);
    if (last_epoch) res.final_loss = epoch_loss;
    if (is_eval) {
      float acc = evaluate_accuracy(net, test_resident, cfg.eval_batch);
      res.evals.push_back({epoch + 1, acc});
      res.best = std::max(res.best, acc);
      res.last = acc;
    }
    if (report) {
      const double el = since(t0);  // after the download's wait: the rate and ETA count finished work
      last_print = el;
      double eta = el / static_cast<double>(epoch + 1) * static_cast<double>(cfg.epochs - epoch - 1);
      std::fprintf(stderr, "%sepoch %lld/%lld loss %.4f lr %.5f %.0f img/s ETA %s%s\n", cfg.label.c_str(),
                   static_cast<long long>(epoch + 1), static_cast<long long>(cfg.epochs), epoch_loss, opt.lr(),
                   static_cast<double>(seen) / el, format_duration(eta).c_str(),
                   is_eval ? (" test acc " + std::to_string(res.last * 100).substr(0, 5) + "%").c_str() : "");
    }
  }
  res.graph_captures = train_step.captures(), res.graph_replays = train_step.replays();
  res.graph_error = train_step.capture_error();
  if (!res.graph_error.empty())
    std::fprintf(stderr, "%sCUDA graph capture failed, those steps ran eagerly: %s\n", cfg.label.c_str(),
                 res.graph_error.c_str());
  res.seconds = since(t0);
  res.images_per_sec = static_cast<double>(seen) / res.seconds;
  return res;
}

}  // namespace yoco::app
