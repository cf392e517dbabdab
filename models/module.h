// Module: a named, ordered parameter list with device moves, shared by every model.
#pragma once
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>
#include "engine/tensor.h"

namespace yoco {

class Module {
 public:
  virtual ~Module() = default;
  virtual Tensor forward(const Tensor& x) = 0;

  // Parameters in registration order (the order optimisers, checkpoints and parity tests rely on).
  std::vector<Tensor> parameters() const;
  const std::vector<std::pair<std::string, Tensor>>& named_parameters() const { return params_; }
  // Buffers (e.g. batch-norm running statistics): state that is saved but not trained.
  const std::vector<std::pair<std::string, Tensor>>& named_buffers() const { return buffers_; }
  // The 4-D (convolution) weights: what IDC's gradient matching compares.
  std::vector<Tensor> conv_weights() const;
  int64_t num_parameters() const;

  void set_training(bool on) { training_ = on; }
  bool training() const { return training_; }
  Device device() const { return device_; }
  // Copies every parameter and buffer to `d` (new leaves that require grad).
  void to(Device d);
  // Copies values from a module with the same parameter names and shapes.
  void load_from(const Module& other);
  // The parameter / buffer registered under `name`; an error naming it when there is none.
  const Tensor& param(const std::string& name) const;
  const Tensor& buffer(const std::string& name) const;

 protected:
  Tensor& add_param(const std::string& name, Tensor value);
  Tensor& add_buffer(const std::string& name, Tensor value);

  // Registration order is the saved order; the indexes find an entry by name (forward code never counts).
  std::vector<std::pair<std::string, Tensor>> params_;
  std::vector<std::pair<std::string, Tensor>> buffers_;
  std::unordered_map<std::string, size_t> param_index_;
  std::unordered_map<std::string, size_t> buffer_index_;
  bool training_ = true;
  Device device_ = Device::CPU;
};

}  // namespace yoco
