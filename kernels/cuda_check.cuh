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
#include "kernels/cuda_handles.cuh"
#ifdef YOCO_WITH_CUDNN
#include <cudnn.h>
#endif

namespace yoco::kernels::cuda {

inline const char* status_str(cublasStatus_t st) { return cublasGetStatusString(st); }
#ifdef YOCO_WITH_CUDNN
inline const char* status_str(cudnnStatus_t st) { return cudnnGetErrorString(st); }
#endif

}  // namespace yoco::kernels::cuda

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


// Scratch of at least `bytes` (kernels/cuda_handles.cuh): stream-ordered, kept until the context ends.
inline void* workspace(void* s, size_t bytes) { return grow_workspace(s, bytes); }

}  // namespace yoco::kernels::cuda
