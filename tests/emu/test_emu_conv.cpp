// Emulated kernels/conv.cu as built without cuDNN (the emulator defines no YOCO_WITH_CUDNN): the launchers take the
// direct kernels for few input channels and the generic one-thread-per-output kernels otherwise; both paths
// against a naive double-precision convolution, and bitwise repeatable.
#include <doctest/doctest.h>
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

// Float sums with FMAs in an order unlike the reference's: a few float ulp of relative 2-norm error.
constexpr double kTol = 1e-6;

struct PathCase {
  ConvCase conv;
  bool direct;  // expected path: the few-channel direct kernels, else the generic ones
};

void check(const PathCase& t, uint32_t seed) {
  CAPTURE(t.conv.what);
  const ConvShape cs = shape_of(t.conv);
  CHECK(cuda::conv2d_direct_supported(cs) == t.direct);
  const ConvData d = conv_data(cs, seed);
  const std::vector<float>&x = d.x, &w = d.w, &b = d.b, &g = d.g;
  const yoco::test::ConvReference ref = yoco::test::conv_reference(cs, x, w, g);
  const std::vector<double> y_bias = yoco::test::with_bias(ref.y, b, cs);

  emu::Stream st;
  std::vector<float> y = nans(g.size()), yb = nans(g.size()), gx = nans(x.size()), gw = nans(w.size());
  cuda::conv2d_forward(cs, x.data(), w.data(), nullptr, y.data(), st.get());
  cuda::conv2d_forward(cs, x.data(), w.data(), b.data(), yb.data(), st.get());
  cuda::conv2d_backward_input(cs, g.data(), w.data(), gx.data(), st.get());
  cuda::conv2d_backward_weight(cs, x.data(), g.data(), gw.data(), st.get());
  CHECK(rel2(y, ref.y) <= kTol);
  CHECK(rel2(yb, y_bias) <= kTol);
  CHECK(rel2(gx, ref.gx) <= kTol);
  CHECK(rel2(gw, ref.gw) <= kTol);
  std::vector<float> gw2 = nans(w.size());
  cuda::conv2d_backward_weight(cs, x.data(), g.data(), gw2.data(), st.get());
  CHECK(bitwise_equal(gw2, gw));
  CHECK_FALSE(cuda::conv_plan_report(st.get()).empty());  // says which kernels a cuDNN-less build uses
}

}  // namespace

TEST_CASE("emulated convolutions without cuDNN: direct and generic kernels match a double-precision reference") {
  const std::vector<PathCase> cases = {
      {{"1 channel, pad 3: direct", 2, 1, 12, 12, 6, 3, 3, 1, 3}, true},
      {{"6 channels: generic", 2, 6, 9, 8, 5, 3, 3, 1, 1}, false},
      {{"5 channels, stride 2, odd sizes: generic", 1, 5, 11, 9, 3, 3, 3, 2, 0}, false},
      {{"8x8 taps: generic", 1, 2, 10, 10, 2, 8, 8, 1, 2}, false},
  };
  for (size_t i = 0; i < cases.size(); ++i) check(cases[i], 9100 + 10 * static_cast<uint32_t>(i));
}
