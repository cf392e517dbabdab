// The network halves of the apps' steps on fixed input buffers, the one implementation of each: a training step
// (forward, loss, backward, SGD) and an IDC matching step (real and synthetic gradients, their distance, its
// gradient to the synthetic batch). Run eagerly, or on CUDA captured once per shape into a CUDA graph and replayed
// (--cuda-graph: one launch instead of ~40, ~150 matching).
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>
#include "apps/common/matching.h"
#include "engine/cuda_graph.h"
#include "engine/optim.h"
#include "models/convnet.h"

namespace yoco::app {

// Per-shape bookkeeping shared by the steps. Without capture (the default, and always on the CPU, where capture
// is refused) every call runs the step eagerly on its shape's buffers. With capture, the first kWarmupRuns calls
// of a shape run eagerly (they fill the allocator's cache and create optimizer state, as a capture requires), the
// next one captures the step and every later call replays it. A capture that fails (e.g. an allocator miss)
// leaves that shape eager for good, with the same numbers; the reason is kept for the caller to report.
class StepGraphs {
 public:
  static constexpr int64_t kWarmupRuns = 2;

  int64_t captures() const { return captures_; }  // graphs recorded so far
  int64_t replays() const { return replays_; }    // calls served by a replay
  const std::string& capture_error() const { return error_; }  // why a capture failed ("" if none did)

 protected:
  struct Entry {
    std::unique_ptr<CudaGraph> graph;
    int64_t eager_runs = 0;
    bool failed = false;
  };
  explicit StepGraphs(bool capture) : capture_(capture) {}
  // Runs `step` for this shape's entry: eagerly, or by a replay (after capturing it when due; drop_outputs first
  // releases the previous call's outputs so the capture finds their blocks in the cache). Returns true when
  // replayed.
  bool run_entry(Entry& e, const std::function<void()>& step, const std::function<void()>& drop_outputs);

 private:
  bool capture_;
  int64_t captures_ = 0, replays_ = 0;
  std::string error_;
};

// A training step's network half: forward, soft-target cross-entropy, backward, SGD, per batch size. With
// cuda_graph (CUDA only) the learning rate is a kernel argument baked into the graph, so a new lr (a MultiStepLR
// milestone) records again.
class TrainStep : public StepGraphs {
 public:
  TrainStep(ConvNet& net, SGD& opt, bool cuda_graph = false);

  // x: f32 [B, C, H, W] (normalised, augmented, mixed); target: f32 [B, classes] soft targets (one-hot when
  // unmixed: the same numbers as cross_entropy with the labels). Returns the detached loss; *logits_out the
  // detached logits. Both live in this batch size's buffers: when replayed, the next call of the same size
  // overwrites them, so read or copy them before.
  Tensor run(const Tensor& x, const Tensor& target, Tensor* logits_out = nullptr);

  ConvNet& net() { return net_; }
  SGD& optimizer() { return opt_; }

 private:
  struct Slot {
    Entry entry;
    Tensor x, target, loss, logits;
    float lr = 0.f;
  };
  void step_on(Slot& s);

  ConvNet& net_;
  SGD& opt_;
  std::map<int64_t, Slot> slots_;  // by batch size
};

// An IDC matching step's network half, per (real, synthetic) batch size: real-batch weight gradients, synthetic
// ones with create_graph, match_distance over the conv weights, and the distance's gradient w.r.t. the (augmented)
// synthetic batch. The caller backpropagates that gradient through its augmentation and decoding to the stored
// images (autograd's chain rule split at the synthetic batch: the same backward ops in the same order, so the
// same numbers as one backward from the distance to the stored images).
class MatchStep : public StepGraphs {
 public:
  MatchStep(ConvNet& net, MatchMetric metric, bool cuda_graph = false);

  struct Result {
    Tensor distance;   // detached scalar
    Tensor grad_syn;   // detached, the synthetic batch's shape
  };
  // real/syn: f32 [N, C, H, W] (syn's history is not used: pass it detached); targets: f32 [N, classes] one-hot.
  // The result lives in this shape's buffers until its next call.
  Result run(const Tensor& real, const Tensor& real_target, const Tensor& syn, const Tensor& syn_target);

 private:
  struct Slot {
    Entry entry;
    Tensor real, real_target, syn, syn_target;
    Result out;
  };
  void step_on(Slot& s);

  ConvNet& net_;
  MatchMetric metric_;
  std::map<std::pair<int64_t, int64_t>, Slot> slots_;  // by (real, synthetic) batch size
};

}  // namespace yoco::app
