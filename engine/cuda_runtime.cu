// CUDA runtime services for the engine core: device probe, raw memory, copies, and the CudaState that owns
// the compute stream, cuBLAS/cuDNN handles and workspace (handed to launchers as a CudaHandles*).
#include "engine/context.h"
#include "engine/cuda_runtime.h"
#include "kernels/cuda_check.cuh"
#include "kernels/softmax_loss.h"

namespace yoco {

// The Context's CUDA state: the handle bundle every launcher receives (see kernels/cuda_check.cuh), and the
// record where device label checks report a bad label instead of syncing (read by take_label_error).
struct CudaState {
  kernels::cuda::CudaHandles h;
  kernels::LabelErrorRecord* label_record = nullptr;  // device memory, cleared (all 0xff) = no error
  // When the record can have changed since the host last read it: a check enqueued since (eager), or ever
  // captured (every replay of that graph runs it again, unseen by the host).
  bool label_pending = false;
  bool label_in_graph = false;
};

namespace cudart {

bool compiled_with_cuda() { return true; }

int device_count() {
  int n = 0;
  cudaError_t st = cudaGetDeviceCount(&n);
  // No driver (35), no device (100) or only the link-time stub libcuda (34) mean "no GPU here", not an
  // error: the CPU backend still works. Anything else is a broken setup and is reported.
  if (st == cudaErrorInsufficientDriver || st == cudaErrorNoDevice || st == cudaErrorStubLibrary) {
    (void)cudaGetLastError();  // clear this non-sticky error so later runtime calls start clean
    return 0;
  }
  CUDA_CHECK(st);
  return n;
}

void set_device(int index) { CUDA_CHECK(cudaSetDevice(index)); }

void* malloc_device(size_t bytes) {
  void* p = nullptr;
  cudaError_t st = cudaMalloc(&p, bytes);
  if (st != cudaSuccess) {
    (void)cudaGetLastError();  // out-of-memory is recoverable: the allocator frees its cache and retries
    throw Error(cat("cudaMalloc of ", bytes, " bytes failed: ", cudaGetErrorString(st)));
  }
  return p;
}

void free_device(void* p) {
  if (!p) return;
  cudaError_t st = cudaFree(p);
  // The Context (and its allocator) is destroyed at exit, after the CUDA runtime has begun unloading:
  // the driver reclaims the memory anyway, and throwing from that destructor would terminate the process.
  if (st == cudaErrorCudartUnloading) {
    (void)cudaGetLastError();
    return;
  }
  CUDA_CHECK(st);
}

void memcpy(void* dst, const void* src, size_t bytes, CopyKind kind, void* stream) {
  if (bytes == 0) return;
  cudaStream_t s = kernels::cuda::stream_of(stream);
  cudaMemcpyKind k = kind == CopyKind::HostToDevice   ? cudaMemcpyHostToDevice
                     : kind == CopyKind::DeviceToHost ? cudaMemcpyDeviceToHost
                                                      : cudaMemcpyDeviceToDevice;
  CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, k, s));
  // Host buffers are pageable: an upload has consumed `src` on return, but a download must be waited for
  // before the caller reads `dst`.
  if (kind == CopyKind::DeviceToHost) CUDA_CHECK(cudaStreamSynchronize(s));
}

void memset_zero(void* dst, size_t bytes, void* stream) {
  if (bytes == 0) return;
  CUDA_CHECK(cudaMemsetAsync(dst, 0, bytes, kernels::cuda::stream_of(stream)));
}

CudaState* create_state() {
  auto* s = new CudaState();
  kernels::cuda::CudaHandles& h = s->h;
  try {
    CUDA_CHECK(cudaStreamCreateWithFlags(&h.stream, cudaStreamNonBlocking));
    CUBLAS_CHECK(cublasCreate(&h.blas));
    CUBLAS_CHECK(cublasSetStream(h.blas, h.stream));
    // Default math is full FP32; gemm switches to TF32 per call only when the Context allows it.
    CUBLAS_CHECK(cublasSetMathMode(h.blas, CUBLAS_DEFAULT_MATH));
#ifdef YOCO_WITH_CUDNN
    cudnnHandle_t dnn = nullptr;
    CUDNN_CHECK(cudnnCreate(&dnn));
    h.dnn = dnn;
    CUDNN_CHECK(cudnnSetStream(dnn, h.stream));
#endif
    h.allow_tf32 = &Context::get().allow_tf32;
    h.conv_search = &Context::get().conv_search;
    h.cudnn_graph_api = &Context::get().cudnn_graph_api;
    // Allocated here, once: a label check may first run inside a CUDA-graph capture, where cudaMalloc is illegal.
    CUDA_CHECK(cudaMalloc(&s->label_record, sizeof(kernels::LabelErrorRecord)));
    CUDA_CHECK(cudaMemsetAsync(s->label_record, 0xff, sizeof(kernels::LabelErrorRecord), h.stream));
  } catch (...) {
    destroy_state(s);
    throw;
  }
  return s;
}

void destroy_state(CudaState* s) {
  if (!s) return;
  kernels::cuda::CudaHandles& h = s->h;
  // Teardown runs from destructors: report nothing, release what exists.
  if (h.stream) (void)cudaStreamSynchronize(h.stream);
  // The cached convolution plans (cuDNN descriptors and execution plans built on h.dnn) go before their handle.
  h.conv_plans.reset();
#ifdef YOCO_WITH_CUDNN
  if (h.dnn) (void)cudnnDestroy(static_cast<cudnnHandle_t>(h.dnn));
#endif
  if (h.blas) (void)cublasDestroy(h.blas);
  if (h.workspace) (void)cudaFree(h.workspace);
  for (void* w : h.retired_workspaces) (void)cudaFree(w);
  if (s->label_record) (void)cudaFree(s->label_record);
  if (h.stream) (void)cudaStreamDestroy(h.stream);
  delete s;
}

void* state_stream(CudaState* s) {
  YOCO_CHECK(s != nullptr, "state_stream: no CUDA state");
  return &s->h;
}

void synchronize(CudaState* s) {
  if (s && s->h.stream) CUDA_CHECK(cudaStreamSynchronize(s->h.stream));
}

std::string conv_plan_report(CudaState* s) { return s ? kernels::cuda::conv_plan_report(&s->h) : std::string(); }

kernels::LabelErrorRecord* label_error_record(CudaState* s, bool capturing) {
  YOCO_CHECK(s != nullptr && s->label_record != nullptr, "label_error_record: no CUDA state");
  s->label_pending = true;
  if (capturing) s->label_in_graph = true;
  return s->label_record;
}

bool take_label_error(CudaState* s, kernels::LabelErrorRecord* out) {
  if (!s || !(s->label_pending || s->label_in_graph)) return false;  // unchanged since the last read: no copy
  s->label_pending = false;
  const cudaStream_t st = s->h.stream;
  // The copy is ordered after every check enqueued so far; the sync makes `out` readable.
  CUDA_CHECK(cudaMemcpyAsync(out, s->label_record, sizeof(*out), cudaMemcpyDeviceToHost, st));
  CUDA_CHECK(cudaStreamSynchronize(st));
  if (out->sample == kernels::kNoLabelError) return false;
  // Reported once: checks enqueued after this point (including graph replays) start from an empty record.
  CUDA_CHECK(cudaMemsetAsync(s->label_record, 0xff, sizeof(*out), st));
  return true;
}

}  // namespace cudart
}  // namespace yoco
