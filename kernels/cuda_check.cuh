// CUDA kernel-layer plumbing: status checks, launch helpers, the handle bundle (device code: cuda_device.cuh).
//
// Handle plumbing (why `void* stream` is not a bare cudaStream_t): every CUDA launcher takes a trailing
// `void* stream`, which is the pointer the engine gets from Context::cuda_stream() == cudart::state_stream().
// That pointer is a `CudaHandles*` living inside the Context's CudaState (engine/cuda_runtime.cu): the compute
// stream, the cuBLAS handle bound to it, the cuDNN handle (when YOCO_WITH_CUDNN), a growable cuDNN workspace
// and pointers to the Context's numeric settings. Launchers reach all of them through `handles(stream)`, so the
// kernels layer has no global mutable state and no dependency on the engine; the Context owns everything.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>
#include "kernels/common.h"
#include "kernels/conv.h"
#include "kernels/cuda_device.cuh"
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
  // Workspaces outgrown by a larger request: kept until the context ends (engine/cuda_runtime.cu frees them),
  // because a captured CUDA graph may still address one. A handful of growth steps, so bounded.
  std::vector<void*> retired_workspaces;
  const bool* allow_tf32 = nullptr;  // points at Context::allow_tf32 (read at each call, never copied)
  const ConvSearch* conv_search = nullptr;  // points at Context::conv_search (read when a shape is first seen)
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
inline ConvSearch conv_search(void* s) {
  const CudaHandles& h = handles(s);
  return h.conv_search != nullptr ? *h.conv_search : ConvSearch::Heuristic;
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


// Scratch of at least `bytes` from the handles. Growing allocates a new block and retires the old one (not
// freed: kernels captured in a CUDA graph keep its address). Grows only a few times, then stays flat.
inline void* workspace(void* s, size_t bytes) {
  CudaHandles& h = handles(s);
  if (bytes > h.ws_bytes) {
    void* fresh = nullptr;
    CUDA_CHECK(cudaMalloc(&fresh, bytes));
    if (h.workspace) h.retired_workspaces.push_back(h.workspace);
    h.workspace = fresh;
    h.ws_bytes = bytes;
  }
  return h.workspace;
}

}  // namespace yoco::kernels::cuda
