// k-means for the SSP baseline (see kmeans.h). Sizes are small (hundreds of points, 2048-d), so plain loops do.
#include "apps/common/kmeans.h"
#include <limits>
#include "kernels/common.h"
#include "kernels/philox_shuffle.h"

namespace yoco::app {

namespace {
constexpr uint64_t kKmeansStream = 31;
double dist2(const float* a, const float* b, int64_t d) {
  double s = 0;
  for (int64_t j = 0; j < d; ++j) {
    double t = static_cast<double>(a[j]) - b[j];
    s += t * t;
  }
  return s;
}
// Index of the row of `rows` (m × d) nearest to `q` (ties: the lowest index).
int64_t nearest_row(const float* q, const std::vector<float>& rows, int64_t m, int64_t d) {
  int64_t best = 0;
  double bd = std::numeric_limits<double>::max();
  for (int64_t r = 0; r < m; ++r) {
    double dd = dist2(q, &rows[r * d], d);
    if (dd < bd) bd = dd, best = r;
  }
  return best;
}
}  // namespace

std::vector<float> kmeans(const std::vector<float>& pts, int64_t n, int64_t d, int64_t k, uint64_t seed,
                          int64_t max_iter) {
  YOCO_CHECK(k >= 1 && k <= n, "k-means: k = ", k, " clusters for ", n, " points");
  std::vector<int64_t> perm(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) perm[i] = i;
  kernels::philox_shuffle(perm.data(), n, seed, kKmeansStream, 0, kernels::ShuffleDraw::Modulo);
  std::vector<float> cent(static_cast<size_t>(k * d));
  for (int64_t c = 0; c < k; ++c)
    std::copy(pts.begin() + perm[c] * d, pts.begin() + (perm[c] + 1) * d, cent.begin() + c * d);
  std::vector<int64_t> assign(static_cast<size_t>(n), -1);
  for (int64_t it = 0; it < max_iter; ++it) {
    bool changed = false;
#pragma omp parallel for schedule(static) reduction(|| : changed)
    for (int64_t i = 0; i < n; ++i) {
      int64_t best = nearest_row(&pts[i * d], cent, k, d);
      if (assign[i] != best) assign[i] = best, changed = true;
    }
    if (!changed) break;
    std::vector<double> sum(static_cast<size_t>(k * d), 0.0);
    std::vector<int64_t> cnt(static_cast<size_t>(k), 0);
    for (int64_t i = 0; i < n; ++i) {
      ++cnt[assign[i]];
      for (int64_t j = 0; j < d; ++j) sum[assign[i] * d + j] += pts[i * d + j];
    }
    for (int64_t c = 0; c < k; ++c)
      if (cnt[c] > 0)
        for (int64_t j = 0; j < d; ++j) cent[c * d + j] = static_cast<float>(sum[c * d + j] / static_cast<double>(cnt[c]));
  }
  return cent;
}

std::vector<int64_t> nearest_to_centroids(const std::vector<float>& pts, int64_t n, int64_t d,
                                          const std::vector<float>& cent, int64_t k) {
  std::vector<int64_t> out(static_cast<size_t>(k));
  for (int64_t c = 0; c < k; ++c) out[c] = nearest_row(&cent[c * d], pts, n, d);
  return out;
}

}  // namespace yoco::app
