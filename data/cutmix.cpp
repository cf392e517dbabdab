// CutMix (IDC rand_bbox + kept-area loss weight) built from engine ops; random draws via Philox on the host.
#include "data/cutmix.h"
#include <algorithm>
#include <cmath>
#include <numeric>
#include "engine/ops.h"
#include "kernels/philox_shuffle.h"
#include "kernels/rng.h"

namespace yoco::data {

namespace {

enum class Draw : uint64_t { coin = 1, lam, perm, centre };
constexpr uint64_t kCutMixStreamTag = 0x43555400ull;  // "CUT\0"

struct Drawer {
  uint64_t seed, draw_id;
  float u(Draw what, uint64_t k) const {
    return kernels::philox_uniform(seed, kCutMixStreamTag + static_cast<uint64_t>(what), (draw_id << 32) + k);
  }
  // Uniform integer in [0, n) (numpy randint(n)).
  int64_t below(Draw what, uint64_t k, int64_t n) const {
    const int64_t v = static_cast<int64_t>(std::floor(static_cast<double>(u(what, k)) * n));
    return std::min(v, n - 1);
  }
};

Tensor soft_target(const std::vector<int64_t>& y, const std::vector<int64_t>& perm, int64_t num_classes,
                   float lam, Device device) {
  const int64_t n = static_cast<int64_t>(y.size());
  std::vector<float> t(n * num_classes, 0.f);
  for (int64_t i = 0; i < n; ++i) {
    t[i * num_classes + y[i]] += lam;
    t[i * num_classes + y[perm[i]]] += 1.f - lam;
  }
  return from_vector(t, {n, num_classes}, device);
}

}  // namespace

CutMixResult cutmix(const Tensor& x, const Tensor& labels, int64_t num_classes, float prob, uint64_t seed,
                    uint64_t draw_id) {
  YOCO_CHECK(labels.defined() && labels.dtype() == DType::I64 && labels.dim() == 1,
             "cutmix: labels must be i64 [N], got ", labels.defined() ? labels.str() : "undefined");
  return cutmix(x, labels.to_int_vector(), num_classes, prob, seed, draw_id);
}

CutMixResult cutmix(const Tensor& x, const std::vector<int64_t>& y, int64_t num_classes, float prob, uint64_t seed,
                    uint64_t draw_id) {
  YOCO_CHECK(x.defined() && x.dim() == 4 && x.dtype() == DType::F32, "cutmix: expected f32 [N,C,H,W], got ",
             x.defined() ? x.str() : "undefined");
  YOCO_CHECK(static_cast<int64_t>(y.size()) == x.size(0), "cutmix: ", y.size(), " labels for ", x.str());
  YOCO_CHECK(num_classes > 0 && draw_id < (1ull << 32), "cutmix: bad num_classes ", num_classes, " or draw_id ", draw_id);
  const int64_t n = x.size(0), h = x.size(2), w = x.size(3);
  for (int64_t v : y) YOCO_CHECK(v >= 0 && v < num_classes, "cutmix: label ", v, " outside [0, ", num_classes, ")");
  const Drawer r{seed, draw_id};

  CutMixResult res{x, Tensor(), 1.f, false, {0, 0, 0, 0}, std::vector<int64_t>(n)};
  std::iota(res.perm.begin(), res.perm.end(), 0);
  if (!(r.u(Draw::coin, 0) < prob)) {
    res.target = soft_target(y, res.perm, num_classes, 1.f, x.device());
    return res;
  }
  const float lam0 = r.u(Draw::lam, 0);  // Beta(1,1) is U[0,1]
  kernels::philox_shuffle(res.perm.data(), n, seed, kCutMixStreamTag + static_cast<uint64_t>(Draw::perm),
                          draw_id << 32, kernels::ShuffleDraw::ScaledUniform);
  // rand_bbox: IDC's "W" is size[2] (rows) and "H" size[3] (cols); the box is centre +- cut//2, clipped.
  const double cut_rat = std::sqrt(1.0 - static_cast<double>(lam0));
  const int64_t cut_h = static_cast<int64_t>(h * cut_rat), cut_w = static_cast<int64_t>(w * cut_rat);
  const int64_t ch = r.below(Draw::centre, 0, h), cw = r.below(Draw::centre, 1, w);
  const int64_t h0 = std::clamp<int64_t>(ch - cut_h / 2, 0, h), h1 = std::clamp<int64_t>(ch + cut_h / 2, 0, h);
  const int64_t w0 = std::clamp<int64_t>(cw - cut_w / 2, 0, w), w1 = std::clamp<int64_t>(cw + cut_w / 2, 0, w);
  res.box = {h0, w0, h1, w1};
  res.lam = 1.f - static_cast<float>(static_cast<double>((h1 - h0) * (w1 - w0)) / static_cast<double>(h * w));
  res.applied = true;

  std::vector<float> box(h * w, 0.f);
  for (int64_t i = h0; i < h1; ++i)
    for (int64_t j = w0; j < w1; ++j) box[i * w + j] = 1.f;
  Tensor m = from_vector(box, {1, 1, h, w}, x.device());
  Tensor partner = index_select(x, 0, from_int_vector(res.perm, {n}, x.device()));
  // x outside the box, partner inside: a 0/1 blend, so values are copied exactly.
  res.images = add(mul(x, add_scalar(neg(m), 1.f)), mul(partner, m));
  res.target = soft_target(y, res.perm, num_classes, res.lam, x.device());
  return res;
}

}  // namespace yoco::data
