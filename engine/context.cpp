// The process-wide Context: owns the allocators and the CUDA state; grad mode lives here too.
#include "engine/context.h"
#include <cstdlib>
#include <string>
#include "engine/cuda_runtime.h"
#include "kernels/softmax_loss.h"
#ifdef _OPENMP
#include <omp.h>
#endif

namespace yoco {

Context& Context::get() {
  static Context ctx;
  return ctx;
}

Context::Context() : cpu_alloc_(new CachingAllocator(Device::CPU)) {
  const char* prof = std::getenv("YOCO_PROFILE");
  profiler_.set_enabled(prof && prof[0] == '1');
  const char* nvtx = std::getenv("YOCO_NVTX");
  profiler_.set_nvtx(nvtx && nvtx[0] == '1');
  const char* conv = std::getenv("YOCO_CONV");
  if (conv && std::string(conv) == "im2col") conv_algo = kernels::ConvAlgo::Im2col;
  const char* search = std::getenv("YOCO_CONV_SEARCH");
  if (search && std::string(search) == "measured") conv_search = kernels::ConvSearch::Measured;
  // TF32 stays off unless asked for: CUDA results must match the FP32 CPU oracle to 1e-5.
  const char* tf32 = std::getenv("YOCO_ALLOW_TF32");
  allow_tf32 = tf32 && tf32[0] == '1';
  const char* api = std::getenv("YOCO_CUDNN_API");
  if (api && std::string(api) == "legacy") cudnn_graph_api = false;
}

Context::~Context() {
  if (cuda_) {
    cuda_alloc_.reset();
    cudart::destroy_state(cuda_);
  }
}

CachingAllocator& Context::allocator(Device d) {
  if (d == Device::CPU) return *cpu_alloc_;
  cuda();  // make sure the device is usable before handing out device memory
  if (!cuda_alloc_) cuda_alloc_.reset(new CachingAllocator(Device::CUDA));
  return *cuda_alloc_;
}

bool Context::cuda_available() {
  if (cuda_probe_ < 0) cuda_probe_ = cudart::device_count() > 0 ? 1 : 0;
  return cuda_probe_ == 1;
}

CudaState* Context::cuda() {
  if (!cuda_) {
    YOCO_CHECK(cuda_available(), "a CUDA tensor was requested but no CUDA device is available",
               cudart::compiled_with_cuda() ? "" : " (built without CUDA)");
    cuda_ = cudart::create_state();
  }
  return cuda_;
}

void* Context::cuda_stream() { return cudart::state_stream(cuda()); }

std::string Context::conv_plan_report() { return cuda_ ? cudart::conv_plan_report(cuda_) : std::string(); }

void Context::note_upload(size_t bytes) {
  const auto b = static_cast<int64_t>(bytes);
  ++transfers_.uploads;
  transfers_.upload_bytes += b;
  if (b > transfers_.largest_upload) transfers_.largest_upload = b;
}

void Context::synchronize() {
  if (!cuda_) return;
  note_host_wait();
  cudart::synchronize(cuda_);
  check_device_errors();
}

void Context::check_device_errors() {
  if (!cuda_ || capturing_) return;
  kernels::LabelErrorRecord r;
  if (!cudart::take_label_error(cuda_, &r)) return;
  const bool known = r.op >= 0 && r.op < static_cast<int64_t>(checked_ops_.size());
  const CheckedOp op = known ? checked_ops_[static_cast<size_t>(r.op)] : CheckedOp{"range check", false};
  // The conditions are false by construction; written as the CPU checks' so both messages read alike.
  if (op.index)
    YOCO_CHECK(kernels::label_in_range(r.value, r.classes), op.name, ": index ", r.value, " at position ", r.sample,
               " is outside [0, ", r.classes, ")");
  YOCO_CHECK(kernels::label_in_range(r.value, r.classes), op.name, ": label ", r.value, " of sample ", r.sample,
             " is outside [0, ", r.classes, ")");
}

kernels::LabelErrorRecord* Context::label_error_record() { return cudart::label_error_record(cuda(), capturing_); }

int64_t Context::checked_op_code(const char* op, bool index) {
  for (size_t i = 0; i < checked_ops_.size(); ++i)
    if (checked_ops_[i].name == op && checked_ops_[i].index == index) return static_cast<int64_t>(i);
  checked_ops_.push_back({op, index});
  return static_cast<int64_t>(checked_ops_.size() - 1);
}

int64_t Context::label_op_code(const char* op) { return checked_op_code(op, false); }
int64_t Context::index_op_code(const char* op) { return checked_op_code(op, true); }

int Context::num_threads() const {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

}  // namespace yoco
