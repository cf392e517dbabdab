// Training loop shared by evaluate, prune (scoring runs) and condense: IDC/YOCO protocol with DSA + CutMix.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>
#include "apps/common/setting_check.h"
#include "apps/common/steps.h"
#include "data/augment.h"
#include "data/dataset.h"
#include "engine/optim.h"
#include "models/convnet.h"

namespace yoco::app {

struct TrainConfig {
  int64_t epochs = 1000;
  int64_t batch = 64;
  float lr = 0.01f, momentum = 0.9f, weight_decay = 5e-4f;
  float gamma = 0.2f;             // LR × gamma at 2/3 and 5/6 of training
  bool lr_per_iteration = false;  // YOCO's scoring run steps MultiStepLR per iteration; IDC's evaluation per epoch
  std::string dsa = "color_crop_flip_scale_rotate";  // "" or "none" disables augmentation
  float cutmix_p = 0.5f;
  int64_t eval_points = 4;  // test at E/4, E/2, 3E/4 and E (IDC reports the best of these)
  int64_t eval_batch = 500;
  uint64_t seed = 0;
  // CUDA: replay each step's network half (forward, loss, backward, SGD) from a CUDA graph (TrainStep); the
  // input pipeline (gather, DSA, CutMix) stays eager. Same numbers as eager steps. Ignored on the CPU.
  bool cuda_graph = false;
  bool progress = true;
  std::string label;  // prefix of progress lines
};

// Refuses (never replaces) out-of-range settings: epochs, batch, eval_batch >= 1, eval_points >= 0, lr and gamma
// positive finite, momentum in [0, 1), weight_decay finite >= 0, cutmix_p in [0, 1]. Errors name a field as
// `names` calls it (an app passes its flags), else "TrainConfig.<field>". train_model calls it first.
void validate(const TrainConfig& cfg, const SettingNames& names = {});

// What a per-batch hook sees: the batch's dataset indices, the logits on the augmented (and possibly
// CutMixed) inputs, and the original labels. Used by pruning to accumulate per-sample statistics.
struct BatchView {
  const std::vector<int64_t>& indices;
  const Tensor& logits;  // detached [B, classes]
  const Tensor& labels;  // i64 [B]
  int64_t epoch;
};
using BatchHook = std::function<void(const BatchView&)>;

struct EvalPoint {
  int64_t epoch;
  float accuracy;
};
struct TrainResult {
  std::vector<EvalPoint> evals;
  float best = 0.f, last = 0.f;  // test accuracy (fraction), best of the eval points and the final one
  double seconds = 0, images_per_sec = 0;
  float final_loss = 0.f;
  int64_t graph_captures = 0, graph_replays = 0;  // with cuda_graph: graphs recorded, steps replayed from one
  std::string graph_error;                        // why a capture failed (those steps ran eagerly), or ""
};

// ConvNet-3 (width 128, instance norm) sized for the dataset's images and classes.
ConvNetConfig convnet_for(const data::Dataset& d);

// `d` for a training run on `dev`: on CUDA, its images are copied to the device once when they take at most
// kResidentImageBytes, so each batch is gathered there instead of uploaded from pageable host memory (such an
// upload can hold the host until the GPU has drained, and then the next step's launches no longer overlap this
// step's kernels). Labels stay on the host, where batches are picked. Otherwise `d` unchanged (shared storage).
constexpr size_t kResidentImageBytes = size_t{2} << 30;
data::Dataset resident_for_training(const data::Dataset& d, Device dev);

// One SGD step of `step` (its net and optimizer) on the images `idx` of `train`: normalise, DSA (if given;
// per-sample draws keyed by (seed, draw_id)), CutMix with probability cutmix_p, then step.run with the soft (or,
// unmixed, one-hot) targets. Returns the detached scalar loss on the net's device (no host sync: read it with
// item() only where a value is needed); optionally the detached logits and the (original) labels of the batch. The
// loss and logits live in the step's buffers (see TrainStep::run).
Tensor train_batch(TrainStep& step, const data::Dataset& train, const std::vector<int64_t>& idx,
                   const data::Dsa* dsa, float cutmix_p, uint64_t seed, uint64_t draw_id, Tensor* logits_out = nullptr,
                   Tensor* labels_out = nullptr);

// Trains `net` on `train` (images unnormalised [0,1]; normalised here with the dataset's mean/std) and
// tests on `test` at the eval points when `test` is given. The training and test images are made resident on the
// net's device for the run (resident_for_training). A NaN or infinite loss stops training with an Error naming the
// epoch (and the iteration when it is in the epoch just read): checked on the device every epoch, read at the
// loss reads that happen anyway (progress lines, eval points, the last epoch), so no step waits for it.
TrainResult train_model(ConvNet& net, const data::Dataset& train, const data::Dataset* test, const TrainConfig& cfg,
                        const BatchHook& hook = {});

// Top-1 accuracy of `net` (eval mode, no grad) on `test`.
float evaluate_accuracy(ConvNet& net, const data::Dataset& test, int64_t batch = 500);

// Epoch-e permutation of [0, n) from Philox (seed, stream): the same on every machine.
std::vector<int64_t> shuffled_indices(int64_t n, uint64_t seed, uint64_t stream, uint64_t epoch);

// Seconds as "1h02m" / "3m05s" / "12.3s" for progress lines.
std::string format_duration(double seconds);

}  // namespace yoco::app
