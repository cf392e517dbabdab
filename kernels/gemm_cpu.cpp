// GEMM family, CPU: oneDNN's sgemm. Chosen by measurement: it runs AVX-512 kernels (~200 GFLOP/s per core
// here) whatever OPENBLAS_CORETYPE says, while OpenBLAS is held to its Haswell kernels (~115) on these
// machines. oneDNN uses OpenMP, so a call from inside our own parallel loops runs single-threaded.
#include <oneapi/dnnl/dnnl.h>
#include "kernels/gemm.h"

namespace yoco::kernels::cpu {

void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda, const float* b,
          int64_t ldb, float beta, float* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  dnnl_status_t st = dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  YOCO_CHECK(st == dnnl_success, "dnnl_sgemm failed with status ", static_cast<int>(st), " for m=", m, " n=", n,
             " k=", k);
}

void gemm_serial(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                 const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  // Callers run this inside an OpenMP parallel region; nested OpenMP is off, so oneDNN stays on one thread.
  gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

}  // namespace yoco::kernels::cpu
