// Optimizer family, CUDA: the fused SGD update, one thread per parameter element (sgd_element from optim.h).
#include "kernels/cuda_check.cuh"
#include "kernels/optim.h"

namespace yoco::kernels::cuda {

namespace {
__global__ void sgd_kernel(float* p, const float* g, float* buf, int64_t n, float lr, float momentum, float wd,
                           bool first_step) {
  const int64_t i = global_index();
  if (i >= n) return;
  sgd_element(p + i, g[i], buf ? buf + i : nullptr, lr, momentum, wd, first_step);
}
}  // namespace

void sgd_update(float* p, const float* g, float* buf, int64_t n, float lr, float momentum, float wd, bool first_step,
                void* stream) {
  launch_1d(sgd_kernel, n, stream, p, g, buf, n, lr, momentum, wd, first_step);
}

}  // namespace yoco::kernels::cuda
