// Data transforms: IDC decode / mix init, DSA ops vs naive references, Siamese draws, CutMix (the gradients of
// decode and of the DSA paths are checked by the op table, tests/ops).
#include <doctest/doctest.h>
#include <algorithm>
#include <cmath>
#include <set>
#include <vector>
#include "data/augment.h"
#include "data/cutmix.h"
#include "data/decode.h"
#include "engine/autograd.h"
#include "engine/ops.h"
#include "tests/unit/test_util.h"

using namespace yoco;
using namespace yoco::data;

namespace {

// Host image [N,C,H,W] in double with index helpers, for the naive references.
struct Img {
  int64_t n, c, h, w;
  std::vector<double> v;
  Img(int64_t n_, int64_t c_, int64_t h_, int64_t w_) : n(n_), c(c_), h(h_), w(w_), v(n_ * c_ * h_ * w_, 0.0) {}
  explicit Img(const Tensor& t) : Img(t.size(0), t.size(1), t.size(2), t.size(3)) {
    auto f = t.to_vector();
    for (size_t i = 0; i < f.size(); ++i) v[i] = f[i];
  }
  double& at(int64_t a, int64_t b, int64_t y, int64_t x) { return v[((a * c + b) * h + y) * w + x]; }
  double get(int64_t a, int64_t b, int64_t y, int64_t x) const {
    return (y < 0 || y >= h || x < 0 || x >= w) ? 0.0 : v[((a * c + b) * h + y) * w + x];
  }
  Tensor tensor() const {
    std::vector<float> f(v.begin(), v.end());
    return from_vector(f, {n, c, h, w});
  }
};

// PyTorch upsample_bilinear2d source coordinate (align_corners=false): clamp below at 0, right tap clamped.
void bilinear_taps(int64_t dst, int64_t in, int64_t out, int64_t* i0, int64_t* i1, double* l1) {
  double src = (dst + 0.5) * (static_cast<double>(in) / out) - 0.5;
  if (src < 0) src = 0;
  *i0 = static_cast<int64_t>(src);
  *i1 = *i0 + (*i0 < in - 1 ? 1 : 0);
  *l1 = src - *i0;
}

Img naive_resize(const Img& x, int64_t oh, int64_t ow) {
  Img o(x.n, x.c, oh, ow);
  for (int64_t a = 0; a < x.n; ++a)
    for (int64_t b = 0; b < x.c; ++b)
      for (int64_t y = 0; y < oh; ++y)
        for (int64_t z = 0; z < ow; ++z) {
          int64_t y0, y1, x0, x1;
          double ly, lx;
          bilinear_taps(y, x.h, oh, &y0, &y1, &ly);
          bilinear_taps(z, x.w, ow, &x0, &x1, &lx);
          o.at(a, b, y, z) = (1 - ly) * ((1 - lx) * x.get(a, b, y0, x0) + lx * x.get(a, b, y0, x1)) +
                             ly * ((1 - lx) * x.get(a, b, y1, x0) + lx * x.get(a, b, y1, x1));
        }
  return o;
}

// affine_grid + grid_sample (bilinear, zeros, align_corners=false) for one theta per sample.
Img naive_affine(const Img& x, const std::vector<double>& theta) {
  Img o(x.n, x.c, x.h, x.w);
  for (int64_t a = 0; a < x.n; ++a) {
    const double* t = &theta[a * 6];
    for (int64_t y = 0; y < x.h; ++y)
      for (int64_t z = 0; z < x.w; ++z) {
        const double bx = (2.0 * z + 1) / x.w - 1, by = (2.0 * y + 1) / x.h - 1;
        const double gx = t[0] * bx + t[1] * by + t[2], gy = t[3] * bx + t[4] * by + t[5];
        const double px = ((gx + 1) * x.w - 1) / 2, py = ((gy + 1) * x.h - 1) / 2;
        const int64_t x0 = static_cast<int64_t>(std::floor(px)), y0 = static_cast<int64_t>(std::floor(py));
        const double lx = px - x0, ly = py - y0;
        for (int64_t b = 0; b < x.c; ++b)
          o.at(a, b, y, z) = (1 - ly) * ((1 - lx) * x.get(a, b, y0, x0) + lx * x.get(a, b, y0, x0 + 1)) +
                             ly * ((1 - lx) * x.get(a, b, y0 + 1, x0) + lx * x.get(a, b, y0 + 1, x0 + 1));
      }
  }
  return o;
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  auto x = a.to_vector(), y = b.to_vector();
  double m = 0;
  for (size_t i = 0; i < x.size(); ++i) m = std::max(m, std::abs(static_cast<double>(x[i]) - y[i]));
  return m;
}
double max_abs_diff(const Tensor& a, const Img& b) { return max_abs_diff(a, b.tensor()); }

// Sample i of a 4-D tensor as a [1,C,H,W] tensor.
Tensor sample(const Tensor& x, int64_t i) { return slice(x, 0, i, i + 1); }

const uint64_t kSeed = 20240611;  // fixed draw seed: the properties below are checked for a known draw

}  // namespace

TEST_CASE("decode: quadrant-major order and exact bilinear values on 4x4, f=2") {
  // Image m, quadrant q (row-major) holds 10*m + q, so each decoded image is a known constant, except
  // image 1 quadrant 3 which holds the linear ramp 8*y + 4*x (bilinear reproduces it with edge clamping).
  Img s(2, 1, 4, 4);
  for (int64_t m = 0; m < 2; ++m)
    for (int64_t y = 0; y < 4; ++y)
      for (int64_t x = 0; x < 4; ++x) s.at(m, 0, y, x) = 10.0 * m + (y / 2) * 2 + (x / 2);
  for (int64_t y = 0; y < 2; ++y)
    for (int64_t x = 0; x < 2; ++x) s.at(1, 0, 2 + y, 2 + x) = 8.0 * y + 4.0 * x;
  Tensor d = decode(s.tensor(), 2);
  REQUIRE(d.shape() == Shape{8, 1, 4, 4});
  auto v = d.to_vector();
  const double ramp[4] = {0.0, 0.25, 0.75, 1.0};  // 1-D upsample 2->4 of [0,1]: src -0.25(->0), .25, .75, 1.25
  for (int64_t j = 0; j < 8; ++j) {
    auto [m, q] = decoded_source(j, 2);
    CHECK(j == q * 2 + m);
    for (int64_t p = 0; p < 16; ++p) {
      const double want = (m == 1 && q == 3) ? 8.0 * ramp[p / 4] + 4.0 * ramp[p % 4] : 10.0 * m + q;
      CHECK(static_cast<double>(v[j * 16 + p]) == want);  // exact: all weights are dyadic
    }
  }
  CHECK(decoded_source(7, 3) == std::pair<int64_t, int64_t>{1, 2});
  Tensor same = decode(s.tensor(), 1);
  CHECK(max_abs_diff(same, s.tensor()) == 0.0);
}

TEST_CASE("decode: pads with 0.5 when H % f != 0 (5x5, f=2, crop 3)") {
  Tensor x = test::random_tensor({2, 2, 5, 5}, 11, 0.f, 1.f);
  Img xi(x);
  Img padded(2, 2, 6, 6);
  for (int64_t a = 0; a < 2; ++a)
    for (int64_t b = 0; b < 2; ++b)
      for (int64_t y = 0; y < 6; ++y)
        for (int64_t z = 0; z < 6; ++z) padded.at(a, b, y, z) = (y < 5 && z < 5) ? xi.get(a, b, y, z) : 0.5;
  Tensor d = decode(x, 2);
  REQUIRE(d.shape() == Shape{8, 2, 5, 5});
  for (int64_t q = 0; q < 4; ++q) {
    Img crop(2, 2, 3, 3);
    for (int64_t a = 0; a < 2; ++a)
      for (int64_t b = 0; b < 2; ++b)
        for (int64_t y = 0; y < 3; ++y)
          for (int64_t z = 0; z < 3; ++z) crop.at(a, b, y, z) = padded.at(a, b, (q / 2) * 3 + y, (q % 2) * 3 + z);
    // 1e-6: float32 bilinear weights vs the double reference on values in [0, 1].
    CHECK(max_abs_diff(slice(d, 0, q * 2, q * 2 + 2), naive_resize(crop, 5, 5)) < 1e-6);
  }
  // The last output pixel of quadrant 3 samples the pad corner only (src 2.2 -> taps 2, 2): exactly 0.5.
  CHECK(d.to_vector()[(3 * 2 + 0) * 50 + 24] == 0.5f);
}

TEST_CASE("mix_init: layout matches IDC and decode(mix_init(real)) returns the real images in order") {
  for (int64_t size : {28, 32}) {
    const int64_t n = 3, f = 2, c = 2, k_total = n * f * f;
    // Smooth, well-separated images: offset 0.5*k plus a gentle ramp, so nearest-down then bilinear-up
    // changes each by at most about one pixel of the ramp (0.5/size*2) while images differ by >= 0.5.
    Img real(k_total, c, size, size);
    for (int64_t k = 0; k < k_total; ++k)
      for (int64_t b = 0; b < c; ++b)
        for (int64_t y = 0; y < size; ++y)
          for (int64_t x = 0; x < size; ++x) real.at(k, b, y, x) = 0.5 * k + 0.1 * b + 0.3 * y / size + 0.2 * x / size;
    Tensor stored = mix_init(real.tensor(), n, f);
    REQUIRE(stored.shape() == Shape{n, c, size, size});
    // Layout: quadrant q of stored image m = nearest 2x downsample of real image q*n + m (exact copy).
    Img st(stored);
    const int64_t s = size / f;
    bool layout_ok = true;
    for (int64_t m = 0; m < n; ++m)
      for (int64_t q = 0; q < 4; ++q)
        for (int64_t y = 0; y < s; ++y)
          for (int64_t x = 0; x < s; ++x)
            layout_ok &= static_cast<float>(st.get(m, 1, (q / 2) * s + y, (q % 2) * s + x)) ==
                         static_cast<float>(real.get(q * n + m, 1, 2 * y, 2 * x));
    CHECK(layout_ok);
    Tensor dec = decode(stored, f);
    REQUIRE(dec.shape() == Shape{k_total, c, size, size});
    for (int64_t j = 0; j < k_total; ++j) {
      Tensor dj = sample(dec, j);
      int64_t best = -1;
      double best_err = 1e30;
      for (int64_t k = 0; k < k_total; ++k) {
        const double e = max_abs_diff(dj, sample(real.tensor(), k));
        if (e < best_err) best_err = e, best = k;
      }
      CHECK(best == j);
      CHECK(best_err < 0.05);  // ~ one ramp pixel (0.5/28*2 = 0.036) plus float rounding
    }
  }
}

TEST_CASE("normalize: (x - mean_c) / std_c per channel") {
  Tensor x = test::random_tensor({2, 3, 4, 5}, 21);
  const std::vector<float> mu{0.4914f, 0.4822f, 0.4465f}, sd{0.2023f, 0.1994f, 0.2010f};
  Img xi(x), want(x);
  for (int64_t i = 0; i < static_cast<int64_t>(want.v.size()); ++i) {
    const int64_t ch = (i / 20) % 3;
    want.v[i] = (static_cast<double>(static_cast<float>(xi.v[i]) - mu[ch])) / sd[ch];
  }
  CHECK(max_abs_diff(normalize(x, mu, sd), want) < 1e-5);  // float division rounding on |values| < 10
  CHECK_THROWS_AS(normalize(x, {0.5f}, {0.5f}), Error);
}

TEST_CASE("DSA colour ops match the IDC formulas (3 channels, per-sample draws)") {
  Tensor x = test::random_tensor({2, 3, 4, 5}, 31);
  Dsa aug("color", false);
  DsaDraw d;
  d.brightness = {0.9f, 0.2f};
  d.saturation = {0.3f, 0.8f};
  d.contrast = {0.1f, 0.7f};
  Img y(x);
  for (int64_t a = 0; a < 2; ++a) {
    for (int64_t b = 0; b < 3; ++b)
      for (int64_t p = 0; p < 20; ++p) y.at(a, b, p / 5, p % 5) += (d.brightness[a] - 0.5) * 1.0;
    for (int64_t p = 0; p < 20; ++p) {
      double m = 0;
      for (int64_t b = 0; b < 3; ++b) m += y.at(a, b, p / 5, p % 5) / 3;
      for (int64_t b = 0; b < 3; ++b) y.at(a, b, p / 5, p % 5) = (y.at(a, b, p / 5, p % 5) - m) * (d.saturation[a] * 2.0) + m;
    }
    double m = 0;
    for (int64_t b = 0; b < 3; ++b)
      for (int64_t p = 0; p < 20; ++p) m += y.at(a, b, p / 5, p % 5) / 60;
    for (int64_t b = 0; b < 3; ++b)
      for (int64_t p = 0; p < 20; ++p) y.at(a, b, p / 5, p % 5) = (y.at(a, b, p / 5, p % 5) - m) * (d.contrast[a] + 0.5) + m;
  }
  CHECK(max_abs_diff(aug.apply(x, d), y) < 1e-5);  // float32 means and products on values of size ~1
  // One channel: saturation is a no-op (x - mean_c == 0), so only brightness and contrast act.
  Tensor g = test::random_tensor({1, 1, 3, 3}, 32);
  DsaDraw d1;
  d1.brightness = {0.5f};
  d1.saturation = {0.9f};
  d1.contrast = {0.5f};  // contrast factor 1.0
  CHECK(max_abs_diff(aug.apply(g, d1), g) < 1e-6);
}

TEST_CASE("DSA flip, crop shift with zero fill, cutout box") {
  Tensor x = test::random_tensor({2, 2, 6, 6}, 41, 0.5f, 1.5f);  // nonzero, so zero fill is visible
  Img xi(x);
  {
    DsaDraw d;
    d.flip = {1, 0};
    Tensor y = Dsa("flip", false).apply(x, d);
    Img want(x);
    for (int64_t b = 0; b < 2; ++b)
      for (int64_t r = 0; r < 6; ++r)
        for (int64_t z = 0; z < 6; ++z) want.at(0, b, r, z) = xi.get(0, b, r, 5 - z);
    CHECK(max_abs_diff(y, want) == 0.0);
  }
  {
    DsaDraw d;
    d.single_op = "crop";
    d.shift_h = {1, -2};
    d.shift_w = {-1, 3};
    Tensor y = Dsa("crop", false).apply(x, d);
    Img want(2, 2, 6, 6);
    for (int64_t a = 0; a < 2; ++a)
      for (int64_t b = 0; b < 2; ++b)
        for (int64_t r = 0; r < 6; ++r)
          for (int64_t z = 0; z < 6; ++z) want.at(a, b, r, z) = xi.get(a, b, r + d.shift_h[a], z + d.shift_w[a]);
    CHECK(max_abs_diff(y, want) == 0.0);
    CHECK(Img(y).get(0, 0, 0, 0) == 0.0);  // shifted in from outside (w - 1 < 0)
  }
  {
    DsaDraw d;
    d.cutout_h = {0, 3};
    d.cutout_w = {5, 2};
    Tensor y = Dsa("cutout", false).apply(x, d);
    // IDC: c = int(6*0.5+0.5) = 3; indices offset - c//2 + [0, c) clamped into the image are zeroed.
    Img want(x);
    for (int64_t a = 0; a < 2; ++a)
      for (int64_t i = 0; i < 3; ++i)
        for (int64_t j = 0; j < 3; ++j) {
          const int64_t r = std::clamp<int64_t>(i + d.cutout_h[a] - 1, 0, 5), z = std::clamp<int64_t>(j + d.cutout_w[a] - 1, 0, 5);
          for (int64_t b = 0; b < 2; ++b) want.at(a, b, r, z) = 0;
        }
    CHECK(max_abs_diff(y, want) == 0.0);
    int zeros_count = 0;
    for (double v : Img(y).v) zeros_count += v == 0.0;
    CHECK(zeros_count == 2 * (2 * 2 + 3 * 3));  // 2 channels x (sample 0: 2x2 clipped at a corner, sample 1: 3x3)
  }
}

TEST_CASE("DSA scale and rotate match a naive bilinear sampler") {
  Tensor x = test::random_tensor({2, 3, 7, 9}, 51);
  Img xi(x);
  DsaDraw ds;
  ds.single_op = "scale";
  ds.scale_x = {1.15f, 0.85f};
  ds.scale_y = {0.9f, 1.19f};
  std::vector<double> th(12, 0.0);
  for (int a = 0; a < 2; ++a) th[a * 6] = ds.scale_x[a], th[a * 6 + 4] = ds.scale_y[a];
  // 1e-5: float32 grid coordinates and weights vs double on values in [-1, 1].
  CHECK(max_abs_diff(Dsa("scale", false).apply(x, ds), naive_affine(xi, th)) < 1e-5);
  DsaDraw dr;
  dr.single_op = "rotate";
  dr.angle = {0.2f, -0.25f};
  for (int a = 0; a < 2; ++a) {
    const double r = dr.angle[a];
    th[a * 6 + 0] = static_cast<float>(std::cos(r)), th[a * 6 + 1] = static_cast<float>(-std::sin(r)), th[a * 6 + 2] = 0;
    th[a * 6 + 3] = static_cast<float>(std::sin(r)), th[a * 6 + 4] = static_cast<float>(std::cos(r)), th[a * 6 + 5] = 0;
  }
  CHECK(max_abs_diff(Dsa("rotate", false).apply(x, dr), naive_affine(xi, th)) < 1e-5);
}

TEST_CASE("DSA draws stay in IDC's ranges and the single op covers the list") {
  Dsa aug("color_crop_cutout_flip_scale_rotate", false);
  std::set<std::string> ops;
  int64_t min_shift = 0, max_shift = 0, min_cut = 100, max_cut = -1;
  float min_s = 10, max_s = 0, max_angle = 0;
  for (uint64_t id = 0; id < 200; ++id) {
    DsaDraw d = aug.draw(4, 32, 32, kSeed, id);
    ops.insert(d.single_op);
    for (auto v : d.shift_h) min_shift = std::min(min_shift, v), max_shift = std::max(max_shift, v);
    for (auto v : d.cutout_h) min_cut = std::min(min_cut, v), max_cut = std::max(max_cut, v);
    for (auto v : d.scale_x) min_s = std::min(min_s, v), max_s = std::max(max_s, v);
    for (auto v : d.angle) max_angle = std::max(max_angle, std::abs(v));
  }
  CHECK(ops == std::set<std::string>{"crop", "scale", "rotate"});
  CHECK(min_shift == -4);  // s = int(32*0.125+0.5) = 4, both ends reached
  CHECK(max_shift == 4);
  CHECK(min_cut == 0);
  CHECK(max_cut == 32);  // c = 16 is even: offsets in [0, 32]
  CHECK(min_s >= 1.f / 1.2f);
  CHECK(max_s <= 1.2f);
  CHECK(max_angle <= 15.0 / 180 * 3.14159266);
  CHECK(max_angle > 10.0 / 180 * 3.14159266);
  CHECK_THROWS_AS(Dsa("color_bogus", true), Error);
}

TEST_CASE("DSA Siamese: same (seed, draw_id) gives identical transforms on different batches") {
  Dsa aug("color_crop_cutout_flip_scale_rotate", true);
  Tensor real = test::random_tensor({3, 3, 8, 8}, 61);
  Tensor syn_rest = test::random_tensor({4, 3, 8, 8}, 62);
  Tensor syn = concat({sample(real, 0), syn_rest}, 0);  // shares its first image with `real`
  std::set<std::string> seen;
  for (uint64_t id = 0; id < 12; ++id) {
    DsaDraw dr = aug.draw(3, 8, 8, kSeed, id), dsy = aug.draw(5, 8, 8, kSeed, id);
    seen.insert(dr.single_op);
    CHECK(dr.single_op == dsy.single_op);
    CHECK(dr.brightness[0] == dsy.brightness[4]);
    Tensor ar = aug(real, kSeed, id), as = aug(syn, kSeed, id);
    CHECK(max_abs_diff(sample(ar, 0), sample(as, 0)) == 0.0);
    // One call on the concatenated batch equals two separate calls (IDC's aug(cat[real, syn])).
    Tensor both = aug(concat({real, syn}, 0), kSeed, id);
    CHECK(max_abs_diff(both, concat({ar, as}, 0)) == 0.0);
  }
  CHECK(seen.size() >= 2);
}

TEST_CASE("DSA batch=false draws per sample; batch=true shares; runs are deterministic") {
  Dsa per("color_crop_flip_scale_rotate", false), shared("color_crop_flip_scale_rotate", true);
  DsaDraw dp = per.draw(16, 8, 8, kSeed, 3), ds = shared.draw(16, 8, 8, kSeed, 3);
  CHECK(std::set<float>(dp.brightness.begin(), dp.brightness.end()).size() == 16);
  CHECK(std::set<uint8_t>(dp.flip.begin(), dp.flip.end()).size() == 2);
  CHECK(std::set<float>(ds.brightness.begin(), ds.brightness.end()).size() == 1);
  CHECK(std::set<uint8_t>(ds.flip.begin(), ds.flip.end()).size() == 1);
  Tensor x = test::random_tensor({4, 3, 8, 8}, 71);
  Tensor a = per(x, kSeed, 9), b = per(x, kSeed, 9), c = per(x, kSeed, 10), e = per(x, kSeed + 1, 9);
  CHECK(max_abs_diff(a, b) == 0.0);
  CHECK(max_abs_diff(a, c) > 1e-3);
  CHECK(max_abs_diff(a, e) > 1e-3);
  CHECK(max_abs_diff(a, per.apply(x, per.draw(4, 8, 8, kSeed, 9))) == 0.0);
}

TEST_CASE("CutMix: box from the partner, lam = kept-area ratio, soft targets sum to 1") {
  const int64_t n = 6, nc = 4, h = 8, w = 10;
  Tensor x = test::random_tensor({n, 2, h, w}, 91, 0.5f, 1.5f);
  Tensor y = from_int_vector({0, 1, 2, 3, 0, 1}, {n});
  int applied_count = 0;
  for (uint64_t id = 0; id < 40; ++id) {
    CutMixResult res = cutmix(x, y, nc, 0.5f, kSeed, id);
    auto t = res.target.to_vector();
    REQUIRE(res.target.shape() == Shape{n, nc});
    for (int64_t i = 0; i < n; ++i) {
      double rs = 0;
      for (int64_t k = 0; k < nc; ++k) rs += t[i * nc + k];
      CHECK(rs == doctest::Approx(1.0).epsilon(1e-6));
    }
    std::vector<int64_t> sorted = res.perm;
    std::sort(sorted.begin(), sorted.end());
    for (int64_t i = 0; i < n; ++i) CHECK(sorted[i] == i);
    if (!res.applied) {
      CHECK(res.lam == 1.f);
      CHECK(max_abs_diff(res.images, x) == 0.0);
      continue;
    }
    ++applied_count;
    auto [h0, w0, h1, w1] = res.box;
    CHECK((0 <= h0 && h0 <= h1 && h1 <= h && 0 <= w0 && w0 <= w1 && w1 <= w));
    Img xi(x), out(res.images);
    int64_t in_box = 0;
    bool pixels_ok = true;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t r = 0; r < h; ++r)
        for (int64_t c = 0; c < w; ++c) {
          const bool inside = r >= h0 && r < h1 && c >= w0 && c < w1;
          in_box += inside && i == 0;
          pixels_ok &= out.get(i, 1, r, c) == xi.get(inside ? res.perm[i] : i, 1, r, c);
        }
    CHECK(pixels_ok);
    CHECK(res.lam == doctest::Approx(1.0 - static_cast<double>(in_box) / (h * w)).epsilon(1e-6));
    auto yv = y.to_int_vector();
    for (int64_t i = 0; i < n; ++i)
      if (yv[i] != yv[res.perm[i]]) CHECK(t[i * nc + yv[i]] == doctest::Approx(res.lam).epsilon(1e-6));
  }
  CHECK(applied_count > 5);   // p = 0.5 over 40 fixed draws
  CHECK(applied_count < 35);
  CutMixResult never = cutmix(x, y, nc, 0.f, kSeed, 1);
  CHECK_FALSE(never.applied);
  CHECK(never.target.to_vector()[1 * nc + 1] == 1.f);
}
