// CUDA kernel-layer device helpers needing no runtime API: block size, 1-D index, deterministic block sums.
//
// Split from cuda_check.cuh (which includes this) so the CPU emulator of tests/emu can compile these very
// definitions: its shadow cuda_check.cuh replaces only the runtime and launch parts.
#pragma once
#include <cstdint>

namespace yoco::kernels::cuda {

constexpr int kThreads = 256;

// Index of this thread in a 1-D launch (64-bit: tensors may exceed 2^31 elements).
__device__ __forceinline__ int64_t global_index() {
  return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}

// Block sums of doubles over exactly kThreads threads, deterministic: each warp folds its lanes into lane 0 by
// shuffle-down in a fixed pattern, warp 0 folds the warp totals the same way, and every thread reads the one
// result (lanes of an xor butterfly could each round differently; here there is only one total). The shape of
// the tree depends only on kThreads, never on the GPU, so results are bitwise reproducible. Every thread of the
// block must call them (they synchronise). `sh` needs 2 * (kThreads / 32 + 1) doubles; kThreads doubles is enough.
constexpr int kWarps = kThreads / 32;
static_assert(kThreads % 32 == 0 && kWarps <= 32, "block_sum2 folds at most one warp of warp totals");

__device__ __forceinline__ double warp_fold(double v) {
  for (int off = 16; off > 0; off >>= 1) v += __shfl_down_sync(0xffffffffu, v, off);
  return v;
}

// Sums a and b over the block in one round of synchronisation; all threads receive both totals.
__device__ __forceinline__ void block_sum2(double& a, double& b, double* sh) {
  const int lane = static_cast<int>(threadIdx.x) & 31, warp = static_cast<int>(threadIdx.x) >> 5;
  a = warp_fold(a);
  b = warp_fold(b);
  if (lane == 0) {
    sh[warp] = a;
    sh[kWarps + 1 + warp] = b;
  }
  __syncthreads();
  if (warp == 0) {
    double ta = lane < kWarps ? sh[lane] : 0.0, tb = lane < kWarps ? sh[kWarps + 1 + lane] : 0.0;
    ta = warp_fold(ta);
    tb = warp_fold(tb);
    if (lane == 0) {
      sh[kWarps] = ta;
      sh[2 * kWarps + 1] = tb;
    }
  }
  __syncthreads();
  a = sh[kWarps];
  b = sh[2 * kWarps + 1];
  // No trailing barrier: a following call writes only the per-warp slots, and warp 0 rewrites the total slots
  // only after that call's first barrier, which every thread reaches after reading these totals.
}

// Sums a and b over one warp (all 32 lanes must call it): warp_fold's fixed tree into lane 0, then every lane
// reads lane 0's totals. Deterministic like block_sum2, with no barrier, for work split one warp per item.
__device__ __forceinline__ void warp_sum2(double& a, double& b) {
  a = __shfl_sync(0xffffffffu, warp_fold(a), 0);
  b = __shfl_sync(0xffffffffu, warp_fold(b), 0);
}

__device__ __forceinline__ double block_sum(double v, double* sh) {
  double unused = 0.0;
  block_sum2(v, unused, sh);
  return v;
}

}  // namespace yoco::kernels::cuda
