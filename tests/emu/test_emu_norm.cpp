// Emulated kernels/norm.cu vs the CPU oracle: group norm forward/backward (P/Q plane sums, per-channel second
// stage) and the fused group_norm_relu_pool forward/backward (with and without the input bias), over shapes that
// reach every loop and null operand.
#include <doctest/doctest.h>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>
#include "kernels/cuda_check.cuh"
#include "kernels/norm.h"
#include "tests/emu/emu_test_util.h"

using namespace yoco::kernels;
using yoco::emu_test::scaled_err;
using yoco::emu_test::nans;
using yoco::emu_test::uniform;

namespace {

// Both sides sum in a fixed order but not the same one (the CPU adds float blocks of 256 into double, the kernel
// folds doubles through block_sum2's tree), so statistics may differ in the last float bit; normalised outputs
// then differ by a few ulp of their scale (measured: <= 2e-7 of the largest output).
constexpr double kFwdTol = 1e-6;
// The CPU's float partials carry float-level error into P, Q and the group means a, b; dx = rstd (g gamma - a -
// xhat b) and dbeta = sum g both cancel, so those few ulp grow relative to the result (measured: <= 2e-6).
constexpr double kBwdTol = 1e-5;

struct GnCase {
  int64_t n, c, s, groups;
  bool affine;
  bool full = true;  // forward and partial requests too (emulation time: off for the many-block case)
};

void check_group_norm(const GnCase& t, uint32_t seed) {
  CAPTURE(t.n);
  CAPTURE(t.c);
  CAPTURE(t.s);
  CAPTURE(t.groups);
  CAPTURE(t.affine);
  const size_t total = static_cast<size_t>(t.n * t.c * t.s), ng = static_cast<size_t>(t.n * t.groups);
  const std::vector<float> x = uniform(total, seed, -2.f, 3.f), g = uniform(total, seed + 1);
  const std::vector<float> gamma = uniform(static_cast<size_t>(t.c), seed + 2, 0.5f, 1.5f);
  const std::vector<float> beta = uniform(static_cast<size_t>(t.c), seed + 3);
  const float* ga = t.affine ? gamma.data() : nullptr;
  const float* be = t.affine ? beta.data() : nullptr;
  emu::Stream st;

  std::vector<float> y_ref(total), mean_ref(ng), rstd_ref(ng);
  cpu::group_norm_forward(x.data(), ga, be, y_ref.data(), mean_ref.data(), rstd_ref.data(), t.n, t.c, t.s, t.groups,
                          1e-5f);
  if (t.full) {
    std::vector<float> y = nans(total), mean = nans(ng), rstd = nans(ng);
    cuda::group_norm_forward(x.data(), ga, be, y.data(), mean.data(), rstd.data(), t.n, t.c, t.s, t.groups, 1e-5f,
                             st.get());
    CHECK(scaled_err(mean, mean_ref) <= kFwdTol);
    CHECK(scaled_err(rstd, rstd_ref) <= kFwdTol);
    CHECK(scaled_err(y, y_ref) <= kFwdTol);
  }

  // Backward from the CPU's statistics, so both sides see the same inputs.
  std::vector<float> dx_ref(total), dg_ref(static_cast<size_t>(t.c)), db_ref(static_cast<size_t>(t.c));
  cpu::group_norm_backward(g.data(), x.data(), mean_ref.data(), rstd_ref.data(), ga, t.n, t.c, t.s, t.groups,
                           dx_ref.data(), dg_ref.data(), db_ref.data());
  std::vector<float> dx = nans(total), dg = nans(static_cast<size_t>(t.c)), db = nans(static_cast<size_t>(t.c));
  cuda::group_norm_backward(g.data(), x.data(), mean_ref.data(), rstd_ref.data(), ga, t.n, t.c, t.s, t.groups,
                            dx.data(), dg.data(), db.data(), st.get());
  CHECK(scaled_err(dx, dx_ref) <= kBwdTol);
  CHECK(scaled_err(dg, dg_ref) <= kBwdTol);
  CHECK(scaled_err(db, db_ref) <= kBwdTol);

  // Partial requests: dx alone (no plane-sum scratch), dgamma alone, dbeta alone (dx untouched).
  if (!t.full) return;
  std::vector<float> dx2 = nans(total);
  cuda::group_norm_backward(g.data(), x.data(), mean_ref.data(), rstd_ref.data(), ga, t.n, t.c, t.s, t.groups,
                            dx2.data(), nullptr, nullptr, st.get());
  CHECK(yoco::emu_test::bitwise_equal(dx2, dx));
  std::vector<float> dg2 = nans(static_cast<size_t>(t.c)), db2 = nans(static_cast<size_t>(t.c));
  cuda::group_norm_backward(g.data(), x.data(), mean_ref.data(), rstd_ref.data(), ga, t.n, t.c, t.s, t.groups,
                            nullptr, dg2.data(), nullptr, st.get());
  cuda::group_norm_backward(g.data(), x.data(), mean_ref.data(), rstd_ref.data(), ga, t.n, t.c, t.s, t.groups,
                            nullptr, nullptr, db2.data(), st.get());
  CHECK(yoco::emu_test::bitwise_equal(dg2, dg));
  CHECK(yoco::emu_test::bitwise_equal(db2, db));
}

struct GnrpCase {
  int64_t n, c, h, w, groups;
  bool affine, bias;
};

// Largest difference of the input-bias gradients (plane sums of dx) over their rounding scale, the largest
// Σ|dx| of a channel: under instance norm those sums are zero up to rounding, so their own size is no scale.
double bias_grad_err(const std::vector<float>& a, const std::vector<float>& b, const std::vector<float>& dx,
                     int64_t c, int64_t plane) {
  std::vector<double> abs_sum(static_cast<size_t>(c), 0.0);
  for (size_t i = 0; i < dx.size(); ++i) abs_sum[(i / static_cast<size_t>(plane)) % static_cast<size_t>(c)] += std::fabs(dx[i]);
  double diff = 0.0, scale = 0.0;
  for (size_t k = 0; k < a.size(); ++k) {
    if (std::isnan(a[k])) return std::numeric_limits<double>::infinity();
    diff = std::max(diff, std::fabs(static_cast<double>(a[k]) - b[k]));
    scale = std::max(scale, abs_sum[k]);
  }
  return diff / scale;
}

void check_gnrp(const GnrpCase& t, uint32_t seed) {
  CAPTURE(t.n);
  CAPTURE(t.c);
  CAPTURE(t.h);
  CAPTURE(t.w);
  CAPTURE(t.groups);
  CAPTURE(t.affine);
  CAPTURE(t.bias);
  const size_t total = static_cast<size_t>(t.n * t.c * t.h * t.w), ng = static_cast<size_t>(t.n * t.groups);
  const size_t pooled = static_cast<size_t>(t.n * t.c * (t.h / 2) * (t.w / 2)), nc = static_cast<size_t>(t.c);
  const std::vector<float> x = uniform(total, seed, -2.f, 2.f), gp = uniform(pooled, seed + 1);
  const std::vector<float> gamma = uniform(nc, seed + 2, 0.5f, 1.5f);
  const std::vector<float> beta = uniform(nc, seed + 3, -0.5f, 0.5f);
  const std::vector<float> bias = uniform(nc, seed + 4, -2.f, 2.f);
  const float* ga = t.affine ? gamma.data() : nullptr;
  const float* be = t.affine ? beta.data() : nullptr;
  const float* xb = t.bias ? bias.data() : nullptr;
  emu::Stream st;

  std::vector<float> y_ref(pooled), mean_ref(ng), rstd_ref(ng);
  cpu::group_norm_relu_pool_forward(x.data(), xb, ga, be, y_ref.data(), mean_ref.data(), rstd_ref.data(), t.n, t.c,
                                    t.h, t.w, t.groups, 1e-5f);
  std::vector<float> y = nans(pooled), mean = nans(ng), rstd = nans(ng);
  cuda::group_norm_relu_pool_forward(x.data(), xb, ga, be, y.data(), mean.data(), rstd.data(), t.n, t.c, t.h, t.w,
                                     t.groups, 1e-5f, st.get());
  CHECK(scaled_err(mean, mean_ref) <= kFwdTol);
  CHECK(scaled_err(rstd, rstd_ref) <= kFwdTol);
  CHECK(scaled_err(y, y_ref) <= kFwdTol);

  std::vector<float> dx_ref(total), dg_ref(nc), db_ref(nc), dxb_ref(nc);
  cpu::group_norm_relu_pool_backward(gp.data(), x.data(), xb, mean_ref.data(), rstd_ref.data(), ga, be, t.n, t.c,
                                     t.h, t.w, t.groups, dx_ref.data(), dg_ref.data(), db_ref.data(), dxb_ref.data());
  std::vector<float> dx = nans(total), dg = nans(nc), db = nans(nc), dxb = nans(nc);
  cuda::group_norm_relu_pool_backward(gp.data(), x.data(), xb, mean_ref.data(), rstd_ref.data(), ga, be, t.n, t.c,
                                      t.h, t.w, t.groups, dx.data(), dg.data(), db.data(), dxb.data(), st.get());
  CHECK(scaled_err(dx, dx_ref) <= kBwdTol);
  CHECK(scaled_err(dg, dg_ref) <= kBwdTol);
  CHECK(scaled_err(db, db_ref) <= kBwdTol);
  // A sum of h·w values of dx, each within kBwdTol of their scale.
  CHECK(bias_grad_err(dxb, dxb_ref, dx_ref, t.c, t.h * t.w) <= kBwdTol);

  // dx alone: no plane-sum scratch, the same dx.
  std::vector<float> dx2 = nans(total);
  cuda::group_norm_relu_pool_backward(gp.data(), x.data(), xb, mean_ref.data(), rstd_ref.data(), ga, be, t.n, t.c,
                                      t.h, t.w, t.groups, dx2.data(), nullptr, nullptr, nullptr, st.get());
  CHECK(yoco::emu_test::bitwise_equal(dx2, dx));
  // The bias gradient alone: the same values as beside dgamma/dbeta.
  std::vector<float> dxb2 = nans(nc);
  cuda::group_norm_relu_pool_backward(gp.data(), x.data(), xb, mean_ref.data(), rstd_ref.data(), ga, be, t.n, t.c,
                                      t.h, t.w, t.groups, dx2.data(), nullptr, nullptr, dxb2.data(), st.get());
  CHECK(yoco::emu_test::bitwise_equal(dxb2, dxb));
}

}  // namespace

TEST_CASE("emulated group_norm forward/backward matches the CPU") {
  const std::vector<GnCase> cases = {
      {2, 4, 49, 4, true},     // instance norm, planes far below the block: most threads idle
      {2, 6, 50, 3, true},     // two channels per group
      {3, 6, 37, 1, false},    // layer norm, no affine: gamma/beta null paths
      {2, 3, 600, 3, true},    // planes longer than 2 x 256: each thread strides several times
      {1, 1, 1, 1, true},      // one element per group
      {260, 1, 2, 1, true, false},  // more samples than threads: the dgamma/dbeta stage strides over n (backward)
      // Above are all warp teams (groups of at most 4096 elements; 260 groups leave half of the last block's
      // warps without one). A group larger than that takes a whole block:
      {2, 2, 2100, 1, true},
  };
  for (size_t i = 0; i < cases.size(); ++i) check_group_norm(cases[i], 1000 + 10 * static_cast<uint32_t>(i));
}

TEST_CASE("emulated group_norm_relu_pool forward/backward matches the CPU") {
  const std::vector<GnrpCase> cases = {
      {2, 4, 8, 8, 4, true, false},    // instance norm
      {2, 4, 8, 8, 4, true, true},     // instance norm after a biased convolution (the ConvNet's)
      {2, 4, 6, 10, 2, true, true},    // two channels per group, non-square: per-element bias channel
      {2, 4, 6, 10, 2, true, false},
      {3, 2, 34, 18, 1, false, true},  // group larger than the block, no affine
      {2, 2, 2, 2, 2, true, false},    // one pooled output per plane
      {1, 2, 48, 48, 1, true, true},   // 4608 elements: a block per group instead of a warp
  };
  for (size_t i = 0; i < cases.size(); ++i) check_gnrp(cases[i], 2000 + 10 * static_cast<uint32_t>(i));
}

TEST_CASE("emulated group norm centres constant planes exactly, as the CPU does") {
  // Planes of one value each (float sums of them are inexact): the residual-corrected mean is the value itself,
  // so every normalised value is exactly 0 and the fused tail's output is exactly relu(beta).
  const std::vector<float> values = {0.1f, -2.3f, 1000.3f, 0.7f}, gamma = {1.5f, 0.5f, 2.f, 0.75f};
  const std::vector<float> beta = {0.f, 0.2f, -0.1f, 0.f};
  emu::Stream st;
  for (int64_t s : {15, 600, 4608}) {  // a warp team, lanes striding several times, a block team
    CAPTURE(s);
    std::vector<float> x(static_cast<size_t>(4 * s));
    for (size_t i = 0; i < x.size(); ++i) x[i] = values[i / static_cast<size_t>(s)];
    std::vector<float> y = nans(x.size()), mean = nans(4), rstd = nans(4), y_ref(x.size()), mean_ref(4), rstd_ref(4);
    cuda::group_norm_forward(x.data(), nullptr, nullptr, y.data(), mean.data(), rstd.data(), 1, 4, s, 4, 1e-5f,
                             st.get());
    cpu::group_norm_forward(x.data(), nullptr, nullptr, y_ref.data(), mean_ref.data(), rstd_ref.data(), 1, 4, s, 4,
                            1e-5f);
    // The kernel's double lane sums were exact here already; the CPU's float block sums were not.
    CHECK(mean == values);
    CHECK(mean_ref == values);
    CHECK(std::all_of(y.begin(), y.end(), [](float v) { return v == 0.f; }));
    CHECK(std::all_of(y_ref.begin(), y_ref.end(), [](float v) { return v == 0.f; }));
  }
  const int64_t h = 6, w = 8;  // the fused tail, with an input bias
  const std::vector<float> bias = {0.05f, -0.01f, 0.3f, 0.f};
  std::vector<float> x(static_cast<size_t>(4 * h * w));
  for (size_t i = 0; i < x.size(); ++i) x[i] = values[i / static_cast<size_t>(h * w)];
  std::vector<float> y = nans(x.size() / 4), mean = nans(4), rstd = nans(4), y_ref(y.size());
  cuda::group_norm_relu_pool_forward(x.data(), bias.data(), gamma.data(), beta.data(), y.data(), mean.data(),
                                     rstd.data(), 1, 4, h, w, 4, 1e-5f, st.get());
  cpu::group_norm_relu_pool_forward(x.data(), bias.data(), gamma.data(), beta.data(), y_ref.data(), mean.data(),
                                    rstd.data(), 1, 4, h, w, 4, 1e-5f);
  for (size_t i = 0; i < y.size(); ++i) {
    CHECK(y[i] == std::max(beta[i / static_cast<size_t>(h * w / 4)], 0.f));
    CHECK(y_ref[i] == y[i]);
  }
}

TEST_CASE("emulated group_norm_relu_pool floors odd sizes as the CPU does") {
  const std::vector<GnrpCase> cases = {
      {2, 4, 7, 7, 4, true, true},     // odd both ways (a ConvNet 28x28 map at depth 2: 7 -> 3)
      {1, 4, 5, 8, 2, true, false},    // odd rows only, two channels per group
      {2, 2, 6, 9, 1, false, true},    // odd columns only
      {1, 2, 49, 49, 1, true, true},   // 4802 elements: a block team
  };
  for (size_t i = 0; i < cases.size(); ++i) check_gnrp(cases[i], 3000 + 10 * static_cast<uint32_t>(i));
}
