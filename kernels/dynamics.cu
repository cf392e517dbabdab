// Training-dynamics family, CUDA: one thread per batch row (fold_dynamics_row), the correct count by atomics.
#include "kernels/cuda_check.cuh"
#include "kernels/dynamics.h"

namespace yoco::kernels::cuda {

namespace {
static_assert(sizeof(unsigned long long) == sizeof(int64_t), "correct_num is updated as unsigned long long");

__global__ void fold_dynamics_kernel(DynamicsBatch in, int64_t epoch, DynamicsState st) {
  const int64_t j = global_index();
  if (j >= in.b) return;
  // Integer addition commutes exactly, so the count does not depend on the order the atomics land in.
  if (fold_dynamics_row(in, j, epoch, st))
    atomicAdd(reinterpret_cast<unsigned long long*>(st.correct_num + epoch), 1ull);
}
}  // namespace

void fold_dynamics(const DynamicsBatch& in, int64_t epoch, const DynamicsState& st, void* stream) {
  launch_1d(fold_dynamics_kernel, in.b, stream, in, epoch, st);
}

}  // namespace yoco::kernels::cuda
