// Differentiable engine ops. Each records a Node whose backward is written in these same ops,
// so every derivative is itself differentiable (double backward for gradient matching).
#pragma once
#include <cstdint>
#include <vector>
#include "engine/tensor.h"

namespace yoco {

// ---- elementwise (binary ops broadcast numpy-style; the backward sums over broadcast dims) ----
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor add_scalar(const Tensor& a, float s);
Tensor mul_scalar(const Tensor& a, float s);
Tensor neg(const Tensor& a);
Tensor exp(const Tensor& a);
Tensor log(const Tensor& a);
Tensor sqrt(const Tensor& a);
Tensor rsqrt(const Tensor& a);
Tensor abs(const Tensor& a);
Tensor sign(const Tensor& a);          // derivative 0
Tensor pow_scalar(const Tensor& a, float p);
Tensor clamp(const Tensor& a, float lo, float hi);  // gradient passes where lo <= a <= hi
Tensor relu(const Tensor& a);
// relu's backward as an op: g * [x > 0]. d/dg = relu_backward(gg, x); d/dx = 0.
Tensor relu_backward(const Tensor& g, const Tensor& x);
// g * mask where mask = (lo <= x <= hi); not differentiable in x.
Tensor clamp_backward(const Tensor& g, const Tensor& x, float lo, float hi);

inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
inline Tensor operator*(const Tensor& a, float s) { return mul_scalar(a, s); }
inline Tensor operator*(float s, const Tensor& a) { return mul_scalar(a, s); }
inline Tensor operator+(const Tensor& a, float s) { return add_scalar(a, s); }
inline Tensor operator-(const Tensor& a, float s) { return add_scalar(a, -s); }
inline Tensor operator-(const Tensor& a) { return neg(a); }

// ---- reductions (fixed summation order; CPU accumulates in double) ----
Tensor sum(const Tensor& a);  // all elements -> shape {}
Tensor sum(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim = false);
Tensor mean(const Tensor& a);
Tensor mean(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim = false);
// Sums `a` down to `shape` (the inverse of broadcasting); identity when shapes match.
Tensor sum_to(const Tensor& a, const Shape& shape);
// Repeats `a` up to `shape` (numpy broadcasting rules).
Tensor broadcast_to(const Tensor& a, const Shape& shape);

// ---- shape ----
Tensor reshape(const Tensor& a, const Shape& shape);  // one dim may be -1; a view, no copy
Tensor flatten(const Tensor& a, int64_t start_dim = 1);
Tensor slice(const Tensor& a, int64_t dim, int64_t start, int64_t end);  // [start, end)
Tensor concat(const std::vector<Tensor>& parts, int64_t dim);
Tensor index_select(const Tensor& a, int64_t dim, const Tensor& index);  // index: i64 [K]
// Adjoint of index_select: out (shape `shape`) gets g's slices added at `index` positions along dim.
Tensor index_add(const Shape& shape, int64_t dim, const Tensor& index, const Tensor& g);
Tensor transpose(const Tensor& a, int64_t d0, int64_t d1);  // materialised copy
Tensor flip(const Tensor& a, int64_t dim);                  // its own adjoint

// ---- linear algebra ----
// op(a) @ op(b) for 2-D tensors, op = transpose when the flag is set.
Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a = false, bool trans_b = false);
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b);  // x [N,in], w [out,in], b [out] or undefined

// ---- convolution (NCHW, weight [K,C,R,S], groups=1) ----
struct Conv2dArgs {
  int64_t stride = 1;
  int64_t pad = 0;
};
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b, Conv2dArgs args);
// dL/dx given dL/dy: the transposed convolution of g with w.
Tensor conv2d_backward_input(const Tensor& g, const Tensor& w, const Shape& x_shape, Conv2dArgs args);
// dL/dw given x and dL/dy.
Tensor conv2d_backward_weight(const Tensor& x, const Tensor& g, const Shape& w_shape, Conv2dArgs args);

// ---- normalisation ----
// Group norm over (C/G, H, W) per sample and group; instance norm is groups == C. gamma/beta [C] or undefined.
Tensor group_norm(const Tensor& x, int64_t groups, const Tensor& gamma, const Tensor& beta, float eps = 1e-5f);
// avg_pool2x2(relu(group_norm(x + input_bias, ...))) in one pass over x (the ConvNet block tail): same values,
// but the normalised and relu'd maps are never stored, and the backward reads x once for all gradients.
// input_bias [C] (or undefined) is the bias of the convolution that produced x, taken over so that the
// convolution runs without one: its add and its gradient's reduction then cost no pass of their own.
Tensor group_norm_relu_pool(const Tensor& x, int64_t groups, const Tensor& gamma, const Tensor& beta,
                            float eps = 1e-5f, const Tensor& input_bias = Tensor());
// Batch norm over (N, H, W) per channel. In training, batch statistics are used and running stats
// (when defined) are updated in place with `momentum` (unbiased variance, as PyTorch).
Tensor batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor running_mean,
                  Tensor running_var, bool training, float momentum = 0.1f, float eps = 1e-5f);

// ---- pooling ----
Tensor avg_pool2x2(const Tensor& x);                                 // kernel 2, stride 2, NCHW
Tensor avg_pool2x2_backward(const Tensor& g, const Shape& x_shape);  // nearest-upsample / 4
Tensor global_avg_pool(const Tensor& x);                             // [N,C,H,W] -> [N,C]

// ---- softmax and losses ([N, C] logits) ----
Tensor log_softmax(const Tensor& x);  // along dim 1
Tensor softmax(const Tensor& x);      // along dim 1
// Mean cross-entropy with hard labels (i64 [N]).
Tensor cross_entropy(const Tensor& logits, const Tensor& labels);
// Mean cross-entropy with soft targets [N, C] (rows sum to 1), as CutMix's mixed labels need.
Tensor cross_entropy_soft(const Tensor& logits, const Tensor& target);
Tensor one_hot(const Tensor& labels, int64_t num_classes);  // i64 [N] -> f32 [N, C], no grad

// ---- resampling (PyTorch semantics, align_corners = false) ----
Tensor resize_bilinear(const Tensor& x, int64_t out_h, int64_t out_w);
Tensor resize_bilinear_adjoint(const Tensor& g, const Shape& x_shape);
// theta [N,2,3] -> sampling grid [N,H,W,2] (x, y in [-1, 1]); not differentiable (parameters are drawn).
Tensor affine_grid(const Tensor& theta, int64_t h, int64_t w);
// Bilinear, zero padding; differentiable with respect to x only (the grid is fixed).
Tensor grid_sample(const Tensor& x, const Tensor& grid);
Tensor grid_sample_adjoint(const Tensor& g, const Tensor& grid, const Shape& x_shape);

// ---- integer shifts and boxes (DSA crop/translate and cutout; per-sample i64 parameters on x's device) ----
// x [N,C,H,W], shifts i64 [N,2] = (dh, dw): out[n,c,i,j] = x[n,c,i+dh,j+dw], 0 outside the image (shifts beyond
// the image give zeros). inverse = true shifts by (-dh, -dw): the adjoint, and so the backward, of the forward.
Tensor translate(const Tensor& x, const Tensor& shifts, bool inverse = false);
// x [N,C,H,W], boxes i64 [N,4] = (h0, h1, w0, w1), half-open: x * 0 inside sample n's box (every channel), x * 1
// elsewhere; its own adjoint.
Tensor cutout(const Tensor& x, const Tensor& boxes);

// ---- DSA colour: flip + brightness + saturation + contrast as one op (per-sample f32 parameters) ----
// Bits of dsa_color's `ops`; a part left out is skipped, so its absence is bit-exact.
constexpr int kDsaFlip = 1, kDsaColor = 2;
// forward: the map below; adjoint: its linear part transposed (the backward of forward and linear); linear:
// forward without brightness (the backward of adjoint).
enum class DsaMode { forward, adjoint, linear };
// x [N,C,H,W], params f32 [N,4] = (flip, b, s, c) on x's device, per sample: v = x flipped along W if flip != 0
// (kDsaFlip); with kDsaColor: v += b; v = (v - mean_C v) * s + mean_C v per pixel; y = (v - mean v) * c + mean v
// over the sample (mean_C: over channels; mean: over C*H*W). Differentiable in x only (the draws are fixed).
Tensor dsa_color(const Tensor& x, const Tensor& params, int ops, DsaMode mode = DsaMode::forward);

// ---- random (Philox streams; identical on CPU and CUDA) ----
Tensor rand_uniform(const Shape& shape, uint64_t seed, uint64_t stream, uint64_t offset, float lo = 0.f,
                    float hi = 1.f, Device device = Device::CPU);
Tensor rand_normal(const Shape& shape, uint64_t seed, uint64_t stream, uint64_t offset, float mean = 0.f,
                   float std = 1.f, Device device = Device::CPU);

}  // namespace yoco
