// Normalisation family, CPU loops (OpenMP): one task per (sample, group); dgamma/dbeta from per-plane partials.
#include <cmath>
#include <vector>
#include "kernels/norm.h"

namespace yoco::kernels::cpu {

namespace {
// Sums run in float over blocks of 256 elements (vectorised), blocks accumulate in double: the rounding error
// stays at float level per block while the long sums keep double accuracy. Fixed order, so deterministic.
constexpr int64_t kBlock = 256;

// The sums below read p[i] + add: `add` is the per-channel input bias of the fused tail (0 elsewhere, which
// leaves every value unchanged).
inline double sum_f(const float* p, int64_t m, float add) {
  double acc = 0;
  for (int64_t b = 0; b < m; b += kBlock) {
    const int64_t e = b + kBlock < m ? b + kBlock : m;
    float part = 0.f;
#pragma omp simd reduction(+ : part)
    for (int64_t i = b; i < e; ++i) part += p[i] + add;
    acc += part;
  }
  return acc;
}

// Σ d and Σ d² of d = (p[i] + add) − mu over m elements, added to *sd and *sq.
inline void centered_sums_f(const float* p, int64_t m, float mu, float add, double* sd, double* sq) {
  for (int64_t b = 0; b < m; b += kBlock) {
    const int64_t e = b + kBlock < m ? b + kBlock : m;
    float pd = 0.f, pq = 0.f;
#pragma omp simd reduction(+ : pd, pq)
    for (int64_t i = b; i < e; ++i) {
      const float d = (p[i] + add) - mu;
      pd += d;
      pq += d * d;
    }
    *sd += pd;
    *sq += pq;
  }
}

// Σ g and Σ g·(x + add − mu)·rs over m elements, added to *sg and *sgx.
inline void dot2_f(const float* g, const float* x, int64_t m, float add, float mu, float rs, double* sg,
                   double* sgx) {
  for (int64_t b = 0; b < m; b += kBlock) {
    const int64_t e = b + kBlock < m ? b + kBlock : m;
    float pg = 0.f, pgx = 0.f;
#pragma omp simd reduction(+ : pg, pgx)
    for (int64_t i = b; i < e; ++i) {
      const float gi = g[i];
      pg += gi;
      pgx += gi * (((x[i] + add) - mu) * rs);
    }
    *sg += pg;
    *sgx += pgx;
  }
}

// Mean and rstd of one group of cpg channels of s contiguous elements (+ xb[k] per channel when xb is set): the
// mean first, then the centred sums (two passes, no cancellation). Without a bias the group is one run.
inline void group_stats(const float* xg, const float* xb, int64_t cpg, int64_t s, float eps, float* mean,
                        float* rstd) {
  const int64_t m = cpg * s;
  double sum = 0;
  if (!xb) sum = sum_f(xg, m, 0.f);
  else
    for (int64_t k = 0; k < cpg; ++k) sum += sum_f(xg + k * s, s, xb[k]);
  const float mu_f = static_cast<float>(sum / static_cast<double>(m));
  double sd = 0, sq = 0;
  if (!xb) centered_sums_f(xg, m, mu_f, 0.f, &sd, &sq);
  else
    for (int64_t k = 0; k < cpg; ++k) centered_sums_f(xg + k * s, s, mu_f, xb[k], &sd, &sq);
  // The first pass's float sums round: on a constant plane mu_f can sit an ulp off the value, and 1/√eps ≈ 316
  // would turn that ulp into normalised values far from 0 (and relu into gradients that should be 0). The mean
  // residual r = mean(x − mu_f) is exact there (each difference is exact and equal), so mu_f + r is the value
  // itself and the plane normalises to exactly 0; elsewhere it is the corrected two-pass mean and variance.
  const double r = sd / static_cast<double>(m);
  const double var = sq / static_cast<double>(m) - r * r;
  *mean = static_cast<float>(static_cast<double>(mu_f) + r);
  *rstd = static_cast<float>(1.0 / std::sqrt((var > 0 ? var : 0.0) + static_cast<double>(eps)));
}

// Per-group pointers into the [N, C] plane partials: P = Σ g, Q = Σ g·xhat, and R = Σ dx (null when the input
// bias gradient is not wanted).
struct PlaneSums {
  double *p, *q, *r;
};

// One group's backward from its gradient gy (which may alias dx): the plane sums P/Q of its cpg channels
// (norm.h), then dx (and R) when wanted. gamma and xb point at the group's first channel, or are null.
void group_backward(const float* gy, const float* x, const float* xb, float mu, float rs, const float* gamma,
                    int64_t cpg, int64_t s, float* dx, PlaneSums ps) {
  double sa = 0, sb = 0;
  for (int64_t k = 0; k < cpg; ++k) {
    ps.p[k] = 0;
    ps.q[k] = 0;
    dot2_f(gy + k * s, x + k * s, s, xb ? xb[k] : 0.f, mu, rs, &ps.p[k], &ps.q[k]);
    const double ga = gamma ? gamma[k] : 1.0;
    sa += ga * ps.p[k];
    sb += ga * ps.q[k];
  }
  if (!dx) return;
  const double m = static_cast<double>(cpg * s);
  const float a = static_cast<float>(sa / m), b = static_cast<float>(sb / m);
  for (int64_t k = 0; k < cpg; ++k) {
    const float ga = gamma ? gamma[k] : 1.f, add = xb ? xb[k] : 0.f;
    double r = 0;
    for (int64_t lo = k * s; lo < (k + 1) * s; lo += kBlock) {
      const int64_t hi = lo + kBlock < (k + 1) * s ? lo + kBlock : (k + 1) * s;
      float part = 0.f;
#pragma omp simd reduction(+ : part)
      for (int64_t i = lo; i < hi; ++i) {
        const float d = group_norm_dx(gy[i] * ga, ((x[i] + add) - mu) * rs, rs, a, b);
        dx[i] = d;
        part += d;
      }
      r += part;
    }
    if (ps.r) ps.r[k] = r;
  }
}

// Second stage: dbeta[c] = Σ_n P[n, c], dgamma[c] = Σ_n Q[n, c], dxbias[c] = Σ_n R[n, c], in sample order.
void finish_dparams(const std::vector<double>& pqr, int64_t n, int64_t c, float* dgamma, float* dbeta,
                    float* dxbias) {
  const double *p = pqr.data(), *q = p + n * c, *r = q + n * c;
  for (int64_t ch = 0; ch < c; ++ch) {
    double sp = 0, sq = 0, sr = 0;
    for (int64_t i = 0; i < n; ++i) {
      sp += p[i * c + ch];
      sq += q[i * c + ch];
      if (dxbias) sr += r[i * c + ch];
    }
    if (dgamma) dgamma[ch] = static_cast<float>(sq);
    if (dbeta) dbeta[ch] = static_cast<float>(sp);
    if (dxbias) dxbias[ch] = static_cast<float>(sr);
  }
}

// The partials of group ng (its first plane is ng * cpg) in pqr = [P | Q | R].
PlaneSums plane_sums(std::vector<double>& pqr, int64_t nc, int64_t first_plane, bool with_r) {
  double* p = pqr.data() + first_plane;
  return {p, p + nc, with_r ? p + 2 * nc : nullptr};
}
}  // namespace

void group_norm_forward(const float* x, const float* gamma, const float* beta, float* y, float* mean, float* rstd,
                        int64_t n, int64_t c, int64_t s, int64_t groups, float eps) {
  const int64_t cpg = c / groups, m = cpg * s;
#pragma omp parallel for schedule(static) if (n * c * s > 32768)
  for (int64_t ng = 0; ng < n * groups; ++ng) {
    const float* xg = x + ng * m;
    float mu, rs;
    group_stats(xg, nullptr, cpg, s, eps, &mu, &rs);
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
  std::vector<double> pq(static_cast<size_t>(2 * n * c));
#pragma omp parallel for schedule(static) if (n * c * s > 32768)
  for (int64_t ng = 0; ng < n * groups; ++ng) {
    const int64_t c0 = (ng % groups) * cpg;
    group_backward(g + ng * m, x + ng * m, nullptr, mean[ng], rstd[ng], gamma ? gamma + c0 : nullptr, cpg, s,
                   dx ? dx + ng * m : nullptr, plane_sums(pq, n * c, ng * cpg, false));
  }
  if (dgamma || dbeta) finish_dparams(pq, n, c, dgamma, dbeta, nullptr);
}

void group_norm_relu_pool_forward(const float* x, const float* xbias, const float* gamma, const float* beta, float* y,
                                  float* mean, float* rstd, int64_t n, int64_t c, int64_t h, int64_t w, int64_t groups,
                                  float eps) {
  const int64_t cpg = c / groups, s = h * w, m = cpg * s, oh = h / 2, ow = w / 2;
#pragma omp parallel for schedule(static) if (n * c * s > 32768)
  for (int64_t ng = 0; ng < n * groups; ++ng) {
    const float* xg = x + ng * m;
    const int64_t c0 = (ng % groups) * cpg;
    float mu, rs;
    group_stats(xg, xbias ? xbias + c0 : nullptr, cpg, s, eps, &mu, &rs);
    mean[ng] = mu;
    rstd[ng] = rs;
    for (int64_t k = 0; k < cpg; ++k) {
      const float ga = gamma ? gamma[c0 + k] : 1.f, be = beta ? beta[c0 + k] : 0.f;
      const float add = xbias ? xbias[c0 + k] : 0.f;
      const float* xp = xg + k * s;
      float* yp = y + (ng * cpg + k) * oh * ow;
      for (int64_t i = 0; i < oh; ++i) {
        const float* r0 = xp + 2 * i * w;
        const float* r1 = r0 + w;
#pragma omp simd
        for (int64_t j = 0; j < ow; ++j) {
          const auto v = [&](const float* r, int64_t col) {
            return relu_value(group_norm_apply(r[col] + add, mu, rs, ga, be));
          };
          yp[i * ow + j] = pool4(v(r0, 2 * j), v(r0, 2 * j + 1), v(r1, 2 * j), v(r1, 2 * j + 1));
        }
      }
    }
  }
}

void group_norm_relu_pool_backward(const float* gp, const float* x, const float* xbias, const float* mean,
                                   const float* rstd, const float* gamma, const float* beta, int64_t n, int64_t c,
                                   int64_t h, int64_t w, int64_t groups, float* dx, float* dgamma, float* dbeta,
                                   float* dxbias) {
  const int64_t cpg = c / groups, s = h * w, m = cpg * s, oh = h / 2, ow = w / 2;
  std::vector<double> pqr(static_cast<size_t>((dxbias ? 3 : 2) * n * c));
#pragma omp parallel for schedule(static) if (n * c * s > 32768)
  for (int64_t ng = 0; ng < n * groups; ++ng) {
    const float* xg = x + ng * m;
    float* dg = dx + ng * m;
    const float mu = mean[ng], rs = rstd[ng];
    const int64_t c0 = (ng % groups) * cpg;
    // dx first holds the gradient at the norm's output (pool adjoint, relu mask), then becomes the result.
    for (int64_t k = 0; k < cpg; ++k) {
      const float ga = gamma ? gamma[c0 + k] : 1.f, be = beta ? beta[c0 + k] : 0.f;
      const float add = xbias ? xbias[c0 + k] : 0.f;
      const float* gk = gp + (ng * cpg + k) * oh * ow;
      for (int64_t i = 0; i < h; ++i) {
        const float* xr = xg + k * s + i * w;
        float* dr = dg + k * s + i * w;
        if (i >= 2 * oh) {  // an odd plane's last row is in no window (the pool floors)
          for (int64_t j = 0; j < w; ++j) dr[j] = 0.f;
          continue;
        }
        const float* gr = gk + (i / 2) * ow;
        // By window column, vectorised (relu_mask is a bit mask, not a branch).
#pragma omp simd
        for (int64_t j = 0; j < ow; ++j) {
          dr[2 * j] = norm_relu_pool_grad(gr[j], xr[2 * j] + add, mu, rs, ga, be);
          dr[2 * j + 1] = norm_relu_pool_grad(gr[j], xr[2 * j + 1] + add, mu, rs, ga, be);
        }
        if (w > 2 * ow) dr[w - 1] = 0.f;  // and its last column
      }
    }
    group_backward(dg, xg, xbias ? xbias + c0 : nullptr, mu, rs, gamma ? gamma + c0 : nullptr, cpg, s, dg,
                   plane_sums(pqr, n * c, ng * cpg, dxbias != nullptr));
  }
  if (dgamma || dbeta || dxbias) finish_dparams(pqr, n, c, dgamma, dbeta, dxbias);
}

}  // namespace yoco::kernels::cpu
