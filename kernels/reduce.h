// Reduce family: deterministic sums over any set of dims (fixed order; CPU accumulates in double).
#pragma once
#include <cstdint>
#include "kernels/common.h"

namespace yoco::kernels {

// Input is contiguous with up to kMaxReduceDims dims. Output element o sums the input over the reduced
// dims at the kept-dims position o. Dims are described split into kept and reduced groups.
constexpr int kMaxReduceDims = 6;
struct ReducePlan {
  int n_kept = 0, n_red = 0;
  int64_t kept_shape[kMaxReduceDims] = {}, kept_stride[kMaxReduceDims] = {};
  int64_t red_shape[kMaxReduceDims] = {}, red_stride[kMaxReduceDims] = {};
  int64_t n_out = 1, n_reduce = 1;
};

YOCO_HD int64_t plan_offset(const int64_t* shape, const int64_t* stride, int n, int64_t i) {
  int64_t off = 0;
  for (int d = n - 1; d >= 0; --d) {
    off += (i % shape[d]) * stride[d];
    i /= shape[d];
  }
  return off;
}

// The plan of a sum over the dims flagged in `reduced` of a contiguous input of shape[0..nd): size-1 dims are
// dropped and neighbouring dims of one kind (both kept or both reduced) merged, so [N,C,H,W] over {2,3} becomes
// one kept dim of N·C and one reduced run of H·W. At most kMaxReduceDims dims (the engine checks).
inline ReducePlan make_reduce_plan(const int64_t* shape, int nd, const bool* reduced) {
  ReducePlan p;
  int64_t strides[kMaxReduceDims] = {};
  int64_t st = 1;
  for (int d = nd - 1; d >= 0; --d) strides[d] = st, st *= shape[d];
  int last = -1;  // kind of the previous kept-or-reduced dim: 0 kept, 1 reduced
  for (int d = 0; d < nd; ++d) {
    const int64_t s = shape[d];
    if (s == 1) continue;
    const int kind = reduced[d] ? 1 : 0;
    int64_t* sh = kind ? p.red_shape : p.kept_shape;
    int64_t* sd = kind ? p.red_stride : p.kept_stride;
    int& n = kind ? p.n_red : p.n_kept;
    if (kind == last) {
      sh[n - 1] *= s, sd[n - 1] = strides[d];
    } else {
      sh[n] = s, sd[n++] = strides[d];
    }
    (kind ? p.n_reduce : p.n_out) *= s;
    last = kind;
  }
  return p;
}

// Length of the innermost reduced dim when it is contiguous (stride 1): the input is then a dense
// [rows, run] array of runs with rows = n_out * n_reduce / run. 0 when a kept dim is innermost.
inline int64_t contiguous_run(const ReducePlan& p) {
  return p.n_red > 0 && p.red_stride[p.n_red - 1] == 1 ? p.red_shape[p.n_red - 1] : 0;
}

// The plan that finishes a reduction whose contiguous runs (contiguous_run(p) > 0) were first summed in
// `chunks` consecutive pieces each, into a dense [rows, chunks] array of partials. Every other dim lies
// outside the run, so its stride is a multiple of the run length and scales exactly by chunks / run; the
// run itself becomes a reduced dim of `chunks` with stride 1, or disappears when chunks == 1.
inline ReducePlan partial_plan(const ReducePlan& p, int64_t chunks) {
  const int64_t run = contiguous_run(p);
  YOCO_CHECK(run > 0 && chunks > 0, "partial_plan: needs a contiguous innermost reduced dim and chunks > 0");
  ReducePlan q = p;
  for (int k = 0; k < p.n_kept; ++k) q.kept_stride[k] = p.kept_stride[k] / run * chunks;
  for (int d = 0; d + 1 < p.n_red; ++d) q.red_stride[d] = p.red_stride[d] / run * chunks;
  if (chunks > 1) {
    q.red_shape[p.n_red - 1] = chunks;
  } else {
    q.red_shape[p.n_red - 1] = q.red_stride[p.n_red - 1] = 0;
    --q.n_red;
  }
  q.n_reduce = p.n_reduce / run * chunks;
  return q;
}

namespace cpu {
void sum_reduce(const float* x, float* out, const ReducePlan& plan, float scale);
}  // namespace cpu
namespace cuda {
void sum_reduce(const float* x, float* out, const ReducePlan& plan, float scale, void* stream);
}  // namespace cuda

}  // namespace yoco::kernels
