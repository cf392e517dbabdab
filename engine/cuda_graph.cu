// CUDA-graph capture and replay on the context's compute stream (see engine/cuda_graph.h).
#include <exception>
#include <utility>
#include "engine/context.h"
#include "engine/cuda_graph.h"
#include "kernels/cuda_check.cuh"

namespace yoco {

namespace {
cudaStream_t compute_stream() { return kernels::cuda::stream_of(Context::get().cuda_stream()); }

// Leaves capture mode after `step` failed or capture could not be ended: the partial graph is dropped and
// the (non-sticky) capture error cleared, so eager work on the stream goes on normally.
void discard_capture(cudaStream_t s) {
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  if (cudaStreamIsCapturing(s, &status) == cudaSuccess && status != cudaStreamCaptureStatusNone) {
    cudaGraph_t partial = nullptr;
    (void)cudaStreamEndCapture(s, &partial);  // fails with "invalidated" after an illegal call: fine
    if (partial) (void)cudaGraphDestroy(partial);
  }
  (void)cudaGetLastError();
}
}  // namespace

void CudaGraph::capture(const std::function<void()>& step) {
  Context& ctx = Context::get();
  YOCO_CHECK(!ctx.capturing(), "CudaGraph::capture: another capture is in progress");
  reset();
  CachingAllocator& alloc = ctx.allocator(Device::CUDA);  // throws on machines without a GPU
  const cudaStream_t s = compute_stream();
  // Eager work still queued must finish (and report its errors) before the stream switches to capture.
  ctx.synchronize();

  alloc.begin_capture();
  ctx.set_capturing(true);
  cudaGraph_t graph = nullptr;
  try {
    // Thread-local mode: unsafe calls from this thread (cudaMalloc, syncs) fail instead of corrupting it.
    CUDA_CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
    step();
    CUDA_CHECK(cudaStreamEndCapture(s, &graph));
    YOCO_CHECK(graph != nullptr, "CudaGraph::capture: cudaStreamEndCapture returned no graph");
  } catch (...) {
    discard_capture(s);
    ctx.set_capturing(false);
    alloc.abort_capture();
    throw;
  }
  ctx.set_capturing(false);
  std::vector<void*> blocks = alloc.end_capture();

  cudaGraphExec_t exec = nullptr;
  // Auto-free: should a library allocate stream-ordered memory inside the capture without freeing it
  // there (cuBLAS may take workspace with cudaMallocAsync while captured), a relaunch frees it first
  // instead of failing; for graphs without such allocations the flag changes nothing.
  const cudaError_t st = cudaGraphInstantiate(&exec, graph, cudaGraphInstantiateFlagAutoFreeOnLaunch);
  (void)cudaGraphDestroy(graph);  // the executable graph does not need its template
  if (st != cudaSuccess) {
    alloc.unreserve(blocks);
    (void)cudaGetLastError();
    CUDA_CHECK(st);
  }
  exec_ = exec;
  blocks_ = std::move(blocks);
}

void CudaGraph::replay() {
  YOCO_CHECK(exec_ != nullptr, "CudaGraph::replay: nothing was captured");
  YOCO_CHECK(!Context::get().capturing(), "CudaGraph::replay: not allowed during a capture");
  CUDA_CHECK(cudaGraphLaunch(static_cast<cudaGraphExec_t>(exec_), compute_stream()));
}

void CudaGraph::reset() {
  if (!exec_) return;
  // A replay may still be running: its memory must not return to the pool (or the graph vanish) before.
  (void)cudaStreamSynchronize(compute_stream());
  (void)cudaGraphExecDestroy(static_cast<cudaGraphExec_t>(exec_));
  exec_ = nullptr;
  Context::get().allocator(Device::CUDA).unreserve(blocks_);
  blocks_.clear();
}

CudaGraph::~CudaGraph() {
  try {
    reset();
  } catch (const std::exception&) {
    // Destructors report nothing; the process is already tearing the CUDA state down.
  }
}

}  // namespace yoco
