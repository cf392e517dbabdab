// Static-buffer training step, captured into a CUDA graph per (batch size, learning rate) (see graphed_step.h).
#include "apps/common/graphed_step.h"
#include <exception>
#include "engine/autograd.h"
#include "engine/context.h"
#include "engine/ops.h"

namespace yoco::app {

GraphedTrainStep::GraphedTrainStep(ConvNet& net, SGD& opt, bool capture)
    : net_(net), opt_(opt), capture_(capture && net.device() == Device::CUDA) {}

void GraphedTrainStep::step_on(Slot& s) {
  Tensor logits = net_.forward(s.x);
  Tensor loss = cross_entropy_soft(logits, s.target);
  opt_.zero_grad();
  backward(loss);
  opt_.step();
  s.loss = loss.detach();
  s.logits = logits.detach();
}

Tensor GraphedTrainStep::run(const Tensor& x, const Tensor& target, Tensor* logits_out) {
  YOCO_CHECK(x.defined() && x.dim() == 4 && target.defined() && target.dim() == 2 && target.size(0) == x.size(0),
             "GraphedTrainStep: expected x [B,C,H,W] and target [B,classes], got ", x.defined() ? x.str() : "-",
             " and ", target.defined() ? target.str() : "-");
  Slot& s = slots_[x.size(0)];
  if (!s.x.defined()) {  // the batch size's static inputs, allocated once
    s.x = empty(x.shape(), DType::F32, net_.device());
    s.target = empty(target.shape(), DType::F32, net_.device());
  }
  YOCO_CHECK(s.x.shape() == x.shape() && s.target.shape() == target.shape(), "GraphedTrainStep: batch ", x.str(),
             " / ", target.str(), " does not match the buffers of its size ", s.x.str(), " / ", s.target.str());
  {
    NoGradGuard no_grad;
    copy_(s.x, x);
    copy_(s.target, target);
  }
  if (s.graph && s.graph_lr != opt_.lr()) s.graph.reset();  // the lr is baked in: record again
  if (capture_ && !s.graph && !s.capture_failed && s.eager_runs >= kWarmupRuns) {
    // The previous step's outputs are dropped first, so the capture finds their blocks in the cache.
    s.loss = Tensor(), s.logits = Tensor();
    const int64_t steps = opt_.step_count();  // capture records the SGD step without running it
    auto g = std::make_unique<CudaGraph>();
    try {
      g->capture([&] { step_on(s); });  // recorded, not run: the replay below runs it
      s.graph = std::move(g);
      s.graph_lr = opt_.lr();
      ++captures_;
    } catch (const std::exception& e) {
      // The run goes on eagerly for this batch size (same numbers, more launches); the reason is kept for the
      // caller to report.
      s.capture_failed = true;
      capture_error_ = e.what();
    }
    opt_.set_step_count(steps);
  }
  if (s.graph) {
    s.graph->replay();
    opt_.set_step_count(opt_.step_count() + 1);
    ++replays_;
  } else {
    step_on(s);
    ++s.eager_runs;
  }
  if (logits_out) *logits_out = s.logits;
  return s.loss;
}

}  // namespace yoco::app
