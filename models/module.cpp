// Module bookkeeping: parameter registry, device moves, copying weights.
#include "models/module.h"

namespace yoco {

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (const auto& p : params_) out.push_back(p.second);
  return out;
}

std::vector<Tensor> Module::conv_weights() const {
  std::vector<Tensor> out;
  for (const auto& p : params_)
    if (p.second.dim() == 4) out.push_back(p.second);
  return out;
}

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (const auto& p : params_) n += p.second.numel();
  return n;
}

Tensor& Module::add_param(const std::string& name, Tensor value) {
  YOCO_CHECK(param_index_.emplace(name, params_.size()).second, "Module: parameter ", name, " registered twice");
  value.set_requires_grad(true);
  params_.emplace_back(name, value);
  return params_.back().second;
}

Tensor& Module::add_buffer(const std::string& name, Tensor value) {
  YOCO_CHECK(buffer_index_.emplace(name, buffers_.size()).second, "Module: buffer ", name, " registered twice");
  buffers_.emplace_back(name, value);
  return buffers_.back().second;
}

const Tensor& Module::param(const std::string& name) const {
  auto it = param_index_.find(name);
  YOCO_CHECK(it != param_index_.end(), "Module: no parameter named ", name, " (", params_.size(), " registered)");
  return params_[it->second].second;
}

const Tensor& Module::buffer(const std::string& name) const {
  auto it = buffer_index_.find(name);
  YOCO_CHECK(it != buffer_index_.end(), "Module: no buffer named ", name, " (", buffers_.size(), " registered)");
  return buffers_[it->second].second;
}

void Module::to(Device d) {
  for (auto& p : params_) {
    Tensor moved = p.second.detach().to(d).clone();
    moved.set_requires_grad(true);
    p.second = moved;
  }
  for (auto& b : buffers_) b.second = b.second.to(d).clone();
  device_ = d;
}

void Module::load_from(const Module& other) {
  YOCO_CHECK(other.params_.size() == params_.size(), "load_from: ", other.params_.size(), " parameters for ",
             params_.size());
  for (size_t i = 0; i < params_.size(); ++i) {
    YOCO_CHECK(params_[i].first == other.params_[i].first && params_[i].second.shape() == other.params_[i].second.shape(),
               "load_from: parameter ", i, " is ", other.params_[i].first, other.params_[i].second.str(), ", expected ",
               params_[i].first, params_[i].second.str());
    copy_(params_[i].second, other.params_[i].second.detach());
  }
  for (size_t i = 0; i < buffers_.size() && i < other.buffers_.size(); ++i) copy_(buffers_[i].second, other.buffers_[i].second);
}

}  // namespace yoco
