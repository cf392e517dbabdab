// The fused ConvNet block tail group_norm_relu_pool against the three separate ops it replaces: values, the fused
// backward kernel, the recorded (second-order) backward, and bad arguments.
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

Tensor unfused(const Tensor& x, int64_t groups, const Tensor& gamma, const Tensor& beta) {
  return avg_pool2x2(relu(group_norm(x, groups, gamma, beta)));
}

struct Case {
  Shape shape;
  int64_t groups;
  bool affine;
};
// Instance norm (the ConvNet's), grouped channels, no affine, 2x2 planes, and a plane wider than a CUDA block.
const std::vector<Case> kCases = {{{2, 4, 6, 8}, 4, true},  {{3, 6, 4, 4}, 2, true},  {{2, 4, 6, 6}, 1, false},
                                  {{4, 3, 2, 2}, 3, true},  {{1, 2, 24, 20}, 2, true}, {{2, 8, 4, 6}, 4, false}};

struct Inputs {
  Tensor x, gamma, beta, r;
  std::vector<Tensor> leaves() const { return gamma.defined() ? std::vector<Tensor>{x, gamma, beta} : std::vector<Tensor>{x}; }
};

Inputs make_inputs(const Case& cs, uint64_t stream) {
  const int64_t c = cs.shape[1];
  Inputs in;
  in.x = leaf(random_tensor(cs.shape, stream));
  if (cs.affine) {
    in.gamma = leaf(random_tensor({c}, stream + 1, 0.5f, 1.5f));
    in.beta = leaf(random_tensor({c}, stream + 2, -0.5f, 0.5f));
  }
  in.r = random_tensor({cs.shape[0], c, cs.shape[2] / 2, cs.shape[3] / 2}, stream + 3);
  return in;
}

}  // namespace

TEST_CASE("group_norm_relu_pool equals avg_pool2x2(relu(group_norm(x)))") {
  uint64_t stream = 100;
  for (const Case& cs : kCases) {
    CAPTURE(shape_str(cs.shape));
    CAPTURE(cs.groups);
    Inputs in = make_inputs(cs, stream);
    stream += 4;
    Tensor fused = group_norm_relu_pool(in.x, cs.groups, in.gamma, in.beta);
    Tensor ref = unfused(in.x, cs.groups, in.gamma, in.beta);
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
    Inputs in = make_inputs(cs, stream);
    stream += 4;
    const std::vector<Tensor> ins = in.leaves();
    Tensor yf = group_norm_relu_pool(in.x, cs.groups, in.gamma, in.beta);
    Tensor yu = unfused(in.x, cs.groups, in.gamma, in.beta);
    auto gf = grad({yf}, ins, {in.r}, false);  // grad mode off inside: the fused backward kernel
    auto gu = grad({yu}, ins, {in.r}, false);
    auto gfr = grad({yf}, ins, {in.r}, true);  // recorded: the composite backward
    CHECK_FALSE(gf[0].requires_grad());
    CHECK(gfr[0].requires_grad());
    for (size_t i = 0; i < ins.size(); ++i) {
      CAPTURE(i);
      // Same math, different summation order in float32: the 1e-5 relative tolerance of the group-norm tests.
      CHECK(rel_err(gf[i], gu[i]) < 1e-5);
      CHECK(rel_err(gfr[i], gu[i]) < 1e-5);
    }
  }
}

TEST_CASE("group_norm_relu_pool second order matches the separate ops") {
  uint64_t stream = 300;
  for (const Case& cs : kCases) {
    CAPTURE(shape_str(cs.shape));
    Inputs in = make_inputs(cs, stream);
    Tensor w = random_tensor(cs.shape, stream + 4);
    stream += 5;
    // s(x, gamma) = <d<f, r>/dx, w>, differentiated again: what gradient matching does through the ConvNet.
    auto second = [&](bool fused) {
      // beta enters dx only through relu's mask, whose derivative is zero: it is not differentiated here.
      const std::vector<Tensor> ins = in.gamma.defined() ? std::vector<Tensor>{in.x, in.gamma} : std::vector<Tensor>{in.x};
      Tensor y = fused ? group_norm_relu_pool(in.x, cs.groups, in.gamma, in.beta)
                       : unfused(in.x, cs.groups, in.gamma, in.beta);
      Tensor gx = grad({sum(mul(y, in.r))}, {in.x}, {}, true)[0];
      return grad({sum(mul(gx, w))}, ins);
    };
    auto a = second(true), b = second(false);
    for (size_t i = 0; i < a.size(); ++i) {
      CAPTURE(i);
      CHECK(rel_err(a[i], b[i]) < 1e-5);
    }
  }
}

TEST_CASE("group_norm_relu_pool raw kernels fill every output; bad arguments throw") {
  const int64_t n = 2, c = 4, h = 4, w = 6, groups = 2;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  Tensor x = random_tensor({n, c, h, w}, 400);
  std::vector<float> y(n * c * h * w / 4, nan), mu(n * groups, nan), rs(n * groups, nan);
  kernels::cpu::group_norm_relu_pool_forward(x.data<float>(), nullptr, nullptr, y.data(), mu.data(), rs.data(), n, c,
                                             h, w, groups, 1e-5f);
  for (float v : y) CHECK((std::isfinite(v) && v >= 0.f));
  std::vector<float> gp(n * c * h * w / 4, 1.f), dx(n * c * h * w, nan), dgm(c, nan), dbt(c, nan);
  kernels::cpu::group_norm_relu_pool_backward(gp.data(), x.data<float>(), mu.data(), rs.data(), nullptr, nullptr, n,
                                              c, h, w, groups, dx.data(), dgm.data(), dbt.data());
  for (float v : dx) CHECK(std::isfinite(v));
  // dbeta = Σ of the gradient at the norm output: a quarter per positive normalised value.
  Tensor yn = group_norm(x, groups, Tensor(), Tensor());
  std::vector<double> want(c, 0.0);
  const std::vector<float> ynv = yn.to_vector();
  for (int64_t i = 0; i < n * c * h * w; ++i) want[(i / (h * w)) % c] += ynv[i] > 0.f ? 0.25 : 0.0;
  for (int64_t ch = 0; ch < c; ++ch) CHECK(dbt[ch] == doctest::Approx(want[ch]));
  for (float v : dgm) CHECK(std::isfinite(v));
  CHECK_THROWS_AS(group_norm_relu_pool(random_tensor({2, 4, 3, 4}, 1), 2, Tensor(), Tensor()), Error);  // odd H
  CHECK_THROWS_AS(group_norm_relu_pool(random_tensor({2, 4, 8}, 1), 2, Tensor(), Tensor()), Error);     // not 4-D
  CHECK_THROWS_AS(group_norm_relu_pool(x, 3, Tensor(), Tensor()), Error);                                 // groups
}
