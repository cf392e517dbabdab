// Elementwise ops (unary, scalar, broadcasting binary) and their derivatives, written in ops.
#include <algorithm>
#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "engine/ops.h"
#include "kernels/elementwise.h"

namespace yoco {

using kernels::BinaryOp;
using kernels::UnaryOp;

namespace {

Tensor unary_raw(UnaryOp op, const Tensor& x, float a = 0.f, float b = 0.f) {
  detail::check_f32(x, "unary op", "input");
  Tensor out = empty(x.shape(), DType::F32, x.device());
  YOCO_DISPATCH(x, unary, op, x.data<float>(), out.data<float>(), x.numel(), a, b);
  return out;
}

Shape broadcast_shape(const Shape& a, const Shape& b, const char* op) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    YOCO_CHECK(da == db || da == 1 || db == 1, op, ": shapes ", shape_str(a), " and ", shape_str(b),
               " do not broadcast");
    out[i] = std::max(da, db);
  }
  return out;
}

// Element strides of `s` seen through broadcasting to `out` (0 where broadcast).
void broadcast_strides(const Shape& s, const Shape& out, int64_t* strides) {
  size_t lead = out.size() - s.size();
  int64_t st = 1;
  for (int64_t i = static_cast<int64_t>(out.size()) - 1; i >= 0; --i) {
    if (static_cast<size_t>(i) < lead) {
      strides[i] = 0;
      continue;
    }
    int64_t d = s[i - lead];
    strides[i] = d == 1 ? 0 : st;
    st *= d;
  }
}

Tensor binary_raw(BinaryOp op, const Tensor& x, const Tensor& y, const char* name, float a = 0.f, float b = 0.f) {
  detail::check_f32(x, name, "first input");
  detail::check_f32(y, name, "second input");
  detail::check_same_device(x, y, name);
  if (x.shape() == y.shape()) {
    Tensor out = empty(x.shape(), DType::F32, x.device());
    YOCO_DISPATCH(x, binary, op, x.data<float>(), y.data<float>(), out.data<float>(), x.numel(), a, b, nullptr);
    return out;
  }
  Shape os = broadcast_shape(x.shape(), y.shape(), name);
  YOCO_CHECK(os.size() <= static_cast<size_t>(kernels::kMaxDims), name, ": at most ", kernels::kMaxDims, " dims");
  kernels::Broadcast bc = detail::make_broadcast(os, x.shape(), y.shape());
  Tensor out = empty(os, DType::F32, x.device());
  YOCO_DISPATCH(x, binary, op, x.data<float>(), y.data<float>(), out.data<float>(), out.numel(), a, b, &bc);
  return out;
}

}  // namespace

namespace detail {
kernels::Broadcast make_broadcast(const Shape& out, const Shape& xs, const Shape& ys) {
  YOCO_CHECK(out.size() <= static_cast<size_t>(kernels::kMaxDims), "broadcast: at most ", kernels::kMaxDims,
             " dims, got ", shape_str(out));
  int64_t sx[kernels::kMaxDims], sy[kernels::kMaxDims];
  broadcast_strides(xs, out, sx);
  broadcast_strides(ys, out, sy);
  // Coalesce neighbouring dims that are contiguous (or broadcast) in both inputs, so the kernel's inner
  // run covers whole planes: [N,C,H,W] with [N,C,1,1] becomes [N·C, H·W] with a scalar per row.
  kernels::Broadcast bc;
  for (size_t d = 0; d < out.size(); ++d) {
    if (out[d] == 1) continue;  // size-1 dims carry no data
    if (bc.ndim > 0) {
      int k = bc.ndim - 1;
      bool cx = sx[d] == 0 ? bc.stride_x[k] == 0 : bc.stride_x[k] == sx[d] * out[d];
      bool cy = sy[d] == 0 ? bc.stride_y[k] == 0 : bc.stride_y[k] == sy[d] * out[d];
      if (cx && cy) {
        bc.shape[k] *= out[d];
        bc.stride_x[k] = sx[d];
        bc.stride_y[k] = sy[d];
        continue;
      }
    }
    bc.shape[bc.ndim] = out[d];
    bc.stride_x[bc.ndim] = sx[d];
    bc.stride_y[bc.ndim] = sy[d];
    ++bc.ndim;
  }
  if (bc.ndim == 0) bc.ndim = 1, bc.shape[0] = 1, bc.stride_x[0] = 0, bc.stride_y[0] = 0;
  return bc;
}
}  // namespace detail

namespace {

std::vector<Tensor> one(Tensor g) { return {std::move(g)}; }

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) {
  return record(binary_raw(BinaryOp::Add, a, b, "add"), "add", {a, b},
                [sa = a.shape(), sb = b.shape()](const Tensor& g, const std::vector<bool>& n, bool) {
                  return std::vector<Tensor>{n[0] ? sum_to(g, sa) : Tensor(), n[1] ? sum_to(g, sb) : Tensor()};
                });
}

Tensor sub(const Tensor& a, const Tensor& b) {
  return record(binary_raw(BinaryOp::Sub, a, b, "sub"), "sub", {a, b},
                [sa = a.shape(), sb = b.shape()](const Tensor& g, const std::vector<bool>& n, bool) {
                  return std::vector<Tensor>{n[0] ? sum_to(g, sa) : Tensor(), n[1] ? sum_to(neg(g), sb) : Tensor()};
                });
}

Tensor mul(const Tensor& a, const Tensor& b) {
  return record(binary_raw(BinaryOp::Mul, a, b, "mul"), "mul", {a, b},
                [a, b](const Tensor& g, const std::vector<bool>& n, bool) {
                  return std::vector<Tensor>{n[0] ? sum_to(mul(g, b), a.shape()) : Tensor(),
                                             n[1] ? sum_to(mul(g, a), b.shape()) : Tensor()};
                });
}

Tensor div(const Tensor& a, const Tensor& b) {
  return record(binary_raw(BinaryOp::Div, a, b, "div"), "div", {a, b},
                [a, b](const Tensor& g, const std::vector<bool>& n, bool) {
                  Tensor ga, gb;
                  if (n[0]) ga = sum_to(div(g, b), a.shape());
                  if (n[1]) gb = sum_to(neg(div(mul(g, a), mul(b, b))), b.shape());
                  return std::vector<Tensor>{ga, gb};
                });
}

Tensor add_scalar(const Tensor& a, float s) {
  return record(unary_raw(UnaryOp::AddScalar, a, s), "add_scalar", {a},
                [](const Tensor& g, const std::vector<bool>&, bool) { return one(g); });
}

Tensor mul_scalar(const Tensor& a, float s) {
  return record(unary_raw(UnaryOp::MulScalar, a, s), "mul_scalar", {a},
                [s](const Tensor& g, const std::vector<bool>&, bool) { return one(mul_scalar(g, s)); });
}

Tensor neg(const Tensor& a) {
  return record(unary_raw(UnaryOp::Neg, a), "neg", {a},
                [](const Tensor& g, const std::vector<bool>&, bool) { return one(neg(g)); });
}

Tensor exp(const Tensor& a) {
  Tensor out = unary_raw(UnaryOp::Exp, a);
  // d exp(a) = exp(a) da; recomputed from `a` so that the second derivative sees a's history.
  return record(out, "exp", {a}, [a](const Tensor& g, const std::vector<bool>&, bool) { return one(mul(g, exp(a))); });
}

Tensor log(const Tensor& a) {
  return record(unary_raw(UnaryOp::Log, a), "log", {a},
                [a](const Tensor& g, const std::vector<bool>&, bool) { return one(div(g, a)); });
}

Tensor sqrt(const Tensor& a) {
  return record(unary_raw(UnaryOp::Sqrt, a), "sqrt", {a},
                [a](const Tensor& g, const std::vector<bool>&, bool) {
                  return one(mul(g, mul_scalar(rsqrt(a), 0.5f)));
                });
}

Tensor rsqrt(const Tensor& a) {
  // d a^{-1/2} = -1/2 a^{-3/2}
  return record(unary_raw(UnaryOp::Rsqrt, a), "rsqrt", {a}, [a](const Tensor& g, const std::vector<bool>&, bool) {
    return one(mul(g, mul_scalar(pow_scalar(a, -1.5f), -0.5f)));
  });
}

Tensor abs(const Tensor& a) {
  return record(unary_raw(UnaryOp::Abs, a), "abs", {a},
                [a](const Tensor& g, const std::vector<bool>&, bool) { return one(mul(g, sign(a))); });
}

Tensor sign(const Tensor& a) {
  // Piecewise constant: no history is recorded, so it acts as a constant in every derivative.
  return unary_raw(UnaryOp::Sign, a);
}

Tensor pow_scalar(const Tensor& a, float p) {
  return record(unary_raw(UnaryOp::PowScalar, a, p), "pow_scalar", {a},
                [a, p](const Tensor& g, const std::vector<bool>&, bool) {
                  if (p == 1.f) return one(g);
                  return one(mul(g, mul_scalar(pow_scalar(a, p - 1.f), p)));
                });
}

Tensor clamp(const Tensor& a, float lo, float hi) {
  YOCO_CHECK(lo <= hi, "clamp: lo ", lo, " > hi ", hi);
  return record(unary_raw(UnaryOp::Clamp, a, lo, hi), "clamp", {a},
                [a, lo, hi](const Tensor& g, const std::vector<bool>&, bool) {
                  return one(clamp_backward(g, a, lo, hi));
                });
}

Tensor clamp_backward(const Tensor& g, const Tensor& x, float lo, float hi) {
  Tensor out = binary_raw(BinaryOp::ClampMask, g, x, "clamp_backward", lo, hi);
  YOCO_CHECK(out.shape() == g.shape(), "clamp_backward: g ", g.str(), " vs x ", x.str());
  // Linear in g with the same mask; the mask is constant in x.
  return record(out, "clamp_backward", {g, x}, [x, lo, hi](const Tensor& gg, const std::vector<bool>& n, bool) {
    return std::vector<Tensor>{n[0] ? clamp_backward(gg, x, lo, hi) : Tensor(), Tensor()};
  });
}

Tensor relu(const Tensor& a) {
  return record(unary_raw(UnaryOp::Relu, a), "relu", {a},
                [a](const Tensor& g, const std::vector<bool>&, bool) { return one(relu_backward(g, a)); });
}

Tensor relu_backward(const Tensor& g, const Tensor& x) {
  YOCO_CHECK(g.shape() == x.shape(), "relu_backward: g ", g.str(), " vs x ", x.str());
  Tensor out = binary_raw(BinaryOp::ReluMask, g, x, "relu_backward");
  return record(out, "relu_backward", {g, x}, [x](const Tensor& gg, const std::vector<bool>& n, bool) {
    return std::vector<Tensor>{n[0] ? relu_backward(gg, x) : Tensor(), Tensor()};
  });
}

}  // namespace yoco
