// Optimizer family, CUDA: the multi-tensor SGD update, one launch for up to kSgdSegmentsPerLaunch parameters
// (sgd_element from optim.h), each block a tile of one parameter.
#include "kernels/cuda_check.cuh"
#include "kernels/optim.h"

namespace yoco::kernels::cuda {

namespace {
constexpr int kTilePerThread = 4;
constexpr int64_t kTile = int64_t{kThreads} * kTilePerThread;  // elements per block

// The launch's segments and, for each, its first block: block b works on the segment s with
// first_block[s] <= b < first_block[s + 1], tile b - first_block[s] of it.
struct SgdTable {
  SgdSegment seg[kSgdSegmentsPerLaunch];
  int64_t first_block[kSgdSegmentsPerLaunch + 1];
  int count;
};

__global__ void sgd_multi_kernel(const SgdTable t, float lr, float momentum, float wd) {
  const int64_t b = blockIdx.x;
  int s = 0;
  while (s + 1 < t.count && b >= t.first_block[s + 1]) ++s;  // at most 32 steps, the same for the whole block
  const SgdSegment& sg = t.seg[s];
  const int64_t base = (b - t.first_block[s]) * kTile + threadIdx.x;
#pragma unroll
  for (int k = 0; k < kTilePerThread; ++k) {
    const int64_t i = base + int64_t{k} * kThreads;  // coalesced: consecutive threads, consecutive elements
    if (i < sg.n) sgd_element(sg.p + i, sg.g[i], sg.buf ? sg.buf + i : nullptr, lr, momentum, wd, sg.first_step);
  }
}
}  // namespace

void sgd_update(const SgdSegment* segs, int64_t count, float lr, float momentum, float wd, void* stream) {
  int64_t s = 0;
  while (s < count) {
    SgdTable t{};
    int64_t blocks = 0;
    for (; s < count && t.count < kSgdSegmentsPerLaunch; ++s) {
      if (segs[s].n <= 0) continue;  // an empty parameter owns no block
      t.seg[t.count] = segs[s];
      t.first_block[t.count] = blocks;
      blocks += ceil_div(segs[s].n, kTile);
      ++t.count;
    }
    t.first_block[t.count] = blocks;
    if (t.count > 0) launch_grid(sgd_multi_kernel, blocks, kThreads, 0, stream, t, lr, momentum, wd);
  }
}

}  // namespace yoco::kernels::cuda
