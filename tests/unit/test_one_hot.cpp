// one_hot and label (and gather index) validation on the CPU: mask values (shared kernel), the exact error text
// naming the first bad sample or position, and cross_entropy with hard labels equal to its definition bit for bit.
#include <doctest/doctest.h>
#include <cmath>
#include <limits>
#include <string>
#include <vector>
#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/per_sample.h"
#include "kernels/softmax_loss.h"
#include "tests/unit/test_util.h"

using namespace yoco;
using test::contains;
using test::error_of;
using test::random_tensor;

TEST_CASE("one_hot: values, shapes and the raw kernel") {
  const std::vector<int64_t> lab = {2, 0, 4, 4, 1};
  Tensor oh = one_hot(from_int_vector(lab, {5}), 5);
  CHECK(oh.shape() == Shape{5, 5});
  CHECK(oh.dtype() == DType::F32);
  CHECK_FALSE(oh.requires_grad());
  const std::vector<float> v = oh.to_vector();
  for (int64_t i = 0; i < 5; ++i)
    for (int64_t k = 0; k < 5; ++k) CHECK(v[i * 5 + k] == (lab[i] == k ? 1.f : 0.f));
  CHECK(one_hot(from_int_vector({0, 0}, {2}), 1).to_vector() == std::vector<float>{1, 1});
  CHECK(one_hot(from_int_vector({}, {0}), 3).shape() == Shape{0, 3});
  // Large enough for the OpenMP branch: every row has exactly one 1, in its label's column.
  const int64_t n = 5000, c = 17;
  std::vector<int64_t> big(n);
  for (int64_t i = 0; i < n; ++i) big[i] = (i * 7 + 3) % c;
  const std::vector<float> bv = one_hot(from_int_vector(big, {n}), c).to_vector();
  bool ok = true;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < c; ++k) ok = ok && bv[i * c + k] == (big[i] == k ? 1.f : 0.f);
  CHECK(ok);
  // The raw kernel overwrites every element (poisoned output).
  std::vector<float> out(3 * 4, std::numeric_limits<float>::quiet_NaN());
  const std::vector<int64_t> l3 = {3, 0, 2};
  kernels::cpu::one_hot(l3.data(), 3, 4, out.data());
  CHECK(out == std::vector<float>{0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 1, 0});
}

TEST_CASE("label validation: the first bad sample, named by the op") {
  Tensor x = zeros({4, 10});
  const std::vector<int64_t> bad = {1, 2, 9, 12, 10, -1};  // sample 3 is the first outside [0, 10)
  CHECK(contains(error_of([&] { cross_entropy(zeros({6, 10}), from_int_vector(bad, {6})); }),
                 "cross_entropy: label 12 of sample 3 is outside [0, 10)"));
  CHECK(contains(error_of([&] { one_hot(from_int_vector(bad, {6}), 10); }),
                 "one_hot: label 12 of sample 3 is outside [0, 10)"));
  CHECK(contains(error_of([&] { per_sample_stats(zeros({6, 10}), from_int_vector(bad, {6})); }),
                 "per_sample_stats: label 12 of sample 3 is outside [0, 10)"));
  CHECK(contains(error_of([&] { cross_entropy(x, from_int_vector({0, -1, 3, 3}, {4})); }),
                 "cross_entropy: label -1 of sample 1 is outside [0, 10)"));
  // Shape, dtype and class-count errors are unchanged.
  CHECK(contains(error_of([&] { cross_entropy(x, from_int_vector({0, 1}, {2})); }), "labels must be [4]"));
  CHECK(contains(error_of([&] { cross_entropy(x, zeros({4})); }), "labels must be i64"));
  CHECK(contains(error_of([&] { one_hot(from_int_vector({0}, {1}), 0); }), "num_classes must be positive"));
  CHECK(contains(error_of([&] { one_hot(zeros({2, 2}), 3); }), "labels must be i64 [N]"));
  CHECK(error_of([&] { cross_entropy(x, from_int_vector({0, 9, 3, 3}, {4})); }) == "<no error>");
}

TEST_CASE("index validation: the first bad position, named by the op (the text the CUDA check reports too)") {
  Tensor a = zeros({5, 3});
  CHECK(contains(error_of([&] { index_select(a, 0, from_int_vector({1, 4, 7, -2}, {4})); }),
                 "index_select: index 7 at position 2 is outside [0, 5)"));
  CHECK(contains(error_of([&] { index_select(a, 1, from_int_vector({0, -1}, {2})); }),
                 "index_select: index -1 at position 1 is outside [0, 3)"));
  CHECK(contains(error_of([&] { index_add({5, 3}, 0, from_int_vector({0, 5}, {2}), zeros({2, 3})); }),
                 "index_add: index 5 at position 1 is outside [0, 5)"));
  CHECK(error_of([&] { index_select(a, 0, from_int_vector({4, 0, 4}, {3})); }) == "<no error>");
}

TEST_CASE("cross_entropy with hard labels is -mean log_softmax at the labels, bit for bit") {
  const int64_t n = 37, c = 10;
  std::vector<int64_t> lab(n);
  for (int64_t i = 0; i < n; ++i) lab[i] = (i * 3 + 1) % c;
  Tensor labels = from_int_vector(lab, {n});
  Tensor x = random_tensor({n, c}, 710001, -3.f, 3.f);
  // The definition, through the same ops: a constant one-hot mask picks the log-probabilities.
  const float expect = mul_scalar(sum(mul(log_softmax(x), one_hot(labels, c))), -1.f / n).item();
  CHECK(cross_entropy(x, labels).item() == expect);
  // And against a double reference.
  const std::vector<float> xv = x.to_vector();
  double ce = 0;
  for (int64_t i = 0; i < n; ++i) {
    double m = -1e300, s = 0;
    for (int64_t k = 0; k < c; ++k) m = std::fmax(m, xv[i * c + k]);
    for (int64_t k = 0; k < c; ++k) s += std::exp(xv[i * c + k] - m);
    ce -= (xv[i * c + lab[i]] - m - std::log(s)) / n;
  }
  CHECK(expect == doctest::Approx(ce).epsilon(1e-5));
  // Its gradient is (softmax - onehot) / N.
  Tensor xl = x.clone().set_requires_grad(true);
  Tensor g = grad({cross_entropy(xl, labels)}, {xl})[0];
  CHECK(test::rel_err(g, mul_scalar(sub(softmax(x), one_hot(labels, c)), 1.f / n)) < 1e-5);
}
