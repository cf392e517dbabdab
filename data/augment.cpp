// Normalisation and IDC DiffAug (DSA) from differentiable engine ops (flip + colour fused in dsa_color);
// parameters drawn on the host with Philox so CPU and CUDA runs see identical transforms.
#include "data/augment.h"
#include <algorithm>
#include <cmath>
#include <sstream>
#include "engine/ops.h"
#include "kernels/rng.h"

namespace yoco::data {

namespace {

// One Philox stream per op kind ("DSA" tag + kind) so adding or removing an op never shifts the others.
enum class OpKind : uint64_t { flip = 1, brightness, saturation, contrast, choice, crop, scale, rotate, cutout, translate };
constexpr uint64_t kDsaStreamTag = 0x44534100ull;  // "DSA\0"

struct Drawer {
  uint64_t seed, draw_id;
  bool batch;
  // Uniform [0,1) for (op, sample, slot); batch mode maps every sample to slot block 0.
  float u(OpKind op, int64_t sample, int64_t slot) const {
    const uint64_t s = batch ? 0 : static_cast<uint64_t>(sample);
    const uint64_t index = (draw_id << 32) + s * 2 + static_cast<uint64_t>(slot);
    return kernels::philox_uniform(seed, kDsaStreamTag + static_cast<uint64_t>(op), index);
  }
  // Integer uniform on [lo, hi] inclusive (numpy randint(lo, hi + 1)).
  int64_t randint(OpKind op, int64_t sample, int64_t slot, int64_t lo, int64_t hi) const {
    const int64_t range = hi - lo + 1;
    const int64_t k = static_cast<int64_t>(std::floor(static_cast<double>(u(op, sample, slot)) * range));
    return lo + std::min(k, range - 1);
  }
};

// Flip and colour as the one engine op dsa_color: only the [N,4] (flip, brightness, saturation, contrast) rows
// travel to x's device, one upload and one kernel (and one in the backward) in place of ~17 small ops.
Tensor flip_color_op(const Tensor& x, const DsaDraw& d, bool flip, bool color, const DsaParams& p) {
  const int64_t n = x.size(0);
  // Flip alone drawing no flip is the identity: x itself, as before (no copy, no op).
  if (!color && std::none_of(d.flip.begin(), d.flip.end(), [](uint8_t f) { return f != 0; })) return x;
  std::vector<float> params(static_cast<size_t>(n) * 4, 0.f);
  for (int64_t s = 0; s < n; ++s) {
    float* r = &params[s * 4];
    if (flip) r[0] = d.flip[s] ? 1.f : 0.f;
    if (color) {  // IDC's factors from the raw uniforms
      r[1] = (d.brightness[s] - 0.5f) * p.brightness;
      r[2] = d.saturation[s] * p.saturation;
      r[3] = d.contrast[s] + p.contrast;
    }
  }
  const int ops = (flip ? kDsaFlip : 0) | (color ? kDsaColor : 0);
  return dsa_color(x, from_vector(params, {n, 4}, x.device()), ops);
}

// theta [N,2,3] -> affine_grid + grid_sample (bilinear, zeros, align_corners=false as IDC's defaults).
Tensor affine_op(const Tensor& x, const std::vector<float>& theta) {
  Tensor th = from_vector(theta, {x.size(0), 2, 3}, x.device());
  return grid_sample(x, affine_grid(th, x.size(2), x.size(3)));
}

// The boxes as a [N,4] (h0, h1, w0, w1) tensor on x's device and the engine's cutout: x * 0 inside, x * 1
// elsewhere, bit for bit the former [N,1,H,W] mask multiply (finite values inside become +-0 by their sign; inf
// and NaN inside become NaN, as they did).
Tensor cutout_op(const Tensor& x, const DsaDraw& d, float ratio) {
  const int64_t n = x.size(0), h = x.size(2), w = x.size(3);
  const int64_t ch = static_cast<int64_t>(h * ratio + 0.5f), cw = static_cast<int64_t>(w * ratio + 0.5f);
  std::vector<int64_t> boxes(static_cast<size_t>(n) * 4);
  for (int64_t s = 0; s < n; ++s) {
    // IDC clamps the box indices into the image, which zeroes exactly the box's intersection with it.
    int64_t* b = &boxes[s * 4];
    b[0] = std::max<int64_t>(d.cutout_h[s] - ch / 2, 0), b[1] = std::min(d.cutout_h[s] - ch / 2 + ch, h);
    b[2] = std::max<int64_t>(d.cutout_w[s] - cw / 2, 0), b[3] = std::min(d.cutout_w[s] - cw / 2 + cw, w);
  }
  return yoco::cutout(x, from_int_vector(boxes, {n, 4}, x.device()));
}

}  // namespace

Tensor normalize(const Tensor& x, const std::vector<float>& mean_c, const std::vector<float>& std_c) {
  YOCO_CHECK(x.defined() && x.dim() == 4, "normalize: expected [N,C,H,W], got ", x.defined() ? x.str() : "undefined");
  const int64_t c = x.size(1);
  YOCO_CHECK(static_cast<int64_t>(mean_c.size()) == c && static_cast<int64_t>(std_c.size()) == c,
             "normalize: ", mean_c.size(), " means and ", std_c.size(), " stds for ", x.str());
  for (float s : std_c) YOCO_CHECK(s > 0.f, "normalize: std must be positive, got ", s);
  Tensor m = from_vector(mean_c, {1, c, 1, 1}, x.device());
  Tensor s = from_vector(std_c, {1, c, 1, 1}, x.device());
  return div(sub(x, m), s);  // sub then div, as torchvision Normalize
}

Tensor translate(const Tensor& x, const std::vector<int64_t>& shift_h, const std::vector<int64_t>& shift_w) {
  YOCO_CHECK(x.defined() && x.dim() == 4, "translate: expected [N,C,H,W], got ", x.defined() ? x.str() : "undefined");
  const int64_t n = x.size(0);
  YOCO_CHECK(static_cast<int64_t>(shift_h.size()) == n && static_cast<int64_t>(shift_w.size()) == n,
             "translate: need one shift per sample for ", x.str());
  // Only the [N,2] shifts travel to x's device; the engine op reads each pixel or writes +0 (IDC pads 1 px and
  // clamps, which is the same zero fill), a pure copy: values, inf and NaN included, are those of x.
  std::vector<int64_t> shifts(static_cast<size_t>(n) * 2);
  for (int64_t s = 0; s < n; ++s) shifts[s * 2] = shift_h[s], shifts[s * 2 + 1] = shift_w[s];
  return yoco::translate(x, from_int_vector(shifts, {n, 2}, x.device()));
}

Dsa::Dsa(std::string strategy, bool batch, DsaParams params) : batch_(batch), p_(params) {
  std::stringstream ss(strategy);
  std::string tok;
  while (std::getline(ss, tok, '_')) {
    if (tok.empty() || tok == "none") continue;
    if (tok == "flip") flip_ = true;
    else if (tok == "color") color_ = true;
    else if (tok == "cutout") cutout_ = true;
    else {
      YOCO_CHECK(tok == "crop" || tok == "scale" || tok == "rotate" || tok == "translate",
                 "Dsa: unknown op '", tok, "' in strategy '", strategy, "'");
      single_.push_back(tok);
    }
  }
}

DsaDraw Dsa::draw(int64_t n, int64_t h, int64_t w, uint64_t seed, uint64_t draw_id) const {
  YOCO_CHECK(n > 0 && h > 0 && w > 0, "Dsa::draw: bad sizes n=", n, " h=", h, " w=", w);
  YOCO_CHECK(draw_id < (1ull << 32) && n < (1ll << 30), "Dsa::draw: draw_id ", draw_id, " or batch ", n, " too large");
  const Drawer r{seed, draw_id, batch_};
  DsaDraw d;
  if (flip_) {
    d.flip.resize(n);
    for (int64_t s = 0; s < n; ++s) d.flip[s] = r.u(OpKind::flip, s, 0) < p_.prob_flip;
  }
  if (color_) {
    d.brightness.resize(n), d.saturation.resize(n), d.contrast.resize(n);
    for (int64_t s = 0; s < n; ++s) {
      d.brightness[s] = r.u(OpKind::brightness, s, 0);
      d.saturation[s] = r.u(OpKind::saturation, s, 0);
      d.contrast[s] = r.u(OpKind::contrast, s, 0);
    }
  }
  if (!single_.empty()) {
    // One choice per call, shared by the batch even when batch = false (IDC: np.random.randint per call).
    const Drawer shared{seed, draw_id, true};
    d.single_op = single_[shared.randint(OpKind::choice, 0, 0, 0, static_cast<int64_t>(single_.size()) - 1)];
  }
  if (d.single_op == "crop" || d.single_op == "translate") {
    const int64_t sh = static_cast<int64_t>(h * p_.ratio_crop_pad + 0.5f);
    const int64_t sw = static_cast<int64_t>(w * p_.ratio_crop_pad + 0.5f);
    const OpKind k = d.single_op == "crop" ? OpKind::crop : OpKind::translate;
    d.shift_h.assign(n, 0), d.shift_w.resize(n);
    for (int64_t s = 0; s < n; ++s) {
      if (k == OpKind::crop) d.shift_h[s] = r.randint(k, s, 0, -sh, sh);  // translate: width only (IDC)
      d.shift_w[s] = r.randint(k, s, 1, -sw, sw);
    }
  } else if (d.single_op == "scale") {
    const float lo = 1.f / p_.ratio_scale, span = p_.ratio_scale - lo;
    d.scale_x.resize(n), d.scale_y.resize(n);
    for (int64_t s = 0; s < n; ++s) {
      d.scale_x[s] = r.u(OpKind::scale, s, 0) * span + lo;
      d.scale_y[s] = r.u(OpKind::scale, s, 1) * span + lo;
    }
  } else if (d.single_op == "rotate") {
    d.angle.resize(n);
    const double pi = 3.14159265358979323846;
    for (int64_t s = 0; s < n; ++s)
      d.angle[s] = static_cast<float>((static_cast<double>(r.u(OpKind::rotate, s, 0)) - 0.5) * 2.0 * p_.ratio_rotate / 180.0 * pi);
  }
  if (cutout_) {
    const int64_t ch = static_cast<int64_t>(h * p_.ratio_cutout + 0.5f), cw = static_cast<int64_t>(w * p_.ratio_cutout + 0.5f);
    d.cutout_h.resize(n), d.cutout_w.resize(n);
    for (int64_t s = 0; s < n; ++s) {
      d.cutout_h[s] = r.randint(OpKind::cutout, s, 0, 0, h - ch % 2);  // randint(0, H + 1 - c%2)
      d.cutout_w[s] = r.randint(OpKind::cutout, s, 1, 0, w - cw % 2);
    }
  }
  return d;
}

Tensor Dsa::apply(const Tensor& x_in, const DsaDraw& d) const {
  YOCO_CHECK(x_in.defined() && x_in.dim() == 4 && x_in.dtype() == DType::F32, "Dsa: expected f32 [N,C,H,W], got ",
             x_in.defined() ? x_in.str() : "undefined");
  const size_t n = static_cast<size_t>(x_in.size(0));
  auto sized = [n](size_t got) { return got == n; };
  Tensor x = x_in;
  if (flip_) YOCO_CHECK(sized(d.flip.size()), "Dsa: flip draw for ", d.flip.size(), " samples, input ", x.str());
  if (color_)
    YOCO_CHECK(sized(d.brightness.size()) && sized(d.saturation.size()) && sized(d.contrast.size()),
               "Dsa: colour draw size mismatch for ", x.str());
  if (flip_ || color_) x = flip_color_op(x, d, flip_, color_, p_);
  if (d.single_op == "crop" || d.single_op == "translate") {
    YOCO_CHECK(sized(d.shift_h.size()) && sized(d.shift_w.size()), "Dsa: shift draw size mismatch for ", x.str());
    x = translate(x, d.shift_h, d.shift_w);
  } else if (d.single_op == "scale" || d.single_op == "rotate") {
    std::vector<float> theta(n * 6, 0.f);
    for (size_t s = 0; s < n; ++s) {
      float* t = &theta[s * 6];
      if (d.single_op == "scale") {
        YOCO_CHECK(sized(d.scale_x.size()) && sized(d.scale_y.size()), "Dsa: scale draw size mismatch for ", x.str());
        t[0] = d.scale_x[s], t[4] = d.scale_y[s];
      } else {
        YOCO_CHECK(sized(d.angle.size()), "Dsa: rotate draw size mismatch for ", x.str());
        const double a = d.angle[s];  // IDC builds theta in numpy float64, then casts to float
        t[0] = static_cast<float>(std::cos(a)), t[1] = static_cast<float>(std::sin(-a));
        t[3] = static_cast<float>(std::sin(a)), t[4] = static_cast<float>(std::cos(a));
      }
    }
    x = affine_op(x, theta);
  } else {
    YOCO_CHECK(d.single_op.empty(), "Dsa: unknown single op '", d.single_op, "'");
  }
  if (cutout_) {
    YOCO_CHECK(sized(d.cutout_h.size()) && sized(d.cutout_w.size()), "Dsa: cutout draw size mismatch for ", x.str());
    x = cutout_op(x, d, p_.ratio_cutout);
  }
  return x;
}

Tensor Dsa::operator()(const Tensor& x, uint64_t seed, uint64_t draw_id) const {
  YOCO_CHECK(x.defined() && x.dim() == 4, "Dsa: expected [N,C,H,W], got ", x.defined() ? x.str() : "undefined");
  return apply(x, draw(x.size(0), x.size(2), x.size(3), seed, draw_id));
}

}  // namespace yoco::data
