// GEMM family: row-major C = alpha * op(A) op(B) + beta * C (OpenBLAS on CPU, cuBLAS on CUDA).
#pragma once
#include <cstdint>
#include "kernels/common.h"

namespace yoco::kernels {
namespace cpu {
// A is M×K (K×M when ta), B is K×N (N×K when tb); lda/ldb/ldc are row strides.
void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda, const float* b,
          int64_t ldb, float beta, float* c, int64_t ldc);
// Single-threaded variant for callers that already parallelise over independent problems.
void gemm_serial(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                 const float* b, int64_t ldb, float beta, float* c, int64_t ldc);
}  // namespace cpu
namespace cuda {
void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda, const float* b,
          int64_t ldb, float beta, float* c, int64_t ldc, void* stream);
}  // namespace cuda
}  // namespace yoco::kernels
