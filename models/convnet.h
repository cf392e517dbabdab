// ConvNet-D (DC/DSA/IDC): depth × [conv3×3 → norm → ReLU → avg-pool 2×2], width 128, then a linear classifier.
#pragma once
#include <cstdint>
#include <string>
#include "models/module.h"

namespace yoco {

enum class NormKind { Instance, Batch, None };
NormKind parse_norm(const std::string& s);  // "instance" | "batch" | "none"

struct ConvNetConfig {
  int64_t channels = 3;
  int64_t image_size = 32;  // square inputs; 28 with 1 channel gets first-conv padding 3 (28 → 32)
  int64_t num_classes = 10;
  int64_t width = 128;
  int64_t depth = 3;
  NormKind norm = NormKind::Instance;
};

class ConvNet : public Module {
 public:
  // Weights drawn with PyTorch's default init from Philox streams keyed by `seed`.
  ConvNet(const ConvNetConfig& cfg, uint64_t seed, Device device = Device::CPU);
  Tensor forward(const Tensor& x) override;  // logits [N, classes]
  Tensor features(const Tensor& x);          // flattened penultimate features [N, feature_dim()]
  int64_t feature_dim() const { return feat_dim_; }
  const ConvNetConfig& config() const { return cfg_; }
  // First conv padding: IDC/DC use 3 for 1-channel 28×28 inputs so the net sees 32×32.
  int64_t first_padding() const { return cfg_.channels == 1 && cfg_.image_size == 28 ? 3 : 1; }

 private:
  ConvNetConfig cfg_;
  int64_t feat_dim_ = 0;
};

}  // namespace yoco
