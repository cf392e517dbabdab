// Broadcast offsets: the 32-bit index path (used by the CUDA launcher below 2^31 elements) equals the 64-bit one
// on coalesced broadcast plans of the shapes the engine produces.
#include <doctest/doctest.h>
#include <cstdint>
#include <vector>
#include "engine/dispatch.h"
#include "kernels/elementwise.h"

using namespace yoco;

TEST_CASE("broadcast_offsets_as<uint32_t> equals the int64 offsets") {
  struct Case {
    Shape out, x, y;
  };
  const std::vector<Case> cases = {
      {{4, 8, 32}, {4, 8, 32}, {4, 8, 1}},         // [N, G, M] against per-group statistics
      {{3, 5, 6, 7}, {1, 5, 1, 1}, {3, 5, 6, 7}},  // per-channel parameter against a map
      {{6, 1, 9}, {6, 1, 9}, {9}},                 // row vector
      {{2, 3, 4, 5}, {2, 1, 4, 1}, {1, 3, 1, 5}},  // interleaved broadcasts: nothing coalesces
      {{5, 7}, {5, 1}, {1, 7}},                    // outer product
  };
  for (const Case& cs : cases) {
    const kernels::Broadcast bc = detail::make_broadcast(cs.out, cs.x, cs.y);
    int64_t n = 1;
    for (int64_t d : cs.out) n *= d;
    for (int64_t i = 0; i < n; ++i) {
      int64_t ox, oy;
      uint32_t ux, uy;
      kernels::broadcast_offsets(bc, i, &ox, &oy);
      kernels::broadcast_offsets_as<uint32_t>(bc, static_cast<uint32_t>(i), &ux, &uy);
      REQUIRE(static_cast<int64_t>(ux) == ox);
      REQUIRE(static_cast<int64_t>(uy) == oy);
    }
  }
}
