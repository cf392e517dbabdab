// The handle bundle every CUDA launcher receives as `void* stream`, its accessors and the scratch workspace:
// host code shared by kernels/cuda_check.cuh and the CPU emulator's shadow of it (tests/emu), which provides its
// own <cuda_runtime.h> and <cublas_v2.h>.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cstddef>
#include <memory>
#include <vector>
#include "kernels/common.h"
#include "kernels/conv.h"

#define CUDA_CHECK(expr) YOCO_CHECK_GEN(expr, cudaSuccess, cudaGetErrorString)

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
  const bool* cudnn_graph_api = nullptr;    // points at Context::cudnn_graph_api (likewise)
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
inline bool cudnn_graph_api(void* s) {
  const CudaHandles& h = handles(s);
  return h.cudnn_graph_api == nullptr || *h.cudnn_graph_api;
}

// Scratch of at least `bytes` from the handles. Growing allocates a new block and retires the old one (not
// freed: kernels captured in a CUDA graph keep its address). Grows only a few times, then stays flat.
// kernels/cuda_check.cuh's workspace() is this; the emulator's also poisons the block on every request.
inline void* grow_workspace(void* s, size_t bytes) {
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
