// Differentiable input transforms: per-channel normalisation and IDC's DiffAug (DSA) with Philox draws.
#pragma once
#include <cstdint>
#include <string>
#include <vector>
#include "engine/tensor.h"

namespace yoco::data {

// (x - mean_c) / std_c with mean/std broadcast as [1,C,1,1]; differentiable w.r.t. x.
Tensor normalize(const Tensor& x, const std::vector<float>& mean, const std::vector<float>& std);

struct DsaParams {
  float prob_flip = 0.5f;
  float ratio_scale = 1.2f;
  float ratio_rotate = 15.0f;  // degrees
  float ratio_crop_pad = 0.125f;
  float ratio_cutout = 0.5f;
  float brightness = 1.0f;
  float saturation = 2.0f;
  float contrast = 0.5f;
};

// Every random quantity of one call, one entry per sample (all entries equal when batch = true).
// Exposed so tests and callers can inspect or replay a draw.
struct DsaDraw {
  std::vector<uint8_t> flip;                               // 1 = width-flip this sample
  std::vector<float> brightness, saturation, contrast;     // the raw uniforms r of each colour op
  std::string single_op;                                   // "" when none: crop, scale, rotate, translate
  std::vector<int64_t> shift_h, shift_w;                   // crop/translate: out[h][w] = x[h+sh][w+sw]
  std::vector<float> scale_x, scale_y;                     // scale theta diagonal
  std::vector<float> angle;                                // rotate, radians
  std::vector<int64_t> cutout_h, cutout_w;                 // cutout centre offsets
};

// IDC DiffAug (misc/augment.py), single_aug = True: flip, then colour (brightness, saturation,
// contrast), then ONE op chosen at random from the rest of the strategy, then cutout; each only when
// listed. Strategy tokens: color, crop, cutout, flip, scale, rotate, translate, joined by '_'. Flip and colour
// run as one engine op (dsa_color: one [N,4] parameter upload, one kernel each way).
// batch = true: one draw shared by the whole batch (Siamese: concatenate real and synthetic batches, or
// call twice with the same (seed, draw_id)); batch = false: per-sample draws.
// Randomness: Philox(seed, stream = fixed id per op kind, index = (draw_id << 32) + per-sample slot),
// so ops never shift each other's numbers and a (seed, draw_id) pair is reproducible on CPU and CUDA.
// draw_id must be < 2^32 (it is the high half of the Philox index). The single-op choice is one draw per
// call even when batch = false, as in IDC.
// Deliberate difference from IDC: with a seed, IDC reseeds numpy before every op, so all ops reuse the
// same uniforms; we keep independent streams per op (the seed = -1 path IDC actually uses in training).
class Dsa {
 public:
  Dsa(std::string strategy, bool batch, DsaParams params = {});

  Tensor operator()(const Tensor& x, uint64_t seed, uint64_t draw_id) const;

  // The draw for a batch of n images of size h x w (what operator() uses).
  DsaDraw draw(int64_t n, int64_t h, int64_t w, uint64_t seed, uint64_t draw_id) const;
  // Applies a given draw (sizes must match x); differentiable w.r.t. x.
  Tensor apply(const Tensor& x, const DsaDraw& d) const;

  bool batch() const { return batch_; }
  const std::vector<std::string>& single_ops() const { return single_; }

 private:
  bool batch_;
  DsaParams p_;
  bool flip_ = false, color_ = false, cutout_ = false;
  std::vector<std::string> single_;  // the list ONE op is chosen from, in strategy order
};

// Differentiable integer translation: out[n,c,h,w] = x[n,c,h+sh[n],w+sw[n]], 0 outside the image.
// The engine op translate on the [N,2] shifts (uploaded to x's device); its adjoint is the opposite shift.
Tensor translate(const Tensor& x, const std::vector<int64_t>& shift_h, const std::vector<int64_t>& shift_w);

}  // namespace yoco::data
