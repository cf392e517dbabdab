// Normalisation family, CUDA: one team per (sample, group) for the statistics, dx and the per-plane sums of the
// backward, where a team is one warp for groups of at most kWarpGroupMax elements (the ConvNet's planes) and a
// whole block for larger ones; one block per channel then adds those sums over the samples (norm.h), for dgamma,
// dbeta and dxbias. Double sums through the fixed trees of warp_sum2/block_sum2: deterministic, no atomics.
// Indices inside a group are 32-bit (checked on the host).
#include <climits>
#include <cmath>
#include <utility>
#include "kernels/cuda_check.cuh"
#include "kernels/norm.h"

namespace yoco::kernels::cuda {

namespace {
// A group of up to this many elements is summed by one warp: a 256-thread block per 8x8 or 16x16 plane left most
// threads idle and paid two block barriers per sum for one or two loads per thread, and 8 groups per block cut
// the number of blocks (a wave per ~1000 blocks on an H100) by 8.
constexpr int kWarpGroupMax = 4096;

// Who works on one group: a whole block (rank = thread, kSize = kThreads, block barriers) or one warp of a block
// that handles kWarps groups (rank = lane, no barriers: the warps of a block never wait for each other).
struct BlockTeam {
  static constexpr int kSize = kThreads;
  __device__ explicit BlockTeam(double* scratch) : sh(scratch) {}
  double* sh;  // kThreads doubles of shared scratch for block_sum2
  __device__ int rank() const { return static_cast<int>(threadIdx.x); }
  __device__ int64_t group() const { return blockIdx.x; }
  __device__ void sum2(double& a, double& b) const { block_sum2(a, b, sh); }
};
struct WarpTeam {
  static constexpr int kSize = 32;
  __device__ explicit WarpTeam(double*) {}  // built like BlockTeam; a warp needs no shared scratch
  __device__ int rank() const { return static_cast<int>(threadIdx.x) & 31; }
  __device__ int64_t group() const { return static_cast<int64_t>(blockIdx.x) * kWarps + (threadIdx.x >> 5); }
  __device__ void sum2(double& a, double& b) const { warp_sum2(a, b); }
};

// The fused tail's input bias for a group: element i of the group (channel i / s) reads x + b[channel].
struct GroupBias {
  const float* b;  // the group's first channel, or null (no bias: adds 0, which changes no value)
  int s, cpg;
  __device__ float at_channel(int k) const { return b ? b[k] : 0.f; }
  __device__ float at_element(int i) const { return b ? b[cpg == 1 ? 0 : i / s] : 0.f; }
};

// Mean and rstd of a group's m contiguous elements (+ its bias), as the CPU: the mean first, then the centred
// sums, whose residual mean corrects the first mean (a constant plane then normalises to exactly 0: see the CPU's
// group_stats).
template <class Team>
__device__ void group_stats(const Team& team, const float* xg, int m, GroupBias xb, float eps, float* mean,
                            float* rstd) {
  double acc = 0.0, unused = 0.0;
  // Unrolled so that a warp team keeps several loads in flight per lane (the sum's order is unchanged).
#pragma unroll 4
  for (int i = team.rank(); i < m; i += Team::kSize) acc += xg[i] + xb.at_element(i);
  team.sum2(acc, unused);
  const float mu_f = static_cast<float>(acc / static_cast<double>(m));
  double var = 0.0, dsum = 0.0;
#pragma unroll 4
  for (int i = team.rank(); i < m; i += Team::kSize) {
    const float d = (xg[i] + xb.at_element(i)) - mu_f;  // float, as the CPU's centred sums
    dsum += d;
    var += static_cast<double>(d) * d;
  }
  team.sum2(var, dsum);
  const double r = dsum / static_cast<double>(m), v = var / static_cast<double>(m) - r * r;
  *mean = static_cast<float>(static_cast<double>(mu_f) + r);
  *rstd = static_cast<float>(1.0 / sqrt((v > 0.0 ? v : 0.0) + static_cast<double>(eps)));
}

template <class Team>
__global__ void gn_forward_kernel(const float* x, const float* gamma, const float* beta, float* y, float* mean,
                                  float* rstd, int c, int s, int groups, float eps, int64_t total) {
  __shared__ double sh[kThreads];
  const Team team(sh);
  const int64_t ng = team.group();
  if (ng >= total) return;  // a warp team past the last group (no barrier follows for it)
  const int cpg = c / groups, m = cpg * s, c0 = static_cast<int>(ng % groups) * cpg;
  const float* xg = x + ng * m;
  float mu, rs;
  group_stats(team, xg, m, GroupBias{nullptr, s, cpg}, eps, &mu, &rs);
  if (team.rank() == 0) {
    mean[ng] = mu;
    rstd[ng] = rs;
  }
  float* yg = y + ng * m;
  for (int i = team.rank(); i < m; i += Team::kSize) {
    const int ch = c0 + i / s;
    yg[i] = group_norm_apply(xg[i], mu, rs, gamma ? gamma[ch] : 1.f, beta ? beta[ch] : 0.f);
  }
}

// Fused tail forward: the group's statistics (whole planes), then each pooled output from its 2×2 window (odd
// sizes floored).
template <class Team>
__global__ void gnrp_forward_kernel(const float* x, const float* xbias, const float* gamma, const float* beta,
                                    float* y, float* mean, float* rstd, int c, int h, int w, int groups, float eps,
                                    int64_t total) {
  __shared__ double sh[kThreads];
  const Team team(sh);
  const int64_t ng = team.group();
  if (ng >= total) return;
  const int cpg = c / groups, s = h * w, c0 = static_cast<int>(ng % groups) * cpg;
  const int ow = w / 2, os = (h / 2) * ow;
  const float* xg = x + ng * cpg * s;
  const GroupBias xb{xbias ? xbias + c0 : nullptr, s, cpg};
  float mu, rs;
  group_stats(team, xg, cpg * s, xb, eps, &mu, &rs);
  if (team.rank() == 0) {
    mean[ng] = mu;
    rstd[ng] = rs;
  }
  float* yg = y + ng * cpg * os;
  for (int t = team.rank(); t < cpg * os; t += Team::kSize) {
    const int k = t / os, r = t % os, i = r / ow, j = r % ow;
    const float ga = gamma ? gamma[c0 + k] : 1.f, be = beta ? beta[c0 + k] : 0.f, add = xb.at_channel(k);
    const float* q = xg + k * s + 2 * i * w + 2 * j;
    const auto v = [&](float xv) { return relu_value(group_norm_apply(xv + add, mu, rs, ga, be)); };
    yg[t] = pool4(v(q[0]), v(q[1]), v(q[w]), v(q[w + 1]));
  }
}

// Where the backward's gradient at the norm's output comes from: the op's own g, or (fused tail) the pooled
// gradient through the pool's adjoint and relu's mask. `off` indexes the group's elements, `k` is the channel
// within the group and `i` the position in its plane.
struct PlainGrad {
  const float* g;  // this group's gradient
  __device__ float operator()(int off, int, int, float, float, float, float, float) const { return g[off]; }
};
struct PoolReluGrad {
  const float* gp;  // this group's pooled gradient, [cpg, oh, ow] = [cpg, h/2, w/2] (floored)
  int w, oh, ow;
  __device__ float operator()(int, int k, int i, float xv, float mu, float rs, float ga, float be) const {
    const int r = i / w, col = i % w;
    if (r >= 2 * oh || col >= 2 * ow) return 0.f;  // an odd plane's last row or column: in no window
    return norm_relu_pool_grad(gp[(k * oh + r / 2) * ow + col / 2], xv, mu, rs, ga, be);
  }
};

// The team of group ng: per channel k of the group, the plane sums P = Σ gy and Q = Σ gy·xhat (written to pq
// for the dgamma/dbeta stage when pq is set), the group means a, b from them, then dx (when dx is set) and, when
// with_r, R = Σ dx per plane (pq's third [N, C] part, for the input bias gradient). x values include the bias.
template <class Team, class Grad>
__device__ void gn_backward_group(const Team& team, const Grad& grad, const float* xg, const float* xbias,
                                  int64_t ng, const float* mean, const float* rstd, const float* gamma,
                                  const float* beta, int c, int s, int groups, float* dxg, double* pq, int64_t nc,
                                  bool with_r) {
  const int cpg = c / groups, c0 = static_cast<int>(ng % groups) * cpg;
  const GroupBias xb{xbias ? xbias + c0 : nullptr, s, cpg};
  const float mu = mean[ng], rs = rstd[ng];
  double sa = 0.0, sb = 0.0;
  for (int k = 0; k < cpg; ++k) {
    const float ga = gamma ? gamma[c0 + k] : 1.f, be = beta ? beta[c0 + k] : 0.f, add = xb.at_channel(k);
    double p = 0.0, q = 0.0;
#pragma unroll 4
    for (int i = team.rank(); i < s; i += Team::kSize) {
      const float xv = xg[k * s + i] + add;
      const float gy = grad(k * s + i, k, i, xv, mu, rs, ga, be);
      p += gy;
      q += static_cast<double>(gy) * ((xv - mu) * rs);
    }
    team.sum2(p, q);
    if (pq && team.rank() == 0) {
      pq[ng * cpg + k] = p;
      pq[nc + ng * cpg + k] = q;
    }
    sa += ga * p;
    sb += ga * q;
  }
  if (!dxg) return;
  const double m = static_cast<double>(cpg) * s;
  const float a = static_cast<float>(sa / m), b = static_cast<float>(sb / m);
  for (int k = 0; k < cpg; ++k) {
    const float ga = gamma ? gamma[c0 + k] : 1.f, be = beta ? beta[c0 + k] : 0.f, add = xb.at_channel(k);
    double r = 0.0, unused = 0.0;
#pragma unroll 4
    for (int i = team.rank(); i < s; i += Team::kSize) {
      const float xv = xg[k * s + i] + add;
      const float gy = grad(k * s + i, k, i, xv, mu, rs, ga, be);
      const float d = group_norm_dx(gy * ga, (xv - mu) * rs, rs, a, b);
      dxg[k * s + i] = d;
      r += d;
    }
    if (!with_r) continue;  // uniform over the team
    team.sum2(r, unused);
    if (team.rank() == 0) pq[2 * nc + ng * cpg + k] = r;
  }
}

template <class Team>
__global__ void gn_backward_kernel(const float* g, const float* x, const float* mean, const float* rstd,
                                   const float* gamma, int c, int s, int groups, float* dx, double* pq, int64_t nc,
                                   int64_t total) {
  __shared__ double sh[kThreads];
  const Team team(sh);
  const int64_t ng = team.group(), m = static_cast<int64_t>(c / groups) * s;
  if (ng >= total) return;
  gn_backward_group(team, PlainGrad{g + ng * m}, x + ng * m, nullptr, ng, mean, rstd, gamma, nullptr, c, s, groups,
                    dx ? dx + ng * m : nullptr, pq, nc, false);
}

template <class Team>
__global__ void gnrp_backward_kernel(const float* gp, const float* x, const float* xbias, const float* mean,
                                     const float* rstd, const float* gamma, const float* beta, int c, int h, int w,
                                     int groups, float* dx, double* pq, int64_t nc, bool with_r, int64_t total) {
  __shared__ double sh[kThreads];
  const Team team(sh);
  const int64_t ng = team.group();
  if (ng >= total) return;
  const int cpg = c / groups, oh = h / 2, ow = w / 2;
  const int64_t m = static_cast<int64_t>(cpg) * h * w;
  gn_backward_group(team, PoolReluGrad{gp + ng * cpg * oh * ow, w, oh, ow}, x + ng * m, xbias, ng, mean, rstd, gamma,
                    beta, c, h * w, groups, dx + ng * m, pq, nc, with_r);
}

// Block ch: dbeta[ch] = Σ_n P[n, ch], dgamma[ch] = Σ_n Q[n, ch], dxbias[ch] = Σ_n R[n, ch] (pq = [P | Q | R],
// each [N, C]; R only when dxbias is set).
__global__ void gn_dparams_kernel(const double* pq, int64_t n, int64_t c, float* dgamma, float* dbeta,
                                  float* dxbias) {
  __shared__ double sh[kThreads];
  const int64_t ch = blockIdx.x;
  double p = 0.0, q = 0.0, r = 0.0, unused = 0.0;
  for (int64_t i = threadIdx.x; i < n; i += kThreads) {
    p += pq[i * c + ch];
    q += pq[n * c + i * c + ch];
    if (dxbias) r += pq[2 * n * c + i * c + ch];
  }
  block_sum2(p, q, sh);
  if (dxbias) block_sum2(r, unused, sh);  // uniform over the block
  if (threadIdx.x != 0) return;
  if (dgamma) dgamma[ch] = static_cast<float>(q);
  if (dbeta) dbeta[ch] = static_cast<float>(p);
  if (dxbias) dxbias[ch] = static_cast<float>(r);
}

void check_group(int64_t c, int64_t s, int64_t groups, const char* op) {
  YOCO_CHECK(groups > 0 && c % groups == 0, op, ": ", c, " channels in ", groups, " groups");
  YOCO_CHECK(c <= INT_MAX && c * s <= INT_MAX, op, ": a sample of ", c, " x ", s,
             " elements exceeds the 32-bit in-group indexing");
}

// Launches kernel<WarpTeam> (kWarps groups per block) for groups of at most kWarpGroupMax elements, else
// kernel<BlockTeam> (a block per group); the group count is the kernels' last argument.
template <class... KArgs, class... Args>
void launch_groups(void (*warp_kernel)(KArgs...), void (*block_kernel)(KArgs...), int64_t total, int64_t m,
                   void* stream, Args&&... args) {
  if (m <= kWarpGroupMax)
    launch_grid(warp_kernel, (total + kWarps - 1) / kWarps, kThreads, 0, stream, std::forward<Args>(args)..., total);
  else
    launch_grid(block_kernel, total, kThreads, 0, stream, std::forward<Args>(args)..., total);
}

// Scratch for `parts` [N, C] sets of per-plane sums when any is wanted (parts > 0); null otherwise.
double* plane_sums_scratch(int64_t n, int64_t c, int parts, void* stream) {
  if (parts == 0) return nullptr;
  return static_cast<double*>(workspace(stream, static_cast<size_t>(parts * n * c) * sizeof(double)));
}
}  // namespace

void group_norm_forward(const float* x, const float* gamma, const float* beta, float* y, float* mean, float* rstd,
                        int64_t n, int64_t c, int64_t s, int64_t groups, float eps, void* stream) {
  check_group(c, s, groups, "group_norm_forward");
  launch_groups(gn_forward_kernel<WarpTeam>, gn_forward_kernel<BlockTeam>, n * groups, (c / groups) * s, stream, x,
                gamma, beta, y, mean, rstd, static_cast<int>(c), static_cast<int>(s), static_cast<int>(groups), eps);
}

void group_norm_backward(const float* g, const float* x, const float* mean, const float* rstd, const float* gamma,
                         int64_t n, int64_t c, int64_t s, int64_t groups, float* dx, float* dgamma, float* dbeta,
                         void* stream) {
  check_group(c, s, groups, "group_norm_backward");
  double* pq = plane_sums_scratch(n, c, dgamma || dbeta ? 2 : 0, stream);
  if (!dx && !pq) return;
  launch_groups(gn_backward_kernel<WarpTeam>, gn_backward_kernel<BlockTeam>, n * groups, (c / groups) * s, stream, g,
                x, mean, rstd, gamma, static_cast<int>(c), static_cast<int>(s), static_cast<int>(groups), dx, pq,
                n * c);
  if (pq) launch_grid(gn_dparams_kernel, c, kThreads, 0, stream, pq, n, c, dgamma, dbeta, nullptr);
}

void group_norm_relu_pool_forward(const float* x, const float* xbias, const float* gamma, const float* beta, float* y,
                                  float* mean, float* rstd, int64_t n, int64_t c, int64_t h, int64_t w, int64_t groups,
                                  float eps, void* stream) {
  check_group(c, h * w, groups, "group_norm_relu_pool_forward");
  YOCO_CHECK(h >= 2 && w >= 2, "group_norm_relu_pool_forward: ", h, "x", w, " is not poolable");
  launch_groups(gnrp_forward_kernel<WarpTeam>, gnrp_forward_kernel<BlockTeam>, n * groups, (c / groups) * h * w,
                stream, x, xbias, gamma, beta, y, mean, rstd, static_cast<int>(c), static_cast<int>(h),
                static_cast<int>(w), static_cast<int>(groups), eps);
}

void group_norm_relu_pool_backward(const float* gp, const float* x, const float* xbias, const float* mean,
                                   const float* rstd, const float* gamma, const float* beta, int64_t n, int64_t c,
                                   int64_t h, int64_t w, int64_t groups, float* dx, float* dgamma, float* dbeta,
                                   float* dxbias, void* stream) {
  check_group(c, h * w, groups, "group_norm_relu_pool_backward");
  YOCO_CHECK(h >= 2 && w >= 2, "group_norm_relu_pool_backward: ", h, "x", w, " is not poolable");
  YOCO_CHECK(dx != nullptr, "group_norm_relu_pool_backward: dx is required");
  double* pq = plane_sums_scratch(n, c, dxbias ? 3 : dgamma || dbeta ? 2 : 0, stream);
  launch_groups(gnrp_backward_kernel<WarpTeam>, gnrp_backward_kernel<BlockTeam>, n * groups, (c / groups) * h * w,
                stream, gp, x, xbias, mean, rstd, gamma, beta, static_cast<int>(c), static_cast<int>(h),
                static_cast<int>(w), static_cast<int>(groups), dx, pq, n * c, dxbias != nullptr);
  if (pq) launch_grid(gn_dparams_kernel, c, kThreads, 0, stream, pq, n, c, dgamma, dbeta, dxbias);
}

}  // namespace yoco::kernels::cuda
