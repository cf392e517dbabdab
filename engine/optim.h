// Optimizers for training loops: SGD (momentum, weight decay; PyTorch semantics) and the MultiStepLR schedule.
#pragma once
#include <cstdint>
#include <vector>
#include "engine/tensor.h"

namespace yoco {

class SGD {
 public:
  SGD(std::vector<Tensor> params, float lr, float momentum = 0.f, float weight_decay = 0.f);

  // Updates every parameter that has a gradient, in place on its storage (no history is recorded):
  // d = g + wd * p; buf = momentum * buf + d (buf = d the first time); p -= lr * buf (p -= lr * d without momentum).
  void step();
  void zero_grad();  // drops the gradients (PyTorch's set_to_none)

  void set_lr(float lr) { lr_ = lr; }
  float lr() const { return lr_; }
  float momentum() const { return momentum_; }
  float weight_decay() const { return weight_decay_; }
  const std::vector<Tensor>& params() const { return params_; }

  // Checkpoint state: one buffer per parameter (undefined until that parameter's first momentum step;
  // a restored defined buffer makes the next step a regular momentum step), and the number of step() calls.
  std::vector<Tensor>& momentum_buffers() { return buffers_; }
  int64_t step_count() const { return steps_; }
  void set_step_count(int64_t s) { steps_ = s; }

 private:
  std::vector<Tensor> params_;
  std::vector<Tensor> buffers_;
  float lr_, momentum_, weight_decay_;
  int64_t steps_ = 0;
};

// lr = base_lr * gamma^(number of milestones <= t) after the t-th call of step(); base_lr is the optimizer's lr
// at construction. Milestones count with multiplicity, as PyTorch's Counter does.
class MultiStepLR {
 public:
  MultiStepLR(SGD& opt, std::vector<int64_t> milestones, float gamma);
  void step();
  int64_t last_step() const { return last_step_; }
  // Restores a checkpointed schedule position and sets the optimizer's lr accordingly.
  void set_last_step(int64_t t);
  float base_lr() const { return base_lr_; }

 private:
  float lr_at(int64_t t) const;
  SGD& opt_;
  std::vector<int64_t> milestones_;
  float gamma_, base_lr_;
  int64_t last_step_ = 0;
};

}  // namespace yoco
