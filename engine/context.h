// The one explicit context: allocators, grad mode, CUDA handles and numeric settings. No other global state.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>
#include "engine/allocator.h"
#include "engine/profiler.h"
#include "kernels/conv.h"

namespace yoco {

struct CudaState;  // streams, cuBLAS/cuDNN handles, workspace (engine/cuda_context.cu)
namespace kernels {
struct LabelErrorRecord;  // kernels/softmax_loss.h
}

// Host-device traffic through the context: how often the host waited for the device (synchronize() and every
// download) and what was uploaded. A training step that keeps the GPU fed has no host waits and uploads only
// small per-batch parameters; the tests and the benchmark read these to show it.
struct TransferStats {
  int64_t host_waits = 0;
  int64_t uploads = 0, upload_bytes = 0, largest_upload = 0;
};

class Context {
 public:
  static Context& get();

  CachingAllocator& allocator(Device d);
  bool grad_enabled() const { return grad_enabled_; }
  void set_grad_enabled(bool on) { grad_enabled_ = on; }

  bool cuda_available();             // a driver and at least one device (false on GPU-less machines)
  CudaState* cuda();                 // created on first use; throws when no GPU is present
  void* cuda_stream();               // cudaStream_t of the compute stream
  void synchronize();                // waits for the device, then check_device_errors() (no-op on CPU)
  // Errors found by device-side range checks (CUDA labels, engine/ops_softmax.cpp; CUDA gather/scatter indices,
  // engine/ops_shape.cpp) are recorded on the device instead of syncing: this throws the first recorded one (the
  // same message as the CPU check) and clears it, so it is reported once. synchronize() and device-to-host copies
  // call it; no-op on CPU and while capturing.
  void check_device_errors();
  kernels::LabelErrorRecord* label_error_record();  // the device record, for a range check about to be enqueued
  // A small code for `op`, stored in the record and named on throw; the message speaks of labels of samples
  // or of indices at positions.
  int64_t label_op_code(const char* op);
  int64_t index_op_code(const char* op);
  bool allow_tf32 = false;           // TF32 for cuBLAS/cuDNN: off so CUDA matches the CPU oracle
  // CPU convolutions: oneDNN (default, fastest) or im2col+GEMM (bitwise equal for any thread count);
  // YOCO_CONV=im2col selects the latter.
  kernels::ConvAlgo conv_algo = kernels::ConvAlgo::Dnnl;
  // CUDA convolutions: cuDNN's heuristic choice (default, reproducible) or the fastest of cuDNN's deterministic
  // candidates (graph and legacy APIs) and our direct kernels, timed per shape (YOCO_CONV_SEARCH=measured;
  // kernels/conv.h says why it is not the default). Read when a shape is first seen.
  kernels::ConvSearch conv_search = kernels::ConvSearch::Heuristic;
  // CUDA convolutions through cuDNN's graph API first (default; legacy API as the fallback), or the legacy API
  // only (YOCO_CUDNN_API=legacy): a switch to tell the two apart when a result looks wrong. Read when a shape is
  // first seen.
  bool cudnn_graph_api = true;
  std::string conv_plan_report();    // CUDA convolution plans chosen so far, a line per shape ("" without any)
  int num_threads() const;           // OpenMP threads used by CPU kernels
  Profiler& profiler() { return profiler_; }  // per-kernel timing, on with YOCO_PROFILE=1 (NVTX: YOCO_NVTX=1)
  const TransferStats& transfers() const { return transfers_; }
  void reset_transfers() { transfers_ = TransferStats{}; }
  void note_upload(size_t bytes);  // called by the host-to-device copy
  void note_host_wait() { ++transfers_.host_waits; }
  // True while a CUDA graph captures the compute stream (engine/cuda_graph.h): host syncs are illegal then.
  bool capturing() const { return capturing_; }
  void set_capturing(bool on) { capturing_ = on; }

  ~Context();

 private:
  Context();
  bool grad_enabled_ = true;
  bool capturing_ = false;
  TransferStats transfers_;
  Profiler profiler_;
  std::unique_ptr<CachingAllocator> cpu_alloc_;
  std::unique_ptr<CachingAllocator> cuda_alloc_;
  CudaState* cuda_ = nullptr;
  int cuda_probe_ = -1;  // -1 unknown, 0 none, 1 present
  struct CheckedOp {
    std::string name;
    bool index;  // an index check (else a label check)
  };
  std::vector<CheckedOp> checked_ops_;  // by label_op_code / index_op_code
  int64_t checked_op_code(const char* op, bool index);
};

// RAII guard that turns recording off (or on) for a scope, restoring the previous mode.
class GradModeGuard {
 public:
  explicit GradModeGuard(bool enabled) : prev_(Context::get().grad_enabled()) {
    Context::get().set_grad_enabled(enabled);
  }
  ~GradModeGuard() { Context::get().set_grad_enabled(prev_); }
  GradModeGuard(const GradModeGuard&) = delete;
  GradModeGuard& operator=(const GradModeGuard&) = delete;

 private:
  bool prev_;
};
struct NoGradGuard : GradModeGuard {
  NoGradGuard() : GradModeGuard(false) {}
};

}  // namespace yoco
