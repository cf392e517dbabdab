// CUDA kernel-layer plumbing: status checks, the 1-D launch helper, and the handle bundle launchers receive.
//
// Handle plumbing (why `void* stream` is not a bare cudaStream_t): every CUDA launcher takes a trailing
// `void* stream`, which is the pointer the engine gets from Context::cuda_stream() == cudart::state_stream().
// That pointer is a `CudaHandles*` living inside the Context's CudaState (engine/cuda_runtime.cu): the compute
// stream, the cuBLAS handle bound to it, the cuDNN handle (when YOCO_WITH_CUDNN), a growable cuDNN workspace
// and a pointer to Context::allow_tf32. Launchers reach all of them through `handles(stream)`, so the kernels
// layer has no global mutable state and no dependency on the engine; the Context owns everything.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <memory>
#include "kernels/common.h"
#ifdef YOCO_WITH_CUDNN
#include <cudnn.h>
#endif

namespace yoco::kernels::cuda {

// Everything a launcher may need; owned by the engine's CudaState, passed by pointer as `void* stream`.
struct CudaHandles {
  cudaStream_t stream = nullptr;
  cublasHandle_t blas = nullptr;
  void* dnn = nullptr;               // cudnnHandle_t when YOCO_WITH_CUDNN, else null
  void* workspace = nullptr;         // cuDNN scratch, grown on demand (stream-ordered by the single stream)
  size_t ws_bytes = 0;
  const bool* allow_tf32 = nullptr;  // points at Context::allow_tf32 (read at each call, never copied)
  // Per-shape convolution plans (descriptors + chosen algorithms), owned here so they die with the context;
  // opaque because only kernels/conv.cu knows the type. Querying cuDNN's heuristics on every call cost far more
  // host time than the convolutions themselves at our sizes.
  std::shared_ptr<void> conv_plans;
};

inline CudaHandles& handles(void* s) {
  YOCO_CHECK(s != nullptr, "CUDA launcher called without the context's CudaHandles");
  return *static_cast<CudaHandles*>(s);
}
inline cudaStream_t stream_of(void* s) { return handles(s).stream; }
inline bool tf32_allowed(void* s) {
  const CudaHandles& h = handles(s);
  return h.allow_tf32 != nullptr && *h.allow_tf32;
}

inline const char* status_str(cublasStatus_t st) { return cublasGetStatusString(st); }
#ifdef YOCO_WITH_CUDNN
inline const char* status_str(cudnnStatus_t st) { return cudnnGetErrorString(st); }
#endif

}  // namespace yoco::kernels::cuda

#define CUDA_CHECK(expr) YOCO_CHECK_GEN(expr, cudaSuccess, cudaGetErrorString)
#define CUBLAS_CHECK(expr) YOCO_CHECK_GEN(expr, CUBLAS_STATUS_SUCCESS, ::yoco::kernels::cuda::status_str)
#ifdef YOCO_WITH_CUDNN
#define CUDNN_CHECK(expr) YOCO_CHECK_GEN(expr, CUDNN_STATUS_SUCCESS, ::yoco::kernels::cuda::status_str)
#endif

namespace yoco::kernels::cuda {

constexpr int kThreads = 256;

// Index of this thread in a 1-D launch (64-bit: tensors may exceed 2^31 elements).
__device__ __forceinline__ int64_t global_index() {
  return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}

// Sum of one double per thread over a block of kThreads threads, by a fixed-shape shared-memory tree: the
// order of additions depends only on kThreads, so the result is bitwise reproducible. Every thread of the
// block must call it (it synchronises); all threads receive the total.
__device__ __forceinline__ double block_sum(double v, double* sh /* kThreads doubles */) {
  sh[threadIdx.x] = v;
  __syncthreads();
  for (int s = kThreads / 2; s > 0; s >>= 1) {
    if (static_cast<int>(threadIdx.x) < s) sh[threadIdx.x] += sh[threadIdx.x + s];
    __syncthreads();
  }
  const double total = sh[0];
  __syncthreads();  // sh may be reused by the caller's next block_sum
  return total;
}

// The one 1-D launch: ceil(n / kThreads) blocks of kThreads, each kernel guards `if (i >= n) return;`.
// Every launch is followed by a check so a bad configuration throws at its call site.
template <class... KArgs, class... Args>
void launch_1d(void (*kernel)(KArgs...), int64_t n, void* s, Args&&... args) {
  if (n <= 0) return;
  const int64_t blocks = ceil_div(n, kThreads);
  YOCO_CHECK(blocks <= INT_MAX, "launch_1d: ", n, " elements exceed the 1-D grid limit");
  kernel<<<static_cast<unsigned>(blocks), kThreads, 0, stream_of(s)>>>(static_cast<Args&&>(args)...);
  CUDA_CHECK(cudaGetLastError());
}

// Launch with an explicit grid (block-per-output reductions); same post-launch check.
template <class... KArgs, class... Args>
void launch_grid(void (*kernel)(KArgs...), int64_t blocks, int threads, size_t shmem, void* s, Args&&... args) {
  if (blocks <= 0) return;
  YOCO_CHECK(blocks <= INT_MAX, "launch_grid: ", blocks, " blocks exceed the 1-D grid limit");
  kernel<<<static_cast<unsigned>(blocks), threads, shmem, stream_of(s)>>>(static_cast<Args&&>(args)...);
  CUDA_CHECK(cudaGetLastError());
}

// cuBLAS/cuDNN take int sizes: refuse silently-truncating casts.
inline int to_int(int64_t v, const char* what) {
  YOCO_CHECK(v >= 0 && v <= INT_MAX, what, " = ", v, " does not fit a 32-bit library argument");
  return static_cast<int>(v);
}

// Scratch of at least `bytes` from the handles; grows by cudaFree/cudaMalloc (both stream-synchronising,
// so no kernel still uses the old block). Grows only a few times, then stays flat.
inline void* workspace(void* s, size_t bytes) {
  CudaHandles& h = handles(s);
  if (bytes > h.ws_bytes) {
    if (h.workspace) CUDA_CHECK(cudaFree(h.workspace));
    h.workspace = nullptr;
    h.ws_bytes = 0;
    CUDA_CHECK(cudaMalloc(&h.workspace, bytes));
    h.ws_bytes = bytes;
  }
  return h.workspace;
}

}  // namespace yoco::kernels::cuda
