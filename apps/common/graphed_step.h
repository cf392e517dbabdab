// The network half of a training step (forward, soft-target cross-entropy, backward, SGD) on fixed input
// buffers, so that on CUDA it is captured once into a CUDA graph and replayed: one launch instead of ~40.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include "engine/cuda_graph.h"
#include "engine/optim.h"
#include "models/convnet.h"

namespace yoco::app {

// Each call copies the batch's (already normalised, augmented and mixed) inputs into this batch size's
// static buffers, then runs the step on them: eagerly for the first kWarmupRuns calls of a batch size (they
// fill the allocator's cache and create the momentum buffers, as a capture requires), then from a CUDA
// graph captured on the next call, replayed from then on. The learning rate is a kernel argument baked into
// the graph, so a new lr (a MultiStepLR milestone) re-captures. The batch sizes of a run (the full one and the
// last, shorter one) each get their graph.
//
// Numbers: the same kernels on the same inputs as train_batch's eager step (cross_entropy with hard labels is
// the same composition as cross_entropy_soft with one-hot targets), so a graphed run equals an eager one bit
// for bit. With capture = false (and on the CPU, where capture is refused) the static step runs eagerly every
// time, which is how the CPU tests check the plumbing.
class GraphedTrainStep {
 public:
  static constexpr int64_t kWarmupRuns = 2;

  GraphedTrainStep(ConvNet& net, SGD& opt, bool capture);

  // x: f32 [B, C, H, W] on the net's device; target: f32 [B, classes] soft targets (one-hot when unmixed).
  // Returns the detached loss; *logits_out the detached logits. Both live in this batch size's buffers:
  // the next call of the same batch size overwrites them, so read or copy them before.
  Tensor run(const Tensor& x, const Tensor& target, Tensor* logits_out = nullptr);

  int64_t captures() const { return captures_; }  // graphs recorded so far (batch sizes × lr changes)
  int64_t replays() const { return replays_; }
  // Why a capture failed ("" if none did); that batch size then stays eager.
  const std::string& capture_error() const { return capture_error_; }

 private:
  struct Slot {
    Tensor x, target, loss, logits;
    std::unique_ptr<CudaGraph> graph;
    float graph_lr = 0.f;
    int64_t eager_runs = 0;
    bool capture_failed = false;
  };
  void step_on(Slot& s);  // the step itself, on the slot's buffers (run eagerly or captured)

  ConvNet& net_;
  SGD& opt_;
  bool capture_;
  std::map<int64_t, Slot> slots_;  // by batch size
  int64_t captures_ = 0, replays_ = 0;
  std::string capture_error_;
};

}  // namespace yoco::app
