// CPU-only build: the CUDA services report "no device" and refuse device work with a clear error.
#include "engine/cuda_runtime.h"
#include "kernels/common.h"

namespace yoco::cudart {
static void unavailable() { YOCO_CHECK(false, "this build has no CUDA support (configure with nvcc present)"); }
bool compiled_with_cuda() { return false; }
int device_count() { return 0; }
void set_device(int) { unavailable(); }
void* malloc_device(size_t) { unavailable(); return nullptr; }
void free_device(void*) {}
void memcpy(void*, const void*, size_t, CopyKind, void*) { unavailable(); }
void memset_zero(void*, size_t, void*) { unavailable(); }
CudaState* create_state() { unavailable(); return nullptr; }
void destroy_state(CudaState*) {}
void* state_stream(CudaState*) { return nullptr; }
void synchronize(CudaState*) {}
std::string conv_plan_report(CudaState*) { return {}; }
kernels::LabelErrorRecord* label_error_record(CudaState*, bool) { unavailable(); return nullptr; }
bool take_label_error(CudaState*, kernels::LabelErrorRecord*) { return false; }
}  // namespace yoco::cudart
