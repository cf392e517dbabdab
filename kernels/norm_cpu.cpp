// Normalisation family, CPU loops (OpenMP): one task per (sample, group); per-channel sums for dgamma/dbeta.
#include <cmath>
#include "kernels/norm.h"

namespace yoco::kernels::cpu {

namespace {
// Sums run in float over blocks of 256 elements (vectorised), blocks accumulate in double: the rounding error
// stays at float level per block while the long sums keep double accuracy. Fixed order, so deterministic.
constexpr int64_t kBlock = 256;

inline double sum_f(const float* p, int64_t m) {
  double acc = 0;
  for (int64_t b = 0; b < m; b += kBlock) {
    const int64_t e = b + kBlock < m ? b + kBlock : m;
    float part = 0.f;
#pragma omp simd reduction(+ : part)
    for (int64_t i = b; i < e; ++i) part += p[i];
    acc += part;
  }
  return acc;
}

inline double centered_sq_f(const float* p, int64_t m, float mu) {
  double acc = 0;
  for (int64_t b = 0; b < m; b += kBlock) {
    const int64_t e = b + kBlock < m ? b + kBlock : m;
    float part = 0.f;
#pragma omp simd reduction(+ : part)
    for (int64_t i = b; i < e; ++i) part += (p[i] - mu) * (p[i] - mu);
    acc += part;
  }
  return acc;
}

// Σ g·scale and Σ g·scale·(x − mu)·rs over m elements.
inline void dot2_f(const float* g, const float* x, int64_t m, float scale, float mu, float rs, double* sg, double* sgx) {
  for (int64_t b = 0; b < m; b += kBlock) {
    const int64_t e = b + kBlock < m ? b + kBlock : m;
    float pg = 0.f, pgx = 0.f;
#pragma omp simd reduction(+ : pg, pgx)
    for (int64_t i = b; i < e; ++i) {
      const float gi = g[i] * scale;
      pg += gi;
      pgx += gi * ((x[i] - mu) * rs);
    }
    *sg += pg;
    *sgx += pgx;
  }
}
}  // namespace

void group_norm_forward(const float* x, const float* gamma, const float* beta, float* y, float* mean, float* rstd,
                        int64_t n, int64_t c, int64_t s, int64_t groups, float eps) {
  const int64_t cpg = c / groups, m = cpg * s;
#pragma omp parallel for schedule(static) if (n * c * s > 32768)
  for (int64_t ng = 0; ng < n * groups; ++ng) {
    const float* xg = x + ng * m;
    // Two passes: the mean first, then the centred second moment (no cancellation).
    const double mu = sum_f(xg, m) / static_cast<double>(m);
    const double var = centered_sq_f(xg, m, static_cast<float>(mu)) / static_cast<double>(m);
    const float mu_f = static_cast<float>(mu);
    const float rs = static_cast<float>(1.0 / std::sqrt(var + static_cast<double>(eps)));
    mean[ng] = mu_f;
    rstd[ng] = rs;
    const int64_t c0 = (ng % groups) * cpg;
    float* yg = y + ng * m;
    for (int64_t k = 0; k < cpg; ++k) {
      const float ga = gamma ? gamma[c0 + k] : 1.f, be = beta ? beta[c0 + k] : 0.f;
#pragma omp simd
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
    for (int64_t k = 0; k < cpg; ++k)
      dot2_f(gg + k * s, xg + k * s, s, gamma ? gamma[c0 + k] : 1.f, mu, rs, &sa, &sb);
    const float a = static_cast<float>(sa / m), b = static_cast<float>(sb / m);
    float* dg = dx + ng * m;
    for (int64_t k = 0; k < cpg; ++k) {
      const float ga = gamma ? gamma[c0 + k] : 1.f;
#pragma omp simd
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
      dot2_f(g + (i * c + ch) * s, x + (i * c + ch) * s, s, 1.f, mu, rs, &sb, &sg);
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
