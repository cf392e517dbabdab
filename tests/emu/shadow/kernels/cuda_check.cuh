// Emulator shadow of kernels/cuda_check.cuh: the same names, with the CUDA runtime and launches run on the CPU.
//
// Emulated builds put tests/emu/shadow first on the include path, so the kernels' `#include
// "kernels/cuda_check.cuh"` lands here. The device helpers (kThreads, global_index, block_sum2, ...) are the real
// ones from kernels/cuda_device.cuh; the handle bundle is the real one from kernels/cuda_handles.cuh; only
// workspace (poisoned on every request), launch_1d and launch_grid are emulated here. cuBLAS is the emulator's
// (shadow <cublas_v2.h>: sgemm on the host); cuDNN is not emulated: CUDNN_CHECK is absent, so a file using it
// outside `#ifdef YOCO_WITH_CUDNN` fails to compile here (emulated builds never define YOCO_WITH_CUDNN).
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
#include "kernels/cuda_handles.cuh"  // the real handle bundle, over the shadow <cuda_runtime.h> and <cublas_v2.h>

namespace yoco::kernels::cuda {

inline const char* status_str(cublasStatus_t st) { return cublasGetStatusString(st); }
#define CUBLAS_CHECK(expr) YOCO_CHECK_GEN(expr, CUBLAS_STATUS_SUCCESS, ::yoco::kernels::cuda::status_str)

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
  void* w = grow_workspace(s, bytes);
  if (w) std::memset(w, 0xff, handles(s).ws_bytes);
  return w;
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
