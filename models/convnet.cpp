// ConvNet-D forward in engine ops; layer order and init follow IDC's models/convnet.py.
#include "models/convnet.h"
#include <string>
#include "engine/init.h"
#include "engine/ops.h"

namespace yoco {

NormKind parse_norm(const std::string& s) {
  if (s == "instance") return NormKind::Instance;
  if (s == "batch") return NormKind::Batch;
  if (s == "none") return NormKind::None;
  YOCO_CHECK(false, "unknown norm '", s, "': expected instance, batch or none");
  return NormKind::None;
}

namespace {
// Init streams: 1000 + 16·layer + slot, so adding layers never shifts earlier draws.
constexpr uint64_t kInitStreamBase = 1000;
}

ConvNet::ConvNet(const ConvNetConfig& cfg, uint64_t seed, Device device) : cfg_(cfg) {
  YOCO_CHECK(cfg.depth >= 1 && cfg.width >= 1 && cfg.channels >= 1 && cfg.num_classes >= 1,
             "ConvNet: bad config depth=", cfg.depth, " width=", cfg.width);
  int64_t in = cfg.channels, size = cfg.image_size + 2 * first_padding() - 2;
  for (int64_t d = 0; d < cfg.depth; ++d) {
    uint64_t st = kInitStreamBase + 16 * static_cast<uint64_t>(d);
    std::string p = "features." + std::to_string(d) + ".";
    add_param(p + "conv.weight", init_kaiming_uniform_a5({cfg.width, in, 3, 3}, seed, st, device));
    add_param(p + "conv.bias", init_bias_uniform(cfg.width, in * 9, seed, st + 1, device));
    if (cfg.norm != NormKind::None) {
      add_param(p + "norm.weight", ones({cfg.width}, device));
      add_param(p + "norm.bias", zeros({cfg.width}, DType::F32, device));
    }
    if (cfg.norm == NormKind::Batch) {
      add_buffer(p + "norm.running_mean", zeros({cfg.width}, DType::F32, device));
      add_buffer(p + "norm.running_var", ones({cfg.width}, device));
    }
    // Odd maps floor as in PyTorch (28 -> 14 -> 7 -> 3 for a 3-channel 28x28 input).
    YOCO_CHECK(size >= 2, "ConvNet: feature map ", size, " is too small to pool at depth ", d);
    size /= 2;
    in = cfg.width;
  }
  feat_dim_ = cfg.width * size * size;
  uint64_t st = kInitStreamBase + 16 * static_cast<uint64_t>(cfg.depth);
  add_param("classifier.weight", init_kaiming_uniform_a5({cfg.num_classes, feat_dim_}, seed, st, device));
  add_param("classifier.bias", init_bias_uniform(cfg.num_classes, feat_dim_, seed, st + 1, device));
  device_ = device;
}

Tensor ConvNet::features(const Tensor& x) {
  YOCO_CHECK(x.dim() == 4 && x.size(1) == cfg_.channels && x.size(2) == cfg_.image_size && x.size(3) == cfg_.image_size,
             "ConvNet: input ", x.str(), " does not match config (", cfg_.channels, "x", cfg_.image_size, "x",
             cfg_.image_size, ")");
  Tensor h = x;
  for (int64_t d = 0; d < cfg_.depth; ++d) {
    const std::string p = "features." + std::to_string(d) + ".";
    const Tensor& w = param(p + "conv.weight");
    const Tensor& bias = param(p + "conv.bias");
    const Conv2dArgs args{1, d == 0 ? first_padding() : 1};
    if (cfg_.norm == NormKind::Instance) {
      // One fused op for bias → norm → relu → pool: the values of the four ops (up to where the bias add rounds:
      // after the convolution's sum, as a biased convolution adds it), and neither the bias add nor its
      // gradient's reduction makes a pass of its own.
      h = group_norm_relu_pool(conv2d(h, w, Tensor(), args), cfg_.width, param(p + "norm.weight"),
                               param(p + "norm.bias"), 1e-5f, bias);
      continue;
    }
    h = conv2d(h, w, bias, args);
    if (cfg_.norm == NormKind::Batch)
      h = batch_norm(h, param(p + "norm.weight"), param(p + "norm.bias"), buffer(p + "norm.running_mean"),
                     buffer(p + "norm.running_var"), training_, 0.1f, 1e-5f);
    h = avg_pool2x2(relu(h));
  }
  return flatten(h, 1);
}

Tensor ConvNet::forward(const Tensor& x) {
  return linear(features(x), param("classifier.weight"), param("classifier.bias"));
}

}  // namespace yoco
