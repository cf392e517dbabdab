// The apps' training loops on CUDA: a training set made resident on the device gives bitwise the same batches and
// train steps as one gathered on the host and uploaded, and its labels stay on the host. Skipped (exit 77) on
// machines without a CUDA device.
#include <doctest/doctest.h>
#include <cstdint>
#include <vector>
#include "apps/common/trainer.h"
#include "data/augment.h"
#include "engine/context.h"
#include "engine/ops.h"
#include "tests/unit/test_util.h"

using namespace yoco;
using test::cuda_ready;

namespace {

constexpr Device kCuda = Device::CUDA;

// Every parameter of the net, downloaded.
std::vector<std::vector<float>> params_of(ConvNet& net) {
  std::vector<std::vector<float>> out;
  for (const Tensor& p : net.parameters()) out.push_back(p.to_vector());
  return out;
}

}  // namespace

TEST_CASE("a resident training set: images on the device, labels on the host, the same rows") {
  if (!cuda_ready()) return;
  const data::Dataset host = test::two_class_dataset(40, 9100);
  const data::Dataset dev = app::resident_for_training(host, kCuda);
  CHECK(dev.images.device() == kCuda);
  CHECK(dev.labels.device() == Device::CPU);
  CHECK(dev.images.to_vector() == host.images.to_vector());
  const std::vector<int64_t> idx{7, 0, 39, 7, 12};
  CHECK(app::gather_images(dev, idx, kCuda).to_vector() == app::gather_images(host, idx, kCuda).to_vector());
  // Already resident: no second copy.
  CHECK(app::resident_for_training(dev, kCuda).images.data<float>() == dev.images.data<float>());
}

TEST_CASE("train steps from a resident set equal train steps from host batches, bitwise") {
  if (!cuda_ready()) return;
  const data::Dataset host = test::two_class_dataset(48, 9200);
  const data::Dataset dev = app::resident_for_training(host, kCuda);
  REQUIRE(dev.images.device() == kCuda);
  const data::Dsa dsa("color_crop_flip_scale_rotate", /*batch=*/false);
  auto run = [&](const data::Dataset& d) {
    ConvNet net(app::convnet_for(d), 5, kCuda);
    SGD opt(net.parameters(), 0.01f, 0.9f, 5e-4f);
    std::vector<float> losses;
    for (uint64_t step = 0; step < 3; ++step) {
      const std::vector<int64_t> idx = app::shuffled_indices(d.size(), 3, 11, step);
      const std::vector<int64_t> batch(idx.begin(), idx.begin() + 16);
      losses.push_back(app::train_batch(net, opt, d, batch, &dsa, 0.5f, 3, step).item());
    }
    std::vector<std::vector<float>> out = params_of(net);
    out.push_back(losses);
    return out;
  };
  const auto a = run(dev), b = run(host);
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    INFO("result ", i);
    CHECK(a[i] == b[i]);
  }
}
