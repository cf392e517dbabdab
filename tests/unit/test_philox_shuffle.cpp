// The one Fisher-Yates on Philox reproduces, draw for draw, the loops each call site had before it was shared:
// the epoch order, random selection and k-means seeding (u32 modulo) and CutMix's partners (scaled uniform).
#include <doctest/doctest.h>
#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>
#include "apps/common/trainer.h"
#include "data/cutmix.h"
#include "engine/ops.h"
#include "kernels/philox_shuffle.h"
#include "kernels/rng.h"
#include "tests/unit/test_util.h"

using namespace yoco;

namespace {

std::vector<int64_t> iota_n(int64_t n) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), 0);
  return v;
}

// The epoch shuffle as apps/common/trainer.cpp wrote it.
std::vector<int64_t> old_epoch_order(int64_t n, uint64_t seed, uint64_t stream, uint64_t epoch) {
  std::vector<int64_t> idx = iota_n(n);
  for (int64_t i = n - 1; i > 0; --i) {
    uint32_t r = kernels::philox_u32(seed, stream, epoch * static_cast<uint64_t>(n) + static_cast<uint64_t>(i));
    std::swap(idx[i], idx[static_cast<int64_t>(r % static_cast<uint32_t>(i + 1))]);
  }
  return idx;
}

// Random selection (apps/common/select.cpp) and k-means seeding (apps/common/kmeans.cpp), the same loop.
std::vector<int64_t> old_select_kmeans_order(std::vector<int64_t> v, uint64_t seed, uint64_t stream) {
  for (int64_t i = static_cast<int64_t>(v.size()) - 1; i > 0; --i)
    std::swap(v[i], v[kernels::philox_u32(seed, stream, static_cast<uint64_t>(i)) % (i + 1)]);
  return v;
}

// CutMix's partner permutation (data/cutmix.cpp): numpy-randint-style draws on the "CUT\0" + perm stream.
std::vector<int64_t> old_cutmix_perm(int64_t n, uint64_t seed, uint64_t draw_id) {
  const uint64_t stream = 0x43555400ull + 3;
  std::vector<int64_t> perm = iota_n(n);
  for (int64_t i = n - 1; i > 0; --i) {
    const float u = kernels::philox_uniform(seed, stream, (draw_id << 32) + static_cast<uint64_t>(i));
    const int64_t j = std::min(static_cast<int64_t>(std::floor(static_cast<double>(u) * (i + 1))), i);
    std::swap(perm[i], perm[j]);
  }
  return perm;
}

}  // namespace

TEST_CASE("epoch orders are the ones the trainer drew before") {
  for (int64_t n : {1, 2, 7, 100, 1000})
    for (uint64_t epoch : {0ull, 1ull, 9ull})
      CHECK(app::shuffled_indices(n, 5, 11, epoch) == old_epoch_order(n, 5, 11, epoch));
}

TEST_CASE("modulo draws at offset 0 are random selection's and k-means seeding's") {
  for (int64_t n : {1, 3, 50, 777}) {
    std::vector<int64_t> v(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) v[i] = 3 * i + 1;  // arbitrary members, as a class's sub-image list
    std::vector<int64_t> shared = v;
    kernels::philox_shuffle(shared.data(), n, 123, 41, 0, kernels::ShuffleDraw::Modulo);
    CHECK(shared == old_select_kmeans_order(v, 123, 41));
  }
}

TEST_CASE("CutMix partners are the ones it drew before") {
  Tensor x = zeros({9, 1, 4, 4});
  std::vector<int64_t> y(9, 0);
  int applied = 0;
  for (uint64_t draw : {0ull, 1ull, 2ull, 3ull, 77ull}) {
    data::CutMixResult r = data::cutmix(x, y, 2, 1.f, 31, draw);
    if (!r.applied) continue;
    ++applied;
    CHECK(r.perm == old_cutmix_perm(9, 31, draw));
  }
  CHECK(applied > 0);
}
