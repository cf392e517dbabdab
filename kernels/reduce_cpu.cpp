// Reduce family, CPU: outputs in parallel; long reductions split into a fixed number of chunks so the
// summation order (and so the result) does not depend on the thread count.
#include <vector>
#include "kernels/reduce.h"

namespace yoco::kernels::cpu {

void sum_reduce(const float* x, float* out, const ReducePlan& p, float scale) {
  const int64_t chunks = p.n_reduce >= (1 << 15) ? 16 : 1;
  const int64_t per = (p.n_reduce + chunks - 1) / chunks;
  // The innermost reduced dim is walked as a run when it is contiguous (stride 1).
  const bool inner_run = p.n_red > 0 && p.red_stride[p.n_red - 1] == 1;
  const int64_t run = inner_run ? p.red_shape[p.n_red - 1] : 1;
  std::vector<double> partial(static_cast<size_t>(p.n_out * chunks));
#pragma omp parallel for schedule(static) if (p.n_out * p.n_reduce > 32768)
  for (int64_t t = 0; t < p.n_out * chunks; ++t) {
    const int64_t o = t / chunks, c = t % chunks;
    const int64_t base = plan_offset(p.kept_shape, p.kept_stride, p.n_kept, o);
    const int64_t lo = c * per, hi = lo + per < p.n_reduce ? lo + per : p.n_reduce;
    double acc = 0.0;
    int64_t r = lo;
    while (r < hi) {
      const int64_t off = base + plan_offset(p.red_shape, p.red_stride, p.n_red, r);
      const int64_t in_run = run - r % run;  // elements left in this contiguous run
      const int64_t len = in_run < hi - r ? in_run : hi - r;
      const float* px = x + off;
      // Vector lanes of doubles: one dependent chain of double adds was the whole cost of long sums (the
      // conv-bias gradient). The lane count is fixed by the build, so the order is still fixed.
      double run_acc = 0.0;
#pragma omp simd reduction(+ : run_acc)
      for (int64_t j = 0; j < len; ++j) run_acc += px[j];
      acc += run_acc;
      r += len;
    }
    partial[static_cast<size_t>(t)] = acc;
  }
  for (int64_t o = 0; o < p.n_out; ++o) {
    double acc = 0.0;
    for (int64_t c = 0; c < chunks; ++c) acc += partial[static_cast<size_t>(o * chunks + c)];
    out[o] = static_cast<float>(acc * scale);
  }
}

}  // namespace yoco::kernels::cpu
