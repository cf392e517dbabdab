// ResNetAP-10 (IDC/YOCO's ImageNet-10 network): a ResNet whose downsampling is average pooling instead of
// strided convolutions (IDC models/resnet_ap.py, ImageNet branch, BasicBlock [1,1,1,1], width 64).
#pragma once
#include <cstdint>
#include <string>
#include "models/convnet.h"
#include "models/module.h"

namespace yoco {

struct ResNetAPConfig {
  int64_t channels = 3;
  int64_t image_size = 224;  // ≤64: 'small' stem (3×3), ≤128: 'mid' (3×3 + pool 2), else 'large' (7×7 + pool 4)
  int64_t num_classes = 10;
  int64_t width = 64;
  NormKind norm = NormKind::Instance;
};

class ResNetAP10 : public Module {
 public:
  // Conv weights ~ N(0, 2/(k·k·out)) as IDC's init; norms γ=1, β=0; the classifier with PyTorch's default init.
  ResNetAP10(const ResNetAPConfig& cfg, uint64_t seed, Device device = Device::CPU);
  Tensor forward(const Tensor& x) override;
  Tensor features(const Tensor& x);  // [N, 8·width] after global average pooling
  const ResNetAPConfig& config() const { return cfg_; }

 private:
  // Layers by their parameter names' prefix (e.g. "layer1.0.conv1"), as registered in the constructor.
  Tensor norm(const Tensor& x, const std::string& name);
  Tensor conv(const Tensor& x, const std::string& name, int64_t pad);
  Tensor block(const Tensor& x, const std::string& name, bool downsample);
  ResNetAPConfig cfg_;
};

}  // namespace yoco
