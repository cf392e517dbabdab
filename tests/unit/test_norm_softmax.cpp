// Normalisation and softmax/loss ops: values vs naive double references, fused vs composite group-norm
// backward, the fused per-sample statistics kernel (finite differences of these ops: the op table, tests/ops).
#include <doctest/doctest.h>
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>
#include "engine/autograd.h"
#include "engine/context.h"
#include "engine/ops.h"
#include "engine/per_sample.h"
#include "kernels/norm.h"
#include "kernels/softmax_loss.h"
#include "tests/unit/test_util.h"

using namespace yoco;
using test::random_tensor;
using test::rel_err;

namespace {

const float kNaN = std::numeric_limits<float>::quiet_NaN();

using test::leaf;

// Naive group norm in double: x [N, C, S].
std::vector<float> group_norm_ref(const std::vector<float>& x, int64_t n, int64_t c, int64_t s, int64_t groups,
                                  const std::vector<float>& gamma, const std::vector<float>& beta, double eps) {
  std::vector<float> y(x.size());
  const int64_t cpg = c / groups;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t g = 0; g < groups; ++g) {
      double sum = 0, sq = 0;
      const int64_t base = (i * c + g * cpg) * s, m = cpg * s;
      for (int64_t k = 0; k < m; ++k) sum += x[base + k];
      const double mu = sum / m;
      for (int64_t k = 0; k < m; ++k) sq += (x[base + k] - mu) * (x[base + k] - mu);
      const double rstd = 1.0 / std::sqrt(sq / m + eps);
      for (int64_t k = 0; k < m; ++k) {
        const int64_t ch = g * cpg + k / s;
        const double ga = gamma.empty() ? 1.0 : gamma[ch], be = beta.empty() ? 0.0 : beta[ch];
        y[base + k] = static_cast<float>((x[base + k] - mu) * rstd * ga + be);
      }
    }
  return y;
}

struct GnCase {
  Shape shape;
  int64_t groups;
  bool affine;
};
// Every group holds at least 6 elements: tiny groups of random values can have a near-zero variance, where
// group norm is ill-conditioned and float32 comparisons (and finite differences) lose their meaning.
const std::vector<GnCase> kGnCases = {
    {{2, 4, 3, 3}, 4, true}, {{2, 4, 3, 3}, 2, false}, {{3, 12}, 2, true}, {{2, 4, 5}, 1, true}, {{1, 8, 3, 3}, 8, false}};

}  // namespace

TEST_CASE("group_norm matches a naive double reference") {
  uint64_t stream = 100;
  for (const GnCase& cs : kGnCases) {
    CAPTURE(shape_str(cs.shape));
    CAPTURE(cs.groups);
    // Offset inputs: a large mean relative to the spread exercises the two-pass statistics.
    Tensor x = add_scalar(random_tensor(cs.shape, stream++, -2.f, 2.f), 3.f);
    const int64_t c = cs.shape[1];
    Tensor gamma = cs.affine ? random_tensor({c}, stream++, 0.5f, 1.5f) : Tensor();
    Tensor beta = cs.affine ? random_tensor({c}, stream++) : Tensor();
    Tensor y = group_norm(x, cs.groups, gamma, beta, 1e-5f);
    const int64_t n = cs.shape[0], s = x.numel() / (n * c);
    auto ref = group_norm_ref(x.to_vector(), n, c, s, cs.groups, cs.affine ? gamma.to_vector() : std::vector<float>{},
                              cs.affine ? beta.to_vector() : std::vector<float>{}, 1e-5);
    // Float32 output of O(1) values: 1e-5 relative leaves room for the rounding of (x - mean) * rstd.
    CHECK(rel_err(y.to_vector(), ref) < 1e-5);
  }
}

TEST_CASE("group_norm fused and composite backward agree") {
  uint64_t stream = 200;
  for (const GnCase& cs : kGnCases) {
    CAPTURE(shape_str(cs.shape));
    const int64_t c = cs.shape[1];
    Tensor x = leaf(random_tensor(cs.shape, stream++));
    Tensor gamma = cs.affine ? leaf(random_tensor({c}, stream++, 0.5f, 1.5f)) : Tensor();
    Tensor beta = cs.affine ? leaf(random_tensor({c}, stream++)) : Tensor();
    Tensor r = random_tensor(cs.shape, stream++);
    std::vector<Tensor> ins{x};
    if (cs.affine) ins = {x, gamma, beta};
    Tensor y = group_norm(x, cs.groups, gamma, beta);
    auto fused = grad({y}, ins, {r}, false);        // grad mode off inside: the fused kernel
    auto composite = grad({y}, ins, {r}, true);     // recorded: the composite of engine ops
    CHECK_FALSE(fused[0].requires_grad());
    CHECK(composite[0].requires_grad());
    // Same math, different summation order in float32: 1e-5 relative as specified.
    for (size_t i = 0; i < ins.size(); ++i) CHECK(rel_err(fused[i], composite[i]) < 1e-5);
  }
}

TEST_CASE("group_norm raw kernels overwrite poisoned outputs; bad arguments throw") {
  const int64_t n = 2, c = 4, s = 3, groups = 2;
  Tensor x = random_tensor({n, c, s}, 400);
  std::vector<float> y(n * c * s, kNaN), mu(n * groups, kNaN), rs(n * groups, kNaN);
  kernels::cpu::group_norm_forward(x.data<float>(), nullptr, nullptr, y.data(), mu.data(), rs.data(), n, c, s, groups,
                                   1e-5f);
  for (float v : y) CHECK(std::isfinite(v));
  for (float v : rs) CHECK(std::isfinite(v));
  std::vector<float> g(n * c * s, 0.5f), dx(n * c * s, kNaN), dgm(c, kNaN), dbt(c, kNaN);
  kernels::cpu::group_norm_backward(g.data(), x.data<float>(), mu.data(), rs.data(), nullptr, n, c, s, groups,
                                    dx.data(), dgm.data(), dbt.data());
  for (float v : dx) CHECK(std::abs(v) < 1e-5f);  // a constant upstream gradient has no normalised component
  for (float v : dbt) CHECK(v == doctest::Approx(0.5 * n * s));
  for (float v : dgm) CHECK(std::isfinite(v));
  CHECK_THROWS_AS(group_norm(x, 3, Tensor(), Tensor()), Error);
  CHECK_THROWS_AS(group_norm(x, 2, ones({3}), Tensor()), Error);
  CHECK_THROWS_AS(group_norm(ones({4}), 1, Tensor(), Tensor()), Error);
}

TEST_CASE("batch_norm training and eval values, running statistics (hand case)") {
  // x [4, 2]: channel 0 = 1, 2, 3, 4 (mean 2.5, biased var 1.25, unbiased 5/3);
  //           channel 1 = 0, 0, 2, 2 (mean 1, biased var 1, unbiased 4/3).
  Tensor x = from_vector({1, 0, 2, 0, 3, 2, 4, 2}, {4, 2});
  Tensor gamma = from_vector({2.f, 0.5f}, {2}), beta = from_vector({1.f, -1.f}, {2});
  Tensor rm = from_vector({0.f, 0.f}, {2}), rv = from_vector({1.f, 1.f}, {2});
  const float eps = 1e-5f;
  Tensor y = batch_norm(x, gamma, beta, rm, rv, true, 0.1f, eps);
  std::vector<float> yv = y.to_vector();
  const double r0 = 1.0 / std::sqrt(1.25 + eps), r1 = 1.0 / std::sqrt(1.0 + eps);
  const double xs[4][2] = {{1, 0}, {2, 0}, {3, 2}, {4, 2}};
  for (int i = 0; i < 4; ++i) {
    CHECK(yv[2 * i] == doctest::Approx((xs[i][0] - 2.5) * r0 * 2 + 1).epsilon(1e-5));
    CHECK(yv[2 * i + 1] == doctest::Approx((xs[i][1] - 1.0) * r1 * 0.5 - 1).epsilon(1e-5));
  }
  // running = 0.9 * running + 0.1 * stat, variance unbiased.
  CHECK(rm.to_vector()[0] == doctest::Approx(0.25).epsilon(1e-6));
  CHECK(rm.to_vector()[1] == doctest::Approx(0.1).epsilon(1e-6));
  CHECK(rv.to_vector()[0] == doctest::Approx(0.9 + 0.1 * 5.0 / 3.0).epsilon(1e-6));
  CHECK(rv.to_vector()[1] == doctest::Approx(0.9 + 0.1 * 4.0 / 3.0).epsilon(1e-6));
  // Eval: running statistics, which stay unchanged.
  Tensor ye = batch_norm(x, gamma, beta, rm, rv, false, 0.1f, eps);
  std::vector<float> ev = ye.to_vector(), rmv = rm.to_vector(), rvv = rv.to_vector();
  for (int i = 0; i < 4; ++i)
    for (int ch = 0; ch < 2; ++ch) {
      const double g = ch == 0 ? 2.0 : 0.5, b = ch == 0 ? 1.0 : -1.0;
      CHECK(ev[2 * i + ch] == doctest::Approx((xs[i][ch] - rmv[ch]) / std::sqrt(rvv[ch] + eps) * g + b).epsilon(1e-5));
    }
  CHECK(rm.to_vector() == rmv);
  // A bad shape (the training gradient through the batch statistics: op table, batch_norm/train_2d_4x2).
  CHECK_THROWS_AS(batch_norm(x, ones({3}), Tensor(), Tensor(), Tensor(), true), Error);
  CHECK_THROWS_AS(batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), false), Error);
}

TEST_CASE("log_softmax and cross-entropy match naive double references") {
  const int64_t n = 5, c = 7;
  Tensor x = random_tensor({n, c}, 500, -3.f, 3.f);
  {  // one row far from zero: the fused kernel must subtract the row max
    NoGradGuard ng;
    std::vector<float> v = x.to_vector();
    for (int64_t k = 0; k < c; ++k) v[k] += 1000.f;
    x = from_vector(v, {n, c});
  }
  std::vector<float> xv = x.to_vector();
  std::vector<int64_t> lab = {0, 6, 3, 3, 1};
  Tensor labels = from_int_vector(lab, {n});
  Tensor target = softmax(random_tensor({n, c}, 501));
  std::vector<float> tv = target.to_vector(), ref(n * c);
  double ce = 0, ce_soft = 0;
  for (int64_t i = 0; i < n; ++i) {
    double m = -1e300, s = 0;
    for (int64_t k = 0; k < c; ++k) m = std::max(m, static_cast<double>(xv[i * c + k]));
    for (int64_t k = 0; k < c; ++k) s += std::exp(xv[i * c + k] - m);
    for (int64_t k = 0; k < c; ++k) {
      const double l = xv[i * c + k] - m - std::log(s);
      ref[i * c + k] = static_cast<float>(l);
      ce_soft -= tv[i * c + k] * l / n;
    }
    ce -= ref[i * c + lab[i]] / static_cast<double>(n);
  }
  // Float32 log-probabilities of magnitude ~1-10: 1e-5 relative.
  CHECK(rel_err(log_softmax(x).to_vector(), ref) < 1e-5);
  CHECK(cross_entropy(x, labels).item() == doctest::Approx(ce).epsilon(1e-5));
  CHECK(cross_entropy_soft(x, target).item() == doctest::Approx(ce_soft).epsilon(1e-5));
  std::vector<float> sm = softmax(x).to_vector();
  for (int64_t i = 0; i < n; ++i) {
    double rs = 0;
    for (int64_t k = 0; k < c; ++k) rs += sm[i * c + k];
    // The +1000 row's logits are only representable to ulp(1000) ~ 6e-5 in float32, hence 1e-4.
    CHECK(rs == doctest::Approx(1.0).epsilon(1e-4));
  }
  // Raw kernel: poisoned output is fully overwritten.
  std::vector<float> out(n * c, kNaN);
  kernels::cpu::log_softmax(x.data<float>(), out.data(), n, c);
  CHECK(rel_err(out, ref) < 1e-5);
}

TEST_CASE("hard-label cross-entropy gradient is (softmax - onehot) / N") {
  const int64_t n = 4, c = 5;
  Tensor labels = from_int_vector({2, 0, 4, 2}, {n});
  Tensor x = random_tensor({n, c}, 602, -2.f, 2.f);
  Tensor xl = leaf(x.clone());
  Tensor g = grad({cross_entropy(xl, labels)}, {xl})[0];
  Tensor expect = mul_scalar(sub(softmax(x), one_hot(labels, c)), 1.f / n);
  CHECK(rel_err(g, expect) < 1e-5);
}

TEST_CASE("one_hot and label validation") {
  Tensor oh = one_hot(from_int_vector({2, 0}, {2}), 3);
  CHECK(oh.shape() == Shape{2, 3});
  CHECK(oh.to_vector() == std::vector<float>{0, 0, 1, 1, 0, 0});
  CHECK_FALSE(oh.requires_grad());
  Tensor x = zeros({2, 3});
  CHECK_THROWS_AS(cross_entropy(x, from_int_vector({0, 3}, {2})), Error);
  CHECK_THROWS_AS(cross_entropy(x, from_int_vector({-1, 0}, {2})), Error);
  CHECK_THROWS_AS(cross_entropy(x, from_int_vector({0}, {1})), Error);
  CHECK_THROWS_AS(cross_entropy(x, from_vector({0, 1}, {2})), Error);
  CHECK_THROWS_AS(cross_entropy_soft(x, zeros({2, 4})), Error);
  CHECK_THROWS_AS(one_hot(from_int_vector({5}, {1}), 3), Error);
  CHECK_THROWS_AS(log_softmax(zeros({2, 3, 1})), Error);
  std::string message;
  try {
    cross_entropy(x, from_int_vector({0, 7}, {2}));
  } catch (const Error& e) {
    message = e.what();
  }
  CHECK(message.find("label 7 of sample 1") != std::string::npos);
}

namespace {
// Hand-computed 3x4 case. Row 0: equal logits, label 1 (ties: argmax is class 0 -> incorrect).
// Row 1: p = (.1, .2, .3, .4), label 3. Row 2: p = (.5, .25, .125, .125) shifted by +100, label 2.
struct HandCase {
  std::vector<float> logits;
  std::vector<int64_t> labels{1, 3, 2};
  std::vector<double> el2n{std::sqrt(0.75), std::sqrt(0.5), std::sqrt(1.09375)};
  std::vector<double> loss{std::log(4.0), -std::log(0.4), std::log(8.0)};
  std::vector<double> correct{0, 1, 0};
  std::vector<double> margin{0.0, 0.1, -0.375};
  std::vector<double> entropy{std::log(4.0),
                              -(0.1 * std::log(0.1) + 0.2 * std::log(0.2) + 0.3 * std::log(0.3) + 0.4 * std::log(0.4)),
                              1.75 * std::log(2.0)};
  HandCase() {
    logits = {0, 0, 0, 0};
    for (double p : {0.1, 0.2, 0.3, 0.4}) logits.push_back(static_cast<float>(std::log(p)));
    for (double p : {0.5, 0.25, 0.125, 0.125}) logits.push_back(static_cast<float>(std::log(p) + 100.0));
  }
};

// Float32 exp/log on O(1) values: 1e-5 absolute (margins can be 0, so absolute, not relative).
void check_close(const std::vector<float>& got, const std::vector<double>& want) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    CAPTURE(i);
    CHECK(std::abs(got[i] - want[i]) < 1e-5);
  }
}
}  // namespace

TEST_CASE("per_sample_stats on a hand-computed 3x4 case") {
  HandCase h;
  // Raw kernel with poisoned outputs.
  std::vector<float> el2n(3, kNaN), loss(3, kNaN), correct(3, kNaN), margin(3, kNaN), entropy(3, kNaN);
  kernels::cpu::per_sample_stats(h.logits.data(), h.labels.data(), 3, 4, el2n.data(), loss.data(), correct.data(),
                                 margin.data(), entropy.data());
  check_close(el2n, h.el2n);
  check_close(loss, h.loss);
  check_close(correct, h.correct);
  check_close(margin, h.margin);
  check_close(entropy, h.entropy);
  // Null outputs are skipped; the others are still written.
  std::vector<float> only_loss(3, kNaN);
  kernels::cpu::per_sample_stats(h.logits.data(), h.labels.data(), 3, 4, nullptr, only_loss.data(), nullptr, nullptr,
                                 nullptr);
  check_close(only_loss, h.loss);
  // Engine wrapper.
  PerSample ps = per_sample_stats(from_vector(h.logits, {3, 4}), from_int_vector(h.labels, {3}));
  check_close(ps.el2n.to_vector(), h.el2n);
  check_close(ps.loss.to_vector(), h.loss);
  check_close(ps.correct.to_vector(), h.correct);
  check_close(ps.margin.to_vector(), h.margin);
  check_close(ps.entropy.to_vector(), h.entropy);
  CHECK(ps.loss.shape() == Shape{3});
  CHECK_THROWS_AS(per_sample_stats(from_vector(h.logits, {3, 4}), from_int_vector({1, 4, 2}, {3})), Error);
  CHECK_THROWS_AS(per_sample_stats(from_vector(h.logits, {12}), from_int_vector(h.labels, {3})), Error);
}

TEST_CASE("per_sample_stats loss agrees with cross_entropy on random logits") {
  Tensor x = random_tensor({6, 10}, 700, -4.f, 4.f);
  Tensor labels = from_int_vector({0, 9, 3, 3, 7, 1}, {6});
  PerSample ps = per_sample_stats(x, labels);
  double mean_loss = 0;
  for (float v : ps.loss.to_vector()) mean_loss += v / 6.0;
  CHECK(mean_loss == doctest::Approx(cross_entropy(x, labels).item()).epsilon(1e-5));
}

namespace {
// Double-precision reference of one row, summed directly over p_k (no r/q identities). log s uses log1p of the
// sum without the first maximum's exp(0) = 1, so rows with p_y ~ 1 keep their digits here too.
std::vector<double> ref_row_stats(const float* x, int64_t c, int64_t y) {
  int64_t a = 0;
  for (int64_t k = 1; k < c; ++k)
    if (x[k] > x[a]) a = k;
  std::vector<double> e(c);
  double rest = 0;
  for (int64_t k = 0; k < c; ++k) {
    e[k] = std::exp(static_cast<double>(x[k]) - x[a]);
    if (k != a) rest += e[k];
  }
  const double s = 1 + rest, log_s = std::log1p(rest);
  double others = 0, sq = 0, max_other = 0, ent = 0;
  for (int64_t k = 0; k < c; ++k) {
    const double p = e[k] / s;
    if (p > 0) ent -= p * ((static_cast<double>(x[k]) - x[a]) - log_s);
    if (k == y) continue;
    others += e[k];
    sq += p * p;
    max_other = std::max(max_other, p);
  }
  const double el2n = std::sqrt(sq + (others / s) * (others / s));  // 1 - p_y = others / s: no cancellation
  return {el2n, log_s - (static_cast<double>(x[y]) - x[a]), a == y ? 1.0 : 0.0, e[y] / s - max_other, ent};
}

// Every statistic of every row within 1e-5 * (|reference| + floor): floor 0 is a pure relative bound (exact where
// the reference is 0); random rows use floor 1, as their margins may be near 0 (float rounding of p ~ 1e-7).
void check_rows_vs_ref(const std::vector<float>& x, const std::vector<int64_t>& y, int64_t c, double floor = 0) {
  const int64_t n = static_cast<int64_t>(y.size());
  std::vector<float> el2n(n, kNaN), loss(n, kNaN), correct(n, kNaN), margin(n, kNaN), entropy(n, kNaN);
  kernels::cpu::per_sample_stats(x.data(), y.data(), n, c, el2n.data(), loss.data(), correct.data(), margin.data(),
                                 entropy.data());
  const char* names[] = {"el2n", "loss", "correct", "margin", "entropy"};
  for (int64_t i = 0; i < n; ++i) {
    const std::vector<double> want = ref_row_stats(x.data() + i * c, c, y[i]);
    const float got[] = {el2n[i], loss[i], correct[i], margin[i], entropy[i]};
    for (int j = 0; j < 5; ++j) {
      CAPTURE(i);
      CAPTURE(names[j]);
      CAPTURE(got[j]);
      CAPTURE(want[j]);
      CHECK(std::abs(got[j] - want[j]) <= 1e-5 * (std::abs(want[j]) + floor));
    }
  }
}
}  // namespace

TEST_CASE("per_sample_stats keeps relative accuracy on nearly one-hot rows; C = 1") {
  // Logits [30, 0, ..., 0]: p_0 = 1 - 8.4e-13. The former one-pass formulas lost everything here (p_y - 1 and
  // m + log(s) round away the 1e-12): with y = 0 they gave el2n 2.81e-13 (true 8.88e-13) and loss 0.
  const int64_t c = 10;
  std::vector<float> x(4 * c, 0.f);
  x[0 * c + 0] = 30.f;  // row 0: label 0, correct and confident
  x[1 * c + 0] = 30.f;  // row 1: label 3, confidently wrong
  for (int64_t k = 0; k < c; ++k) x[2 * c + k] = 0.25f * static_cast<float>(k) - 1.f;  // row 2: peak 20 at 7
  x[2 * c + 7] = 20.f;
  for (int64_t k = 0; k < c; ++k) x[3 * c + k] = -25.f;  // row 3: a -inf logit contributes p = 0, not NaN
  x[3 * c + 2] = 0.f;
  x[3 * c + 5] = -std::numeric_limits<float>::infinity();
  check_rows_vs_ref(x, {0, 3, 7, 2}, c);

  // One class: p_y = 1, so el2n = loss = entropy = 0 and margin = p_y = 1.
  check_rows_vs_ref({3.5f, -2.f, 0.f}, {0, 0, 0}, 1);

  // Random rows of several widths against the same reference.
  for (int64_t cc : {2, 10, 33, 100}) {
    CAPTURE(cc);
    std::vector<float> r = random_tensor({20, cc}, 710 + cc, -6.f, 6.f).to_vector();
    std::vector<int64_t> lab(20);
    for (int64_t i = 0; i < 20; ++i) lab[i] = (i * 7) % cc;
    check_rows_vs_ref(r, lab, cc, 1.0);
  }
}
