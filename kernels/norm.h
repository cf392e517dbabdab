// Normalisation family: fused group-norm forward/backward (instance norm is groups == C).
#pragma once
#include <cstdint>
#include "kernels/common.h"

namespace yoco::kernels {

// Layout: x is [N, C, S] (S = product of trailing dims), channels split into `groups` contiguous groups,
// so group (n, g) is one contiguous run of (C/G)*S elements. mean/rstd are [N, G].

// y = (x - mean) * rstd * gamma + beta, gamma/beta per channel (identity when absent).
YOCO_HD float group_norm_apply(float x, float mean, float rstd, float gamma, float beta) {
  return (x - mean) * rstd * gamma + beta;
}

// dx for one element: rstd * (gxh - mean(gxh) - xhat * mean(gxh * xhat)), gxh = g * gamma, the group means
// passed in as a and b. This is the derivative of the normalisation with biased variance.
YOCO_HD float group_norm_dx(float gxh, float xhat, float rstd, float a, float b) {
  return rstd * (gxh - a - xhat * b);
}

namespace cpu {
// gamma/beta may be null (no affine). Statistics accumulate in double; parallel over N*G.
void group_norm_forward(const float* x, const float* gamma, const float* beta, float* y, float* mean, float* rstd,
                        int64_t n, int64_t c, int64_t s, int64_t groups, float eps);
// g: dL/dy. dx, dgamma, dbeta may each be null to skip them. Fixed summation order (deterministic).
void group_norm_backward(const float* g, const float* x, const float* mean, const float* rstd, const float* gamma,
                         int64_t n, int64_t c, int64_t s, int64_t groups, float* dx, float* dgamma, float* dbeta);
}  // namespace cpu
namespace cuda {
void group_norm_forward(const float* x, const float* gamma, const float* beta, float* y, float* mean, float* rstd,
                        int64_t n, int64_t c, int64_t s, int64_t groups, float eps, void* stream);
void group_norm_backward(const float* g, const float* x, const float* mean, const float* rstd, const float* gamma,
                         int64_t n, int64_t c, int64_t s, int64_t groups, float* dx, float* dgamma, float* dbeta,
                         void* stream);
}  // namespace cuda

}  // namespace yoco::kernels
