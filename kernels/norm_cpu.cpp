// Normalisation family, CPU loops (OpenMP): one task per (sample, group); dgamma/dbeta from per-plane partials.
#include <cmath>
#include <vector>
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

// Σ g and Σ g·(x − mu)·rs over m elements, added to *sg and *sgx.
inline void dot2_f(const float* g, const float* x, int64_t m, float mu, float rs, double* sg, double* sgx) {
  for (int64_t b = 0; b < m; b += kBlock) {
    const int64_t e = b + kBlock < m ? b + kBlock : m;
    float pg = 0.f, pgx = 0.f;
#pragma omp simd reduction(+ : pg, pgx)
    for (int64_t i = b; i < e; ++i) {
      const float gi = g[i];
      pg += gi;
      pgx += gi * ((x[i] - mu) * rs);
    }
    *sg += pg;
    *sgx += pgx;
  }
}

// Mean and rstd of one group's m contiguous elements: the mean first, then the centred second moment (two passes,
// no cancellation).
inline void group_stats(const float* xg, int64_t m, float eps, float* mean, float* rstd) {
  const double mu = sum_f(xg, m) / static_cast<double>(m);
  const double var = centered_sq_f(xg, m, static_cast<float>(mu)) / static_cast<double>(m);
  *mean = static_cast<float>(mu);
  *rstd = static_cast<float>(1.0 / std::sqrt(var + static_cast<double>(eps)));
}

// One group's backward from its gradient gy (which may alias dx): the plane sums P/Q of its cpg channels
// (norm.h), then dx when wanted. gamma points at the group's first channel, or is null.
void group_backward(const float* gy, const float* x, float mu, float rs, const float* gamma, int64_t cpg, int64_t s,
                    float* dx, double* p, double* q) {
  double sa = 0, sb = 0;
  for (int64_t k = 0; k < cpg; ++k) {
    p[k] = 0;
    q[k] = 0;
    dot2_f(gy + k * s, x + k * s, s, mu, rs, &p[k], &q[k]);
    const double ga = gamma ? gamma[k] : 1.0;
    sa += ga * p[k];
    sb += ga * q[k];
  }
  if (!dx) return;
  const double m = static_cast<double>(cpg * s);
  const float a = static_cast<float>(sa / m), b = static_cast<float>(sb / m);
  for (int64_t k = 0; k < cpg; ++k) {
    const float ga = gamma ? gamma[k] : 1.f;
#pragma omp simd
    for (int64_t i = k * s; i < (k + 1) * s; ++i) dx[i] = group_norm_dx(gy[i] * ga, (x[i] - mu) * rs, rs, a, b);
  }
}

// Second stage: dbeta[c] = Σ_n P[n, c], dgamma[c] = Σ_n Q[n, c], in sample order.
void finish_dparams(const double* p, const double* q, int64_t n, int64_t c, float* dgamma, float* dbeta) {
  for (int64_t ch = 0; ch < c; ++ch) {
    double sp = 0, sq = 0;
    for (int64_t i = 0; i < n; ++i) {
      sp += p[i * c + ch];
      sq += q[i * c + ch];
    }
    if (dgamma) dgamma[ch] = static_cast<float>(sq);
    if (dbeta) dbeta[ch] = static_cast<float>(sp);
  }
}
}  // namespace

void group_norm_forward(const float* x, const float* gamma, const float* beta, float* y, float* mean, float* rstd,
                        int64_t n, int64_t c, int64_t s, int64_t groups, float eps) {
  const int64_t cpg = c / groups, m = cpg * s;
#pragma omp parallel for schedule(static) if (n * c * s > 32768)
  for (int64_t ng = 0; ng < n * groups; ++ng) {
    const float* xg = x + ng * m;
    float mu, rs;
    group_stats(xg, m, eps, &mu, &rs);
    mean[ng] = mu;
    rstd[ng] = rs;
    const int64_t c0 = (ng % groups) * cpg;
    float* yg = y + ng * m;
    for (int64_t k = 0; k < cpg; ++k) {
      const float ga = gamma ? gamma[c0 + k] : 1.f, be = beta ? beta[c0 + k] : 0.f;
#pragma omp simd
      for (int64_t i = k * s; i < (k + 1) * s; ++i) yg[i] = group_norm_apply(xg[i], mu, rs, ga, be);
    }
  }
}

void group_norm_backward(const float* g, const float* x, const float* mean, const float* rstd, const float* gamma,
                         int64_t n, int64_t c, int64_t s, int64_t groups, float* dx, float* dgamma, float* dbeta) {
  const int64_t cpg = c / groups, m = cpg * s;
  std::vector<double> p(static_cast<size_t>(n * c)), q(static_cast<size_t>(n * c));
#pragma omp parallel for schedule(static) if (n * c * s > 32768)
  for (int64_t ng = 0; ng < n * groups; ++ng) {
    const int64_t c0 = (ng % groups) * cpg;
    group_backward(g + ng * m, x + ng * m, mean[ng], rstd[ng], gamma ? gamma + c0 : nullptr, cpg, s,
                   dx ? dx + ng * m : nullptr, &p[static_cast<size_t>(ng * cpg)], &q[static_cast<size_t>(ng * cpg)]);
  }
  if (dgamma || dbeta) finish_dparams(p.data(), q.data(), n, c, dgamma, dbeta);
}

void group_norm_relu_pool_forward(const float* x, const float* gamma, const float* beta, float* y, float* mean,
                                  float* rstd, int64_t n, int64_t c, int64_t h, int64_t w, int64_t groups, float eps) {
  const int64_t cpg = c / groups, s = h * w, m = cpg * s, oh = h / 2, ow = w / 2;
#pragma omp parallel for schedule(static) if (n * c * s > 32768)
  for (int64_t ng = 0; ng < n * groups; ++ng) {
    const float* xg = x + ng * m;
    float mu, rs;
    group_stats(xg, m, eps, &mu, &rs);
    mean[ng] = mu;
    rstd[ng] = rs;
    const int64_t c0 = (ng % groups) * cpg;
    for (int64_t k = 0; k < cpg; ++k) {
      const float ga = gamma ? gamma[c0 + k] : 1.f, be = beta ? beta[c0 + k] : 0.f;
      const float* xp = xg + k * s;
      float* yp = y + (ng * cpg + k) * oh * ow;
      for (int64_t i = 0; i < oh; ++i) {
        const float* r0 = xp + 2 * i * w;
        const float* r1 = r0 + w;
#pragma omp simd
        for (int64_t j = 0; j < ow; ++j) {
          const auto v = [&](const float* r, int64_t col) { return relu_value(group_norm_apply(r[col], mu, rs, ga, be)); };
          yp[i * ow + j] = pool4(v(r0, 2 * j), v(r0, 2 * j + 1), v(r1, 2 * j), v(r1, 2 * j + 1));
        }
      }
    }
  }
}

void group_norm_relu_pool_backward(const float* gp, const float* x, const float* mean, const float* rstd,
                                   const float* gamma, const float* beta, int64_t n, int64_t c, int64_t h, int64_t w,
                                   int64_t groups, float* dx, float* dgamma, float* dbeta) {
  const int64_t cpg = c / groups, s = h * w, m = cpg * s, oh = h / 2, ow = w / 2;
  std::vector<double> p(static_cast<size_t>(n * c)), q(static_cast<size_t>(n * c));
#pragma omp parallel for schedule(static) if (n * c * s > 32768)
  for (int64_t ng = 0; ng < n * groups; ++ng) {
    const float* xg = x + ng * m;
    float* dg = dx + ng * m;
    const float mu = mean[ng], rs = rstd[ng];
    const int64_t c0 = (ng % groups) * cpg;
    // dx first holds the gradient at the norm's output (pool adjoint, relu mask), then becomes the result.
    for (int64_t k = 0; k < cpg; ++k) {
      const float ga = gamma ? gamma[c0 + k] : 1.f, be = beta ? beta[c0 + k] : 0.f;
      const float* gk = gp + (ng * cpg + k) * oh * ow;
      for (int64_t i = 0; i < h; ++i) {
        const float* gr = gk + (i / 2) * ow;
        const float* xr = xg + k * s + i * w;
        float* dr = dg + k * s + i * w;
        // By window column, vectorised (relu_mask is a bit mask, not a branch).
#pragma omp simd
        for (int64_t j = 0; j < ow; ++j) {
          dr[2 * j] = norm_relu_pool_grad(gr[j], xr[2 * j], mu, rs, ga, be);
          dr[2 * j + 1] = norm_relu_pool_grad(gr[j], xr[2 * j + 1], mu, rs, ga, be);
        }
      }
    }
    group_backward(dg, xg, mu, rs, gamma ? gamma + c0 : nullptr, cpg, s, dg, &p[static_cast<size_t>(ng * cpg)],
                   &q[static_cast<size_t>(ng * cpg)]);
  }
  if (dgamma || dbeta) finish_dparams(p.data(), q.data(), n, c, dgamma, dbeta);
}

}  // namespace yoco::kernels::cpu
