// ResNetAP-10 in engine ops (see resnet_ap.h). Parameter order follows the PyTorch module's.
#include "models/resnet_ap.h"
#include <cmath>
#include "engine/init.h"
#include "engine/ops.h"

namespace yoco {

namespace {
constexpr uint64_t kInitStreamBase = 2000;  // ResNet init streams (ConvNet uses 1000+)
}

ResNetAP10::ResNetAP10(const ResNetAPConfig& cfg, uint64_t seed, Device device) : cfg_(cfg) {
  YOCO_CHECK(cfg.image_size % 8 == 0, "ResNetAP-10: image size ", cfg.image_size, " must be a multiple of 8");
  uint64_t stream = kInitStreamBase;
  const bool bias = cfg.norm == NormKind::None;  // IDC: conv bias only without normalisation
  auto add_conv = [&](const std::string& name, int64_t out, int64_t in, int64_t k) {
    float std = std::sqrt(2.f / static_cast<float>(k * k * out));
    add_param(name + ".weight", rand_normal({out, in, k, k}, seed, stream++, 0, 0.f, std, device));
    if (bias) add_param(name + ".bias", zeros({out}, DType::F32, device));
  };
  auto add_norm = [&](const std::string& name, int64_t c) {
    if (cfg.norm == NormKind::None) return;
    add_param(name + ".weight", ones({c}, device));
    add_param(name + ".bias", zeros({c}, DType::F32, device));
    if (cfg.norm == NormKind::Batch) {
      add_buffer(name + ".running_mean", zeros({c}, DType::F32, device));
      add_buffer(name + ".running_var", ones({c}, device));
    }
  };
  const int64_t w = cfg.width;
  add_conv("layer0.conv1", w, cfg.channels, cfg.image_size > 128 ? 7 : 3);
  add_norm("layer0.bn1", w);
  int64_t in = w;
  for (int l = 1; l <= 4; ++l) {
    int64_t planes = w << (l - 1);
    std::string p = "layer" + std::to_string(l) + ".0";
    add_conv(p + ".conv1", planes, in, 3);
    add_norm(p + ".bn1", planes);
    add_conv(p + ".conv2", planes, planes, 3);
    add_norm(p + ".bn2", planes);
    if (l > 1) {  // stride 2 or a width change: conv1×1 → avg-pool → norm
      add_conv(p + ".downsample.0", planes, in, 1);
      add_norm(p + ".downsample.2", planes);
    }
    in = planes;
  }
  add_param("fc.weight", init_kaiming_uniform_a5({cfg.num_classes, in}, seed, stream, device));
  add_param("fc.bias", init_bias_uniform(cfg.num_classes, in, seed, stream + 1, device));
  device_ = device;
}

Tensor ResNetAP10::conv(const Tensor& x, const std::string& name, int64_t pad) {
  const Tensor& w = param(name + ".weight");
  Tensor b;
  if (cfg_.norm == NormKind::None) b = param(name + ".bias");
  return conv2d(x, w, b, Conv2dArgs{1, pad});
}

Tensor ResNetAP10::norm(const Tensor& x, const std::string& name) {
  if (cfg_.norm == NormKind::None) return x;
  const Tensor& g = param(name + ".weight");
  const Tensor& be = param(name + ".bias");
  if (cfg_.norm == NormKind::Instance) return group_norm(x, x.size(1), g, be, 1e-5f);
  return batch_norm(x, g, be, buffer(name + ".running_mean"), buffer(name + ".running_var"), training_, 0.1f, 1e-5f);
}

Tensor ResNetAP10::block(const Tensor& x, const std::string& name, bool downsample) {
  Tensor out = relu(norm(conv(x, name + ".conv1", 1), name + ".bn1"));
  if (downsample) out = avg_pool2x2(out);
  out = norm(conv(out, name + ".conv2", 1), name + ".bn2");
  Tensor residual = x;
  if (downsample) residual = norm(avg_pool2x2(conv(x, name + ".downsample.0", 0)), name + ".downsample.2");
  return relu(add(out, residual));
}

Tensor ResNetAP10::features(const Tensor& x) {
  YOCO_CHECK(x.dim() == 4 && x.size(1) == cfg_.channels && x.size(2) == cfg_.image_size && x.size(3) == cfg_.image_size,
             "ResNetAP-10: input ", x.str(), " does not match config (", cfg_.channels, "x", cfg_.image_size, ")");
  const bool large = cfg_.image_size > 128, mid = !large && cfg_.image_size > 64;
  Tensor h = relu(norm(conv(x, "layer0.conv1", large ? 3 : 1), "layer0.bn1"));
  if (large) h = avg_pool2x2(avg_pool2x2(h));  // AvgPool 4×4 stride 4 = two 2×2 average pools
  if (mid) h = avg_pool2x2(h);
  for (int l = 1; l <= 4; ++l) h = block(h, "layer" + std::to_string(l) + ".0", l > 1);
  return global_avg_pool(h);
}

Tensor ResNetAP10::forward(const Tensor& x) {
  return linear(features(x), param("fc.weight"), param("fc.bias"));
}

}  // namespace yoco
