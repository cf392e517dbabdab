// Shape family, CUDA: one thread per moved element. index_add has no atomics: one thread per (outer, inner)
// position walks k in order, so repeated indices accumulate in the CPU's order (bitwise equal results).
#include "kernels/cuda_check.cuh"
#include "kernels/shape.h"

namespace yoco::kernels::cuda {

namespace {
__global__ void copy_blocks_kernel(const float* src, float* dst, int64_t n, int64_t len, int64_t src_stride,
                                   int64_t src_off, int64_t dst_stride, int64_t dst_off) {
  const int64_t i = global_index();
  if (i >= n) return;
  const int64_t o = i / len, j = i % len;
  dst[o * dst_stride + dst_off + j] = src[o * src_stride + src_off + j];
}

__global__ void index_select_kernel(const float* src, float* dst, int64_t n, int64_t src_dim, int64_t inner,
                                    const int64_t* idx, int64_t k) {
  const int64_t i = global_index();
  if (i >= n) return;
  const int64_t e = i % inner, j = (i / inner) % k, o = i / (inner * k);
  const int64_t r = idx[j];
  // Indices are range-checked on the device after this launch is queued (engine/ops_shape.cpp): a bad one
  // must not fault, so it reads 0 here and is reported at the next host wait.
  dst[i] = r >= 0 && r < src_dim ? src[(o * src_dim + r) * inner + e] : 0.f;
}

__global__ void index_add_kernel(const float* src, float* dst, int64_t n, int64_t dst_dim, int64_t inner,
                                 const int64_t* idx, int64_t k) {
  const int64_t i = global_index();
  if (i >= n) return;
  const int64_t e = i % inner, o = i / inner;
  for (int64_t j = 0; j < k; ++j) {
    const int64_t r = idx[j];
    if (r >= 0 && r < dst_dim) dst[(o * dst_dim + r) * inner + e] += src[(o * k + j) * inner + e];  // bad: skipped
  }
}

__global__ void strided_copy_kernel(const float* src, float* dst, int64_t n, StridedPlan p) {
  const int64_t i = global_index();
  if (i >= n) return;
  int64_t rem = i, off = p.offset;
  for (int d = p.ndim - 1; d >= 0; --d) {
    off += (rem % p.shape[d]) * p.stride[d];
    rem /= p.shape[d];
  }
  dst[i] = src[off];
}
}  // namespace

void copy_blocks(const float* src, float* dst, int64_t outer, int64_t len, int64_t src_stride, int64_t src_off,
                 int64_t dst_stride, int64_t dst_off, void* stream) {
  if (len <= 0) return;
  launch_1d(copy_blocks_kernel, outer * len, stream, src, dst, outer * len, len, src_stride, src_off, dst_stride,
            dst_off);
}

void index_select(const float* src, float* dst, int64_t outer, int64_t src_dim, int64_t inner, const int64_t* idx,
                  int64_t k, void* stream) {
  if (inner <= 0 || k <= 0) return;
  launch_1d(index_select_kernel, outer * k * inner, stream, src, dst, outer * k * inner, src_dim, inner, idx, k);
}

void index_add(const float* src, float* dst, int64_t outer, int64_t dst_dim, int64_t inner, const int64_t* idx,
               int64_t k, void* stream) {
  if (inner <= 0 || k <= 0) return;
  launch_1d(index_add_kernel, outer * inner, stream, src, dst, outer * inner, dst_dim, inner, idx, k);
}

void strided_copy(const float* src, float* dst, int64_t n, const StridedPlan& plan, void* stream) {
  launch_1d(strided_copy_kernel, n, stream, src, dst, n, plan);
}

}  // namespace yoco::kernels::cuda
