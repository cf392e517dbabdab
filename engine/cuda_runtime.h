// The few CUDA runtime services the engine core needs, behind plain functions so host code needs no CUDA headers.
// Built from engine/cuda_runtime.cu with CUDA, or engine/cuda_runtime_stub.cpp without it.
#pragma once
#include <cstddef>
#include <string>

namespace yoco {
struct CudaState;
namespace kernels {
struct LabelErrorRecord;  // kernels/softmax_loss.h
}
namespace cudart {
bool compiled_with_cuda();
int device_count();  // 0 when no driver or device (error 35 is treated as "none")
// Makes device `index` this process's device (one rank per GPU); call before any CUDA work.
void set_device(int index);
void* malloc_device(size_t bytes);
void free_device(void* p);
enum class CopyKind { HostToDevice, DeviceToHost, DeviceToDevice };
void memcpy(void* dst, const void* src, size_t bytes, CopyKind kind, void* stream);
void memset_zero(void* dst, size_t bytes, void* stream);
CudaState* create_state();
void destroy_state(CudaState* s);
void* state_stream(CudaState* s);
void synchronize(CudaState* s);
std::string conv_plan_report(CudaState* s);  // kernels::cuda::conv_plan_report for this state's plans
// The state's device label-error record (allocated and cleared with the state), for a check about to be
// enqueued (`capturing`: into a CUDA graph). take_label_error reads the record only when such a check may have
// run since its last read, so host waits cost nothing extra otherwise.
kernels::LabelErrorRecord* label_error_record(CudaState* s, bool capturing);
// Waits for the stream and copies the record into `out`; when it holds an error, clears it (stream-ordered)
// and returns true. Not during a CUDA-graph capture (the copy is a host sync).
bool take_label_error(CudaState* s, kernels::LabelErrorRecord* out);
}  // namespace cudart
}  // namespace yoco
