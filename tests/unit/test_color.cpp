// dsa_color (DSA flip + brightness + saturation + contrast in one op) against the composed engine ops DSA used
// before it (forward, first and second order), its structure (left-out parts bit-exact, the adjoint is the
// transpose, grad() is the adjoint) and the Dsa pipeline on fixed draws.
#include <doctest/doctest.h>
#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>
#include "data/augment.h"
#include "engine/autograd.h"
#include "engine/ops.h"
#include "tests/unit/test_util.h"

using namespace yoco;
using test::random_tensor;
using test::rel_err;
using test::same_bits;
using test::same_values;

namespace {

// Norm-wise relative agreement of the fused op with the composition: both round in float32, in other orders.
constexpr double kTol = 1e-6;

// ---- the former implementation (data/augment.cpp before dsa_color), kept here as the reference ----

bool all_equal(const std::vector<float>& v) {
  return std::all_of(v.begin(), v.end(), [&](float a) { return a == v[0]; });
}
Tensor per_sample(const std::vector<float>& v, Device d) {
  return from_vector(v, {static_cast<int64_t>(v.size()), 1, 1, 1}, d);
}
Tensor scale_per_sample(const Tensor& x, const std::vector<float>& v) {
  return all_equal(v) ? mul_scalar(x, v[0]) : mul(x, per_sample(v, x.device()));
}
Tensor shift_per_sample(const Tensor& x, const std::vector<float>& v) {
  return all_equal(v) ? add_scalar(x, v[0]) : add(x, per_sample(v, x.device()));
}
Tensor old_flip(const Tensor& x, const std::vector<float>& flip) {
  if (all_equal(flip)) return flip[0] != 0.f ? yoco::flip(x, 3) : x;
  std::vector<float> keep(flip.size()), flipped(flip.size());
  for (size_t i = 0; i < flip.size(); ++i) keep[i] = flip[i] != 0.f ? 0.f : 1.f, flipped[i] = 1.f - keep[i];
  return add(mul(x, per_sample(keep, x.device())), mul(yoco::flip(x, 3), per_sample(flipped, x.device())));
}
Tensor around_mean(const Tensor& x, const std::vector<int64_t>& dims, const std::vector<float>& factor) {
  Tensor m = mean(x, dims, true);
  return add(scale_per_sample(sub(x, m), factor), m);
}

// Per-sample parameter columns (flip, brightness, saturation, contrast).
struct Params {
  std::vector<float> flip, b, s, c;
  Tensor tensor(Device d = Device::CPU) const {
    std::vector<float> rows;
    for (size_t i = 0; i < flip.size(); ++i) rows.insert(rows.end(), {flip[i], b[i], s[i], c[i]});
    return from_vector(rows, {static_cast<int64_t>(flip.size()), 4}, d);
  }
};

Tensor old_dsa_color(const Tensor& x, const Params& p, int ops) {
  Tensor y = x;
  if (ops & kDsaFlip) y = old_flip(y, p.flip);
  if (ops & kDsaColor) {
    y = shift_per_sample(y, p.b);
    y = around_mean(y, {1}, p.s);
    y = around_mean(y, {1, 2, 3}, p.c);
  }
  return y;
}

// ---- helpers ----

// Parameters in IDC's ranges (brightness [-0.5, 0.5), saturation [0, 2), contrast [0.5, 1.5)), flips mixed.
Params random_params(int64_t n, uint64_t stream) {
  const std::vector<float> u = random_tensor({n, 4}, stream, 0.f, 1.f).to_vector();
  Params p;
  for (int64_t i = 0; i < n; ++i) {
    p.flip.push_back(i % 2 == 0 || u[i * 4] < 0.5f ? 1.f : 0.f);
    p.b.push_back(u[i * 4 + 1] - 0.5f);
    p.s.push_back(u[i * 4 + 2] * 2.f);
    p.c.push_back(u[i * 4 + 3] + 0.5f);
  }
  if (n > 1) p.flip[1] = 0.f;  // at least one of each
  return p;
}

// Every row the same (what batch-mode draws give; the composition then used scalar ops).
Params shared_params(int64_t n) {
  Params p;
  p.flip.assign(n, 1.f), p.b.assign(n, 0.3f), p.s.assign(n, 1.7f), p.c.assign(n, 0.6f);
  return p;
}

// y, d<y*y, r>/dx and d<that, v>/dx of f on a fresh leaf copy of x0.
std::vector<Tensor> orders(const std::function<Tensor(const Tensor&)>& f, const Tensor& x0, const Tensor& r,
                           const Tensor& v) {
  Tensor x = test::leaf(x0.clone());
  Tensor y = f(x);
  Tensor gx = grad({sum(mul(mul(y, y), r))}, {x}, {}, /*create_graph=*/true)[0];
  Tensor gg = grad({sum(mul(gx, v))}, {x})[0];
  return {y, gx, gg};
}

const char* ops_name(int ops) { return ops == kDsaFlip ? "flip" : ops == kDsaColor ? "color" : "flip+color"; }

}  // namespace

TEST_CASE("dsa_color equals the former composition of engine ops to first and second order") {
  // C = 1 (saturation does nothing), 3, 4; H != W; N = 1; a sample above the CPU's OpenMP threshold.
  const std::vector<Shape> shapes{{3, 3, 6, 9}, {2, 1, 5, 7}, {1, 4, 8, 3}, {4, 3, 64, 96}};
  uint64_t stream = 1000;
  for (const Shape& s : shapes)
    for (bool shared : {false, true})
      for (int ops : {kDsaFlip, kDsaColor, kDsaFlip | kDsaColor}) {
        CAPTURE(shape_str(s));
        CAPTURE(shared);
        CAPTURE(ops_name(ops));
        const Params p = shared ? shared_params(s[0]) : random_params(s[0], stream += 10);
        const Tensor pt = p.tensor();
        const Tensor x = random_tensor(s, stream + 1), r = random_tensor(s, stream + 2);
        const Tensor v = random_tensor(s, stream + 3);
        const std::vector<Tensor> a = orders([&](const Tensor& t) { return dsa_color(t, pt, ops); }, x, r, v);
        const std::vector<Tensor> o = orders([&](const Tensor& t) { return old_dsa_color(t, p, ops); }, x, r, v);
        if (ops == kDsaFlip) {  // a gather either way: the same numbers
          CHECK(same_values(a[0], o[0]));
          CHECK(same_values(a[1], o[1]));
          CHECK(same_values(a[2], o[2]));
        } else {
          CHECK(rel_err(a[0], o[0]) <= kTol);
          CHECK(rel_err(a[1], o[1]) <= kTol);
          CHECK(rel_err(a[2], o[2]) <= kTol);
        }
        CHECK(test::dot(a[2], a[2]) > 1e-3);  // not vacuous: the second derivative is nonzero
      }
}

TEST_CASE("dsa_color: a part left out is bit-exact, in both modes") {
  const Shape s{4, 3, 7, 10};
  const Params p = random_params(4, 2000);
  Params unflipped = p;
  unflipped.flip.assign(4, 0.f);
  const Tensor pt = p.tensor(), x = random_tensor(s, 2001);
  for (DsaMode m : {DsaMode::forward, DsaMode::adjoint, DsaMode::linear}) {
    CAPTURE(static_cast<int>(m));
    // Flip alone is a pure gather; colour alone ignores the flip column; nothing at all is a copy.
    CHECK(same_bits(dsa_color(x, pt, kDsaFlip, m), old_flip(x, p.flip)));
    CHECK(same_bits(dsa_color(x, pt, kDsaColor, m), dsa_color(x, unflipped.tensor(), kDsaColor, m)));
    CHECK(same_bits(dsa_color(x, pt, 0, m), x));
    // Flip + colour is colour on the flipped input, sums in the same order included.
    CHECK(same_bits(dsa_color(x, pt, kDsaFlip | kDsaColor, m), dsa_color(old_flip(x, p.flip), pt, kDsaColor, m)));
  }
  // Not vacuous: the flips and the colour change the image.
  CHECK(!same_bits(dsa_color(x, pt, kDsaFlip), x));
  CHECK(rel_err(dsa_color(x, pt, kDsaColor), x) > 0.1);
}

TEST_CASE("dsa_color: forward = linear + brightness, adjoint = transpose, grad() is the adjoint") {
  // The linear part as a dense matrix, column by column from basis images, in both orders.
  const Shape s{2, 3, 3, 4};
  const int64_t total = 72;
  const Params p = random_params(2, 3000);
  const Tensor pt = p.tensor();
  const int ops = kDsaFlip | kDsaColor;
  std::vector<std::vector<float>> a(total), at(total);  // a[j] = A e_j, at[j] = A^T e_j
  for (int64_t j = 0; j < total; ++j) {
    std::vector<float> e(total, 0.f);
    e[j] = 1.f;
    a[j] = dsa_color(from_vector(e, s), pt, ops, DsaMode::linear).to_vector();
    at[j] = dsa_color(from_vector(e, s), pt, ops, DsaMode::adjoint).to_vector();
  }
  double worst = 0.0, biggest = 0.0;
  for (int64_t i = 0; i < total; ++i)
    for (int64_t j = 0; j < total; ++j) {
      worst = std::max(worst, std::fabs(static_cast<double>(at[j][i]) - a[i][j]));  // (A^T)_{ij} vs A_{ji}
      biggest = std::max(biggest, std::fabs(static_cast<double>(a[i][j])));
      if (i / 36 != j / 36) CHECK(a[j][i] == 0.f);  // samples never mix
    }
  CHECK(worst <= 1e-6);  // entries of size <= ~3: a few float roundings each
  // Not vacuous: a diagonal entry is c (1 + 2s) / 3 + (1 - c) / 36 >= 0.5 / 3 - 0.5 / 36 > 0.15 for any draw in
  // IDC's ranges (s in [0, 2), c in [0.5, 1.5)), so a map that lost its identity part fails here.
  CHECK(biggest > 0.15);
  // forward(x) = A x + brightness: the brightness passes through saturation and contrast unchanged.
  const Tensor x = random_tensor(s, 3001);
  const std::vector<float> f = dsa_color(x, pt, ops).to_vector();
  const std::vector<float> l = dsa_color(x, pt, ops, DsaMode::linear).to_vector();
  double off = 0.0;
  for (int64_t i = 0; i < total; ++i) off = std::max(off, std::fabs(static_cast<double>(f[i]) - l[i] - p.b[i / 36]));
  CHECK(off <= 1e-5);
  // Backwards: forward and linear -> adjoint, adjoint -> linear, bit for bit (the incoming gradient is g * 1).
  const Tensor g = random_tensor(s, 3002);
  for (DsaMode m : {DsaMode::forward, DsaMode::adjoint, DsaMode::linear}) {
    CAPTURE(static_cast<int>(m));
    Tensor xl = test::leaf(x.clone());
    const DsaMode back = m == DsaMode::adjoint ? DsaMode::linear : DsaMode::adjoint;
    CHECK(same_bits(grad({sum(mul(dsa_color(xl, pt, ops, m), g))}, {xl})[0], dsa_color(g, pt, ops, back)));
  }
}

TEST_CASE("dsa_color refuses bad arguments and accepts empty images") {
  const Tensor x = random_tensor({2, 3, 4, 5}, 4000), p = shared_params(2).tensor();
  CHECK(test::contains(test::error_of([&] { dsa_color(x, shared_params(3).tensor(), kDsaColor); }), "dsa_color"));
  CHECK_THROWS_AS(dsa_color(x, reshape(p, {8}), kDsaColor), Error);
  CHECK_THROWS_AS(dsa_color(x, from_int_vector({1, 0, 1, 1, 0, 0, 1, 1}, {2, 4}), kDsaColor), Error);
  CHECK_THROWS_AS(dsa_color(reshape(x, {2, 3, 20}), p, kDsaColor), Error);
  CHECK_THROWS_AS(dsa_color(x, p, 4), Error);
  CHECK_THROWS_AS(dsa_color(x, p, -1), Error);
  CHECK(dsa_color(zeros({2, 3, 0, 5}), p, kDsaFlip | kDsaColor).shape() == Shape{2, 3, 0, 5});
}

TEST_CASE("Dsa flip and colour on fixed draws equal the former composition (per-sample and batch draws)") {
  const uint64_t seed = 777;
  const data::DsaParams dp;
  for (const char* strategy : {"flip", "color", "color_flip"})
    for (bool batch : {false, true}) {
      CAPTURE(strategy);
      CAPTURE(batch);
      const data::Dsa aug(strategy, batch);
      const std::string st = strategy;
      const int ops = (st.find("flip") != std::string::npos ? kDsaFlip : 0) |
                      (st.find("color") != std::string::npos ? kDsaColor : 0);
      for (uint64_t id = 0; id < 4; ++id) {
        CAPTURE(id);
        const data::DsaDraw d = aug.draw(6, 10, 8, seed, id);
        Params p;  // the former Dsa::apply's factors from the raw draws
        for (int64_t i = 0; i < 6; ++i) {
          p.flip.push_back(ops & kDsaFlip ? static_cast<float>(d.flip[i]) : 0.f);
          p.b.push_back(ops & kDsaColor ? (d.brightness[i] - 0.5f) * dp.brightness : 0.f);
          p.s.push_back(ops & kDsaColor ? d.saturation[i] * dp.saturation : 0.f);
          p.c.push_back(ops & kDsaColor ? d.contrast[i] + dp.contrast : 0.f);
        }
        const Tensor x = random_tensor({6, 3, 10, 8}, 5000 + id, 0.f, 1.f);
        const Tensor r = random_tensor({6, 3, 10, 8}, 5100 + id);
        Tensor xa = test::leaf(x.clone()), xb = test::leaf(x.clone());
        Tensor ya = aug.apply(xa, d), yb = old_dsa_color(xb, p, ops);
        Tensor ga = grad({sum(mul(ya, r))}, {xa})[0], gb = grad({sum(mul(yb, r))}, {xb})[0];
        if (ops == kDsaFlip) {
          CHECK(same_values(ya, yb));
          CHECK(same_values(ga, gb));
        } else {
          CHECK(rel_err(ya, yb) <= kTol);
          CHECK(rel_err(ga, gb) <= kTol);
        }
      }
    }
}
