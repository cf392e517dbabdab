// Reduce family, CUDA: deterministic sums (no atomics). Each output is split into a number of chunks that
// depends only on the shape; a block reduces one chunk with a fixed tree, a second pass adds the chunk
// partials in order. Accumulation is in double, as on the CPU, so results agree to float rounding.
#include "kernels/cuda_check.cuh"
#include "kernels/reduce.h"

namespace yoco::kernels::cuda {

namespace {
constexpr int64_t kChunk = 1 << 16;    // elements per chunk before an output is split over several blocks
constexpr int64_t kMaxChunks = 128;
constexpr int64_t kSerialMax = 32;     // short reductions: one thread per output is cheaper than a block

__device__ __forceinline__ float load_reduced(const float* x, const ReducePlan& p, int64_t base, int64_t r) {
  return x[base + plan_offset(p.red_shape, p.red_stride, p.n_red, r)];
}

// One thread per output, summing its elements in index order (short reductions, or kept innermost dim:
// neighbouring threads then read neighbouring addresses).
__global__ void reduce_serial_kernel(const float* x, float* out, ReducePlan p, float scale) {
  const int64_t o = global_index();
  if (o >= p.n_out) return;
  const int64_t base = plan_offset(p.kept_shape, p.kept_stride, p.n_kept, o);
  double acc = 0.0;
  for (int64_t r = 0; r < p.n_reduce; ++r) acc += load_reduced(x, p, base, r);
  out[o] = static_cast<float>(acc * scale);
}

// Block b reduces chunk b % chunks of output b / chunks: thread t takes elements t, t+kThreads, ... of the
// chunk, then block_sum's fixed tree (kThreads never depends on the GPU, so neither does the result).
// With chunks == 1 the result goes straight to `out`.
__global__ void reduce_block_kernel(const float* x, float* out, double* partial, ReducePlan p, int64_t chunks,
                                    int64_t per, float scale) {
  __shared__ double sh[kThreads];
  const int64_t o = blockIdx.x / chunks, c = blockIdx.x % chunks;
  if (o >= p.n_out) return;
  const int64_t base = plan_offset(p.kept_shape, p.kept_stride, p.n_kept, o);
  const int64_t lo = c * per, hi = lo + per < p.n_reduce ? lo + per : p.n_reduce;
  double acc = 0.0;
  for (int64_t r = lo + threadIdx.x; r < hi; r += kThreads) acc += load_reduced(x, p, base, r);
  const double total = block_sum(acc, sh);
  if (threadIdx.x != 0) return;
  if (chunks == 1)
    out[o] = static_cast<float>(total * scale);
  else
    partial[blockIdx.x] = total;
}

// Second pass: output o adds its chunk partials in chunk order.
__global__ void reduce_partials_kernel(const double* partial, float* out, int64_t n_out, int64_t chunks,
                                       float scale) {
  const int64_t o = global_index();
  if (o >= n_out) return;
  double acc = 0.0;
  for (int64_t c = 0; c < chunks; ++c) acc += partial[o * chunks + c];
  out[o] = static_cast<float>(acc * scale);
}
}  // namespace

void sum_reduce(const float* x, float* out, const ReducePlan& p, float scale, void* stream) {
  if (p.n_out <= 0) return;
  const bool inner_kept = p.n_kept > 0 && p.kept_stride[p.n_kept - 1] == 1;
  if (p.n_reduce <= kSerialMax || (inner_kept && p.n_out >= 4096 && p.n_reduce <= kChunk)) {
    launch_1d(reduce_serial_kernel, p.n_out, stream, x, out, p, scale);
    return;
  }
  int64_t chunks = ceil_div(p.n_reduce, kChunk);
  if (chunks > kMaxChunks) chunks = kMaxChunks;
  const int64_t per = ceil_div(p.n_reduce, chunks);
  double* partial = nullptr;
  if (chunks > 1)
    partial = static_cast<double*>(workspace(stream, static_cast<size_t>(p.n_out * chunks) * sizeof(double)));
  launch_grid(reduce_block_kernel, p.n_out * chunks, kThreads, 0, stream, x, out, partial, p, chunks, per,
              scale);
  if (chunks > 1) launch_1d(reduce_partials_kernel, p.n_out, stream, partial, out, p.n_out, chunks, scale);
}

}  // namespace yoco::kernels::cuda
