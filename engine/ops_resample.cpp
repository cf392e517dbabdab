// Resampling ops: bilinear resize, affine grids, grid sampling and their adjoints (each the other's derivative).
#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "engine/ops.h"
#include "engine/resample_extra.h"
#include "kernels/resample.h"

namespace yoco {

namespace {

void check_image(const Tensor& x, const char* op, const char* arg) {
  detail::check_f32(x, op, arg);
  detail::check_dim(x, 4, op, arg);
}

void check_out_size(int64_t h, int64_t w, const char* op) {
  YOCO_CHECK(h > 0 && w > 0, op, ": output size must be positive, got ", h, "x", w);
}

void check_x_shape(const Shape& s, const char* op) {
  YOCO_CHECK(s.size() == 4 && shape_numel(s) > 0, op, ": x_shape must be a non-empty [N, C, H, W], got ",
             shape_str(s));
}

void check_grid(const Tensor& grid, int64_t n, const char* op) {
  detail::check_f32(grid, op, "grid");
  detail::check_dim(grid, 4, op, "grid");
  YOCO_CHECK(grid.size(0) == n && grid.size(3) == 2, op, ": grid must be [", n, ", Ho, Wo, 2], got ", grid.str());
}

Tensor resize_raw(const Tensor& x, int64_t oh, int64_t ow) {
  Tensor y = empty({x.size(0), x.size(1), oh, ow}, DType::F32, x.device());
  if (y.numel() > 0)
    YOCO_DISPATCH(x, resize_bilinear, x.data<float>(), y.data<float>(), x.size(0) * x.size(1), x.size(2), x.size(3),
                  oh, ow);
  return y;
}

}  // namespace

Tensor resize_bilinear(const Tensor& x, int64_t out_h, int64_t out_w) {
  check_image(x, "resize_bilinear", "x");
  check_out_size(out_h, out_w, "resize_bilinear");
  YOCO_CHECK(x.size(2) > 0 && x.size(3) > 0, "resize_bilinear: empty image ", x.str());
  return record(resize_raw(x, out_h, out_w), "resize_bilinear", {x},
                [xs = x.shape()](const Tensor& g, const std::vector<bool>&, bool) {
                  return std::vector<Tensor>{resize_bilinear_adjoint(g, xs)};
                });
}

Tensor resize_bilinear_adjoint(const Tensor& g, const Shape& x_shape) {
  check_image(g, "resize_bilinear_adjoint", "g");
  check_x_shape(x_shape, "resize_bilinear_adjoint");
  YOCO_CHECK(g.size(0) == x_shape[0] && g.size(1) == x_shape[1], "resize_bilinear_adjoint: g ", g.str(),
             " does not match x_shape ", shape_str(x_shape));
  const int64_t oh = g.size(2), ow = g.size(3);
  check_out_size(oh, ow, "resize_bilinear_adjoint");
  Tensor dx = empty(x_shape, DType::F32, g.device());
  YOCO_DISPATCH(g, resize_bilinear_adjoint, g.data<float>(), dx.data<float>(), x_shape[0] * x_shape[1], x_shape[2],
                x_shape[3], oh, ow);
  // The adjoint is linear in g; its own derivative is the forward resize.
  return record(dx, "resize_bilinear_adjoint", {g}, [oh, ow](const Tensor& gg, const std::vector<bool>&, bool) {
    return std::vector<Tensor>{resize_bilinear(gg, oh, ow)};
  });
}

Tensor resize_nearest(const Tensor& x, int64_t out_h, int64_t out_w) {
  check_image(x, "resize_nearest", "x");
  check_out_size(out_h, out_w, "resize_nearest");
  YOCO_CHECK(x.size(2) > 0 && x.size(3) > 0, "resize_nearest: empty image ", x.str());
  Tensor y = empty({x.size(0), x.size(1), out_h, out_w}, DType::F32, x.device());
  if (y.numel() > 0)
    YOCO_DISPATCH(x, resize_nearest, x.data<float>(), y.data<float>(), x.size(0) * x.size(1), x.size(2), x.size(3),
                  out_h, out_w);
  return y;
}

Tensor affine_grid(const Tensor& theta, int64_t h, int64_t w) {
  detail::check_f32(theta, "affine_grid", "theta");
  YOCO_CHECK(theta.dim() == 3 && theta.size(1) == 2 && theta.size(2) == 3, "affine_grid: theta must be [N, 2, 3], got ",
             theta.str());
  check_out_size(h, w, "affine_grid");
  Tensor grid = empty({theta.size(0), h, w, 2}, DType::F32, theta.device());
  if (grid.numel() > 0)
    YOCO_DISPATCH(theta, affine_grid, theta.data<float>(), grid.data<float>(), theta.size(0), h, w);
  return grid;
}

Tensor grid_sample(const Tensor& x, const Tensor& grid) {
  check_image(x, "grid_sample", "x");
  check_grid(grid, x.size(0), "grid_sample");
  detail::check_same_device(x, grid, "grid_sample");
  const int64_t n = x.size(0), c = x.size(1), oh = grid.size(1), ow = grid.size(2);
  Tensor y = empty({n, c, oh, ow}, DType::F32, x.device());
  if (y.numel() > 0 && x.numel() > 0)
    YOCO_DISPATCH(x, grid_sample, x.data<float>(), grid.data<float>(), y.data<float>(), n, c, x.size(2), x.size(3), oh,
                  ow);
  else if (y.numel() > 0)
    fill_(y, 0.f);
  // Linear in x for a fixed grid: the derivative is the adjoint.
  return record(y, "grid_sample", {x}, [grid, xs = x.shape()](const Tensor& g, const std::vector<bool>&, bool) {
    return std::vector<Tensor>{grid_sample_adjoint(g, grid, xs)};
  });
}

Tensor grid_sample_adjoint(const Tensor& g, const Tensor& grid, const Shape& x_shape) {
  check_image(g, "grid_sample_adjoint", "g");
  check_x_shape(x_shape, "grid_sample_adjoint");
  check_grid(grid, x_shape[0], "grid_sample_adjoint");
  detail::check_same_device(g, grid, "grid_sample_adjoint");
  YOCO_CHECK(g.shape() == (Shape{x_shape[0], x_shape[1], grid.size(1), grid.size(2)}), "grid_sample_adjoint: g ",
             g.str(), " does not match x_shape ", shape_str(x_shape), " and grid ", grid.str());
  Tensor dx = empty(x_shape, DType::F32, g.device());
  YOCO_DISPATCH(g, grid_sample_adjoint, g.data<float>(), grid.data<float>(), dx.data<float>(), x_shape[0], x_shape[1],
                x_shape[2], x_shape[3], grid.size(1), grid.size(2));
  return record(dx, "grid_sample_adjoint", {g}, [grid](const Tensor& gg, const std::vector<bool>&, bool) {
    return std::vector<Tensor>{grid_sample(gg, grid)};
  });
}

}  // namespace yoco
