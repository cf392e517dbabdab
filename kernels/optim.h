// Optimizer family: the fused in-place SGD update (PyTorch semantics: weight decay, momentum, no dampening),
// applied to all parameters of a step at once (one CUDA launch per kSgdSegmentsPerLaunch parameters).
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

// One parameter of a multi-tensor step: n elements of p, its gradient g and momentum buffer buf (null without
// momentum). first_step is per parameter: a parameter's buffer starts when it first has a gradient. Segments
// must not overlap (their elements are updated in parallel).
struct SgdSegment {
  float* p;
  const float* g;
  float* buf;
  int64_t n;
  bool first_step;
};

// The CUDA launcher passes the segment table by value as a kernel argument (no upload, so a step stays free of
// host copies and can be captured into a CUDA graph): at most this many segments per launch (about 1.6 KiB of
// the 4 KiB argument space); more parameters take more launches.
constexpr int kSgdSegmentsPerLaunch = 32;

namespace cpu {
// Updates every segment; elementwise, so any split of the work gives identical results.
void sgd_update(const SgdSegment* segs, int64_t count, float lr, float momentum, float wd);
}  // namespace cpu
namespace cuda {
void sgd_update(const SgdSegment* segs, int64_t count, float lr, float momentum, float wd, void* stream);
}  // namespace cuda

}  // namespace yoco::kernels
