// Softmax/loss family, CPU loops (OpenMP over rows).
#include "kernels/softmax_loss.h"

namespace yoco::kernels::cpu {

void log_softmax(const float* x, float* out, int64_t n, int64_t c) {
#pragma omp parallel for schedule(static) if (n * c > 32768)
  for (int64_t r = 0; r < n; ++r) {
    const float* xr = x + r * c;
    const float lse = row_logsumexp(xr, c);
    float* o = out + r * c;
    for (int64_t k = 0; k < c; ++k) o[k] = xr[k] - lse;
  }
}

void per_sample_stats(const float* logits, const int64_t* labels, int64_t n, int64_t c, float* el2n, float* loss,
                      float* correct, float* margin, float* entropy) {
#pragma omp parallel for schedule(static) if (n * c > 32768)
  for (int64_t r = 0; r < n; ++r) {
    per_sample_stats_store(per_sample_stats_row(logits + r * c, c, labels[r]), r, el2n, loss, correct, margin,
                           entropy);
  }
}

void one_hot(const int64_t* labels, int64_t n, int64_t c, float* out) {
#pragma omp parallel for schedule(static) if (n * c > 32768)
  for (int64_t r = 0; r < n; ++r) {
    float* o = out + r * c;
    for (int64_t k = 0; k < c; ++k) o[k] = one_hot_value(labels[r], k);
  }
}

}  // namespace yoco::kernels::cpu
