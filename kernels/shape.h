// Shape family: block copies (slice/concat), gathers along a dim (index_select/index_add) and strided copies
// (transpose/flip). Pure data movement, no arithmetic except index_add's accumulation.
#pragma once
#include <cstdint>
#include "kernels/common.h"

namespace yoco::kernels {

constexpr int kMaxStridedDims = 6;
// out (contiguous, `shape`) [i] = src[offset + sum_d idx_d * stride_d]; strides may be negative (flip).
struct StridedPlan {
  int ndim = 0;
  int64_t shape[kMaxStridedDims] = {};
  int64_t stride[kMaxStridedDims] = {};
  int64_t offset = 0;
};

namespace cpu {
// for o < outer: dst[o*dst_stride + dst_off .. + len) = src[o*src_stride + src_off .. + len)
void copy_blocks(const float* src, float* dst, int64_t outer, int64_t len, int64_t src_stride, int64_t src_off,
                 int64_t dst_stride, int64_t dst_off);
// src viewed as [outer, src_dim, inner]; dst [outer, k, inner] = src[:, idx[k], :]
void index_select(const float* src, float* dst, int64_t outer, int64_t src_dim, int64_t inner, const int64_t* idx,
                  int64_t k);
// dst viewed as [outer, dst_dim, inner] (pre-zeroed): dst[:, idx[k], :] += src[:, k, :], in order of k.
void index_add(const float* src, float* dst, int64_t outer, int64_t dst_dim, int64_t inner, const int64_t* idx,
               int64_t k);
void strided_copy(const float* src, float* dst, int64_t n, const StridedPlan& plan);
}  // namespace cpu
// CUDA: the engine checks indices on the device without waiting, so these kernels take any index: one outside
// [0, dim) reads 0 (index_select) or adds nothing (index_add) instead of touching memory outside the tensor.
namespace cuda {
void copy_blocks(const float* src, float* dst, int64_t outer, int64_t len, int64_t src_stride, int64_t src_off,
                 int64_t dst_stride, int64_t dst_off, void* stream);
void index_select(const float* src, float* dst, int64_t outer, int64_t src_dim, int64_t inner, const int64_t* idx,
                  int64_t k, void* stream);
void index_add(const float* src, float* dst, int64_t outer, int64_t dst_dim, int64_t inner, const int64_t* idx,
               int64_t k, void* stream);
void strided_copy(const float* src, float* dst, int64_t n, const StridedPlan& plan, void* stream);
}  // namespace cuda

}  // namespace yoco::kernels
