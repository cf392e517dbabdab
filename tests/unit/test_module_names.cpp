// Models find their parameters by name: the saved order stays the registration order, and a forward pass is the
// layers applied to the parameters of those names.
#include <doctest/doctest.h>
#include <string>
#include <vector>
#include "engine/ops.h"
#include "models/convnet.h"
#include "models/resnet_ap.h"
#include "tests/unit/test_util.h"

using namespace yoco;

TEST_CASE("ConvNet keeps its parameter order, and forward uses the parameters of each name") {
  ConvNetConfig cfg;
  cfg.channels = 1;
  cfg.image_size = 8;
  cfg.num_classes = 3;
  cfg.width = 4;
  cfg.depth = 2;
  cfg.norm = NormKind::Batch;
  ConvNet net(cfg, 5);
  std::vector<std::string> names;
  for (const auto& p : net.named_parameters()) names.push_back(p.first);
  // The order checkpoints, optimisers and parity tests see (unchanged from the positional code).
  CHECK(names == std::vector<std::string>{"features.0.conv.weight", "features.0.conv.bias", "features.0.norm.weight",
                                          "features.0.norm.bias", "features.1.conv.weight", "features.1.conv.bias",
                                          "features.1.norm.weight", "features.1.norm.bias", "classifier.weight",
                                          "classifier.bias"});
  CHECK(net.param("features.1.conv.bias").shape() == Shape{4});
  CHECK(net.buffer("features.0.norm.running_var").shape() == Shape{4});
  CHECK(test::contains(test::error_of([&] { net.param("features.2.conv.weight"); }), "features.2.conv.weight"));
  CHECK(test::contains(test::error_of([&] { net.buffer("features.0.norm.weight"); }), "no buffer named"));

  net.set_training(false);  // running statistics: the reference below does not update them
  Tensor x = test::random_tensor({2, 1, 8, 8}, 171);
  Tensor h = x;
  for (int d = 0; d < 2; ++d) {
    const std::string p = "features." + std::to_string(d) + ".";
    h = conv2d(h, net.param(p + "conv.weight"), net.param(p + "conv.bias"), Conv2dArgs{1, 1});
    h = batch_norm(h, net.param(p + "norm.weight"), net.param(p + "norm.bias"), net.buffer(p + "norm.running_mean"),
                   net.buffer(p + "norm.running_var"), false, 0.1f, 1e-5f);
    h = avg_pool2x2(relu(h));
  }
  Tensor ref = linear(flatten(h, 1), net.param("classifier.weight"), net.param("classifier.bias"));
  CHECK(test::same_bits(net.forward(x), ref));
}

TEST_CASE("ResNetAP-10 keeps its parameter order: stem, then per block conv1, bn1, conv2, bn2, downsample, then fc") {
  ResNetAPConfig cfg;
  cfg.channels = 3;
  cfg.image_size = 16;
  cfg.width = 2;
  ResNetAP10 net(cfg, 3);
  std::vector<std::string> names;
  for (const auto& p : net.named_parameters()) names.push_back(p.first);
  // Instance norm: convolutions without bias. Stem 3, block 1: 6, blocks 2-4: 9 each, fc 2.
  REQUIRE(names.size() == 3 + 6 + 3 * 9 + 2);
  CHECK(names[0] == "layer0.conv1.weight");
  CHECK(names[2] == "layer0.bn1.bias");
  CHECK(names[3] == "layer1.0.conv1.weight");
  CHECK(names[9] == "layer2.0.conv1.weight");
  CHECK(names[15] == "layer2.0.downsample.0.weight");
  CHECK(names[17] == "layer2.0.downsample.2.bias");
  CHECK(names.back() == "fc.bias");
  Tensor y = net.forward(test::random_tensor({2, 3, 16, 16}, 172));
  CHECK(y.shape() == Shape{2, 10});
}
