// GEMM family, CUDA: cuBLAS sgemm. Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T, so the
// operands are swapped and the transposes kept. FP32 math unless the Context allows TF32.
#include "kernels/cuda_check.cuh"
#include "kernels/gemm.h"

namespace yoco::kernels::cuda {

void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda, const float* b,
          int64_t ldb, float beta, float* c, int64_t ldc, void* stream) {
  if (m == 0 || n == 0) return;
  cublasHandle_t h = handles(stream).blas;
  // cuBLAS wants leading dims >= 1 even when k == 0 (then A and B are never read and C = beta * C).
  lda = lda < 1 ? 1 : lda;
  ldb = ldb < 1 ? 1 : ldb;
  // Set per call, so flipping Context::allow_tf32 takes effect at once. DEFAULT_MATH is plain FP32 for sgemm
  // (TF32 tensor cores only with TF32_TENSOR_OP_MATH), so results match the CPU oracle to float rounding;
  // one stream and a fixed workspace keep cuBLAS bitwise reproducible run to run.
  CUBLAS_CHECK(cublasSetMathMode(h, tf32_allowed(stream) ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
  CUBLAS_CHECK(cublasSgemm(h, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, to_int(n, "gemm n"),
                           to_int(m, "gemm m"), to_int(k, "gemm k"), &alpha, b, to_int(ldb, "gemm ldb"), a,
                           to_int(lda, "gemm lda"), &beta, c, to_int(ldc, "gemm ldc")));
}

}  // namespace yoco::kernels::cuda
