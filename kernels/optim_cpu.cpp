// Optimizer family, CPU loops (OpenMP): elementwise, so any split of the range gives identical results.
#include "kernels/optim.h"

namespace yoco::kernels::cpu {

void sgd_update(float* p, const float* g, float* buf, int64_t n, float lr, float momentum, float wd,
                bool first_step) {
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) sgd_element(p + i, g[i], buf ? buf + i : nullptr, lr, momentum, wd, first_step);
}

}  // namespace yoco::kernels::cpu
