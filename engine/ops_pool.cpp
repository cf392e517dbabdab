// Pooling ops: 2×2 average pooling (odd sizes floored), its adjoint (each the other's derivative), and global
// average pooling.
#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "engine/ops.h"
#include "kernels/pool.h"

namespace yoco {

namespace {
void check_pool_input(const Shape& xs, const char* op) {
  YOCO_CHECK(xs.size() == 4, op, ": input must be 4-D NCHW, got ", shape_str(xs));
  // Odd sizes floor as PyTorch's avg_pool2d (7x7 -> 3x3); a plane needs one whole window.
  YOCO_CHECK(xs[2] >= 2 && xs[3] >= 2, op, ": height and width must be at least 2 for a 2x2/stride-2 pool, got ",
             shape_str(xs));
}
}  // namespace

Tensor avg_pool2x2(const Tensor& x) {
  detail::check_f32(x, "avg_pool2x2", "input");
  check_pool_input(x.shape(), "avg_pool2x2");
  const Shape& s = x.shape();
  Tensor y = empty({s[0], s[1], s[2] / 2, s[3] / 2}, DType::F32, x.device());
  YOCO_DISPATCH(x, avg_pool2x2, x.data<float>(), y.data<float>(), s[0] * s[1], s[2], s[3]);
  return record(y, "avg_pool2x2", {x}, [xs = s](const Tensor& g, const std::vector<bool>&, bool) {
    return std::vector<Tensor>{avg_pool2x2_backward(g, xs)};
  });
}

Tensor avg_pool2x2_backward(const Tensor& g, const Shape& x_shape) {
  detail::check_f32(g, "avg_pool2x2_backward", "grad_output");
  check_pool_input(x_shape, "avg_pool2x2_backward");
  const Shape want{x_shape[0], x_shape[1], x_shape[2] / 2, x_shape[3] / 2};
  YOCO_CHECK(g.shape() == want, "avg_pool2x2_backward: grad_output ", g.str(), " does not match pooled shape ",
             shape_str(want), " of input ", shape_str(x_shape));
  Tensor gx = empty(x_shape, DType::F32, g.device());
  YOCO_DISPATCH(g, avg_pool2x2_backward, g.data<float>(), gx.data<float>(), x_shape[0] * x_shape[1], x_shape[2],
                x_shape[3]);
  // The adjoint of the adjoint is the pool itself (both are linear).
  return record(gx, "avg_pool2x2_backward", {g},
                [](const Tensor& gg, const std::vector<bool>&, bool) { return std::vector<Tensor>{avg_pool2x2(gg)}; });
}

Tensor global_avg_pool(const Tensor& x) {
  detail::check_f32(x, "global_avg_pool", "input");
  YOCO_CHECK(x.dim() == 4, "global_avg_pool: input must be 4-D NCHW, got ", x.str());
  return mean(x, {2, 3});
}

}  // namespace yoco
