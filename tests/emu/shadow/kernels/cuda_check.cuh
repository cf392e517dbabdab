// Emulator shadow of kernels/cuda_check.cuh: the same names, with the CUDA runtime and launches run on the CPU.
//
// Emulated builds put tests/emu/shadow first on the include path, so the kernels' `#include
// "kernels/cuda_check.cuh"` lands here. The device helpers (kThreads, global_index, block_sum2, ...) are the real
// ones from kernels/cuda_device.cuh; the host parts below mirror the real header (handles, stream_of, tf32_allowed,
// conv_search, workspace, launch_1d, launch_grid) with emulated runtime calls. cuBLAS and cuDNN are not
// emulated: CUBLAS_CHECK/CUDNN_CHECK and status_str are absent, so a file using them fails to compile here.
#pragma once
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <tuple>
#include <utility>
#include <vector>
#include "kernels/common.h"
#include "kernels/conv.h"
#include "tests/emu/emu_cuda.h"
#include "kernels/cuda_device.cuh"

namespace yoco::kernels::cuda {

// Field for field the real bundle; library handles are opaque pointers nobody reads here.
struct CudaHandles {
  cudaStream_t stream = nullptr;
  void* blas = nullptr;
  void* dnn = nullptr;
  void* workspace = nullptr;
  size_t ws_bytes = 0;
  std::vector<void*> retired_workspaces;
  const bool* allow_tf32 = nullptr;
  const ConvSearch* conv_search = nullptr;
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

}  // namespace yoco::kernels::cuda

#define CUDA_CHECK(expr) YOCO_CHECK_GEN(expr, cudaSuccess, cudaGetErrorString)

namespace yoco::kernels::cuda {

// Launch with an explicit grid. The arguments are converted to the kernel's parameter types once, as CUDA copies
// them into parameter space; each emulated thread then calls the kernel with its own by-value copy.
template <class... KArgs, class... Args>
void launch_grid(void (*kernel)(KArgs...), int64_t blocks, int threads, size_t shmem, void* s, Args&&... args) {
  if (blocks <= 0) return;
  YOCO_CHECK(blocks <= INT_MAX, "launch_grid: ", blocks, " blocks exceed the 1-D grid limit");
  (void)stream_of(s);  // the real launch reads the stream: a missing handle bundle throws here too
  const std::tuple<KArgs...> params(static_cast<Args&&>(args)...);
  emu::launch(reinterpret_cast<const void*>(kernel), blocks, threads, shmem, [&] { std::apply(kernel, params); });
  CUDA_CHECK(cudaGetLastError());
}

// The one 1-D launch: ceil(n / kThreads) blocks of kThreads (as the real one).
template <class... KArgs, class... Args>
void launch_1d(void (*kernel)(KArgs...), int64_t n, void* s, Args&&... args) {
  if (n <= 0) return;
  const int64_t blocks = ceil_div(n, kThreads);
  YOCO_CHECK(blocks <= INT_MAX, "launch_1d: ", n, " elements exceed the 1-D grid limit");
  launch_grid(kernel, blocks, kThreads, 0, s, static_cast<Args&&>(args)...);
}


// As the real one (grow by retiring, never free while the context lives), except that the emulator refills the
// scratch with 0xff (NaN) on every request: a launcher reading partials that its own launches did not write
// (stale ones from an earlier op) fails here, where on a GPU it might pass by luck. Launchers request their
// scratch once per op, so the refill never destroys data an op still needs.
inline void* workspace(void* s, size_t bytes) {
  CudaHandles& h = handles(s);
  if (bytes > h.ws_bytes) {
    void* fresh = nullptr;
    CUDA_CHECK(cudaMalloc(&fresh, bytes));
    if (h.workspace) h.retired_workspaces.push_back(h.workspace);
    h.workspace = fresh;
    h.ws_bytes = bytes;
  }
  if (h.workspace) std::memset(h.workspace, 0xff, h.ws_bytes);
  return h.workspace;
}

}  // namespace yoco::kernels::cuda

namespace emu {
// A test's handle bundle (the engine's CudaState stand-in): pass `stream` to the launchers; frees the workspaces.
struct Stream {
  yoco::kernels::cuda::CudaHandles h;
  Stream() = default;
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  ~Stream() {
    for (void* p : h.retired_workspaces) device_free(p);
    device_free(h.workspace);
  }
  void* get() { return &h; }
};
}  // namespace emu
