// Convolution and pooling: values against naive references, first and second derivatives by finite
// differences, weight-gradient determinism, full output coverage, argument errors, and a timing print.
#include <doctest/doctest.h>
#include <omp.h>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <utility>
#include <limits>
#include <string>
#include <vector>
#include "engine/autograd.h"
#include "engine/context.h"
#include "engine/ops.h"
#include "kernels/conv.h"
#include "kernels/pool.h"
#include "tests/unit/conv_reference.h"
#include "tests/unit/test_util.h"

using namespace yoco;
using test::random_tensor;
using test::rel_err;

namespace {

// Forward and both adjoints agree with double-accumulated references to this relative error: float32
// GEMM sums of at most a few hundred O(1) terms lose far less than this.
constexpr double kRefTol = 1e-5;
// Finite differences in float32: central differences with eps 1e-2 and eps / 2 on O(1) inputs, combined by
// Richardson extrapolation, which cancels the eps² truncation term (the functions below are polynomials of degree
// at most 4 along a direction, where that leaves no truncation error at all; a plain central difference was 1.2 %
// off for seed 855797056). The rounding of the float sums divided by eps then dominates, around 1e-3 relative, so
// 1e-2 leaves margin yet catches any wrong term (a missing or mis-signed contribution changes the result by O(1)).
constexpr double kFdTol = 1e-2;
constexpr float kEps = 1e-2f;

struct Case {
  int64_t n, c, h, w, k, r, s, stride, pad;
  bool bias;
};

const std::vector<Case> kCases = {
    {1, 3, 5, 5, 4, 3, 3, 1, 1, true},   {2, 3, 7, 6, 5, 3, 3, 2, 0, false}, {3, 4, 9, 9, 2, 3, 3, 2, 3, true},
    {5, 2, 4, 7, 3, 1, 1, 1, 0, false},  {4, 6, 5, 5, 7, 1, 1, 2, 1, true},  {2, 5, 8, 8, 3, 3, 3, 1, 2, false},
    {1, 1, 3, 3, 1, 3, 3, 1, 0, true},   {3, 3, 11, 10, 4, 1, 1, 2, 0, true}, {2, 16, 6, 6, 8, 3, 3, 1, 3, false},
    {70, 2, 5, 5, 3, 3, 3, 1, 1, true},  // 9 weight-gradient chunks of 8 images, the last one partial
};

// The kernels' view of a case, for the shared double-precision reference.
kernels::ConvShape conv_shape_of(const Case& c) {
  return {c.n, c.c, c.h, c.w, c.k, c.r, c.s, kernels::conv_out_size(c.h, c.r, c.stride, c.pad),
          kernels::conv_out_size(c.w, c.s, c.stride, c.pad), c.stride, c.pad};
}

std::vector<float> to_float(const std::vector<double>& v) { return std::vector<float>(v.begin(), v.end()); }

Shape x_shape(const Case& c) { return {c.n, c.c, c.h, c.w}; }
Shape w_shape(const Case& c) { return {c.k, c.c, c.r, c.s}; }
Conv2dArgs args_of(const Case& c) { return {c.stride, c.pad}; }
std::string name_of(const Case& c) {
  return cat("x[", c.n, ",", c.c, ",", c.h, ",", c.w, "] w[", c.k, ",", c.c, ",", c.r, ",", c.s, "] stride ",
             c.stride, " pad ", c.pad, c.bias ? " bias" : " no bias");
}

using test::dot;

// t + e·d as a fresh leaf that requires grad.
Tensor shifted(const Tensor& t, const Tensor& d, float e) {
  std::vector<float> vt = t.to_vector(), vd = d.to_vector();
  for (size_t i = 0; i < vt.size(); ++i) vt[i] += e * vd[i];
  Tensor out = from_vector(vt, t.shape());
  out.set_requires_grad(true);
  return out;
}

Tensor leaf(const Shape& s, uint64_t stream) {
  Tensor t = random_tensor(s, stream);
  t.set_requires_grad(true);
  return t;
}

// Checks the gradient of scalar f at `params` along random directions against central differences.
template <class F>
void check_directional(F f, const std::vector<Tensor>& params, uint64_t stream) {
  Tensor out = f(params);
  std::vector<Tensor> grads = grad({out}, params, {}, false, true);
  std::vector<Tensor> dirs;
  double analytic = 0;
  for (size_t i = 0; i < params.size(); ++i) {
    dirs.push_back(random_tensor(params[i].shape(), stream + i));
    analytic += dot(grads[i], dirs[i]);
  }
  auto central = [&](float e) {
    std::vector<Tensor> plus, minus;
    for (size_t i = 0; i < params.size(); ++i) {
      plus.push_back(shifted(params[i], dirs[i], e));
      minus.push_back(shifted(params[i], dirs[i], -e));
    }
    return (static_cast<double>(f(plus).item()) - f(minus).item()) / (2.0 * e);
  };
  const double numeric = (4.0 * central(kEps / 2) - central(kEps)) / 3.0;
  INFO("analytic ", analytic, " numeric ", numeric);
  CHECK(std::abs(analytic - numeric) <= kFdTol * std::max(1.0, std::abs(numeric)));
}

template <class F>
std::string error_of(F f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("conv2d forward and both adjoints match the direct reference") {
  uint64_t stream = 100;
  for (const Case& c : kCases) {
    INFO(name_of(c));
    Tensor x = random_tensor(x_shape(c), stream++), w = random_tensor(w_shape(c), stream++);
    Tensor b = c.bias ? random_tensor({c.k}, stream++) : Tensor();
    Tensor y = conv2d(x, w, b, args_of(c));
    Tensor g = random_tensor(y.shape(), stream++);
    const kernels::ConvShape cs = conv_shape_of(c);
    const test::ConvReference ref = test::conv_reference(cs, x.to_vector(), w.to_vector(), g.to_vector());
    CHECK(rel_err(y.to_vector(), to_float(c.bias ? test::with_bias(ref.y, b.to_vector(), cs) : ref.y)) <= kRefTol);
    CHECK(rel_err(conv2d_backward_input(g, w, x.shape(), args_of(c)).to_vector(), to_float(ref.gx)) <= kRefTol);
    CHECK(rel_err(conv2d_backward_weight(x, g, w.shape(), args_of(c)).to_vector(), to_float(ref.gw)) <= kRefTol);
  }
}

TEST_CASE("conv2d first-order gradients match finite differences") {
  uint64_t stream = 300;
  for (const Case& c : kCases) {
    if (c.n > 8) continue;  // the small cases cover every code path of the derivative rules
    INFO(name_of(c));
    Tensor x = leaf(x_shape(c), stream++), w = leaf(w_shape(c), stream++);
    const Conv2dArgs a = args_of(c);
    Tensor y0 = conv2d(x.detach(), w.detach(), Tensor(), a);
    Tensor r = random_tensor(y0.shape(), stream++);
    std::vector<Tensor> params{x, w};
    if (c.bias) params.push_back(leaf({c.k}, stream++));
    // sum(y·y·r) is not linear in x, so the finite difference sees more than a bilinear form.
    auto f = [&](const std::vector<Tensor>& p) {
      Tensor y = conv2d(p[0], p[1], p.size() > 2 ? p[2] : Tensor(), a);
      return sum(mul(mul(y, y), r));
    };
    check_directional(f, params, stream);
    stream += 10;
  }
}

TEST_CASE("conv2d second-order gradients (through both adjoint ops) match finite differences") {
  struct Net {
    Conv2dArgs a1, a2;
    int64_t r2;
  };
  const std::vector<Net> nets = {{{1, 1}, {1, 0}, 1}, {{2, 1}, {1, 2}, 3}, {{2, 0}, {2, 1}, 3}};
  uint64_t stream = 500;
  for (const Net& net : nets) {
    INFO("stride/pad ", net.a1.stride, "/", net.a1.pad, " then ", net.a2.stride, "/", net.a2.pad, " r2 ", net.r2);
    Tensor x = leaf({2, 3, 7, 7}, stream++), w1 = leaf({4, 3, 3, 3}, stream++), b1 = leaf({4}, stream++);
    Tensor w2 = leaf({5, 4, net.r2, net.r2}, stream++);
    Tensor y2shape = conv2d(conv2d(x.detach(), w1.detach(), Tensor(), net.a1), w2.detach(), Tensor(), net.a2);
    Tensor r = random_tensor(y2shape.shape(), stream++);
    std::vector<Tensor> v{random_tensor(x.shape(), stream + 1), random_tensor(w1.shape(), stream + 2),
                          random_tensor(b1.shape(), stream + 3), random_tensor(w2.shape(), stream + 4)};
    stream += 10;
    // L = sum(conv(conv(x, w1, b1)², w2) · r); s = <grad L, v> over all four parameters, so the second
    // derivative runs through conv2d_backward_input and conv2d_backward_weight in both their inputs.
    auto s_of = [&](const std::vector<Tensor>& p) {
      Tensor y1 = conv2d(p[0], p[1], p[2], net.a1);
      Tensor l = sum(mul(conv2d(mul(y1, y1), p[3], Tensor(), net.a2), r));
      std::vector<Tensor> g = grad({l}, p, {}, true);
      Tensor s = sum(mul(g[0], v[0]));
      for (size_t i = 1; i < p.size(); ++i) s = add(s, sum(mul(g[i], v[i])));
      return s;
    };
    check_directional(s_of, {x, w1, b1, w2}, stream);
    stream += 10;
  }
}

TEST_CASE("conv2d weight gradient is bitwise deterministic across runs and thread counts") {
  const Case c{70, 16, 8, 8, 16, 3, 3, 1, 1, false};  // 9 chunks of 8 images, the last one partial
  Tensor x = random_tensor(x_shape(c), 700), g = random_tensor({c.n, c.k, c.h, c.w}, 701);
  const int threads = omp_get_max_threads();
  std::vector<float> first = conv2d_backward_weight(x, g, w_shape(c), args_of(c)).to_vector();
  std::vector<float> again = conv2d_backward_weight(x, g, w_shape(c), args_of(c)).to_vector();
  omp_set_num_threads(1);
  std::vector<float> one = conv2d_backward_weight(x, g, w_shape(c), args_of(c)).to_vector();
  omp_set_num_threads(2);
  std::vector<float> two = conv2d_backward_weight(x, g, w_shape(c), args_of(c)).to_vector();
  omp_set_num_threads(threads);
  CHECK(first == again);
  CHECK(one == two);
  CHECK(first == one);
}

TEST_CASE("raw conv and pool kernels write every output element") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  auto no_nan = [](const std::vector<float>& v) {
    for (float f : v)
      if (std::isnan(f)) return false;
    return true;
  };
  uint64_t stream = 900;
  for (const Case& c : kCases) {
    INFO(name_of(c));
    kernels::ConvShape cs{c.n, c.c, c.h, c.w, c.k, c.r, c.s, 0, 0, c.stride, c.pad};
    cs.oh = kernels::conv_out_size(c.h, c.r, c.stride, c.pad);
    cs.ow = kernels::conv_out_size(c.w, c.s, c.stride, c.pad);
    std::vector<float> x = random_tensor(x_shape(c), stream++).to_vector();
    std::vector<float> w = random_tensor(w_shape(c), stream++).to_vector();
    std::vector<float> b = random_tensor({c.k}, stream++).to_vector();
    std::vector<float> g = random_tensor({c.n, c.k, cs.oh, cs.ow}, stream++).to_vector();
    std::vector<float> y(g.size(), nan), gx(x.size(), nan), gw(w.size(), nan);
    kernels::cpu::conv2d_forward(cs, x.data(), w.data(), c.bias ? b.data() : nullptr, y.data());
    kernels::cpu::conv2d_backward_input(cs, g.data(), w.data(), gx.data());
    kernels::cpu::conv2d_backward_weight(cs, x.data(), g.data(), gw.data());
    CHECK(no_nan(y));
    CHECK(no_nan(gx));
    CHECK(no_nan(gw));
  }
  std::vector<float> px = random_tensor({3, 4, 6, 8}, stream++).to_vector();
  std::vector<float> py(3 * 4 * 3 * 4, nan), pg(px.size(), nan);
  kernels::cpu::avg_pool2x2(px.data(), py.data(), 12, 6, 8);
  kernels::cpu::avg_pool2x2_backward(py.data(), pg.data(), 12, 6, 8);
  CHECK(no_nan(py));
  CHECK(no_nan(pg));
}

TEST_CASE("conv and pool reject bad arguments with the shapes in the message") {
  Tensor x = random_tensor({2, 3, 5, 5}, 1000), w = random_tensor({4, 2, 3, 3}, 1001);
  std::string e = error_of([&] { conv2d(x, w, Tensor(), {1, 1}); });
  CHECK(contains(e, "[2,3,5,5]"));
  CHECK(contains(e, "[4,2,3,3]"));
  e = error_of([&] { conv2d(random_tensor({3, 5, 5}, 1002), random_tensor({4, 3, 3, 3}, 1003), Tensor(), {}); });
  CHECK(contains(e, "[3,5,5]"));
  e = error_of([&] { conv2d(x, random_tensor({4, 3, 3}, 1004), Tensor(), {}); });
  CHECK(contains(e, "[4,3,3]"));
  e = error_of([&] { conv2d(x, random_tensor({4, 3, 3, 3}, 1005), random_tensor({3}, 1006), {}); });
  CHECK(contains(e, "[3]"));
  e = error_of([&] { conv2d(x, random_tensor({4, 3, 9, 9}, 1007), Tensor(), {1, 1}); });
  CHECK(contains(e, "[4,3,9,9]"));
  e = error_of([&] { conv2d_backward_input(random_tensor({2, 4, 4, 4}, 1008), random_tensor({4, 3, 3, 3}, 1009),
                                           {2, 3, 5, 5}, {1, 1}); });
  CHECK(contains(e, "[2,4,4,4]"));
  e = error_of([&] { conv2d_backward_weight(x, random_tensor({2, 4, 5, 6}, 1010), {4, 3, 3, 3}, {1, 1}); });
  CHECK(contains(e, "[2,4,5,6]"));
  e = error_of([&] { avg_pool2x2(random_tensor({1, 2, 5, 4}, 1011)); });
  CHECK(contains(e, "[1,2,5,4]"));
  e = error_of([&] { avg_pool2x2(random_tensor({2, 5, 4}, 1012)); });
  CHECK(contains(e, "[2,5,4]"));
  e = error_of([&] { avg_pool2x2_backward(random_tensor({1, 2, 2, 3}, 1013), {1, 2, 4, 4}); });
  CHECK(contains(e, "[1,2,2,3]"));
  e = error_of([&] { global_avg_pool(random_tensor({2, 3}, 1014)); });
  CHECK(contains(e, "[2,3]"));
}

TEST_CASE("avg_pool2x2 and global_avg_pool values on a hand case") {
  Tensor x = from_vector({1, 2, 3, 4, 5, 6, 7, 8}, {1, 1, 2, 4});
  CHECK(avg_pool2x2(x).to_vector() == std::vector<float>{3.5f, 5.5f});
  CHECK(avg_pool2x2(x).shape() == Shape{1, 1, 1, 2});
  Tensor g = from_vector({4, 8}, {1, 1, 1, 2});
  CHECK(avg_pool2x2_backward(g, {1, 1, 2, 4}).to_vector() == std::vector<float>{1, 1, 2, 2, 1, 1, 2, 2});
  Tensor x2 = from_vector({1, 2, 3, 4, 10, 20, 30, 40}, {1, 2, 2, 2});
  CHECK(global_avg_pool(x2).to_vector() == std::vector<float>{2.5f, 25.f});
  CHECK(global_avg_pool(x2).shape() == Shape{1, 2});
}

TEST_CASE("pool gradients, first and second order, match finite differences") {
  Tensor x = leaf({2, 3, 4, 6}, 1100);
  Tensor r = random_tensor({2, 3, 2, 3}, 1101), rg = random_tensor({2, 3}, 1102);
  auto f = [&](const std::vector<Tensor>& p) {
    Tensor y = avg_pool2x2(mul(p[0], p[0]));
    return add(sum(mul(mul(y, y), r)), sum(mul(global_avg_pool(mul(p[0], p[0])), rg)));
  };
  check_directional(f, {x}, 1110);
  // s = <grad_x f, v> differentiates avg_pool2x2_backward (whose derivative is the pool) again.
  Tensor v = random_tensor(x.shape(), 1120);
  auto s_of = [&](const std::vector<Tensor>& p) { return sum(mul(grad({f(p)}, p, {}, true)[0], v)); };
  check_directional(s_of, {x}, 1130);
}

TEST_CASE("conv timing (info)") {
  // Not an assertion: prints where the time of the benchmark's middle layer goes.
  Tensor x = random_tensor({256, 128, 16, 16}, 1200), w = random_tensor({128, 128, 3, 3}, 1201);
  Tensor g = random_tensor({256, 128, 16, 16}, 1202);
  const Conv2dArgs a{1, 1};
  // Best of 3 after a warm-up, as wall time and as process CPU time (the CPU time shows oversubscription
  // and, on a shared machine, the work done independent of other processes).
  auto cpu_now = [] {
    timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
  };
  auto time_ms = [&](auto fn) {
    fn();  // warm the scratch buffers and the allocator
    std::pair<double, double> best{1e30, 1e30};
    for (int i = 0; i < 3; ++i) {
      auto t0 = std::chrono::steady_clock::now();
      const double c0 = cpu_now();
      fn();
      const double wall = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      best = {std::min(best.first, wall), std::min(best.second, cpu_now() - c0)};
    }
    return best;
  };
  const auto fwd = time_ms([&] { conv2d(x, w, Tensor(), a); });
  const auto bin = time_ms([&] { conv2d_backward_input(g, w, x.shape(), a); });
  const auto bw = time_ms([&] { conv2d_backward_weight(x, g, w.shape(), a); });
  std::printf("[conv timing] x[256,128,16,16] w[128,128,3,3] pad 1, %d threads, best of 3, wall (cpu) ms: "
              "forward %.1f (%.1f), backward_input %.1f (%.1f), backward_weight %.1f (%.1f)\n",
              omp_get_max_threads(), fwd.first, fwd.second, bin.first, bin.second, bw.first, bw.second);
}
