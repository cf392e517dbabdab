// Softmax/loss family, CUDA: one thread per row. The fused per-sample statistics kernel evaluates
// per_sample_stats_row (softmax_loss.h) once per row and writes all requested scores in one launch.
#include "kernels/cuda_check.cuh"
#include "kernels/softmax_loss.h"

namespace yoco::kernels::cuda {

namespace {
__global__ void log_softmax_kernel(const float* x, float* out, int64_t n, int64_t c) {
  const int64_t r = global_index();
  if (r >= n) return;
  const float* xr = x + r * c;
  const float lse = row_logsumexp(xr, c);
  float* o = out + r * c;
  for (int64_t k = 0; k < c; ++k) o[k] = xr[k] - lse;
}

__global__ void per_sample_stats_kernel(const float* logits, const int64_t* labels, int64_t n, int64_t c, float* el2n,
                                        float* loss, float* correct, float* margin, float* entropy) {
  const int64_t r = global_index();
  if (r >= n) return;
  per_sample_stats_store(logits, labels, r, c, el2n, loss, correct, margin, entropy);
}
}  // namespace

void log_softmax(const float* x, float* out, int64_t n, int64_t c, void* stream) {
  if (c <= 0) return;
  launch_1d(log_softmax_kernel, n, stream, x, out, n, c);
}

void per_sample_stats(const float* logits, const int64_t* labels, int64_t n, int64_t c, float* el2n, float* loss,
                      float* correct, float* margin, float* entropy, void* stream) {
  if (c <= 0) return;
  launch_1d(per_sample_stats_kernel, n, stream, logits, labels, n, c, el2n, loss, correct, margin, entropy);
}

}  // namespace yoco::kernels::cuda
