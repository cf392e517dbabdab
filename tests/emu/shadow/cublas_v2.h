// Emulator shadow of <cublas_v2.h>: only the handle type, which the shared CudaHandles carries (cuBLAS itself is
// not emulated: a file calling it fails to compile here).
#pragma once
struct cublasContext;
typedef struct cublasContext* cublasHandle_t;
