// Emulated kernels/conv_direct.cu vs a naive double-precision convolution: forward (with and without bias, vector
// and scalar stores), input gradient and the two-stage weight gradient, across strides, tap sizes and channels.
#include <doctest/doctest.h>
#include <cmath>
#include <cstdint>
#include <vector>
#include "kernels/conv.h"
#include "kernels/cuda_check.cuh"
#include "tests/emu/emu_conv_ref.h"
#include "tests/emu/emu_test_util.h"

using namespace yoco::kernels;
using yoco::emu_test::bitwise_equal;
using yoco::emu_test::ConvCase;
using yoco::emu_test::ConvData;
using yoco::emu_test::conv_data;
using yoco::emu_test::shape_of;
using yoco::emu_test::nans;
using yoco::emu_test::rel2;

namespace {

// Every kernel sums in float with FMAs (the weight gradient's stage 2 in double), in an order unlike the
// reference's: relative (2-norm) error of a few float ulp (measured: <= 2.1e-7).
constexpr double kTol = 1e-6;

void check(const ConvCase& t, uint32_t seed) {
  CAPTURE(t.what);
  const ConvShape cs = shape_of(t);
  REQUIRE(cuda::conv2d_direct_supported(cs));
  const ConvData d = conv_data(cs, seed);
  const std::vector<float>&x = d.x, &w = d.w, &b = d.b, &g = d.g;
  const yoco::test::ConvReference ref = yoco::test::conv_reference(cs, x, w, g);
  const std::vector<double> y_bias = yoco::test::with_bias(ref.y, b, cs);

  emu::Stream st;
  // y one float past the buffer's start: a 16-byte-misaligned output takes the scalar stores even when ow % 4 == 0.
  std::vector<float> y = nans(g.size()), yb = nans(g.size()), y_mis = nans(g.size() + 1);
  cuda::conv2d_forward_direct(cs, x.data(), w.data(), nullptr, y.data(), st.get());
  cuda::conv2d_forward_direct(cs, x.data(), w.data(), b.data(), yb.data(), st.get());
  cuda::conv2d_forward_direct(cs, x.data(), w.data(), b.data(), y_mis.data() + 1, st.get());
  CHECK(rel2(y, ref.y) <= kTol);
  CHECK(rel2(yb, y_bias) <= kTol);
  CHECK(bitwise_equal(std::vector<float>(y_mis.begin() + 1, y_mis.end()), yb));  // both store paths, same sums
  std::vector<float> gx = nans(x.size()), gw = nans(w.size());
  cuda::conv2d_backward_input_direct(cs, g.data(), w.data(), gx.data(), st.get());
  cuda::conv2d_backward_weight_direct(cs, x.data(), g.data(), gw.data(), st.get());
  CHECK(rel2(gx, ref.gx) <= kTol);
  CHECK(rel2(gw, ref.gw) <= kTol);
}

}  // namespace

TEST_CASE("emulated direct convolutions match a double-precision reference") {
  const std::vector<ConvCase> cases = {
      {"ConvNet first layer, 1 channel, pad 3", 2, 1, 28, 28, 20, 3, 3, 1, 3},
      {"3 channels, 17 outputs: two channel groups", 1, 3, 32, 32, 17, 3, 3, 1, 1},
      {"stride 2, odd sizes", 3, 2, 13, 11, 7, 3, 3, 2, 0},
      {"4 channels, 5x5 taps", 2, 4, 9, 9, 5, 5, 5, 1, 2},
      {"1x1 image, 4x4 taps", 1, 1, 1, 1, 3, 4, 4, 1, 2},
      {"7x7 stride 2, several input tiles", 1, 3, 40, 37, 5, 7, 7, 2, 3},
      {"2x5 taps, three column tiles", 1, 4, 9, 70, 6, 2, 5, 1, 2},
      {"7x1 taps, stride 2", 1, 2, 17, 35, 10, 7, 1, 2, 4},
      {"1x1 taps, 33 outputs", 3, 1, 6, 5, 33, 1, 1, 1, 0},
      {"4x6 taps, stride 2", 2, 3, 10, 12, 4, 4, 6, 2, 0},
      {"2x2 taps (8 channels a warp), pad past the taps", 1, 2, 33, 9, 3, 2, 2, 1, 5},
  };
  for (size_t i = 0; i < cases.size(); ++i) check(cases[i], 7000 + 10 * static_cast<uint32_t>(i));
}
