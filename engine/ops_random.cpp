// Random tensors from Philox streams (same values on CPU and CUDA for the same seed/stream/offset).
#include "engine/dispatch.h"
#include "engine/ops.h"
#include "kernels/rng.h"

namespace yoco {

Tensor rand_uniform(const Shape& shape, uint64_t seed, uint64_t stream, uint64_t offset, float lo, float hi, Device device) {
  Tensor out = empty(shape, DType::F32, device);
  if (out.numel() > 0) YOCO_DISPATCH(out, rng_uniform, out.data<float>(), out.numel(), seed, stream, offset, lo, hi);
  return out;
}

Tensor rand_normal(const Shape& shape, uint64_t seed, uint64_t stream, uint64_t offset, float mean, float std, Device device) {
  Tensor out = empty(shape, DType::F32, device);
  if (out.numel() > 0) YOCO_DISPATCH(out, rng_normal, out.data<float>(), out.numel(), seed, stream, offset, mean, std);
  return out;
}

}  // namespace yoco
