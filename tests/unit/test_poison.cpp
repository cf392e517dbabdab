// Poisoned-output checks for the CPU kernels not covered next to their ops: every kernel must write every
// element of its output (outputs are prefilled with NaN, inputs are finite).
#include <doctest/doctest.h>
#include <cmath>
#include <limits>
#include <vector>
#include "kernels/elementwise.h"
#include "kernels/gemm.h"
#include "kernels/reduce.h"
#include "kernels/resample.h"
#include "kernels/rng.h"
#include "kernels/shape.h"

using namespace yoco::kernels;

namespace {
const float kNaN = std::numeric_limits<float>::quiet_NaN();
std::vector<float> poisoned(size_t n) { return std::vector<float>(n, kNaN); }
std::vector<float> ramp(size_t n) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = 0.25f + 0.01f * static_cast<float>(i % 97);
  return v;
}
bool all_finite(const std::vector<float>& v) {
  for (float x : v)
    if (!std::isfinite(x)) return false;
  return true;
}
}  // namespace

TEST_CASE("elementwise kernels write every element, with and without broadcasting") {
  const int64_t n = 2 * 3 * 5 * 7;
  std::vector<float> x = ramp(n), y = ramp(n), out = poisoned(n);
  for (UnaryOp op : {UnaryOp::Neg, UnaryOp::Exp, UnaryOp::Log, UnaryOp::Sqrt, UnaryOp::Rsqrt, UnaryOp::Abs, UnaryOp::Sign,
                     UnaryOp::Relu, UnaryOp::AddScalar, UnaryOp::MulScalar, UnaryOp::PowScalar, UnaryOp::Clamp}) {
    out = poisoned(n);
    cpu::unary(op, x.data(), out.data(), n, 0.5f, 1.f);
    CHECK(all_finite(out));
  }
  Broadcast bc;  // [2,3,5,7] op [1,3,1,1]
  bc.ndim = 4;
  int64_t shape[4] = {2, 3, 5, 7}, sx[4] = {105, 35, 7, 1}, sy[4] = {0, 1, 0, 0};
  for (int d = 0; d < 4; ++d) bc.shape[d] = shape[d], bc.stride_x[d] = sx[d], bc.stride_y[d] = sy[d];
  std::vector<float> small = ramp(3);
  for (BinaryOp op : {BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div, BinaryOp::ReluMask, BinaryOp::ClampMask}) {
    out = poisoned(n);
    cpu::binary(op, x.data(), y.data(), out.data(), n, 0.f, 1.f, nullptr);
    CHECK(all_finite(out));
    out = poisoned(n);
    cpu::binary(op, x.data(), small.data(), out.data(), n, 0.f, 1.f, &bc);
    CHECK(all_finite(out));
  }
  out = poisoned(n);
  cpu::fill(out.data(), n, 3.f);
  CHECK(all_finite(out));
}

TEST_CASE("reduce, shape, gemm and rng kernels write every element") {
  // Sum over dims {0, 2} of [4, 3, 50000] (long runs take the chunked path).
  std::vector<float> x = ramp(4 * 3 * 50000), out = poisoned(3);
  ReducePlan p;
  p.n_kept = 1, p.kept_shape[0] = 3, p.kept_stride[0] = 50000, p.n_out = 3;
  p.n_red = 2, p.red_shape[0] = 4, p.red_stride[0] = 150000, p.red_shape[1] = 50000, p.red_stride[1] = 1;
  p.n_reduce = 200000;
  cpu::sum_reduce(x.data(), out.data(), p, 1.f);
  CHECK(all_finite(out));

  std::vector<float> src = ramp(6 * 8), dst = poisoned(6 * 4);
  cpu::copy_blocks(src.data(), dst.data(), 6, 4, 8, 2, 4, 0);
  CHECK(all_finite(dst));
  std::vector<int64_t> idx = {7, 0, 3};
  dst = poisoned(6 * 3);
  cpu::index_select(src.data(), dst.data(), 6, 8, 1, idx.data(), 3);
  CHECK(all_finite(dst));
  StridedPlan sp;  // transpose of [6, 8]
  sp.ndim = 2, sp.shape[0] = 8, sp.shape[1] = 6, sp.stride[0] = 1, sp.stride[1] = 8;
  dst = poisoned(48);
  cpu::strided_copy(src.data(), dst.data(), 48, sp);
  CHECK(all_finite(dst));

  std::vector<float> a = ramp(5 * 7), b = ramp(7 * 3), c = poisoned(5 * 3);
  cpu::gemm(false, false, 5, 3, 7, 1.f, a.data(), 7, b.data(), 3, 0.f, c.data(), 3);  // beta 0 ignores NaN in C
  CHECK(all_finite(c));

  std::vector<float> r = poisoned(1001);
  cpu::rng_uniform(r.data(), 1001, 1, 2, 3, -1.f, 1.f);
  CHECK(all_finite(r));
  r = poisoned(1001);
  cpu::rng_normal(r.data(), 1001, 1, 2, 3, 0.f, 1.f);
  CHECK(all_finite(r));
}

TEST_CASE("resample kernels write every element") {
  const int64_t planes = 6, ih = 7, iw = 9, oh = 12, ow = 5;
  std::vector<float> x = ramp(planes * ih * iw), y = poisoned(planes * oh * ow);
  cpu::resize_bilinear(x.data(), y.data(), planes, ih, iw, oh, ow);
  CHECK(all_finite(y));
  std::vector<float> g = ramp(planes * oh * ow), dx = poisoned(planes * ih * iw);
  cpu::resize_bilinear_adjoint(g.data(), dx.data(), planes, ih, iw, oh, ow);
  CHECK(all_finite(dx));
  y = poisoned(planes * oh * ow);
  cpu::resize_nearest(x.data(), y.data(), planes, ih, iw, oh, ow);
  CHECK(all_finite(y));
  const int64_t n = 2, c = 3;  // planes = n * c
  std::vector<float> theta = {1.1f, 0.2f, 0.f, -0.1f, 0.9f, 0.1f, 0.8f, 0.f, 0.f, 0.f, 1.2f, 0.f};
  std::vector<float> grid = poisoned(n * oh * ow * 2);
  cpu::affine_grid(theta.data(), grid.data(), n, oh, ow);
  CHECK(all_finite(grid));
  y = poisoned(n * c * oh * ow);
  cpu::grid_sample(x.data(), grid.data(), y.data(), n, c, ih, iw, oh, ow);
  CHECK(all_finite(y));
  dx = poisoned(n * c * ih * iw);
  cpu::grid_sample_adjoint(g.data(), grid.data(), dx.data(), n, c, ih, iw, oh, ow);
  CHECK(all_finite(dx));
}
