// Normalisation family: fused group-norm forward/backward (instance norm is groups == C), and the fused ConvNet
// block tail avg_pool2x2(relu(group_norm(x + bias))), which also absorbs the bias of the convolution before it.
#pragma once
#include <cstdint>
#include "kernels/common.h"
#include "kernels/elementwise.h"
#include "kernels/pool.h"

namespace yoco::kernels {

// Layout: x is [N, C, S] (S = product of trailing dims), channels split into `groups` contiguous groups,
// so group (n, g) is one contiguous run of (C/G)*S elements. mean/rstd are [N, G].
//
// Backward, both backends: each (sample, channel) plane gives two sums, P = Σ g and Q = Σ g·xhat (double).
// The group means of dx are a = Σ_k gamma_k P_k / m and b = Σ_k gamma_k Q_k / m over the group's channels k,
// and dbeta[c] = Σ_n P[n, c], dgamma[c] = Σ_n Q[n, c] in sample order: one read of g and x serves all three
// outputs, and the per-channel sums become a short second stage over [N, C] partials instead of a long
// strided reduction (on the GPU: one block per channel had left most of the device idle).
//
// The fused tail's input bias xbias [C] (may be null) is the preceding convolution's bias: the tail normalises
// x + xbias[c] (one float add after the convolution's sum), so the convolution skips its bias pass. Its
// gradient dxbias[c] = Σ_n R[n, c], R = Σ dx over each plane, summed while dx is written: the bias gradient then
// costs no pass over the big gradient tensor (a third set of [N, C] partials and the same second stage).

// y = (x - mean) * rstd * gamma + beta, gamma/beta per channel (identity when absent).
YOCO_HD float group_norm_apply(float x, float mean, float rstd, float gamma, float beta) {
  return (x - mean) * rstd * gamma + beta;
}

// dx for one element: rstd * (gxh - mean(gxh) - xhat * mean(gxh * xhat)), gxh = g * gamma, the group means
// passed in as a and b. This is the derivative of the normalisation with biased variance.
YOCO_HD float group_norm_dx(float gxh, float xhat, float rstd, float a, float b) {
  return rstd * (gxh - a - xhat * b);
}

// The fused tail's element math is the three ops' own (relu_value, pool4, pool4_share, relu_mask), so it rounds
// like them. Gradient reaching one pre-norm element from its window's pooled gradient gp: the pool's adjoint,
// then relu's mask on the normalised value.
YOCO_HD float norm_relu_pool_grad(float gp, float x, float mean, float rstd, float gamma, float beta) {
  return relu_mask(pool4_share(gp), group_norm_apply(x, mean, rstd, gamma, beta));
}

namespace cpu {
// gamma/beta may be null (no affine). Statistics accumulate in double; parallel over N*G.
void group_norm_forward(const float* x, const float* gamma, const float* beta, float* y, float* mean, float* rstd,
                        int64_t n, int64_t c, int64_t s, int64_t groups, float eps);
// g: dL/dy. dx, dgamma, dbeta may each be null to skip them. Fixed summation order (deterministic).
void group_norm_backward(const float* g, const float* x, const float* mean, const float* rstd, const float* gamma,
                         int64_t n, int64_t c, int64_t s, int64_t groups, float* dx, float* dgamma, float* dbeta);
// Fused tail, x [N, C, H, W] -> y [N, C, H/2, W/2] (odd H, W floored; the statistics cover the whole plane, the
// last row / column of an odd plane gets the normalisation's gradient only); mean/rstd [N, G] as group_norm_forward,
// of x + xbias. xbias, gamma, beta may be null.
void group_norm_relu_pool_forward(const float* x, const float* xbias, const float* gamma, const float* beta, float* y,
                                  float* mean, float* rstd, int64_t n, int64_t c, int64_t h, int64_t w, int64_t groups,
                                  float eps);
// gp: dL/dy (pooled). dx is required (it holds the pre-norm gradient before the normalisation's backward);
// dgamma/dbeta/dxbias may be null. dx is also the gradient of x + xbias, and dxbias its plane sums.
void group_norm_relu_pool_backward(const float* gp, const float* x, const float* xbias, const float* mean,
                                   const float* rstd, const float* gamma, const float* beta, int64_t n, int64_t c,
                                   int64_t h, int64_t w, int64_t groups, float* dx, float* dgamma, float* dbeta,
                                   float* dxbias);
}  // namespace cpu
namespace cuda {
void group_norm_forward(const float* x, const float* gamma, const float* beta, float* y, float* mean, float* rstd,
                        int64_t n, int64_t c, int64_t s, int64_t groups, float eps, void* stream);
void group_norm_backward(const float* g, const float* x, const float* mean, const float* rstd, const float* gamma,
                         int64_t n, int64_t c, int64_t s, int64_t groups, float* dx, float* dgamma, float* dbeta,
                         void* stream);
void group_norm_relu_pool_forward(const float* x, const float* xbias, const float* gamma, const float* beta, float* y,
                                  float* mean, float* rstd, int64_t n, int64_t c, int64_t h, int64_t w, int64_t groups,
                                  float eps, void* stream);
void group_norm_relu_pool_backward(const float* gp, const float* x, const float* xbias, const float* mean,
                                   const float* rstd, const float* gamma, const float* beta, int64_t n, int64_t c,
                                   int64_t h, int64_t w, int64_t groups, float* dx, float* dgamma, float* dbeta,
                                   float* dxbias, void* stream);
}  // namespace cuda

}  // namespace yoco::kernels
