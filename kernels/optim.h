// Optimizer family: the fused in-place SGD update (PyTorch semantics: weight decay, momentum, no dampening).
#pragma once
#include <cstdint>
#include "kernels/common.h"

namespace yoco::kernels {

// One parameter element. d = g + wd * p; with momentum, buf = d on the first step, else momentum * buf + d,
// and d = buf; then p -= lr * d. buf is untouched (and may be null) when momentum == 0.
YOCO_HD void sgd_element(float* p, float g, float* buf, float lr, float momentum, float wd, bool first_step) {
  float d = g + wd * *p;
  if (momentum != 0.f) {
    *buf = first_step ? d : momentum * *buf + d;
    d = *buf;
  }
  *p -= lr * d;
}

namespace cpu {
void sgd_update(float* p, const float* g, float* buf, int64_t n, float lr, float momentum, float wd, bool first_step);
}  // namespace cpu
namespace cuda {
void sgd_update(float* p, const float* g, float* buf, int64_t n, float lr, float momentum, float wd, bool first_step,
                void* stream);
}  // namespace cuda

}  // namespace yoco::kernels
