// Optimizer family, CPU loops (OpenMP): elementwise, so any split of the range gives identical results.
#include "kernels/optim.h"

namespace yoco::kernels::cpu {

void sgd_update(const SgdSegment* segs, int64_t count, float lr, float momentum, float wd) {
  int64_t total = 0;
  for (int64_t s = 0; s < count; ++s) total += segs[s].n;
  // One parallel region for all parameters (not a fork and join per parameter); segments are disjoint, so
  // threads move on to the next one without waiting (nowait).
#pragma omp parallel if (total > 65536)
  for (int64_t s = 0; s < count; ++s) {
    const SgdSegment& sg = segs[s];
#pragma omp for schedule(static) nowait
    for (int64_t i = 0; i < sg.n; ++i)
      sgd_element(sg.p + i, sg.g[i], sg.buf ? sg.buf + i : nullptr, lr, momentum, wd, sg.first_step);
  }
}

}  // namespace yoco::kernels::cpu
