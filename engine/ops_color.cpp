// DSA colour op: flip, brightness, saturation and contrast fused into one kernel per call; the backward is the
// same op in its adjoint mode (every factor of the linear part is symmetric), so it differentiates again.
#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "engine/ops.h"
#include "kernels/color.h"

namespace yoco {

static_assert(kDsaFlip == kernels::kColorFlip && kDsaColor == kernels::kColorColor, "ops bits must agree");

namespace {
int kernel_mode(DsaMode m) {
  switch (m) {
    case DsaMode::forward: return kernels::kColorForward;
    case DsaMode::adjoint: return kernels::kColorAdjoint;
    case DsaMode::linear: return kernels::kColorLinear;
  }
  YOCO_CHECK(false, "dsa_color: unknown mode ", static_cast<int>(m));
  return 0;
}

// A^T is the backward of A x + b and of A x; the backward of A^T g is A (brightness is no part of it).
DsaMode backward_mode(DsaMode m) { return m == DsaMode::adjoint ? DsaMode::linear : DsaMode::adjoint; }
}  // namespace

Tensor dsa_color(const Tensor& x, const Tensor& params, int ops, DsaMode mode) {
  const char* op = "dsa_color";
  detail::check_f32(x, op, "x");
  detail::check_dim(x, 4, op, "x");
  detail::check_f32(params, op, "params");
  YOCO_CHECK(params.dim() == 2 && params.size(0) == x.size(0) && params.size(1) == 4, op,
             ": params must be f32 [", x.size(0), ", 4] for x ", x.str(), ", got ", params.str());
  detail::check_same_device(x, params, op);
  YOCO_CHECK(ops >= 0 && ops <= (kDsaFlip | kDsaColor), op, ": ops must be a set of kDsaFlip, kDsaColor, got ", ops);
  const int kmode = kernel_mode(mode);
  const Shape& s = x.shape();
  Tensor y = empty(s, DType::F32, x.device());
  if (y.numel() > 0)
    YOCO_DISPATCH(x, dsa_color, x.data<float>(), params.data<float>(), y.data<float>(), s[0], s[1], s[2], s[3], ops,
                  kmode);
  // The parameters are random draws: no gradient flows to them.
  return record(y, op, {x}, [params, ops, mode](const Tensor& g, const std::vector<bool>&, bool) {
    return std::vector<Tensor>{dsa_color(g, params, ops, backward_mode(mode))};
  });
}

}  // namespace yoco
