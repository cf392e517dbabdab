// LibTorch references for ops LibTorch has no single call for (or no double backward): written in differentiable
// torch ops so the table's LibTorch calls can be compared to second order. Parity executable only.
#pragma once
#include <torch/torch.h>
#include <algorithm>
#include <cstdint>
#include <vector>
#include "engine/ops.h"

namespace yoco::ops_test::torch_ref {

namespace F = torch::nn::functional;

inline torch::Tensor conv(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b, Conv2dArgs a) {
  return torch::conv2d(x, w, b, {a.stride, a.stride}, {a.pad, a.pad});
}

// The adjoint of a linear map f at shape xs, applied to g: torch's autograd gradient of f at zeros, kept
// differentiable (create_graph) so the adjoint itself can be differentiated twice like any op.
template <class Fn>
torch::Tensor adjoint(const std::vector<int64_t>& xs, const torch::Tensor& g, Fn f) {
  torch::Tensor x0 = torch::zeros(xs, g.options()).requires_grad_(true);
  return torch::autograd::grad({f(x0)}, {x0}, {g}, true, true)[0];
}

// Bilinear grid sampling (zeros padding, align_corners=false) written with gather: LibTorch 1.13 has no double
// backward for grid_sampler_2d, while gather is differentiable to any order. Checked against F::grid_sample (values
// and first-order gradient) by test_op_table_torch.cpp.
inline torch::Tensor grid_sample(const torch::Tensor& x, const torch::Tensor& grid) {
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3), oh = grid.size(1), ow = grid.size(2);
  torch::Tensor g = grid.detach().to(x.dtype());
  torch::Tensor ix = ((g.select(3, 0) + 1) * w - 1) / 2, iy = ((g.select(3, 1) + 1) * h - 1) / 2;
  torch::Tensor x0 = ix.floor(), y0 = iy.floor();
  torch::Tensor flat = x.reshape({n, c, h * w});
  torch::Tensor out = torch::zeros({n, c, oh * ow}, x.options());
  for (int dy : {0, 1})
    for (int dx : {0, 1}) {
      torch::Tensor xc = x0 + dx, yc = y0 + dy;
      torch::Tensor wx = dx ? ix - x0 : 1 - (ix - x0), wy = dy ? iy - y0 : 1 - (iy - y0);
      torch::Tensor valid = ((xc >= 0) & (xc <= w - 1) & (yc >= 0) & (yc <= h - 1)).to(x.dtype());
      torch::Tensor wgt = (wx * wy * valid).reshape({n, 1, oh * ow});
      torch::Tensor idx = (yc.clamp(0, h - 1) * w + xc.clamp(0, w - 1)).to(torch::kLong);
      out = out + flat.gather(2, idx.reshape({n, 1, oh * ow}).expand({n, c, oh * ow})) * wgt;
    }
  return out.reshape({n, c, oh, ow});
}

// Per-sample translation with zero fill: pad by the image size on every side, then take the window moved by
// sign * (dh, dw), clamped to the image size (beyond it the window lies wholly in the padding).
inline torch::Tensor translate(const torch::Tensor& x, const torch::Tensor& shifts, int64_t sign) {
  const int64_t n = x.size(0), h = x.size(2), w = x.size(3);
  torch::Tensor p = F::pad(x, F::PadFuncOptions({w, w, h, h}));
  torch::Tensor s = shifts.to(torch::kCPU);
  std::vector<torch::Tensor> out;
  for (int64_t k = 0; k < n; ++k) {
    const int64_t dh = std::clamp<int64_t>(sign * s[k][0].item<int64_t>(), -h, h);
    const int64_t dw = std::clamp<int64_t>(sign * s[k][1].item<int64_t>(), -w, w);
    out.push_back(p[k].slice(1, h + dh, 2 * h + dh).slice(2, w + dw, 2 * w + dw));
  }
  return torch::stack(out);
}

// x times a [N,1,H,W] mask that is 0 inside each sample's half-open (h0, h1, w0, w1) box, built with comparisons.
inline torch::Tensor cutout(const torch::Tensor& x, const torch::Tensor& boxes) {
  const int64_t n = x.size(0), h = x.size(2), w = x.size(3);
  torch::Tensor rows = torch::arange(h, boxes.options()).view({1, h, 1});  // on the boxes' device
  torch::Tensor cols = torch::arange(w, boxes.options()).view({1, 1, w});
  auto col = [&](int64_t i) { return boxes.select(1, i).view({n, 1, 1}); };
  torch::Tensor inside = (rows >= col(0)) & (rows < col(1)) & (cols >= col(2)) & (cols < col(3));
  return x * torch::logical_not(inside).to(x.dtype()).unsqueeze(1);
}

// DSA flip + colour as IDC's DiffAug writes them: where(flip, x.flip(3), x), then brightness, saturation around the
// channel mean, contrast around the sample mean; params [N,4] = (flip, b, s, c).
inline torch::Tensor dsa_color(const torch::Tensor& x, const torch::Tensor& params, int ops) {
  const int64_t n = x.size(0);
  auto col = [&](int64_t i) { return params.select(1, i).view({n, 1, 1, 1}); };
  torch::Tensor v = x;
  if (ops & kDsaFlip) v = torch::where(col(0) != 0, x.flip(3), x);
  if (ops & kDsaColor) {
    v = v + col(1);
    torch::Tensor mc = v.mean(1, true);
    v = (v - mc) * col(2) + mc;
    torch::Tensor m = v.mean({1, 2, 3}, true);
    v = (v - m) * col(3) + m;
  }
  return v;
}

// One per-sample statistic (0 el2n, 1 loss, 2 correct, 3 margin, 4 entropy) of logits x for labels y.
inline torch::Tensor per_sample_stat(const torch::Tensor& x, const torch::Tensor& y, int which) {
  const int64_t c = x.size(1);
  torch::Tensor iy = y.unsqueeze(1), logp = x.log_softmax(1), p = logp.exp();
  torch::Tensor oh = F::one_hot(y, c);
  switch (which) {
    case 0: return (p - oh.to(x.dtype())).square().sum(1).sqrt();
    case 1: return -logp.gather(1, iy).squeeze(1);
    case 2: return x.argmax(1).eq(y).to(x.dtype());
    case 3: return p.gather(1, iy).squeeze(1) - p.masked_fill(oh.to(torch::kBool), -1).amax(1);
    default: return -(p * logp).sum(1);
  }
}

}  // namespace yoco::ops_test::torch_ref
