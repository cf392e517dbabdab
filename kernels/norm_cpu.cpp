// Normalisation family, CPU loops (OpenMP): one task per (sample, group); per-channel sums for dgamma/dbeta.
#include <cmath>
#include "kernels/norm.h"

namespace yoco::kernels::cpu {

void group_norm_forward(const float* x, const float* gamma, const float* beta, float* y, float* mean, float* rstd,
                        int64_t n, int64_t c, int64_t s, int64_t groups, float eps) {
  const int64_t cpg = c / groups, m = cpg * s;
#pragma omp parallel for schedule(static) if (n * c * s > 32768)
  for (int64_t ng = 0; ng < n * groups; ++ng) {
    const float* xg = x + ng * m;
    // Two passes in double: the mean first, then the centred second moment (no cancellation).
    double acc = 0;
    for (int64_t i = 0; i < m; ++i) acc += xg[i];
    const double mu = acc / static_cast<double>(m);
    double var = 0;
    for (int64_t i = 0; i < m; ++i) {
      double d = xg[i] - mu;
      var += d * d;
    }
    var /= static_cast<double>(m);
    const float mu_f = static_cast<float>(mu);
    const float rs = static_cast<float>(1.0 / std::sqrt(var + static_cast<double>(eps)));
    mean[ng] = mu_f;
    rstd[ng] = rs;
    const int64_t c0 = (ng % groups) * cpg;
    float* yg = y + ng * m;
    for (int64_t k = 0; k < cpg; ++k) {
      const float ga = gamma ? gamma[c0 + k] : 1.f, be = beta ? beta[c0 + k] : 0.f;
      for (int64_t i = k * s; i < (k + 1) * s; ++i) yg[i] = group_norm_apply(xg[i], mu_f, rs, ga, be);
    }
  }
}

namespace {
// dx for every (n, g): two group sums (of gxh and gxh*xhat) in double, then the elementwise formula.
void group_norm_dx_all(const float* g, const float* x, const float* mean, const float* rstd, const float* gamma,
                       int64_t n, int64_t c, int64_t s, int64_t groups, float* dx) {
  const int64_t cpg = c / groups, m = cpg * s;
#pragma omp parallel for schedule(static) if (n * c * s > 32768)
  for (int64_t ng = 0; ng < n * groups; ++ng) {
    const float* xg = x + ng * m;
    const float* gg = g + ng * m;
    const float mu = mean[ng], rs = rstd[ng];
    const int64_t c0 = (ng % groups) * cpg;
    double sa = 0, sb = 0;
    for (int64_t k = 0; k < cpg; ++k) {
      const float ga = gamma ? gamma[c0 + k] : 1.f;
      for (int64_t i = k * s; i < (k + 1) * s; ++i) {
        const float gxh = gg[i] * ga;
        sa += gxh;
        sb += static_cast<double>(gxh) * ((xg[i] - mu) * rs);
      }
    }
    const float a = static_cast<float>(sa / m), b = static_cast<float>(sb / m);
    float* dg = dx + ng * m;
    for (int64_t k = 0; k < cpg; ++k) {
      const float ga = gamma ? gamma[c0 + k] : 1.f;
      for (int64_t i = k * s; i < (k + 1) * s; ++i) dg[i] = group_norm_dx(gg[i] * ga, (xg[i] - mu) * rs, rs, a, b);
    }
  }
}

// dgamma[c] = sum_{n,s} g * xhat, dbeta[c] = sum_{n,s} g; one task per channel, samples in order.
void group_norm_dparams(const float* g, const float* x, const float* mean, const float* rstd, int64_t n, int64_t c,
                        int64_t s, int64_t groups, float* dgamma, float* dbeta) {
  const int64_t cpg = c / groups;
#pragma omp parallel for schedule(static) if (n * c * s > 32768)
  for (int64_t ch = 0; ch < c; ++ch) {
    double sg = 0, sb = 0;
    for (int64_t i = 0; i < n; ++i) {
      const int64_t ng = i * groups + ch / cpg;
      const float mu = mean[ng], rs = rstd[ng];
      const float* xs = x + (i * c + ch) * s;
      const float* gs = g + (i * c + ch) * s;
      for (int64_t j = 0; j < s; ++j) {
        sg += static_cast<double>(gs[j]) * ((xs[j] - mu) * rs);
        sb += gs[j];
      }
    }
    if (dgamma) dgamma[ch] = static_cast<float>(sg);
    if (dbeta) dbeta[ch] = static_cast<float>(sb);
  }
}
}  // namespace

void group_norm_backward(const float* g, const float* x, const float* mean, const float* rstd, const float* gamma,
                         int64_t n, int64_t c, int64_t s, int64_t groups, float* dx, float* dgamma, float* dbeta) {
  if (dx) group_norm_dx_all(g, x, mean, rstd, gamma, n, c, s, groups, dx);
  if (dgamma || dbeta) group_norm_dparams(g, x, mean, rstd, n, c, s, groups, dgamma, dbeta);
}

}  // namespace yoco::kernels::cpu
