// Softmax/loss family: fused row-wise log-softmax and the fused per-sample statistics used by pruning scores.
#pragma once
#include <cfloat>
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
  float entropy;  // -sum p log p (the pre-2-pass code used -sum p log(p + 1e-10): at most c * 1e-10 apart)
};

// max(a, b) for non-NaN operands: one FMNMX on the device; a compare on the host (g++ calls libm for fmaxf).
YOCO_HD float max_of(float a, float b) {
#ifdef __CUDA_ARCH__
  return fmaxf(a, b);
#else
  return a > b ? a : b;
#endif
}

// Pass-2 accumulator of a row, over z_k = x_k - max (so e_k = exp(z_k) <= 1: no overflow, s <= c).
// It excludes a = the first argmax, whose e_a is exactly exp(0) = 1, so s = 1 + r and log s = log1p(r) keep
// full relative accuracy when p_a ~ 1 (log(e_y + S_o) rounds to 0 in float there: loss and entropy would lose
// all digits). The label's sums follow without cancellation: y == a gives S_o = r, Q_o = q; y != a gives
// S_o = 1 + (r - e_y) >= 1. One exp per element, one log per row. Lanes of a parallel reduction each add()
// their elements, then combine() in a fixed order (addition and max commute exactly: bit-reproducible).
struct RowAcc {
  float r = 0.f;   // sum_{k != a} e_k
  float q = 0.f;   // sum_{k != a} e_k^2
  float mx = 0.f;  // max_{k != a} e_k
  float t = 0.f;   // sum_k e_k z_k (the argmax term is 0)

  // exp(z) for z <= 0 as one exp2: CUDA's accurate expf adds a two-constant argument reduction, and the GPU
  // element loop is instruction-bound. Rounding z * log2(e) costs <= |z| * 6e-8 relative, so < 6e-6 while exp(z)
  // is a normal float (z > -87.3), inside the 1e-5 relative bar; exp(0) is still exactly 1.
  YOCO_HD static float exp_neg(float z) { return exp2f(z * 1.44269504088896341f); }

  YOCO_HD void add(float z, bool is_argmax) {
    z = max_of(z, -FLT_MAX);  // a -inf logit: e = 0 and e * z = 0 instead of NaN (lim e^z z = 0)
    const float e = exp_neg(z);
    t = fmaf(e, z, t);
    const float eo = is_argmax ? 0.f : e;
    r += eo;
    q = fmaf(eo, eo, q);
    mx = max_of(mx, eo);
  }
  YOCO_HD void combine(const RowAcc& o) {
    r += o.r;
    q += o.q;
    mx = max_of(mx, o.mx);
    t += o.t;
  }
  // z_y = x_y - max; label_is_argmax: y == a. p_k = e_k / s, and with S_o = sum_{k != y} e_k:
  // 1 - p_y = S_o / s, so el2n^2 = (S_o^2 + Q_o) / s^2; -sum p log p = log s - t / s (both terms >= 0).
  // One division per row (1 / s, then products: within an ulp of dividing each time).
  YOCO_HD PerSampleStats finish(float z_y, bool label_is_argmax) const {
    const float inv_s = 1.f / (1.f + r), log_s = log1pf(r);
    float e_y = 1.f, s_o = r, q_o = q, m_o = mx;  // y == a: the label's "others" are exactly the k != a
    if (!label_is_argmax) {  // the argmax (e = 1) is among the others, so S_o, Q_o >= 1 and M_o = 1
      e_y = exp_neg(z_y);  // the same bits as its term in r, so r - e_y is exact where it matters
      s_o = 1.f + (r - e_y);
      q_o = 1.f + (q - e_y * e_y);
      m_o = 1.f;
    }
    PerSampleStats st;
    st.el2n = sqrtf(s_o * s_o + q_o) * inv_s;
    st.loss = log_s - z_y;
    st.correct = label_is_argmax ? 1.f : 0.f;
    st.margin = (e_y - m_o) * inv_s;  // c == 1: m_o = 0, so this is p_y = 1
    st.entropy = log_s - t * inv_s;
    return st;
  }
};

// Pass 1 of a row: the maximum and its first index (strict > on increasing k: the first maximum wins).
// I is the index type: int64_t on the CPU, int in CUDA threads (cheaper loop counters).
template <class I>
YOCO_HD float row_argmax(const float* x, I c, I* arg) {
  float m = x[0];
  I a = 0;
  for (I k = 1; k < c; ++k)
    if (x[k] > m) {
      m = x[k];
      a = k;
    }
  *arg = a;
  return m;
}

// The statistics of one row, sequentially (CPU loop, and one CUDA thread per row from shared memory).
template <class I>
YOCO_HD PerSampleStats per_sample_stats_row(const float* logits, I c, I label) {
  I a = 0;
  const float m = row_argmax(logits, c, &a);
  RowAcc acc;
  for (I k = 0; k < c; ++k) acc.add(logits[k] - m, k == a);
  return acc.finish(logits[label] - m, label == a);
}

// Writes the requested statistics of row r (null = skip).
YOCO_HD void per_sample_stats_store(const PerSampleStats& s, int64_t r, float* el2n, float* loss, float* correct,
                                    float* margin, float* entropy) {
  if (el2n) el2n[r] = s.el2n;
  if (loss) loss[r] = s.loss;
  if (correct) correct[r] = s.correct;
  if (margin) margin[r] = s.margin;
  if (entropy) entropy[r] = s.entropy;
}

// Labels: a class index y is valid for c classes when 0 <= y < c (the CPU check and the device check share it).
YOCO_HD bool label_in_range(int64_t y, int64_t c) { return y >= 0 && y < c; }
// Element (row label y, column k) of a one-hot mask. An out-of-range label gives a row of zeros (never an
// out-of-bounds write): on CUDA the label check reports it later, at the next host wait.
YOCO_HD float one_hot_value(int64_t y, int64_t k) { return y == k ? 1.f : 0.f; }

// The device label check's report (one per CUDA context, engine/cuda_runtime.cu): the first bad label of the
// first op whose check failed since the host last read it. Plain data, so the host copies it as bytes. Every
// byte 0xff (the cleared state) makes sample == kNoLabelError.
constexpr unsigned long long kNoLabelError = ~0ull;
struct LabelErrorRecord {
  unsigned long long sample;     // first bad sample of the reported op, kNoLabelError when none
  unsigned long long candidate;  // scratch: the running check's smallest bad sample (atomicMin), then reset
  int64_t value;                 // labels[sample]
  int64_t classes;               // c of the reported check
  int64_t op;                    // the engine's code for the op name (Context::label_op_code)
};

namespace cpu {
// out[r, k] = x[r, k] - logsumexp(x[r, :]) for an [n, c] row-major array.
void log_softmax(const float* x, float* out, int64_t n, int64_t c);
// Labels must lie in [0, c) (the engine validates). Any output pointer may be null to skip it.
void per_sample_stats(const float* logits, const int64_t* labels, int64_t n, int64_t c, float* el2n, float* loss,
                      float* correct, float* margin, float* entropy);
// out[r, k] = (labels[r] == k) for an [n, c] mask (labels validated by the engine).
void one_hot(const int64_t* labels, int64_t n, int64_t c, float* out);
}  // namespace cpu
namespace cuda {
void log_softmax(const float* x, float* out, int64_t n, int64_t c, void* stream);
// Labels are checked on the device, after the fact (check_labels below): a row whose label lies outside [0, c)
// gets NaN statistics instead of an out-of-bounds read.
void per_sample_stats(const float* logits, const int64_t* labels, int64_t n, int64_t c, float* el2n, float* loss,
                      float* correct, float* margin, float* entropy, void* stream);
// Rows with a label outside [0, c) are all zeros (see one_hot_value); check_labels reports them.
void one_hot(const int64_t* labels, int64_t n, int64_t c, float* out, void* stream);
// Enqueues the label check without a host sync (so it can be captured in a CUDA graph): when some label lies
// outside [0, c) and `rec` holds no error yet, rec gets the smallest such sample, its label, c and `op`.
// A record that already holds an error keeps it (the first failing op is the one reported).
void check_labels(const int64_t* labels, int64_t n, int64_t c, LabelErrorRecord* rec, int64_t op, void* stream);
}  // namespace cuda

}  // namespace yoco::kernels
