// Emulated kernels/pool.cu vs the CPU oracle: 2x2 average pooling and its adjoint, bitwise (same element math).
#include <doctest/doctest.h>
#include <cstdint>
#include <vector>
#include "kernels/cuda_check.cuh"
#include "kernels/pool.h"
#include "tests/emu/emu_test_util.h"

using namespace yoco::kernels;
using yoco::emu_test::bitwise_equal;
using yoco::emu_test::nans;
using yoco::emu_test::uniform;

namespace {
// One shape (planes of h x w, odd sizes floored): forward and adjoint against the CPU, bitwise. Returns the CPU's
// adjoint for further checks.
std::vector<float> check_pool(emu::Stream& st, int64_t planes, int64_t h, int64_t w, uint32_t seed) {
  CAPTURE(planes);
  CAPTURE(h);
  CAPTURE(w);
  const size_t in = static_cast<size_t>(planes * h * w), out = static_cast<size_t>(planes * (h / 2) * (w / 2));
  const std::vector<float> x = uniform(in, seed + static_cast<uint32_t>(in)), g = uniform(out, seed + 1);
  std::vector<float> y_ref(out), y = nans(out), gx_ref = nans(in), gx = nans(in);
  cpu::avg_pool2x2(x.data(), y_ref.data(), planes, h, w);
  cuda::avg_pool2x2(x.data(), y.data(), planes, h, w, st.get());
  CHECK(bitwise_equal(y, y_ref));
  cpu::avg_pool2x2_backward(g.data(), gx_ref.data(), planes, h, w);
  cuda::avg_pool2x2_backward(g.data(), gx.data(), planes, h, w, st.get());
  CHECK(bitwise_equal(gx, gx_ref));
  return gx_ref;
}
}  // namespace

TEST_CASE("emulated avg_pool2x2 forward and adjoint equal the CPU bitwise") {
  const int64_t shapes[][3] = {{1, 2, 2}, {3, 4, 6}, {5, 10, 8}, {2, 32, 32}, {7, 6, 2}};
  emu::Stream st;
  for (const auto& s : shapes) check_pool(st, s[0], s[1], s[2], 4000);
}

TEST_CASE("emulated avg_pool2x2 floors odd sizes as the CPU does (the adjoint zeroes the last row and column)") {
  const int64_t shapes[][3] = {{1, 7, 7}, {3, 5, 6}, {2, 4, 9}, {1, 3, 3}};
  emu::Stream st;
  for (const auto& s : shapes) {
    const std::vector<float> gx_ref = check_pool(st, s[0], s[1], s[2], 4100);
    CHECK(gx_ref[static_cast<size_t>(s[1] * s[2] - 1)] == 0.f);  // the first plane's last element: in no window
  }
}
