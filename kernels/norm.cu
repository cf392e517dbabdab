// Normalisation family, CUDA: one block per (sample, group) for the statistics and dx, one block per channel
// for dgamma/dbeta. Sums are in double through block_sum's fixed tree: deterministic, no atomics.
#include <cmath>
#include "kernels/cuda_check.cuh"
#include "kernels/norm.h"

namespace yoco::kernels::cuda {

namespace {
// Block ng: mean and biased variance of its contiguous run of m = (c/groups)*s elements (two passes, as the
// CPU: the mean first, then the centred second moment), then y through group_norm_apply.
__global__ void gn_forward_kernel(const float* x, const float* gamma, const float* beta, float* y, float* mean,
                                  float* rstd, int64_t c, int64_t s, int64_t groups, float eps) {
  __shared__ double sh[kThreads];
  const int64_t ng = blockIdx.x, cpg = c / groups, m = cpg * s;
  const float* xg = x + ng * m;
  double acc = 0.0;
  for (int64_t i = threadIdx.x; i < m; i += kThreads) acc += xg[i];
  const double mu = block_sum(acc, sh) / static_cast<double>(m);
  double var = 0.0;
  for (int64_t i = threadIdx.x; i < m; i += kThreads) {
    const double d = xg[i] - mu;
    var += d * d;
  }
  var = block_sum(var, sh) / static_cast<double>(m);
  const float mu_f = static_cast<float>(mu);
  const float rs = static_cast<float>(1.0 / sqrt(var + static_cast<double>(eps)));
  if (threadIdx.x == 0) {
    mean[ng] = mu_f;
    rstd[ng] = rs;
  }
  const int64_t c0 = (ng % groups) * cpg;
  float* yg = y + ng * m;
  for (int64_t i = threadIdx.x; i < m; i += kThreads) {
    const int64_t ch = c0 + i / s;
    yg[i] = group_norm_apply(xg[i], mu_f, rs, gamma ? gamma[ch] : 1.f, beta ? beta[ch] : 0.f);
  }
}

// Block ng: the two group means a = mean(gxh), b = mean(gxh * xhat), then dx through group_norm_dx.
__global__ void gn_dx_kernel(const float* g, const float* x, const float* mean, const float* rstd, const float* gamma,
                             int64_t c, int64_t s, int64_t groups, float* dx) {
  __shared__ double sh[kThreads];
  const int64_t ng = blockIdx.x, cpg = c / groups, m = cpg * s;
  const float* xg = x + ng * m;
  const float* gg = g + ng * m;
  const float mu = mean[ng], rs = rstd[ng];
  const int64_t c0 = (ng % groups) * cpg;
  double sa = 0.0, sb = 0.0;
  for (int64_t i = threadIdx.x; i < m; i += kThreads) {
    const float gxh = gg[i] * (gamma ? gamma[c0 + i / s] : 1.f);
    sa += gxh;
    sb += static_cast<double>(gxh) * ((xg[i] - mu) * rs);
  }
  const float a = static_cast<float>(block_sum(sa, sh) / static_cast<double>(m));
  const float b = static_cast<float>(block_sum(sb, sh) / static_cast<double>(m));
  float* dg = dx + ng * m;
  for (int64_t i = threadIdx.x; i < m; i += kThreads) {
    const float ga = gamma ? gamma[c0 + i / s] : 1.f;
    dg[i] = group_norm_dx(gg[i] * ga, (xg[i] - mu) * rs, rs, a, b);
  }
}

// Block ch: dgamma = sum over (sample, position) of g * xhat, dbeta = sum of g.
__global__ void gn_dparams_kernel(const float* g, const float* x, const float* mean, const float* rstd, int64_t n,
                                  int64_t c, int64_t s, int64_t groups, float* dgamma, float* dbeta) {
  __shared__ double sh[kThreads];
  const int64_t ch = blockIdx.x, cpg = c / groups;
  double sg = 0.0, sb = 0.0;
  for (int64_t t = threadIdx.x; t < n * s; t += kThreads) {
    const int64_t i = t / s, j = t % s;
    const int64_t ng = i * groups + ch / cpg;
    const int64_t off = (i * c + ch) * s + j;
    sg += static_cast<double>(g[off]) * ((x[off] - mean[ng]) * rstd[ng]);
    sb += g[off];
  }
  sg = block_sum(sg, sh);
  sb = block_sum(sb, sh);
  if (threadIdx.x != 0) return;
  if (dgamma) dgamma[ch] = static_cast<float>(sg);
  if (dbeta) dbeta[ch] = static_cast<float>(sb);
}
}  // namespace

void group_norm_forward(const float* x, const float* gamma, const float* beta, float* y, float* mean, float* rstd,
                        int64_t n, int64_t c, int64_t s, int64_t groups, float eps, void* stream) {
  YOCO_CHECK(groups > 0 && c % groups == 0, "group_norm_forward: ", c, " channels in ", groups, " groups");
  launch_grid(gn_forward_kernel, n * groups, kThreads, 0, stream, x, gamma, beta, y, mean, rstd, c, s, groups, eps);
}

void group_norm_backward(const float* g, const float* x, const float* mean, const float* rstd, const float* gamma,
                         int64_t n, int64_t c, int64_t s, int64_t groups, float* dx, float* dgamma, float* dbeta,
                         void* stream) {
  YOCO_CHECK(groups > 0 && c % groups == 0, "group_norm_backward: ", c, " channels in ", groups, " groups");
  if (dx) launch_grid(gn_dx_kernel, n * groups, kThreads, 0, stream, g, x, mean, rstd, gamma, c, s, groups, dx);
  if (dgamma || dbeta)
    launch_grid(gn_dparams_kernel, c, kThreads, 0, stream, g, x, mean, rstd, n, c, s, groups, dgamma, dbeta);
}

}  // namespace yoco::kernels::cuda
