// Shape family, CPU.
#include <cstring>
#include "kernels/shape.h"

namespace yoco::kernels::cpu {

void copy_blocks(const float* src, float* dst, int64_t outer, int64_t len, int64_t src_stride, int64_t src_off,
                 int64_t dst_stride, int64_t dst_off) {
#pragma omp parallel for schedule(static) if (outer * len > 65536)
  for (int64_t o = 0; o < outer; ++o)
    std::memcpy(dst + o * dst_stride + dst_off, src + o * src_stride + src_off, static_cast<size_t>(len) * 4);
}

void index_select(const float* src, float* dst, int64_t outer, int64_t src_dim, int64_t inner, const int64_t* idx,
                  int64_t k) {
#pragma omp parallel for collapse(2) schedule(static) if (outer * k * inner > 65536)
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j = 0; j < k; ++j)
      std::memcpy(dst + (o * k + j) * inner, src + (o * src_dim + idx[j]) * inner, static_cast<size_t>(inner) * 4);
}

void index_add(const float* src, float* dst, int64_t outer, int64_t dst_dim, int64_t inner, const int64_t* idx,
               int64_t k) {
  // Parallel over outer only: repeated indices then accumulate in a fixed order of k.
#pragma omp parallel for schedule(static) if (outer * k * inner > 65536)
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j = 0; j < k; ++j) {
      float* d = dst + (o * dst_dim + idx[j]) * inner;
      const float* s = src + (o * k + j) * inner;
      for (int64_t i = 0; i < inner; ++i) d[i] += s[i];
    }
}

void strided_copy(const float* src, float* dst, int64_t n, const StridedPlan& p) {
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) {
    int64_t rem = i, off = p.offset;
    for (int d = p.ndim - 1; d >= 0; --d) {
      off += (rem % p.shape[d]) * p.stride[d];
      rem /= p.shape[d];
    }
    dst[i] = src[off];
  }
}

}  // namespace yoco::kernels::cpu
