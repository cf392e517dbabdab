// Shift ops (translate, cutout) against the index_select / mask-multiply composites DSA used before them: bitwise
// values, adjoint identities, first and second order, and whole DSA pipelines on fixed draws.
#include <doctest/doctest.h>
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>
#include "data/augment.h"
#include "engine/autograd.h"
#include "engine/ops.h"
#include "tests/unit/test_util.h"

using namespace yoco;
using test::dot;
using test::random_tensor;
using test::same_bits;
using test::same_values;

namespace {

// ---- the former implementations (data/augment.cpp before the shift ops), kept here as references ----

// Gather from [x.flat, 0] with an N*C*H*W index built on the host; out-of-image positions read the appended 0.
Tensor old_translate(const Tensor& x, const std::vector<int64_t>& shift_h, const std::vector<int64_t>& shift_w) {
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3), total = x.numel();
  std::vector<int64_t> idx(total);
  for (int64_t s = 0; s < n; ++s)
    for (int64_t k = 0; k < c; ++k)
      for (int64_t i = 0; i < h; ++i)
        for (int64_t j = 0; j < w; ++j) {
          const int64_t si = i + shift_h[s], sj = j + shift_w[s];
          const bool inside = si >= 0 && si < h && sj >= 0 && sj < w;
          idx[((s * c + k) * h + i) * w + j] = inside ? ((s * c + k) * h + si) * w + sj : total;
        }
  Tensor flat = concat({reshape(x, {total}), zeros({1}, DType::F32, x.device())}, 0);
  Tensor out = index_select(flat, 0, from_int_vector(idx, {total}, x.device()));
  return reshape(out, x.shape());
}

// x * mask with mask [N,1,H,W] zero inside each sample's (h0, h1, w0, w1) box.
Tensor old_cutout_boxes(const Tensor& x, const std::vector<int64_t>& boxes) {
  const int64_t n = x.size(0), h = x.size(2), w = x.size(3);
  std::vector<float> mask(n * h * w, 1.f);
  for (int64_t s = 0; s < n; ++s)
    for (int64_t i = boxes[s * 4]; i < boxes[s * 4 + 1]; ++i)
      for (int64_t j = boxes[s * 4 + 2]; j < boxes[s * 4 + 3]; ++j) mask[(s * h + i) * w + j] = 0.f;
  return mul(x, from_vector(mask, {n, 1, h, w}, x.device()));
}

// The former cutout_op: IDC's box around the drawn centre, clamped into the image.
Tensor old_cutout(const Tensor& x, const data::DsaDraw& d, float ratio) {
  const int64_t n = x.size(0), h = x.size(2), w = x.size(3);
  const int64_t ch = static_cast<int64_t>(h * ratio + 0.5f), cw = static_cast<int64_t>(w * ratio + 0.5f);
  std::vector<int64_t> boxes;
  for (int64_t s = 0; s < n; ++s)
    boxes.insert(boxes.end(), {std::max<int64_t>(d.cutout_h[s] - ch / 2, 0), std::min(d.cutout_h[s] - ch / 2 + ch, h),
                               std::max<int64_t>(d.cutout_w[s] - cw / 2, 0), std::min(d.cutout_w[s] - cw / 2 + cw, w)});
  return old_cutout_boxes(x, boxes);
}

// The whole former Dsa::apply: the unchanged stages (flip, colour, scale/rotate) through the current Dsa with a
// strategy of only those tokens, then the old translate and cutout.
Tensor old_dsa(const std::string& strategy, const Tensor& x, const data::DsaDraw& d) {
  const bool has_flip = strategy.find("flip") != std::string::npos;
  const bool has_color = strategy.find("color") != std::string::npos;
  const bool has_cutout = strategy.find("cutout") != std::string::npos;
  const std::string pre = std::string(has_flip ? "flip_" : "") + (has_color ? "color" : "");
  const bool shifted = d.single_op == "crop" || d.single_op == "translate";
  data::DsaDraw dp = d;
  if (shifted) dp.single_op.clear();
  Tensor y = data::Dsa(pre, false).apply(x, dp);
  if (shifted) y = old_translate(y, d.shift_h, d.shift_w);
  if (has_cutout) y = old_cutout(y, d, data::DsaParams{}.ratio_cutout);
  return y;
}

// Comparisons: test::same_bits, and test::same_values where the old gradients came from index_add onto zeros
// (0 + (-0) = +0) and the new ones copy the -0.

Tensor shifts_of(const std::vector<int64_t>& sh, const std::vector<int64_t>& sw) {
  std::vector<int64_t> v;
  for (size_t i = 0; i < sh.size(); ++i) v.insert(v.end(), {sh[i], sw[i]});
  return from_int_vector(v, {static_cast<int64_t>(sh.size()), 2});
}

std::vector<int64_t> negated(std::vector<int64_t> v) {
  for (int64_t& e : v) e = -e;
  return v;
}

struct ShiftCase {
  Shape shape;
  std::vector<int64_t> sh, sw;
};

// Shifts beyond the image, exactly the image size, negative, zero; H != W; N = 1.
std::vector<ShiftCase> shift_cases() {
  return {
      {{3, 2, 5, 7}, {1, -2, 0}, {-3, 0, 6}},
      {{2, 3, 6, 4}, {6, -6}, {0, 4}},
      {{4, 1, 8, 8}, {9, -100, 3, 0}, {0, 2, -9, 0}},
      {{1, 3, 4, 9}, {-1}, {5}},
      {{1, 1, 1, 1}, {0}, {0}},
      {{2, 2, 3, 11}, {-3, 2}, {-11, 10}},
  };
}

}  // namespace

TEST_CASE("translate equals the former index_select composite bitwise (both signs, shifts beyond the image)") {
  uint64_t stream = 100;
  for (const ShiftCase& c : shift_cases()) {
    CAPTURE(shape_str(c.shape));
    Tensor x = random_tensor(c.shape, ++stream);
    CHECK(same_bits(translate(x, shifts_of(c.sh, c.sw)), old_translate(x, c.sh, c.sw)));
    CHECK(same_bits(translate(x, shifts_of(c.sh, c.sw), true), old_translate(x, negated(c.sh), negated(c.sw))));
    CHECK(same_bits(data::translate(x, c.sh, c.sw), old_translate(x, c.sh, c.sw)));
  }
  // Non-finite values are copied (a pure gather), never mixed into other pixels.
  Tensor x = from_vector({std::numeric_limits<float>::infinity(), -0.f, std::nanf(""), 2.f}, {1, 1, 2, 2});
  CHECK(same_bits(translate(x, shifts_of({0}, {1})), old_translate(x, {0}, {1})));
  CHECK(same_bits(translate(x, shifts_of({-1}, {0})), old_translate(x, {-1}, {0})));
}

TEST_CASE("translate: huge shifts give zeros without overflow; bad arguments are refused") {
  Tensor x = random_tensor({2, 2, 3, 5}, 200, 0.5f, 1.f);
  const int64_t big = std::numeric_limits<int64_t>::max(), small = std::numeric_limits<int64_t>::min();
  for (bool inv : {false, true}) {
    Tensor y = translate(x, from_int_vector({big, 0, 0, small}, {2, 2}), inv);
    for (float v : y.to_vector()) CHECK(v == 0.f);
    y = translate(x, from_int_vector({small, big, 3, -5}, {2, 2}), inv);
    for (float v : y.to_vector()) CHECK(v == 0.f);
  }
  CHECK(test::contains(test::error_of([&] { translate(x, from_int_vector({1, 2}, {1, 2})); }), "translate"));
  CHECK_THROWS_AS(translate(x, from_vector({1, 2, 3, 4}, {2, 2})), Error);
  CHECK_THROWS_AS(translate(reshape(x, {2, 2, 15}), from_int_vector({1, 2, 3, 4}, {2, 2})), Error);
  CHECK_THROWS_AS(cutout(x, from_int_vector({0, 1, 0, 1}, {1, 4})), Error);
  CHECK(test::contains(test::error_of([&] { cutout(x, from_int_vector({0, 1, 0, 1, 0, 1}, {2, 3})); }), "cutout"));
}

TEST_CASE("cutout equals the former mask multiply bitwise (signed zeros included)") {
  struct C {
    Shape shape;
    std::vector<int64_t> boxes;
  };
  // Partial, empty (h0 == h1), whole-image, single-pixel and inverted (h1 < h0: nothing) boxes.
  for (const C& c : {C{{3, 2, 6, 5}, {0, 3, 1, 4, 2, 2, 0, 5, 0, 6, 0, 5}}, C{{1, 3, 4, 9}, {3, 4, 8, 9}},
                     C{{2, 1, 7, 3}, {5, 2, 0, 3, 1, 7, 2, 3}}}) {
    CAPTURE(shape_str(c.shape));
    Tensor x = random_tensor(c.shape, 300);  // about half negative: x * 0 = -0 there
    const Tensor b = from_int_vector(c.boxes, {c.shape[0], 4});
    CHECK(same_bits(cutout(x, b), old_cutout_boxes(x, c.boxes)));
  }
  // inf and NaN inside the box become NaN, as the mask multiply made them; outside they pass unchanged.
  const float inf = std::numeric_limits<float>::infinity();
  Tensor x = from_vector({inf, -inf, std::nanf(""), -3.f, inf, 1.f}, {1, 1, 2, 3});
  std::vector<float> y = cutout(x, from_int_vector({0, 1, 0, 3}, {1, 4})).to_vector();
  for (int k = 0; k < 3; ++k) CHECK(std::isnan(y[k]));
  CHECK(y[3] == -3.f);  // row 1, outside the box
  CHECK(y[4] == inf);
}

TEST_CASE("translate and cutout: adjoint identities, and grad() is the adjoint") {
  const Shape s{3, 2, 6, 7};
  const std::vector<int64_t> sh{2, -7, 0}, sw{-1, 3, 8};
  Tensor x = random_tensor(s, 400), g = random_tensor(s, 401);
  const Tensor d = shifts_of(sh, sw);
  // Products of floats are exact in double; only the order of the two double sums differs.
  const double lhs = dot(translate(x, d), g), rhs = dot(x, translate(g, d, true));
  CHECK(std::abs(lhs - rhs) <= 1e-12 * std::abs(lhs));
  CHECK(std::abs(lhs) > 1e-3);
  Tensor xl = test::leaf(x.clone());
  CHECK(same_bits(grad({sum(mul(translate(xl, d), g))}, {xl})[0], translate(g, d, true)));
  CHECK(same_bits(grad({sum(mul(translate(xl, d, true), g))}, {xl})[0], translate(g, d)));
  const Tensor b = from_int_vector({1, 4, 0, 3, 0, 6, 5, 7, 2, 2, 0, 7}, {3, 4});
  CHECK(dot(cutout(x, b), g) == doctest::Approx(dot(x, cutout(g, b))).epsilon(1e-12));
  CHECK(same_bits(grad({sum(mul(cutout(xl, b), g))}, {xl})[0], cutout(g, b)));
}

TEST_CASE("translate and cutout: second order through recorded backwards equals the former composites") {
  const Shape s{2, 3, 5, 6};
  const std::vector<int64_t> sh{1, -3}, sw{-2, 7};
  const std::vector<int64_t> boxes{0, 2, 1, 5, 3, 5, 0, 6};
  const Tensor d = shifts_of(sh, sw), b = from_int_vector(boxes, {2, 4});
  Tensor r = random_tensor(s, 500), v = random_tensor(s, 501), x0 = random_tensor(s, 502);
  // f(x) = sum(cutout(T(x))^2 * r): its gradient goes through both backwards, and <grad f, v> again.
  auto run = [&](bool old) {
    Tensor x = test::leaf(x0.clone());
    Tensor t = old ? old_cutout_boxes(old_translate(x, sh, sw), boxes) : cutout(translate(x, d), b);
    Tensor gx = grad({sum(mul(mul(t, t), r))}, {x}, {}, /*create_graph=*/true)[0];
    Tensor gg = grad({sum(mul(gx, v))}, {x})[0];
    return std::vector<Tensor>{t, gx, gg};
  };
  const std::vector<Tensor> a = run(false), o = run(true);
  CHECK(same_bits(a[0], o[0]));
  CHECK(same_values(a[1], o[1]));
  CHECK(same_values(a[2], o[2]));
  CHECK(dot(a[2], a[2]) > 1e-3);  // not vacuous: the second derivative is nonzero
}

TEST_CASE("Dsa with the shift ops gives bitwise the former outputs and gradients on fixed draws") {
  const uint64_t seed = 20240611;
  for (const char* strategy : {"color_crop_flip_scale_rotate", "color_crop_cutout", "translate"})
    for (bool batch : {false, true}) {
      CAPTURE(strategy);
      CAPTURE(batch);
      const data::Dsa aug(strategy, batch);
      int shifted = 0;
      for (uint64_t id = 0; id < 8; ++id) {
        CAPTURE(id);
        Tensor x = random_tensor({5, 3, 16, 12}, 600 + id, 0.f, 1.f);
        const data::DsaDraw d = aug.draw(5, 16, 12, seed, id);
        shifted += d.single_op == "crop" || d.single_op == "translate";
        CHECK(same_bits(aug(x, seed, id), old_dsa(strategy, x, d)));
        // First order through the whole pipeline (what condensation differentiates).
        Tensor r = random_tensor({5, 3, 16, 12}, 700 + id);
        Tensor xa = test::leaf(x.clone()), xb = test::leaf(x.clone());
        CHECK(same_values(grad({sum(mul(aug.apply(xa, d), r))}, {xa})[0],
                          grad({sum(mul(old_dsa(strategy, xb, d), r))}, {xb})[0]));
      }
      CHECK(shifted >= 2);  // the shift path ran, not only scale/rotate
    }
}
