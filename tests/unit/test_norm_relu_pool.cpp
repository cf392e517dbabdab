// The fused ConvNet block tail group_norm_relu_pool against the separate ops it replaces (bias add, group norm,
// relu, pool): values, the fused backward kernel, the recorded (second-order) backward, and bad arguments.
#include <doctest/doctest.h>
#include <cmath>
#include <limits>
#include <vector>
#include "engine/autograd.h"
#include "engine/context.h"
#include "engine/ops.h"
#include "kernels/norm.h"
#include "tests/unit/test_util.h"

using namespace yoco;
using test::random_tensor;
using test::leaf;
using test::rel_err;

namespace {

Tensor unfused(const Tensor& x, int64_t groups, const Tensor& gamma, const Tensor& beta, const Tensor& bias) {
  const Tensor xb = bias.defined() ? add(x, reshape(bias, {1, x.size(1), 1, 1})) : x;
  return avg_pool2x2(relu(group_norm(xb, groups, gamma, beta)));
}

struct Case {
  Shape shape;
  int64_t groups;
  bool affine, bias;
};
// Instance norm (the ConvNet's, with and without the conv bias), grouped channels, no affine, 2x2 planes, and a
// plane wider than a CUDA block.
const std::vector<Case> kCases = {{{2, 4, 6, 8}, 4, true, false},   {{2, 4, 6, 8}, 4, true, true},
                                  {{3, 6, 4, 4}, 2, true, false},   {{3, 6, 4, 4}, 2, true, true},
                                  {{2, 4, 6, 6}, 1, false, false},  {{2, 4, 6, 6}, 1, false, true},
                                  {{4, 3, 2, 2}, 3, true, true},    {{1, 2, 24, 20}, 2, true, false},
                                  {{1, 2, 24, 20}, 2, true, true},  {{2, 8, 4, 6}, 4, false, false}};

struct Inputs {
  Tensor x, gamma, beta, bias, r;
  // The differentiable inputs, x first and the bias last.
  std::vector<Tensor> leaves() const {
    std::vector<Tensor> v{x};
    if (gamma.defined()) v.insert(v.end(), {gamma, beta});
    if (bias.defined()) v.push_back(bias);
    return v;
  }
  Tensor fused(int64_t groups) const { return group_norm_relu_pool(x, groups, gamma, beta, 1e-5f, bias); }
  Tensor separate(int64_t groups) const { return unfused(x, groups, gamma, beta, bias); }
};

Inputs make_inputs(const Case& cs, uint64_t stream) {
  const int64_t c = cs.shape[1];
  Inputs in;
  in.x = leaf(random_tensor(cs.shape, stream));
  if (cs.affine) {
    in.gamma = leaf(random_tensor({c}, stream + 1, 0.5f, 1.5f));
    in.beta = leaf(random_tensor({c}, stream + 2, -0.5f, 0.5f));
  }
  // A bias as large as x's spread, so that dropping or misplacing it changes the statistics.
  if (cs.bias) in.bias = leaf(random_tensor({c}, stream + 4, -2.f, 2.f));
  in.r = random_tensor({cs.shape[0], c, cs.shape[2] / 2, cs.shape[3] / 2}, stream + 3);
  return in;
}

// The bias gradient is Σ dx over (N, H, W); under instance norm that is zero up to rounding, so it is compared
// against the rounding scale of the sum, ‖Σ|dx|‖, instead of against its own (tiny) size.
double bias_grad_err(const Tensor& a, const Tensor& b, const Tensor& dx) {
  return std::sqrt(test::dot(sub(a, b), sub(a, b))) / std::sqrt(test::dot(sum(abs(dx), {0, 2, 3}), sum(abs(dx), {0, 2, 3})));
}

}  // namespace

TEST_CASE("group_norm_relu_pool equals avg_pool2x2(relu(group_norm(x)))") {
  uint64_t stream = 100;
  for (const Case& cs : kCases) {
    CAPTURE(shape_str(cs.shape));
    CAPTURE(cs.groups);
    CAPTURE(cs.bias);
    Inputs in = make_inputs(cs, stream);
    stream += 5;
    Tensor fused = in.fused(cs.groups);
    Tensor ref = in.separate(cs.groups);
    CHECK(fused.shape() == ref.shape());
    // The same element math and statistics; only floating-point contraction may differ between the two loops.
    CHECK(rel_err(fused, ref) < 1e-6);
  }
}

TEST_CASE("group_norm_relu_pool backward: fused kernel and recorded form agree with the separate ops") {
  uint64_t stream = 200;
  for (const Case& cs : kCases) {
    CAPTURE(shape_str(cs.shape));
    CAPTURE(cs.groups);
    CAPTURE(cs.bias);
    Inputs in = make_inputs(cs, stream);
    stream += 5;
    const std::vector<Tensor> ins = in.leaves();
    Tensor yf = in.fused(cs.groups);
    Tensor yu = in.separate(cs.groups);
    auto gf = grad({yf}, ins, {in.r}, false);  // grad mode off inside: the fused backward kernel
    auto gu = grad({yu}, ins, {in.r}, false);
    auto gfr = grad({yf}, ins, {in.r}, true);  // recorded: the composite backward
    CHECK_FALSE(gf[0].requires_grad());
    CHECK(gfr[0].requires_grad());
    for (size_t i = 0; i < ins.size(); ++i) {
      CAPTURE(i);
      if (cs.bias && i + 1 == ins.size()) {
        // The 1e-5 of the other gradients, against the rounding scale: each dx is a difference of larger terms.
        CHECK(bias_grad_err(gf[i], gu[i], gu[0]) < 1e-5);
        CHECK(bias_grad_err(gfr[i], gu[i], gu[0]) < 1e-5);
        continue;
      }
      // Same math, different summation order in float32: the 1e-5 relative tolerance of the group-norm tests.
      CHECK(rel_err(gf[i], gu[i]) < 1e-5);
      CHECK(rel_err(gfr[i], gu[i]) < 1e-5);
    }
  }
}

TEST_CASE("group_norm_relu_pool input bias gradient is the plane sum of dx, not zero where groups span channels") {
  // Under group norm with several channels per group the bias gradient is a real signal; a kernel that dropped it
  // (or returned the gradient at the norm's output) fails here, not only against the rounding scale above.
  Inputs in = make_inputs({{3, 6, 4, 4}, 2, true, true}, 900);
  auto gf = grad({in.fused(2)}, in.leaves(), {in.r}, false);
  auto gu = grad({in.separate(2)}, in.leaves(), {in.r}, false);
  Tensor want = sum(gu[0], {0, 2, 3});
  CHECK(std::sqrt(test::dot(want, want)) > 1e-2);
  CHECK(rel_err(gf.back(), want) < 1e-4);
  CHECK(rel_err(gf.back(), gu.back()) < 1e-4);
}

TEST_CASE("group_norm_relu_pool second order matches the separate ops") {
  uint64_t stream = 300;
  for (const Case& cs : kCases) {
    CAPTURE(shape_str(cs.shape));
    CAPTURE(cs.bias);
    Inputs in = make_inputs(cs, stream);
    Tensor w = random_tensor(cs.shape, stream + 5);
    stream += 6;
    // s(x, gamma, bias) = <d<f, r>/dx, w>, differentiated again: what gradient matching does through the ConvNet.
    auto second = [&](bool fused) {
      // beta enters dx only through relu's mask, whose derivative is zero: it is not differentiated here.
      std::vector<Tensor> ins{in.x};
      if (in.gamma.defined()) ins.push_back(in.gamma);
      if (in.bias.defined()) ins.push_back(in.bias);
      Tensor y = fused ? in.fused(cs.groups) : in.separate(cs.groups);
      Tensor gx = grad({sum(mul(y, in.r))}, {in.x}, {}, true)[0];
      return grad({sum(mul(gx, w))}, ins);
    };
    auto a = second(true), b = second(false);
    for (size_t i = 0; i < a.size(); ++i) {
      CAPTURE(i);
      // The bias's second derivative is the plane sum of x's (zero up to rounding under instance norm, where the
      // fused form cancels it exactly): compared against that sum's rounding scale.
      if (cs.bias && i + 1 == a.size()) {
        CHECK(bias_grad_err(a[i], b[i], b[0]) < 1e-5);
        continue;
      }
      CHECK(rel_err(a[i], b[i]) < 1e-5);
    }
  }
}

TEST_CASE("group_norm_relu_pool raw kernels fill every output; bad arguments throw") {
  const int64_t n = 2, c = 4, h = 4, w = 6, groups = 2;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  Tensor x = random_tensor({n, c, h, w}, 400);
  std::vector<float> y(n * c * h * w / 4, nan), mu(n * groups, nan), rs(n * groups, nan);
  kernels::cpu::group_norm_relu_pool_forward(x.data<float>(), nullptr, nullptr, nullptr, y.data(), mu.data(),
                                             rs.data(), n, c, h, w, groups, 1e-5f);
  for (float v : y) CHECK((std::isfinite(v) && v >= 0.f));
  std::vector<float> gp(n * c * h * w / 4, 1.f), dx(n * c * h * w, nan), dgm(c, nan), dbt(c, nan);
  kernels::cpu::group_norm_relu_pool_backward(gp.data(), x.data<float>(), nullptr, mu.data(), rs.data(), nullptr,
                                              nullptr, n, c, h, w, groups, dx.data(), dgm.data(), dbt.data(), nullptr);
  for (float v : dx) CHECK(std::isfinite(v));
  // dbeta = Σ of the gradient at the norm output: a quarter per positive normalised value.
  Tensor yn = group_norm(x, groups, Tensor(), Tensor());
  std::vector<double> want(c, 0.0);
  const std::vector<float> ynv = yn.to_vector();
  for (int64_t i = 0; i < n * c * h * w; ++i) want[(i / (h * w)) % c] += ynv[i] > 0.f ? 0.25 : 0.0;
  for (int64_t ch = 0; ch < c; ++ch) CHECK(dbt[ch] == doctest::Approx(want[ch]));
  for (float v : dgm) CHECK(std::isfinite(v));
  CHECK_THROWS_AS(group_norm_relu_pool(random_tensor({2, 4, 1, 4}, 1), 2, Tensor(), Tensor()), Error);  // H < 2
  CHECK_THROWS_AS(group_norm_relu_pool(random_tensor({2, 4, 8}, 1), 2, Tensor(), Tensor()), Error);     // not 4-D
  CHECK_THROWS_AS(group_norm_relu_pool(x, 3, Tensor(), Tensor()), Error);                                 // groups
  CHECK_THROWS_AS(group_norm_relu_pool(x, 2, Tensor(), Tensor(), 1e-5f, random_tensor({c + 1}, 2)), Error);  // bias
}
