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

namespace cpu {
void sum_reduce(const float* x, float* out, const ReducePlan& plan, float scale);
}  // namespace cpu
namespace cuda {
void sum_reduce(const float* x, float* out, const ReducePlan& plan, float scale, void* stream);
}  // namespace cuda

}  // namespace yoco::kernels
