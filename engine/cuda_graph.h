// CUDA-graph capture and replay of a step on the context's compute stream (no CUDA headers here).
//
// capture() runs `step` once in stream-capture mode: its kernels are recorded, not executed. replay() then
// launches the recorded kernels with one call, on the same device addresses. Rules for the step:
//  - warm it up eagerly first (twice or more): during capture the caching allocator may only hand out
//    cached blocks (a miss throws), and host syncs (item(), to_vector(), D2H copies) are illegal and throw;
//  - everything it computes must depend only on device memory (host scalars such as lr are baked in).
// Memory: every block the step allocates or frees during capture stays reserved for this graph until it is
// destroyed (never handed to another tensor), so replays cannot clobber unrelated tensors. The tensors the
// step reads that existed before capture (parameters, inputs, optimizer state) must stay alive while the
// graph is replayed. Tensors the captured step left behind (e.g. a loss, parameter gradients) keep pointing
// at the memory each replay rewrites. CPU builds: capture() and replay() throw.
#pragma once
#include <functional>
#include <vector>

namespace yoco {

class CudaGraph {
 public:
  CudaGraph() = default;
  ~CudaGraph();
  CudaGraph(const CudaGraph&) = delete;
  CudaGraph& operator=(const CudaGraph&) = delete;

  // Records `step` (dropping any earlier recording). On an exception the capture is ended and discarded,
  // the context leaves capture mode, and the exception propagates; nothing is recorded then.
  void capture(const std::function<void()>& step);
  void replay();  // enqueues the recorded step on the compute stream (asynchronous, like eager kernels)
  bool captured() const { return exec_ != nullptr; }

 private:
  void reset();             // waits for pending replays, destroys the graph, unreserves its memory
  void* exec_ = nullptr;    // cudaGraphExec_t
  std::vector<void*> blocks_;  // allocator blocks reserved for the graph
};

}  // namespace yoco
