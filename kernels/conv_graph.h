// cuDNN graph (backend) API convolutions: finalized execution plans for one direction of one ConvShape.
//
// Why a second cuDNN path next to the legacy cudnnConvolution* algorithms in kernels/conv.cu: PyTorch 2.x runs
// its convolutions through cudnn_frontend, i.e. this backend API, whose engines (heuristics mode A, then the
// fallback list) include kernels the eight legacy algorithm enums never reach. Without cudnn_frontend here, we
// speak the C API of cudnn_graph.h directly. Only in builds with cuDNN (YOCO_WITH_CUDNN); empty otherwise.
#pragma once
#ifdef YOCO_WITH_CUDNN
#include <cudnn_graph.h>  // the backend API only: no legacy convolution types here
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>
#include "kernels/conv.h"

namespace yoco::kernels::cuda {

enum class ConvDirection { Forward, BackwardInput, BackwardWeight };

// Owns one cudnnBackendDescriptor_t: created in the constructor (throws on failure), destroyed in the
// destructor. Movable, not copyable. Default-constructed: holds nothing.
class BackendDescriptor {
 public:
  BackendDescriptor() = default;
  explicit BackendDescriptor(cudnnBackendDescriptorType_t type);
  ~BackendDescriptor();
  BackendDescriptor(BackendDescriptor&& o) noexcept : d_(o.d_) { o.d_ = nullptr; }
  BackendDescriptor& operator=(BackendDescriptor&& o) noexcept;
  BackendDescriptor(const BackendDescriptor&) = delete;
  BackendDescriptor& operator=(const BackendDescriptor&) = delete;

  cudnnBackendDescriptor_t get() const { return d_; }
  // Address of the handle, for attributes that take an array of one descriptor.
  const cudnnBackendDescriptor_t* addr() const { return &d_; }

 private:
  cudnnBackendDescriptor_t d_ = nullptr;
};

// The descriptors shared by every plan of one graph_conv_plans call (tensors, convolution, operation, operation
// graph, heuristics), defined in conv_graph.cu. Each plan holds a reference so they outlive it.
struct GraphConvProblem;

// One finalized execution plan for one direction of one convolution shape. Owns (or shares) every backend
// descriptor it was built from, so nothing it references is released before it.
class GraphConvPlan {
 public:
  GraphConvPlan(std::shared_ptr<const GraphConvProblem> problem, BackendDescriptor config, BackendDescriptor engine,
                BackendDescriptor plan, int64_t engine_id, std::string name, size_t workspace_bytes);
  ~GraphConvPlan();
  GraphConvPlan(const GraphConvPlan&) = delete;
  GraphConvPlan& operator=(const GraphConvPlan&) = delete;

  int64_t engine_id() const { return engine_id_; }
  // "engine 12 k2=1 k3=0 [winograd]": cuDNN's global engine index, its knob choices, its numerical notes.
  const std::string& name() const { return name_; }
  size_t workspace_bytes() const { return workspace_bytes_; }

  // out = conv(a, b) with alpha 1, beta 0 (out is only written). Forward: a = x, b = w, out = y. BackwardInput:
  // a = dy, b = w, out = dx. BackwardWeight: a = x, b = dy, out = dw. Enqueued on the handle's stream;
  // `workspace` must hold workspace_bytes() (may be null when that is 0). Pointers must meet the byte alignment
  // the plan was built for. Throws on any cuDNN failure.
  void run(cudnnHandle_t h, const float* a, const float* b, float* out, void* workspace) const;

 private:
  std::shared_ptr<const GraphConvProblem> problem_;
  BackendDescriptor config_, engine_, plan_;
  // The last variant pack and the pointers it binds (x, w, y, workspace): training loops call with the same
  // buffers again and again (the caching allocator hands them back), and building a pack is host time on every
  // convolution, which matters in the launch-bound matching step.
  mutable BackendDescriptor pack_;
  mutable std::array<const void*, 4> pack_ptrs_{};
  int64_t engine_id_;
  std::string name_;
  size_t workspace_bytes_;
};

// Eligible plans in cuDNN's order: heuristics mode A first, then the fallback list's configurations not already
// listed (same engine and knob choices), keeping only deterministic engines without runtime compilation,
// down-converting inputs or reduced-precision reduction, and without tensor cores unless tf32 (TF32 is the only
// tensor-core arithmetic on FP32 data), whose plan finalizes and needs at most max_ws bytes of workspace; at most
// max_plans. A configuration whose attributes cannot be read is skipped and counted in *why. Tensors are contiguous NCHW float with the
// given byte alignment (16 when every pointer passed to run() is 16-byte aligned, else 4). Empty when the graph
// API refuses the problem or leaves nothing eligible, never an exception for that; throws only for misuse (a
// failing descriptor creation or attribute write). *why (if non-null) always receives a one-line account: the
// refusal, or what heuristics offered and why configurations were skipped.
std::vector<std::unique_ptr<GraphConvPlan>> graph_conv_plans(cudnnHandle_t h, const ConvShape& cs,
                                                             ConvDirection dir, bool tf32, int64_t byte_alignment,
                                                             size_t max_ws, int max_plans, std::string* why);

// The context's cuDNN handle from a launcher's `void* stream` (the CudaHandles of kernels/cuda_check.cuh), for
// host code that cannot include that CUDA header (tests). Bound to the context's compute stream.
cudnnHandle_t cudnn_handle(void* stream);

const char* direction_name(ConvDirection dir);  // "forward", "backward input", "backward weight"

}  // namespace yoco::kernels::cuda

#endif  // YOCO_WITH_CUDNN
