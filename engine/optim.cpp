// SGD and MultiStepLR (see engine/optim.h).
#include "engine/optim.h"
#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>
#include "engine/context.h"
#include "engine/dispatch.h"
#include "kernels/optim.h"

namespace yoco {

SGD::SGD(std::vector<Tensor> params, float lr, float momentum, float weight_decay)
    : params_(std::move(params)), buffers_(params_.size()), lr_(lr), momentum_(momentum), weight_decay_(weight_decay) {
  YOCO_CHECK(lr >= 0.f, "SGD: lr must be >= 0, got ", lr);
  YOCO_CHECK(momentum >= 0.f, "SGD: momentum must be >= 0, got ", momentum);
  YOCO_CHECK(weight_decay >= 0.f, "SGD: weight_decay must be >= 0, got ", weight_decay);
  for (size_t i = 0; i < params_.size(); ++i) {
    detail::check_f32(params_[i], "SGD", "parameter");
    YOCO_CHECK(params_[i].is_leaf(), "SGD: parameter ", i, " is not a leaf (", params_[i].str(), ")");
  }
  // The update runs all parameters in parallel: two that share memory would race (and be updated twice).
  std::vector<std::pair<const char*, size_t>> spans;  // (first byte, index)
  for (size_t i = 0; i < params_.size(); ++i)
    if (params_[i].numel() > 0) spans.push_back({static_cast<const char*>(params_[i].raw()), i});
  std::sort(spans.begin(), spans.end());
  for (size_t k = 1; k < spans.size(); ++k) {
    const Tensor& prev = params_[spans[k - 1].second];
    YOCO_CHECK(spans[k - 1].first + prev.numel() * static_cast<int64_t>(sizeof(float)) <= spans[k].first,
               "SGD: parameters ", spans[k - 1].second, " ", prev.str(), " and ", spans[k].second, " ",
               params_[spans[k].second].str(), " share memory");
  }
}

void SGD::step() {
  NoGradGuard no_grad;
  // All parameters of a device in one multi-tensor update (one launch on CUDA, one parallel region on the CPU)
  // instead of one per parameter: a ConvNet-3 step has 14 parameters, most of them a few hundred floats.
  std::vector<kernels::SgdSegment> segs[2];  // CPU, CUDA
  Tensor device_of[2];
  for (size_t i = 0; i < params_.size(); ++i) {
    Tensor& p = params_[i];
    Tensor g = p.grad();
    if (!g.defined()) continue;  // as PyTorch: parameters without a gradient are left alone
    YOCO_CHECK(g.shape() == p.shape() && g.dtype() == DType::F32 && g.device() == p.device(), "SGD: gradient ",
               g.str(), " does not match parameter ", i, " ", p.str());
    float* buf = nullptr;
    bool first = false;
    if (momentum_ != 0.f) {
      Tensor& b = buffers_[i];
      first = !b.defined();
      if (first) b = empty(p.shape(), DType::F32, p.device());
      YOCO_CHECK(b.shape() == p.shape() && b.device() == p.device(), "SGD: momentum buffer ", b.str(),
                 " does not match parameter ", i, " ", p.str());
      buf = b.data<float>();
    }
    const int d = p.is_cuda() ? 1 : 0;
    segs[d].push_back({p.data<float>(), g.data<float>(), buf, p.numel(), first});
    device_of[d] = p;
  }
  for (int d = 0; d < 2; ++d)
    if (!segs[d].empty())
      YOCO_DISPATCH(device_of[d], sgd_update, segs[d].data(), static_cast<int64_t>(segs[d].size()), lr_, momentum_,
                    weight_decay_);
  ++steps_;
}

void SGD::zero_grad() {
  for (Tensor& p : params_) p.zero_grad();
}

MultiStepLR::MultiStepLR(SGD& opt, std::vector<int64_t> milestones, float gamma)
    : opt_(opt), milestones_(std::move(milestones)), gamma_(gamma), base_lr_(opt.lr()) {
  std::sort(milestones_.begin(), milestones_.end());
}

float MultiStepLR::lr_at(int64_t t) const {
  const auto passed = std::upper_bound(milestones_.begin(), milestones_.end(), t) - milestones_.begin();
  return base_lr_ * std::pow(gamma_, static_cast<float>(passed));
}

void MultiStepLR::step() { set_last_step(last_step_ + 1); }

void MultiStepLR::set_last_step(int64_t t) {
  YOCO_CHECK(t >= 0, "MultiStepLR: step must be >= 0, got ", t);
  last_step_ = t;
  opt_.set_lr(lr_at(t));
}

}  // namespace yoco
