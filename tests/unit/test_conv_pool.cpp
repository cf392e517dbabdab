// Convolution and pooling: values against naive references, weight-gradient determinism, full output coverage,
// argument errors, and a timing print (their derivatives are checked by the op table, tests/ops).
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
  e = error_of([&] { avg_pool2x2(random_tensor({1, 2, 1, 4}, 1011)); });  // odd sizes floor; below 2 is refused
  CHECK(contains(e, "[1,2,1,4]"));
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
