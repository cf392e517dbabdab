// Non-finite guards (see finite_check.h).
#include "apps/common/finite_check.h"
#include <algorithm>
#include <cmath>
#include "engine/context.h"
#include "engine/ops.h"

namespace yoco::app {

Tensor nonfinite_probe(const Tensor& t) {
  NoGradGuard no_grad;
  return sum(mul_scalar(t.detach(), 0.f));
}

int64_t first_nonfinite(const std::vector<float>& v, size_t begin, size_t end) {
  end = std::min(end, v.size());
  for (size_t i = begin; i < end; ++i)
    if (!std::isfinite(v[i])) return static_cast<int64_t>(i);
  return -1;
}

}  // namespace yoco::app
