// Softmax/loss family, CUDA. log_softmax: one thread per row; one_hot: one thread per element; the label check
// writes the first bad label into a device record (no host sync, so it can be captured). Fused per-sample
// statistics (all scores of a row in one launch): C <= 32 streams 256-row tiles through double-buffered shared
// memory (coalesced async copies), one thread per row running the shared row math (softmax_loss.h); C > 32
// gives each row a group of lanes (4, or a warp for C > 128) that stride over the classes and combine by
// fixed-order shuffles. Both are deterministic (fixed summation order, no atomics).
#include <cuda_pipeline_primitives.h>
#include <cfloat>
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

// out[i, k] = (labels[i] == k): one thread per output element (coalesced writes; labels hit in L1).
__global__ void one_hot_kernel(const int64_t* labels, int64_t n, int64_t c, float* out) {
  const int64_t i = global_index();
  if (i >= n * c) return;
  out[i] = one_hot_value(labels[i / c], i % c);
}

// Label check, part 1: every bad sample bids for rec->candidate; the minimum wins whatever the thread order.
__global__ void check_labels_kernel(const int64_t* labels, int64_t n, int64_t c, LabelErrorRecord* rec) {
  const int64_t i = global_index();
  if (i >= n) return;
  if (!label_in_range(labels[i], c)) atomicMin(&rec->candidate, static_cast<unsigned long long>(i));
}

// Part 2 (one thread, stream-ordered after part 1): commit the candidate unless an earlier op's error is
// already recorded, then reset the scratch for the next check.
__global__ void commit_label_error_kernel(const int64_t* labels, int64_t c, LabelErrorRecord* rec, int64_t op) {
  const unsigned long long s = rec->candidate;
  if (s == kNoLabelError) return;
  if (rec->sample == kNoLabelError) {
    rec->sample = s;
    rec->value = labels[s];
    rec->classes = c;
    rec->op = op;
  }
  rec->candidate = kNoLabelError;
}

// The statistics of a row whose label is outside [0, c): NaN, never read past the row (the engine's device
// label check reports the label at the next host wait).
__device__ __forceinline__ PerSampleStats bad_label_stats() {
  const float nan = __int_as_float(0x7fc00000);
  return PerSampleStats{nan, nan, nan, nan, nan};
}

constexpr unsigned kFullMask = 0xffffffffu;
constexpr int kMaxTileC = 32;                 // the tile kernel's largest class count
constexpr int64_t kTilesPerBlock = 4;         // tiles each tile-kernel block streams through (its copy pipeline)
constexpr int64_t kMaxGroupBlocks = 1 << 16;  // grid cap of the group kernel; it strides over the rest

// Starts the asynchronous copy of tile `tile` (rows [256 tile, 256 tile + 256) of the [n, c] logits, contiguous in
// memory) into buf, as one commit group: element i goes to buf[(i / c) * stride + i % c]. Coalesced: the block's
// threads take consecutive elements. (row, column) of i advance by (256 / c, 256 % c) per step of 256, so there
// is one division per thread, not one per element.
__device__ __forceinline__ void stage_tile(float* buf, const float* logits, int64_t n, int c, int stride,
                                           int64_t tile) {
  const int64_t row0 = tile * kThreads;
  const int rows = static_cast<int>(n - row0 < kThreads ? n - row0 : kThreads);
  const float* src = logits + row0 * c;
  const int total = rows * c, dr = kThreads / c, dk = kThreads % c;
  int r = static_cast<int>(threadIdx.x) / c, k = static_cast<int>(threadIdx.x) % c;
  for (int i = static_cast<int>(threadIdx.x); i < total; i += kThreads) {
    __pipeline_memcpy_async(buf + r * stride + k, src + i, sizeof(float));
    r += dr;
    k += dk;
    if (k >= c) {
      k -= c;
      ++r;
    }
  }
  __pipeline_commit();
}

// C <= 32: a block streams tiles of 256 rows through two shared-memory buffers: while its threads compute one
// tile (thread t: row t, by the shared sequential row math), the next tile's copy is in flight, so compute
// hides under the memory traffic. Rows are padded to an odd stride: the 32 threads of a warp, reading column k of
// 32 consecutive rows, hit 32 distinct banks (an even stride such as 32 would serialise).
__global__ void __launch_bounds__(kThreads, 8)  // 8 blocks (2048 threads) per SM: <= 32 registers
    per_sample_stats_tile_kernel(const float* __restrict__ logits, const int64_t* __restrict__ labels, int64_t n,
                                 int c, int stride, int64_t tiles, float* el2n, float* loss, float* correct,
                                 float* margin, float* entropy) {
  extern __shared__ float smem[];
  const int tid = static_cast<int>(threadIdx.x);
  const int tile_floats = kThreads * stride;  // buffer b is smem + b * tile_floats
  int64_t tile = blockIdx.x;  // the launch has at most `tiles` blocks
  stage_tile(smem, logits, n, c, stride, tile);
  int64_t label = tile * kThreads + tid < n ? labels[tile * kThreads + tid] : 0;
  for (int cur = 0; tile < tiles; tile += gridDim.x, cur ^= 1) {
    const int64_t next = tile + gridDim.x, next_row = next * kThreads + tid;
    if (next < tiles)
      stage_tile(smem + (cur ^ 1) * tile_floats, logits, n, c, stride, next);
    else
      __pipeline_commit();  // an empty group: the wait below always leaves exactly one group pending
    const int64_t next_label = next < tiles && next_row < n ? labels[next_row] : 0;
    __pipeline_wait_prior(1);  // this thread's copies of the current tile have landed...
    __syncthreads();           // ...and every other thread's
    const int64_t row = tile * kThreads + tid;
    const float* x = smem + cur * tile_floats + tid * stride;
    if (row < n) {
      const bool ok = label_in_range(label, c);
      const PerSampleStats st = ok ? per_sample_stats_row(x, c, static_cast<int>(label)) : bad_label_stats();
      per_sample_stats_store(st, row, el2n, loss, correct, margin, entropy);
    }
    __syncthreads();  // this buffer is refilled by the next iteration's stage_tile
    label = next_label;
  }
}

// C > 32: a group of kLanes lanes per row. Lane l owns columns l, l + kLanes, ... (increasing); the first kVals
// of them are held in registers between the two passes, any further ones are read again (from L1/L2). Lane
// results combine by an xor butterfly: every lane ends with the same bits (+ and max commute exactly), no atomics.
// (Loading the next row during this one was tried: more registers and instructions, slower on an H100.)
template <int kLanes, int kVals>
__global__ void __launch_bounds__(kThreads)
    per_sample_stats_group_kernel(const float* __restrict__ logits, const int64_t* __restrict__ labels, int64_t n,
                                  int c, float* el2n, float* loss, float* correct, float* margin, float* entropy) {
  static_assert(kLanes >= 1 && kLanes <= 32 && (kLanes & (kLanes - 1)) == 0 && kVals >= 1, "bad group shape");
  constexpr int kGroups = kThreads / kLanes;  // rows per block per step
  constexpr int kWarpRows = 32 / kLanes;
  const int lane = static_cast<int>(threadIdx.x) % kLanes;
  const int g = static_cast<int>(threadIdx.x) / kLanes;
  const int64_t step = static_cast<int64_t>(gridDim.x) * kGroups;
  // The loop tests the first row of this lane's warp, so all 32 lanes run the same iterations (the shuffles
  // need the whole warp); groups past the end run with no columns and store nothing.
  for (int64_t row = static_cast<int64_t>(blockIdx.x) * kGroups + g; row - g % kWarpRows < n; row += step) {
    const bool valid = row < n;
    const int cr = valid ? c : 0;
    const float* x = logits + (valid ? row : 0) * c;
    const int64_t y_in = valid ? labels[row] : 0;
    const bool y_ok = label_in_range(y_in, c);
    const int64_t y = y_ok ? y_in : 0;  // a bad label reads column 0 and stores NaN below
    const float x_y = valid ? x[y] : 0.f;
    float v[kVals];
#pragma unroll
    for (int j = 0; j < kVals; ++j) {
      const int k = lane + j * kLanes;
      v[j] = k < cr ? x[k] : -INFINITY;
    }
    // Pass 1: the lane's maximum and first index, then the group's, ties to the smaller index.
    float m = -INFINITY;
    int a = INT_MAX;
    if (lane < cr) {
      m = v[0];
      a = lane;
    }
#pragma unroll
    for (int j = 1; j < kVals; ++j) {
      const int k = lane + j * kLanes;
      if (k < cr && v[j] > m) {
        m = v[j];
        a = k;
      }
    }
    for (int k = lane + kVals * kLanes; k < cr; k += kLanes) {
      const float xk = x[k];
      if (xk > m) {
        m = xk;
        a = k;
      }
    }
#pragma unroll
    for (int off = kLanes / 2; off > 0; off /= 2) {
      const float om = __shfl_xor_sync(kFullMask, m, off);
      const int oa = __shfl_xor_sync(kFullMask, a, off);
      if (om > m || (om == m && oa < a)) {
        m = om;
        a = oa;
      }
    }
    // Pass 2: one exp per element, then the fixed-order combine.
    RowAcc acc;
#pragma unroll
    for (int j = 0; j < kVals; ++j) {
      const int k = lane + j * kLanes;
      if (k < cr) acc.add(v[j] - m, k == a);
    }
    for (int k = lane + kVals * kLanes; k < cr; k += kLanes) acc.add(x[k] - m, k == a);
#pragma unroll
    for (int off = kLanes / 2; off > 0; off /= 2) {
      RowAcc o;
      o.r = __shfl_xor_sync(kFullMask, acc.r, off);
      o.q = __shfl_xor_sync(kFullMask, acc.q, off);
      o.mx = __shfl_xor_sync(kFullMask, acc.mx, off);
      o.t = __shfl_xor_sync(kFullMask, acc.t, off);
      acc.combine(o);
    }
    if (valid && lane == 0)
      per_sample_stats_store(y_ok ? acc.finish(x_y - m, y == a) : bad_label_stats(), row, el2n, loss, correct, margin,
                             entropy);
  }
}

template <int kLanes, int kVals>
void launch_group(const float* logits, const int64_t* labels, int64_t n, int c, float* el2n, float* loss,
                  float* correct, float* margin, float* entropy, void* stream) {
  int64_t blocks = ceil_div(n, kThreads / kLanes);
  if (blocks > kMaxGroupBlocks) blocks = kMaxGroupBlocks;
  launch_grid(per_sample_stats_group_kernel<kLanes, kVals>, blocks, kThreads, 0, stream, logits, labels, n, c, el2n,
              loss, correct, margin, entropy);
}
}  // namespace

void log_softmax(const float* x, float* out, int64_t n, int64_t c, void* stream) {
  if (c <= 0) return;
  launch_1d(log_softmax_kernel, n, stream, x, out, n, c);
}

void one_hot(const int64_t* labels, int64_t n, int64_t c, float* out, void* stream) {
  if (n <= 0 || c <= 0) return;
  launch_1d(one_hot_kernel, n * c, stream, labels, n, c, out);
}

void check_labels(const int64_t* labels, int64_t n, int64_t c, LabelErrorRecord* rec, int64_t op, void* stream) {
  if (n <= 0) return;
  YOCO_CHECK(rec != nullptr, "check_labels: no error record");
  launch_1d(check_labels_kernel, n, stream, labels, n, c, rec);
  launch_grid(commit_label_error_kernel, 1, 1, 0, stream, labels, c, rec, op);
}

void per_sample_stats(const float* logits, const int64_t* labels, int64_t n, int64_t c, float* el2n, float* loss,
                      float* correct, float* margin, float* entropy, void* stream) {
  if (c <= 0 || n <= 0) return;
  YOCO_CHECK(c <= INT_MAX, "per_sample_stats: ", c, " classes exceed the kernel's 32-bit column index");
  const int ci = static_cast<int>(c);
  if (ci <= kMaxTileC) {
    const int stride = ci | 1;  // odd: conflict-free column reads
    const size_t bytes = 2 * static_cast<size_t>(kThreads) * stride * sizeof(float);  // two tiles: <= 66 KiB
    if (bytes > 48 * 1024)  // above the default dynamic shared-memory limit: opt in (idempotent)
      CUDA_CHECK(cudaFuncSetAttribute(per_sample_stats_tile_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                      static_cast<int>(bytes)));
    const int64_t tiles = ceil_div(n, kThreads);
    launch_grid(per_sample_stats_tile_kernel, ceil_div(tiles, kTilesPerBlock), kThreads, bytes, stream, logits, labels,
                n, ci, stride, tiles, el2n, loss, correct, margin, entropy);
  } else if (ci <= 4 * 32) {
    // The kernel is instruction-bound here, so few lanes per row (8 rows per warp) amortise the per-row shuffles
    // and epilogue. H100, N = 2^20, C = 100: a warp per row ran 2x slower than 8 lanes; 8 lanes 201 us, 4 lanes
    // 181 us (0.83 of the copy bandwidth). Registers sized to the row.
    if (ci <= 4 * 16)
      launch_group<4, 16>(logits, labels, n, ci, el2n, loss, correct, margin, entropy, stream);
    else if (ci <= 4 * 25)
      launch_group<4, 25>(logits, labels, n, ci, el2n, loss, correct, margin, entropy, stream);
    else
      launch_group<4, 32>(logits, labels, n, ci, el2n, loss, correct, margin, entropy, stream);
  } else {  // wide rows: a warp per row, 256 columns in registers, the rest read twice
    launch_group<32, 8>(logits, labels, n, ci, el2n, loss, correct, margin, entropy, stream);
  }
}

}  // namespace yoco::kernels::cuda
