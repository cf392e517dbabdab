// Reduce family, CUDA: deterministic sums (no atomics), accumulated in double as on the CPU, in an order that
// depends only on the shape. Contiguous innermost runs are summed first by one warp per run (or per fixed
// chunk of a long run); the outer reduced dims are then finished over those double partials. Other plans use
// one thread per output (kept dim innermost, short sums) or blocks over fixed chunks plus an in-order pass.
#include <cstdint>
#include "kernels/cuda_check.cuh"
#include "kernels/reduce.h"

namespace yoco::kernels::cuda {

namespace {
constexpr int64_t kChunk = 1 << 16;    // elements per chunk before an output is split over several blocks
constexpr int64_t kMaxChunks = 128;
constexpr int64_t kSerialMax = 32;     // short reductions: one thread per output is cheaper than a block
constexpr int kWarp = 32;
constexpr int kWarpsPerBlock = kThreads / kWarp;
constexpr int64_t kMinRun = 32;        // shorter runs would leave most lanes of a warp idle
constexpr int kRunChunk = 4096;        // elements per warp; a multiple of 4 keeps chunk starts float4-aligned

// Offset of flat index i in a strided view, in index type I: uint32_t when every offset of the input fits
// (32-bit division is several times cheaper than 64-bit on the GPU), int64_t otherwise.
template <class I>
__device__ __forceinline__ I offset_of(const int64_t* shape, const int64_t* stride, int n, I i) {
  I off = 0;
  for (int d = n - 1; d >= 0; --d) {
    const I s = static_cast<I>(shape[d]);
    off += (i % s) * static_cast<I>(stride[d]);
    i /= s;
  }
  return off;
}

// One thread per output, summing its elements in index order (short reductions, or kept innermost dim:
// neighbouring threads then read neighbouring addresses). The innermost reduced dim is walked as a strided
// run, so index math happens once per run rather than once per element.
template <class T, class I>
__global__ void reduce_serial_kernel(const T* x, float* out, ReducePlan p, float scale) {
  const int64_t o = global_index();
  if (o >= p.n_out) return;
  const I base = offset_of<I>(p.kept_shape, p.kept_stride, p.n_kept, static_cast<I>(o));
  const int outer = p.n_red > 0 ? p.n_red - 1 : 0;
  const I run = p.n_red > 0 ? static_cast<I>(p.red_shape[p.n_red - 1]) : I(1);
  const I step = p.n_red > 0 ? static_cast<I>(p.red_stride[p.n_red - 1]) : I(0);
  const I runs = run > 0 ? static_cast<I>(p.n_reduce) / run : I(0);
  double acc = 0.0;
  for (I q = 0; q < runs; ++q) {
    const T* px = x + base + offset_of<I>(p.red_shape, p.red_stride, outer, q);
    for (I j = 0; j < run; ++j) acc += static_cast<double>(px[j * step]);
  }
  out[o] = static_cast<float>(acc * scale);
}

// Block b reduces chunk b % chunks of output b / chunks: thread t takes elements t, t+kThreads, ... of the
// chunk, then block_sum's fixed tree (kThreads never depends on the GPU, so neither does the result).
// With chunks == 1 the result goes straight to `out`.
template <class T, class I>
__global__ void reduce_block_kernel(const T* x, float* out, double* partial, ReducePlan p, int64_t chunks,
                                    int64_t per, float scale) {
  __shared__ double sh[kThreads];
  const int64_t o = blockIdx.x / chunks, c = blockIdx.x % chunks;  // once per block
  if (o >= p.n_out) return;
  const I base = offset_of<I>(p.kept_shape, p.kept_stride, p.n_kept, static_cast<I>(o));
  const I lo = static_cast<I>(c * per), hi = static_cast<I>(lo + per < p.n_reduce ? lo + per : p.n_reduce);
  double acc = 0.0;
  for (I r = lo + threadIdx.x; r < hi; r += kThreads)
    acc += static_cast<double>(x[base + offset_of<I>(p.red_shape, p.red_stride, p.n_red, r)]);
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

// Sum of p[0..n) by one warp (all 32 lanes call it; each gets the total). Lane l adds the groups of four
// elements l, l+32, l+64, ... in index order, so float4 loads (vec: p 16-byte aligned) and scalar loads add
// the same numbers in the same order; then a fixed xor-butterfly over the lanes.
__device__ __forceinline__ double warp_sum(const float* p, int n, bool vec, int lane) {
  const int groups = n / 4;
  double acc = 0.0;
  if (vec) {
    const float4* p4 = reinterpret_cast<const float4*>(p);
#pragma unroll 4
    for (int g = lane; g < groups; g += kWarp) {
      const float4 v = p4[g];
      acc += static_cast<double>(v.x);
      acc += static_cast<double>(v.y);
      acc += static_cast<double>(v.z);
      acc += static_cast<double>(v.w);
    }
  } else {
#pragma unroll 4
    for (int g = lane; g < groups; g += kWarp) {
      const float* q = p + 4 * g;
      acc += static_cast<double>(q[0]);
      acc += static_cast<double>(q[1]);
      acc += static_cast<double>(q[2]);
      acc += static_cast<double>(q[3]);
    }
  }
  if (lane == groups % kWarp)  // the short last group is that lane's next group in its sequence
    for (int j = 4 * groups; j < n; ++j) acc += static_cast<double>(p[j]);
  for (int m = kWarp / 2; m > 0; m >>= 1) acc += __shfl_xor_sync(0xffffffffu, acc, m);
  return acc;
}

// Stage 1 of the run path: warp w sums chunk w % chunks (kRunChunk elements, the last one shorter) of run
// w / chunks of the [rows, run] input. The total goes to out (scaled) when every run is one whole output,
// else to partial[w] for stage 2.
__global__ void run_sum_kernel(const float* x, int64_t run, int64_t chunks, int64_t n_warps, bool vec,
                               double* partial, float* out, float scale) {
  const int64_t w = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / kWarp;
  if (w >= n_warps) return;  // whole warps leave together, so the shuffles below see all 32 lanes
  const int lane = static_cast<int>(threadIdx.x % kWarp);
  const int64_t row = chunks == 1 ? w : w / chunks;  // once per warp, not per element
  const int64_t lo = (w - row * chunks) * kRunChunk;
  const int n = static_cast<int>(run - lo < kRunChunk ? run - lo : kRunChunk);
  const double s = warp_sum(x + row * run + lo, n, vec, lane);
  if (lane != 0) return;
  if (out != nullptr)
    out[w] = static_cast<float>(s * scale);
  else
    partial[w] = s;
}

// How a plan runs on the serial or block kernels: shape-only, so the summation order is too.
struct Generic {
  bool serial = false;
  int64_t chunks = 1, per = 0;
  size_t partial_doubles(const ReducePlan& p) const {
    return chunks > 1 ? static_cast<size_t>(p.n_out * chunks) : 0;
  }
};

Generic generic_for(const ReducePlan& p) {
  Generic g;
  const bool inner_kept = p.n_kept > 0 && p.kept_stride[p.n_kept - 1] == 1;
  g.serial = p.n_reduce <= kSerialMax || (inner_kept && p.n_out >= 4096 && p.n_reduce <= kChunk);
  if (g.serial) return g;
  g.chunks = ceil_div(p.n_reduce, kChunk);
  if (g.chunks > kMaxChunks) g.chunks = kMaxChunks;
  g.per = ceil_div(p.n_reduce, g.chunks);
  return g;
}

template <class T, class I>
void run_generic_as(const T* x, float* out, const ReducePlan& p, float scale, const Generic& g,
                    double* partial, void* stream) {
  if (g.serial) {
    launch_1d(reduce_serial_kernel<T, I>, p.n_out, stream, x, out, p, scale);
    return;
  }
  launch_grid(reduce_block_kernel<T, I>, p.n_out * g.chunks, kThreads, 0, stream, x, out, partial, p, g.chunks,
              g.per, scale);
  if (g.chunks > 1) launch_1d(reduce_partials_kernel, p.n_out, stream, partial, out, p.n_out, g.chunks, scale);
}

// `partial` holds g.partial_doubles(p) doubles. 32-bit index math when every input offset fits.
template <class T>
void run_generic(const T* x, float* out, const ReducePlan& p, float scale, const Generic& g, double* partial,
                 void* stream) {
  if (p.n_out * p.n_reduce <= INT32_MAX)
    run_generic_as<T, uint32_t>(x, out, p, scale, g, partial, stream);
  else
    run_generic_as<T, int64_t>(x, out, p, scale, g, partial, stream);
}

// Run path: stage 1 sums each contiguous run (in chunks of kRunChunk) into doubles, stage 2 finishes the
// outer reduced dims and the chunks over those partials with partial_plan. One workspace holds both stages'
// scratch; the launches are consecutive on one stream, so nothing else touches it in between.
void sum_runs(const float* x, float* out, const ReducePlan& p, int64_t run, float scale, void* stream) {
  const int64_t rows = p.n_out * (p.n_reduce / run);
  const int64_t chunks = ceil_div(run, kRunChunk);
  const int64_t n_warps = rows * chunks;
  const int64_t blocks = ceil_div(n_warps, kWarpsPerBlock);
  const bool vec = run % 4 == 0 && reinterpret_cast<uintptr_t>(x) % 16 == 0;
  if (p.n_red == 1 && chunks == 1) {  // each run is one output: no stage 2
    launch_grid(run_sum_kernel, blocks, kThreads, 0, stream, x, run, chunks, n_warps, vec,
                static_cast<double*>(nullptr), out, scale);
    return;
  }
  const ReducePlan q = partial_plan(p, chunks);
  const Generic g = generic_for(q);
  const size_t n_part = static_cast<size_t>(n_warps);
  double* ws = static_cast<double*>(workspace(stream, (n_part + g.partial_doubles(q)) * sizeof(double)));
  launch_grid(run_sum_kernel, blocks, kThreads, 0, stream, x, run, chunks, n_warps, vec, ws,
              static_cast<float*>(nullptr), scale);
  run_generic<double>(ws, out, q, scale, g, ws + n_part, stream);
}
}  // namespace

void sum_reduce(const float* x, float* out, const ReducePlan& p, float scale, void* stream) {
  if (p.n_out <= 0) return;
  const int64_t run = contiguous_run(p);
  if (run >= kMinRun) {
    sum_runs(x, out, p, run, scale, stream);
    return;
  }
  const Generic g = generic_for(p);
  double* partial = nullptr;
  if (g.chunks > 1) partial = static_cast<double*>(workspace(stream, g.partial_doubles(p) * sizeof(double)));
  run_generic<float>(x, out, p, scale, g, partial, stream);
}

}  // namespace yoco::kernels::cuda
