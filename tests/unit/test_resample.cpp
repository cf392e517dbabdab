// Resampling ops: bilinear/nearest resize and grid sampling values (hand cases and naive double references
// of PyTorch's align_corners=False formulas), adjoint identities, autograd wiring, raw-kernel poisoning.
#include <doctest/doctest.h>
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <vector>
#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/resample_extra.h"
#include "kernels/resample.h"
#include "tests/unit/test_util.h"

using namespace yoco;
using test::random_tensor;
using test::rel_err;

namespace {

const float kNaN = std::numeric_limits<float>::quiet_NaN();
// Float32 results of O(1) inputs combined with at most 4 weights: 1e-6 relative is a few ulps.
constexpr double kValTol = 1e-6;
// Adjoint identities compare two float32 sums over hundreds of terms computed in different orders.
constexpr double kAdjTol = 1e-5;

using test::dot;

Tensor arange_image(int64_t h, int64_t w) {
  std::vector<float> v(h * w);
  for (int64_t i = 0; i < h * w; ++i) v[i] = static_cast<float>(i);
  return from_vector(v, {1, 1, h, w});
}

// PyTorch's bilinear (align_corners=False) written independently in double: per axis, source
// s = max(0, (d + 0.5) * in / out - 0.5), i0 = min(floor(s), in - 1), i1 = min(i0 + 1, in - 1).
void axis_weights(int64_t d, int64_t in, int64_t out, int64_t* i0, int64_t* i1, double* l1) {
  if (in == out) {
    *i0 = *i1 = d;
    *l1 = 0;
    return;
  }
  double s = std::max(0.0, (d + 0.5) * static_cast<double>(in) / out - 0.5);
  *i0 = std::min<int64_t>(static_cast<int64_t>(std::floor(s)), in - 1);
  *i1 = std::min<int64_t>(*i0 + 1, in - 1);
  *l1 = std::min(1.0, std::max(0.0, s - *i0));
}

std::vector<float> resize_ref(const Tensor& x, int64_t oh, int64_t ow) {
  const int64_t p = x.size(0) * x.size(1), ih = x.size(2), iw = x.size(3);
  std::vector<float> xv = x.to_vector(), out(p * oh * ow);
  for (int64_t q = 0; q < p; ++q)
    for (int64_t i = 0; i < oh; ++i)
      for (int64_t j = 0; j < ow; ++j) {
        int64_t y0, y1, x0, x1;
        double ly, lx;
        axis_weights(i, ih, oh, &y0, &y1, &ly);
        axis_weights(j, iw, ow, &x0, &x1, &lx);
        auto at = [&](int64_t r, int64_t c) { return static_cast<double>(xv[(q * ih + r) * iw + c]); };
        out[(q * oh + i) * ow + j] = static_cast<float>((1 - ly) * ((1 - lx) * at(y0, x0) + lx * at(y0, x1)) +
                                                        ly * ((1 - lx) * at(y1, x0) + lx * at(y1, x1)));
      }
  return out;
}

// Naive grid_sample (bilinear, zeros padding, align_corners=False) in double.
std::vector<float> grid_sample_ref(const Tensor& x, const Tensor& grid) {
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3), oh = grid.size(1), ow = grid.size(2);
  std::vector<float> xv = x.to_vector(), gv = grid.to_vector(), out(n * c * oh * ow);
  for (int64_t b = 0; b < n; ++b)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t k = 0; k < oh * ow; ++k) {
        const double ix = ((gv[(b * oh * ow + k) * 2] + 1.0) * w - 1.0) / 2.0;
        const double iy = ((gv[(b * oh * ow + k) * 2 + 1] + 1.0) * h - 1.0) / 2.0;
        const double fx = std::floor(ix), fy = std::floor(iy);
        double v = 0;
        for (int dy = 0; dy < 2; ++dy)
          for (int dx = 0; dx < 2; ++dx) {
            const int64_t xx = static_cast<int64_t>(fx) + dx, yy = static_cast<int64_t>(fy) + dy;
            if (xx < 0 || xx >= w || yy < 0 || yy >= h) continue;
            const double wt = (dx ? ix - fx : 1 - (ix - fx)) * (dy ? iy - fy : 1 - (iy - fy));
            v += wt * xv[((b * c + ch) * h + yy) * w + xx];
          }
        out[(b * c + ch) * oh * ow + k] = static_cast<float>(v);
      }
  return out;
}

Tensor theta_of(const std::vector<float>& rows) { return from_vector(rows, {static_cast<int64_t>(rows.size() / 6), 2, 3}); }

}  // namespace

TEST_CASE("resize_bilinear hand cases: 2x2 -> 4x4 and 4x4 -> 2x2") {
  Tensor x = from_vector({1, 2, 3, 4}, {1, 1, 2, 2});
  // PyTorch: F.interpolate(x, (4, 4), mode='bilinear', align_corners=False).
  std::vector<float> up = {1.00f, 1.25f, 1.75f, 2.00f, 1.50f, 1.75f, 2.25f, 2.50f,
                           2.50f, 2.75f, 3.25f, 3.50f, 3.00f, 3.25f, 3.75f, 4.00f};
  CHECK(rel_err(resize_bilinear(x, 4, 4).to_vector(), up) < kValTol);
  // 4x4 -> 2x2: sources 0.5 and 2.5, i.e. 2x2 block averages of arange(16).
  CHECK(rel_err(resize_bilinear(arange_image(4, 4), 2, 2).to_vector(), {2.5f, 4.5f, 10.5f, 12.5f}) < kValTol);
  // Same size is the identity; 1-wide inputs replicate.
  Tensor r = random_tensor({2, 3, 3, 5}, 10);
  CHECK(resize_bilinear(r, 3, 5).to_vector() == r.to_vector());
  CHECK(rel_err(resize_bilinear(from_vector({7}, {1, 1, 1, 1}), 2, 3).to_vector(), std::vector<float>(6, 7.f)) <
        kValTol);
}

TEST_CASE("resize_bilinear 28x28 <-> 14x14 and odd ratios match the reference formula") {
  Tensor x = random_tensor({2, 3, 28, 28}, 20);
  Tensor down = resize_bilinear(x, 14, 14);
  // An exact factor-2 downscale samples at 2d + 0.5: the 2x2 block average.
  std::vector<float> xv = x.to_vector(), pool(2 * 3 * 14 * 14);
  for (int64_t p = 0; p < 6; ++p)
    for (int64_t i = 0; i < 14; ++i)
      for (int64_t j = 0; j < 14; ++j) {
        auto at = [&](int64_t r, int64_t c) { return xv[(p * 28 + r) * 28 + c]; };
        pool[(p * 14 + i) * 14 + j] =
            0.25f * (at(2 * i, 2 * j) + at(2 * i, 2 * j + 1) + at(2 * i + 1, 2 * j) + at(2 * i + 1, 2 * j + 1));
      }
  CHECK(rel_err(down.to_vector(), pool) < kValTol);
  for (auto [ih, iw, oh, ow] : std::vector<std::array<int64_t, 4>>{{14, 14, 28, 28}, {5, 7, 3, 4}, {3, 4, 8, 9}, {6, 6, 5, 10}}) {
    CAPTURE(ih);
    CAPTURE(oh);
    Tensor xi = random_tensor({2, 2, ih, iw}, 21 + ih);
    CHECK(rel_err(resize_bilinear(xi, oh, ow).to_vector(), resize_ref(xi, oh, ow)) < kValTol);
  }
}

TEST_CASE("resize_bilinear adjoint identity, autograd wiring and raw-kernel poisoning") {
  uint64_t stream = 30;
  for (auto [ih, iw, oh, ow] : std::vector<std::array<int64_t, 4>>{{5, 7, 3, 4}, {4, 4, 9, 6}, {28, 28, 14, 14}}) {
    Tensor x = random_tensor({2, 3, ih, iw}, stream++);
    Tensor y = random_tensor({2, 3, oh, ow}, stream++);
    const double lhs = dot(resize_bilinear(x, oh, ow), y), rhs = dot(x, resize_bilinear_adjoint(y, x.shape()));
    CHECK(std::abs(lhs - rhs) <= kAdjTol * std::max(1.0, std::abs(lhs)));
  }
  Tensor x = random_tensor({1, 2, 5, 6}, 40);
  x.set_requires_grad(true);
  Tensor v = random_tensor({1, 2, 3, 4}, 41);
  CHECK(rel_err(grad({sum(mul(resize_bilinear(x, 3, 4), v))}, {x})[0], resize_bilinear_adjoint(v, x.shape())) < 1e-7);
  Tensor g = random_tensor({1, 2, 3, 4}, 42);
  g.set_requires_grad(true);
  Tensor w = random_tensor({1, 2, 5, 6}, 43);
  CHECK(rel_err(grad({sum(mul(resize_bilinear_adjoint(g, x.shape()), w))}, {g})[0], resize_bilinear(w, 3, 4)) < 1e-7);
  // Second order through the adjoint: d/dx <d/dx sum(R(x)^2 / 2), w> = <R w, R .> -> R^T R w.
  Tensor gx = grad({mul_scalar(sum(mul(resize_bilinear(x, 3, 4), resize_bilinear(x, 3, 4))), 0.5f)}, {x}, {}, true)[0];
  Tensor gg = grad({sum(mul(gx, w))}, {x})[0];
  CHECK(rel_err(gg, resize_bilinear_adjoint(resize_bilinear(w, 3, 4), x.shape())) < 1e-6);
  // Raw kernels overwrite poisoned outputs (the adjoint must zero before it accumulates).
  std::vector<float> out(2 * 3 * 4, kNaN), adj(2 * 5 * 6, kNaN);
  kernels::cpu::resize_bilinear(w.data<float>(), out.data(), 2, 5, 6, 3, 4);
  CHECK(rel_err(out, resize_ref(w, 3, 4)) < kValTol);
  kernels::cpu::resize_bilinear_adjoint(v.data<float>(), adj.data(), 2, 5, 6, 3, 4);
  CHECK(rel_err(adj, resize_bilinear_adjoint(v, x.shape()).to_vector()) == 0.0);
  CHECK_THROWS_AS(resize_bilinear(zeros({2, 5, 6}), 3, 4), Error);
  CHECK_THROWS_AS(resize_bilinear(zeros({1, 1, 5, 6}), 0, 4), Error);
  CHECK_THROWS_AS(resize_bilinear_adjoint(zeros({1, 2, 3, 4}), {2, 2, 5, 6}), Error);
}

TEST_CASE("resize_nearest follows PyTorch's floor(dst * in / out)") {
  Tensor x = from_vector({1, 2, 3, 4}, {1, 1, 2, 2});
  CHECK(resize_nearest(x, 4, 4).to_vector() ==
        std::vector<float>{1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4});
  // 4 -> 3 columns: scale 4/3 -> sources 0, 1, 2; 3 -> 5 rows: scale 0.6 -> 0, 0, 1, 1, 2.
  Tensor a = arange_image(3, 4);
  CHECK(resize_nearest(a, 5, 3).to_vector() == std::vector<float>{0, 1, 2, 0, 1, 2, 4, 5, 6, 4, 5, 6, 8, 9, 10});
  std::vector<float> poisoned(15, kNaN);
  kernels::cpu::resize_nearest(a.data<float>(), poisoned.data(), 1, 3, 4, 5, 3);
  CHECK(poisoned == resize_nearest(a, 5, 3).to_vector());
  CHECK_THROWS_AS(resize_nearest(zeros({3, 4}), 2, 2), Error);
}

TEST_CASE("affine_grid base coordinates and identity grid_sample") {
  Tensor grid = affine_grid(theta_of({1, 0, 0, 0, 1, 0}), 2, 4);
  CHECK(grid.shape() == Shape{1, 2, 4, 2});
  // x_j = (2j + 1) / W - 1, y_i = (2i + 1) / H - 1.
  std::vector<float> expect = {-0.75f, -0.5f, -0.25f, -0.5f, 0.25f, -0.5f, 0.75f, -0.5f,
                               -0.75f, 0.5f,  -0.25f, 0.5f,  0.25f, 0.5f,  0.75f, 0.5f};
  CHECK(rel_err(grid.to_vector(), expect) < kValTol);
  Tensor x = random_tensor({2, 3, 7, 5}, 50);
  Tensor id = affine_grid(theta_of({1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0}), 7, 5);
  CHECK(rel_err(grid_sample(x, id), x) < kValTol);
  std::vector<float> poisoned(2 * 7 * 5 * 2, kNaN);
  kernels::cpu::affine_grid(theta_of({1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0}).data<float>(), poisoned.data(), 2, 7, 5);
  CHECK(poisoned == id.to_vector());
  CHECK_THROWS_AS(affine_grid(zeros({1, 3, 2}), 4, 4), Error);
  CHECK_THROWS_AS(affine_grid(zeros({1, 2, 3}), 0, 4), Error);
}

TEST_CASE("grid_sample hand cases: zoom and zero padding") {
  Tensor x = from_vector({1, 2, 3, 4}, {1, 1, 2, 2});
  // Scale 0.5: sample points at pixel coordinates 0.25 and 0.75 of the plane 1 + c + 2r.
  Tensor zoom = grid_sample(x, affine_grid(theta_of({0.5f, 0, 0, 0, 0.5f, 0}), 2, 2));
  CHECK(rel_err(zoom.to_vector(), {1.75f, 2.25f, 2.75f, 3.25f}) < kValTol);
  // Shift by +1 in x: column 0 samples pixel column 1 exactly, column 1 falls outside (zeros).
  Tensor shift = grid_sample(x, affine_grid(theta_of({1, 0, 1, 0, 1, 0}), 2, 2));
  CHECK(rel_err(shift.to_vector(), {2, 0, 4, 0}) < kValTol);
}

TEST_CASE("grid_sample rotation/scale vs naive reference; adjoint identity and autograd") {
  const float a = 0.4f;
  Tensor theta = theta_of({0.9f * std::cos(a), -0.9f * std::sin(a), 0.1f, 0.9f * std::sin(a), 0.9f * std::cos(a), -0.2f,
                           1.3f, 0.2f, 0.0f, -0.1f, 0.7f, 0.3f});
  Tensor x = random_tensor({2, 3, 9, 8}, 60);
  Tensor grid = affine_grid(theta, 6, 11);
  Tensor y = grid_sample(x, grid);
  CHECK(y.shape() == Shape{2, 3, 6, 11});
  CHECK(rel_err(y.to_vector(), grid_sample_ref(x, grid)) < 1e-5);  // float32 vs double source coordinates
  // Random grids well beyond [-1, 1] exercise the zero padding on every side.
  Tensor rg = random_tensor({2, 5, 4, 2}, 61, -1.3f, 1.3f);
  CHECK(rel_err(grid_sample(x, rg).to_vector(), grid_sample_ref(x, rg)) < 1e-5);
  for (const Tensor& gr : {grid, rg}) {
    Tensor v = random_tensor({2, 3, gr.size(1), gr.size(2)}, 62);
    const double lhs = dot(grid_sample(x, gr), v), rhs = dot(x, grid_sample_adjoint(v, gr, x.shape()));
    CHECK(std::abs(lhs - rhs) <= kAdjTol * std::max(1.0, std::abs(lhs)));
  }
  Tensor xl = x.clone();
  xl.set_requires_grad(true);
  Tensor v = random_tensor({2, 3, 6, 11}, 63);
  CHECK(rel_err(grad({sum(mul(grid_sample(xl, grid), v))}, {xl})[0], grid_sample_adjoint(v, grid, x.shape())) < 1e-7);
  Tensor g = v.clone();
  g.set_requires_grad(true);
  CHECK(rel_err(grad({sum(mul(grid_sample_adjoint(g, grid, x.shape()), x))}, {g})[0], grid_sample(x, grid)) < 1e-7);
  // Raw adjoint overwrites a poisoned output.
  std::vector<float> adj(x.numel(), kNaN);
  kernels::cpu::grid_sample_adjoint(v.data<float>(), grid.data<float>(), adj.data(), 2, 3, 9, 8, 6, 11);
  CHECK(rel_err(adj, grid_sample_adjoint(v, grid, x.shape()).to_vector()) == 0.0);
  std::vector<float> out(y.numel(), kNaN);
  kernels::cpu::grid_sample(x.data<float>(), grid.data<float>(), out.data(), 2, 3, 9, 8, 6, 11);
  CHECK(out == y.to_vector());
  CHECK_THROWS_AS(grid_sample(x, zeros({1, 6, 11, 2})), Error);
  CHECK_THROWS_AS(grid_sample(x, zeros({2, 6, 11, 3})), Error);
  CHECK_THROWS_AS(grid_sample_adjoint(v, grid, {2, 3, 9}), Error);
  CHECK_THROWS_AS(grid_sample_adjoint(zeros({2, 3, 5, 5}), grid, x.shape()), Error);
}
