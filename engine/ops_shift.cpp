// Shift ops: per-sample integer translation with zero fill (its adjoint is the opposite shift) and per-sample
// box cutout (self-adjoint), the DSA crop/translate and cutout transforms without per-element host arrays.
#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "engine/ops.h"
#include "kernels/shift.h"

namespace yoco {

namespace {
// x f32 [N,C,H,W]; per: i64 [N, cols] on x's device.
void check_per_sample(const Tensor& x, const Tensor& per, int64_t cols, const char* op, const char* arg) {
  detail::check_f32(x, op, "x");
  detail::check_dim(x, 4, op, "x");
  YOCO_CHECK(per.defined(), op, ": ", arg, " is undefined");
  YOCO_CHECK(per.dtype() == DType::I64 && per.dim() == 2 && per.size(0) == x.size(0) && per.size(1) == cols, op,
             ": ", arg, " must be i64 [", x.size(0), ", ", cols, "] for x ", x.str(), ", got ", per.str());
  detail::check_same_device(x, per, op);
}
}  // namespace

Tensor translate(const Tensor& x, const Tensor& shifts, bool inverse) {
  check_per_sample(x, shifts, 2, "translate", "shifts");
  const Shape& s = x.shape();
  Tensor y = empty(s, DType::F32, x.device());
  if (y.numel() > 0)
    YOCO_DISPATCH(x, translate, x.data<float>(), shifts.data<int64_t>(), y.data<float>(), s[0], s[1], s[2], s[3],
                  inverse ? int64_t{-1} : int64_t{1});
  // Zero fill both ways makes the adjoint of a shift exactly the opposite shift; recorded as an op, so it
  // differentiates again (to the original shift).
  return record(y, "translate", {x}, [shifts, inverse](const Tensor& g, const std::vector<bool>&, bool) {
    return std::vector<Tensor>{translate(g, shifts, !inverse)};
  });
}

Tensor cutout(const Tensor& x, const Tensor& boxes) {
  check_per_sample(x, boxes, 4, "cutout", "boxes");
  const Shape& s = x.shape();
  Tensor y = empty(s, DType::F32, x.device());
  if (y.numel() > 0)
    YOCO_DISPATCH(x, cutout, x.data<float>(), boxes.data<int64_t>(), y.data<float>(), s[0], s[1], s[2], s[3]);
  // Multiplication by a 0/1 mask: self-adjoint.
  return record(y, "cutout", {x}, [boxes](const Tensor& g, const std::vector<bool>&, bool) {
    return std::vector<Tensor>{cutout(g, boxes)};
  });
}

}  // namespace yoco
