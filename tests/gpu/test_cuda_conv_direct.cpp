// The direct few-channel CUDA convolutions (kernels/conv_direct.cu), called straight through their launchers:
// each direction against the CPU im2col oracle (bias null and non-null, outputs pre-filled with NaN so an unwritten
// element fails), bitwise repeatable, and the support predicate's limits. Skipped (exit 77) without a CUDA device.
#include <doctest/doctest.h>
#include <cmath>
#include <cstring>
#include <vector>
#include "engine/context.h"
#include "engine/tensor.h"
#include "kernels/conv.h"
#include "tests/unit/test_util.h"

using namespace yoco;
using test::cuda_ready;
using test::random_tensor;
using test::rel_err;

namespace {

constexpr double kTol = 1e-5;  // the GPU suite's CUDA-vs-CPU bar

struct Case {
  const char* what;
  int64_t n, c, h, w, k, r, s, stride, pad;
};

#ifdef YOCO_WITH_CUDA  // without the CUDA backend the launchers do not exist (and the suite skips)
kernels::ConvShape shape_of(const Case& t) {
  return {t.n,
          t.c,
          t.h,
          t.w,
          t.k,
          t.r,
          t.s,
          kernels::conv_out_size(t.h, t.r, t.stride, t.pad),
          kernels::conv_out_size(t.w, t.s, t.stride, t.pad),
          t.stride,
          t.pad};
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

namespace kc = kernels::cuda;

// The three directions on the device, into outputs first filled with `fill`; copied back to the host.
struct DeviceRun {
  std::vector<float> y, yb, gx, gw;
};

DeviceRun run_direct(const kernels::ConvShape& cs, const Tensor& x, const Tensor& w, const Tensor& b,
                     const Tensor& g, float fill) {
  void* st = Context::get().cuda_stream();
  const Tensor xd = x.to(Device::CUDA), wd = w.to(Device::CUDA), bd = b.to(Device::CUDA), gd = g.to(Device::CUDA);
  Tensor y = full(g.shape(), fill, Device::CUDA), yb = full(g.shape(), fill, Device::CUDA);
  Tensor gx = full(x.shape(), fill, Device::CUDA), gw = full(w.shape(), fill, Device::CUDA);
  kc::conv2d_forward_direct(cs, xd.data<float>(), wd.data<float>(), nullptr, y.data<float>(), st);
  kc::conv2d_forward_direct(cs, xd.data<float>(), wd.data<float>(), bd.data<float>(), yb.data<float>(), st);
  kc::conv2d_backward_input_direct(cs, gd.data<float>(), wd.data<float>(), gx.data<float>(), st);
  kc::conv2d_backward_weight_direct(cs, xd.data<float>(), gd.data<float>(), gw.data<float>(), st);
  Context::get().synchronize();
  return {y.to_vector(), yb.to_vector(), gx.to_vector(), gw.to_vector()};
}

void check_case(const Case& t, uint64_t stream) {
  CAPTURE(t.what);
  const kernels::ConvShape cs = shape_of(t);
  REQUIRE(kc::conv2d_direct_supported(cs));
  const Tensor x = random_tensor({t.n, t.c, t.h, t.w}, stream), w = random_tensor({t.k, t.c, t.r, t.s}, stream + 1);
  const Tensor b = random_tensor({t.k}, stream + 2), g = random_tensor({t.n, t.k, cs.oh, cs.ow}, stream + 3);

  Tensor y = empty(g.shape()), yb = empty(g.shape()), gx = empty(x.shape()), gw = empty(w.shape());
  kernels::cpu::conv2d_forward_im2col(cs, x.data<float>(), w.data<float>(), nullptr, y.data<float>());
  kernels::cpu::conv2d_forward_im2col(cs, x.data<float>(), w.data<float>(), b.data<float>(), yb.data<float>());
  kernels::cpu::conv2d_backward_input_im2col(cs, g.data<float>(), w.data<float>(), gx.data<float>());
  kernels::cpu::conv2d_backward_weight_im2col(cs, x.data<float>(), g.data<float>(), gw.data<float>());

  const DeviceRun a = run_direct(cs, x, w, b, g, std::nanf(""));
  CHECK(rel_err(a.y, y.to_vector()) <= kTol);
  CHECK(rel_err(a.yb, yb.to_vector()) <= kTol);
  CHECK(rel_err(a.gx, gx.to_vector()) <= kTol);
  CHECK(rel_err(a.gw, gw.to_vector()) <= kTol);
  // A second run into differently filled outputs: same bits (fixed summation order, every element written).
  const DeviceRun again = run_direct(cs, x, w, b, g, 0.f);
  CHECK(same_bits(a.y, again.y));
  CHECK(same_bits(a.yb, again.yb));
  CHECK(same_bits(a.gx, again.gx));
  CHECK(same_bits(a.gw, again.gw));
}
#endif

}  // namespace

TEST_CASE("direct few-channel CUDA convolutions match the CPU oracle and repeat bit for bit") {
  if (!cuda_ready()) return;
#ifdef YOCO_WITH_CUDA
  const std::vector<Case> cases = {
      {"ConvNet-3 conv1, 28x28 pad 3", 256, 1, 28, 28, 128, 3, 3, 1, 3},
      {"ConvNet-3 conv1, 3x32x32", 64, 3, 32, 32, 128, 3, 3, 1, 1},
      {"stride 2, no pad, odd sizes", 5, 2, 13, 11, 7, 3, 3, 2, 0},
      {"5x5, c = 4", 3, 4, 9, 9, 5, 5, 5, 1, 2},
      {"1x1 image", 1, 1, 1, 1, 3, 3, 3, 1, 1},
      {"7x7 stride 2, several tiles", 2, 3, 40, 37, 9, 7, 7, 2, 3},
      {"non-square taps, wide plane", 2, 4, 19, 70, 6, 2, 5, 1, 2},
  };
  uint64_t stream = 900;
  for (const Case& t : cases) check_case(t, stream += 10);
#endif
}

TEST_CASE("conv2d_direct_supported accepts few channels only, within its limits") {
  if (!cuda_ready()) return;
#ifdef YOCO_WITH_CUDA
  const Case ok = {"ok", 8, 4, 32, 32, 16, 7, 7, 2, 3};
  CHECK(kc::conv2d_direct_supported(shape_of(ok)));
  Case t = ok;
  t.c = 5;  // a fifth input channel: not this kernel's regime
  CHECK_FALSE(kc::conv2d_direct_supported(shape_of(t)));
  t = ok;
  t.r = 8;
  CHECK_FALSE(kc::conv2d_direct_supported(shape_of(t)));
  t = ok;
  t.stride = 3;
  CHECK_FALSE(kc::conv2d_direct_supported(shape_of(t)));
  kernels::ConvShape bad = shape_of(ok);
  bad.oh += 1;  // inconsistent output size
  CHECK_FALSE(kc::conv2d_direct_supported(bad));
  // The launchers refuse what the predicate refuses, before touching memory.
  kernels::ConvShape c5 = shape_of(ok);
  c5.c = 5;
  CHECK(test::contains(test::error_of([&] {
                         kc::conv2d_forward_direct(c5, nullptr, nullptr, nullptr, nullptr,
                                                   Context::get().cuda_stream());
                       }),
                       "outside the direct kernels' limits"));
#endif
}
