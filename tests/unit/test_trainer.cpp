// The training loop's data plumbing on the CPU: a "resident" training set there is the same set (no copy), and
// batches are gathered rows of the images.
#include <doctest/doctest.h>
#include <cstdint>
#include <vector>
#include "apps/common/trainer.h"
#include "engine/ops.h"
#include "tests/unit/test_util.h"

using namespace yoco;

TEST_CASE("on the CPU the training set stays where it is, and batches are its rows") {
  const data::Dataset d = test::two_class_dataset(30, 9300);
  const data::Dataset r = app::resident_for_training(d, Device::CPU);
  CHECK(r.images.data<float>() == d.images.data<float>());  // shared storage, not a copy
  CHECK(r.labels.data<int64_t>() == d.labels.data<int64_t>());
  const std::vector<int64_t> idx{29, 3, 3, 0};
  const Tensor b = data::gather_images(r, idx, Device::CPU);
  REQUIRE(b.shape() == Shape{4, d.channels, d.height, d.width});
  const std::vector<float> all = d.images.to_vector(), got = b.to_vector();
  const size_t row = static_cast<size_t>(d.channels * d.height * d.width);
  for (size_t k = 0; k < idx.size(); ++k)
    for (size_t e = 0; e < row; ++e) REQUIRE(got[k * row + e] == all[static_cast<size_t>(idx[k]) * row + e]);
}
