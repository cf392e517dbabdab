// Softmax/loss family: fused row-wise log-softmax and the fused per-sample statistics used by pruning scores.
#pragma once
#include <cmath>
#include <cstdint>
#include "kernels/common.h"

namespace yoco::kernels {

// Row maximum and log-sum-exp of one row of c logits (max subtracted first: stable for any magnitude).
YOCO_HD float row_max(const float* x, int64_t c) {
  float m = x[0];
  for (int64_t k = 1; k < c; ++k) m = x[k] > m ? x[k] : m;
  return m;
}
YOCO_HD float row_logsumexp(const float* x, int64_t c) {
  const float m = row_max(x, c);
  float s = 0.f;
  for (int64_t k = 0; k < c; ++k) s += expf(x[k] - m);
  return m + logf(s);
}

// Per-sample statistics of one row: p = softmax(logits), y = label.
struct PerSampleStats {
  float el2n;     // ||p - onehot(y)||_2 (EL2N score)
  float loss;     // -log p_y (cross-entropy)
  float correct;  // 1 when argmax p == y (first maximum wins on ties), else 0
  float margin;   // p_y - max_{k != y} p_k (AUM probability margin); p_y when c == 1
  float entropy;  // -sum p log(p + 1e-10)
};

YOCO_HD void per_sample_stats_row(const float* logits, int64_t c, int64_t label, PerSampleStats* out) {
  int64_t arg = 0;
  for (int64_t k = 1; k < c; ++k)
    if (logits[k] > logits[arg]) arg = k;  // strict: the first maximum wins
  const float lse = row_logsumexp(logits, c);
  float sq = 0.f, other = 0.f, ent = 0.f, py = 0.f;
  for (int64_t k = 0; k < c; ++k) {
    const float p = expf(logits[k] - lse);
    const float d = k == label ? p - 1.f : p;
    sq += d * d;
    ent -= p * logf(p + 1e-10f);
    if (k == label)
      py = p;
    else
      other = p > other ? p : other;
  }
  out->el2n = sqrtf(sq);
  out->loss = lse - logits[label];
  out->correct = arg == label ? 1.f : 0.f;
  out->margin = py - other;
  out->entropy = ent;
}

// Row r of the fused kernel: computes the row's statistics and stores the requested ones (null = skip).
YOCO_HD void per_sample_stats_store(const float* logits, const int64_t* labels, int64_t r, int64_t c, float* el2n,
                                    float* loss, float* correct, float* margin, float* entropy) {
  PerSampleStats s;
  per_sample_stats_row(logits + r * c, c, labels[r], &s);
  if (el2n) el2n[r] = s.el2n;
  if (loss) loss[r] = s.loss;
  if (correct) correct[r] = s.correct;
  if (margin) margin[r] = s.margin;
  if (entropy) entropy[r] = s.entropy;
}

namespace cpu {
// out[r, k] = x[r, k] - logsumexp(x[r, :]) for an [n, c] row-major array.
void log_softmax(const float* x, float* out, int64_t n, int64_t c);
// Labels must lie in [0, c) (the engine validates). Any output pointer may be null to skip it.
void per_sample_stats(const float* logits, const int64_t* labels, int64_t n, int64_t c, float* el2n, float* loss,
                      float* correct, float* margin, float* entropy);
}  // namespace cpu
namespace cuda {
void log_softmax(const float* x, float* out, int64_t n, int64_t c, void* stream);
void per_sample_stats(const float* logits, const int64_t* labels, int64_t n, int64_t c, float* el2n, float* loss,
                      float* correct, float* margin, float* entropy, void* stream);
}  // namespace cuda

}  // namespace yoco::kernels
