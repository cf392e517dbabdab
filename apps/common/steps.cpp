// The training and matching steps on static buffers, run eagerly or captured into CUDA graphs per shape (see
// steps.h).
#include "apps/common/steps.h"
#include <exception>
#include "engine/autograd.h"
#include "engine/context.h"
#include "engine/ops.h"

namespace yoco::app {

namespace {
// dst (allocated on first use with src's shape, on `dev`) = src, without history.
void copy_into(Tensor& dst, const Tensor& src, Device dev, const char* what) {
  YOCO_CHECK(src.defined(), "step: ", what, " is undefined");
  if (!dst.defined()) dst = empty(src.shape(), DType::F32, dev);
  YOCO_CHECK(dst.shape() == src.shape(), "step: ", what, " ", src.str(), " does not match its buffer ",
             dst.str());
  NoGradGuard no_grad;
  copy_(dst, src);
}
}  // namespace

bool StepGraphs::run_entry(Entry& e, const std::function<void()>& step, const std::function<void()>& drop_outputs) {
  if (capture_ && !e.graph && !e.failed && e.eager_runs >= kWarmupRuns) {
    drop_outputs();
    auto g = std::make_unique<CudaGraph>();
    try {
      g->capture(step);  // recorded, not run: the replay below runs it
      e.graph = std::move(g);
      ++captures_;
    } catch (const std::exception& ex) {
      e.failed = true;
      error_ = ex.what();
    }
  }
  if (e.graph) {
    e.graph->replay();
    ++replays_;
    return true;
  }
  step();
  ++e.eager_runs;
  return false;
}

TrainStep::TrainStep(ConvNet& net, SGD& opt, bool cuda_graph)
    : StepGraphs(cuda_graph && net.device() == Device::CUDA), net_(net), opt_(opt) {}

void TrainStep::step_on(Slot& s) {
  Tensor logits = net_.forward(s.x);
  Tensor loss = cross_entropy_soft(logits, s.target);
  opt_.zero_grad();
  backward(loss);
  opt_.step();
  s.loss = loss.detach();
  s.logits = logits.detach();
}

Tensor TrainStep::run(const Tensor& x, const Tensor& target, Tensor* logits_out) {
  YOCO_CHECK(x.defined() && x.dim() == 4 && target.defined() && target.dim() == 2 && target.size(0) == x.size(0),
             "TrainStep: expected x [B,C,H,W] and target [B,classes], got ", x.defined() ? x.str() : "-",
             " and ", target.defined() ? target.str() : "-");
  Slot& s = slots_[x.size(0)];
  copy_into(s.x, x, net_.device(), "batch");
  copy_into(s.target, target, net_.device(), "target");
  if (s.entry.graph && s.lr != opt_.lr()) s.entry.graph.reset();  // the lr is baked in: record again
  s.lr = opt_.lr();
  const int64_t steps = opt_.step_count();
  const bool replayed = run_entry(s.entry, [&] { step_on(s); }, [&] { s.loss = Tensor(), s.logits = Tensor(); });
  if (replayed) opt_.set_step_count(steps + 1);  // a replay is a step; a capture alone is not
  if (logits_out) *logits_out = s.logits;
  return s.loss;
}

MatchStep::MatchStep(ConvNet& net, MatchMetric metric, bool cuda_graph)
    : StepGraphs(cuda_graph && net.device() == Device::CUDA), net_(net), metric_(metric) {}

void MatchStep::step_on(Slot& s) {
  const std::vector<Tensor> weights = net_.conv_weights();
  std::vector<Tensor> gr = grad({cross_entropy_soft(net_.forward(s.real), s.real_target)}, weights);
  std::vector<Tensor> gs =
      grad({cross_entropy_soft(net_.forward(s.syn), s.syn_target)}, weights, {}, /*create_graph=*/true);
  Tensor d = match_distance(gr, gs, metric_);
  s.out.grad_syn = grad({d}, {s.syn})[0].detach();
  s.out.distance = d.detach();
}

MatchStep::Result MatchStep::run(const Tensor& real, const Tensor& real_target, const Tensor& syn,
                                               const Tensor& syn_target) {
  YOCO_CHECK(real.defined() && syn.defined() && real.dim() == 4 && syn.dim() == 4,
             "MatchStep: expected real and synthetic batches [N,C,H,W], got ", real.defined() ? real.str() : "-",
             " and ", syn.defined() ? syn.str() : "-");
  Slot& s = slots_[{real.size(0), syn.size(0)}];
  const Device dev = net_.device();
  copy_into(s.real, real, dev, "real batch");
  copy_into(s.real_target, real_target, dev, "real target");
  const bool fresh = !s.syn.defined();
  copy_into(s.syn, syn, dev, "synthetic batch");
  if (fresh) s.syn.set_requires_grad(true);  // the leaf the distance is differentiated to
  copy_into(s.syn_target, syn_target, dev, "synthetic target");
  run_entry(s.entry, [&] { step_on(s); }, [&] { s.out = Result{}; });
  return s.out;
}

}  // namespace yoco::app
