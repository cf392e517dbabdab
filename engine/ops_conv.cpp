// Convolution ops (conv2d and its two adjoints); each backward is written in these ops, so all three
// are differentiable to any order.
#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "engine/ops.h"
#include "kernels/conv.h"

namespace yoco {

namespace {

// Checks x [N,C,H,W] against w [K,C,R,S] and the args, and returns the launcher's shape record.
kernels::ConvShape conv_shape(const Shape& xs, const Shape& ws, Conv2dArgs a, const char* op) {
  YOCO_CHECK(xs.size() == 4, op, ": input must be 4-D NCHW, got ", shape_str(xs));
  YOCO_CHECK(ws.size() == 4, op, ": weight must be 4-D [K,C,R,S], got ", shape_str(ws));
  YOCO_CHECK(xs[1] == ws[1], op, ": input channels ", xs[1], " != weight channels ", ws[1], " (input ",
             shape_str(xs), ", weight ", shape_str(ws), ")");
  YOCO_CHECK(a.stride >= 1 && a.pad >= 0, op, ": bad stride ", a.stride, " or pad ", a.pad);
  YOCO_CHECK(ws[0] >= 1 && ws[2] >= 1 && ws[3] >= 1, op, ": empty weight ", shape_str(ws));
  YOCO_CHECK(xs[2] + 2 * a.pad >= ws[2] && xs[3] + 2 * a.pad >= ws[3], op, ": kernel ", shape_str(ws),
             " larger than padded input ", shape_str(xs), " (pad ", a.pad, ")");
  kernels::ConvShape cs{xs[0], xs[1], xs[2], xs[3], ws[0], ws[2], ws[3], 0, 0, a.stride, a.pad,
                        Context::get().conv_algo};
  cs.oh = kernels::conv_out_size(cs.h, cs.r, a.stride, a.pad);
  cs.ow = kernels::conv_out_size(cs.w, cs.s, a.stride, a.pad);
  return cs;
}

void check_grad_shape(const Tensor& g, const kernels::ConvShape& cs, const char* op) {
  const Shape want{cs.n, cs.k, cs.oh, cs.ow};
  YOCO_CHECK(g.shape() == want, op, ": grad_output ", g.str(), " does not match the conv output ", shape_str(want));
}

Tensor conv2d_raw(const Tensor& x, const Tensor& w, const Tensor& b, Conv2dArgs args) {
  detail::check_f32(x, "conv2d", "input");
  detail::check_f32(w, "conv2d", "weight");
  detail::check_same_device(x, w, "conv2d");
  kernels::ConvShape cs = conv_shape(x.shape(), w.shape(), args, "conv2d");
  const float* bp = nullptr;
  if (b.defined()) {
    detail::check_f32(b, "conv2d", "bias");
    detail::check_same_device(x, b, "conv2d");
    YOCO_CHECK(b.shape() == Shape{cs.k}, "conv2d: bias ", b.str(), " must be [", cs.k, "] for weight ", w.str());
    bp = b.data<float>();
  }
  Tensor y = empty({cs.n, cs.k, cs.oh, cs.ow}, DType::F32, x.device());
  YOCO_DISPATCH(x, conv2d_forward, cs, x.data<float>(), w.data<float>(), bp, y.data<float>());
  return y;
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b, Conv2dArgs args) {
  Tensor y = conv2d_raw(x, w, b, args);
  std::vector<Tensor> inputs{x, w};
  if (b.defined()) inputs.push_back(b);
  return record(y, "conv2d", std::move(inputs), [x, w, args](const Tensor& g, const std::vector<bool>& n, bool) {
    std::vector<Tensor> out(n.size());
    if (n[0]) out[0] = conv2d_backward_input(g, w, x.shape(), args);
    if (n[1]) out[1] = conv2d_backward_weight(x, g, w.shape(), args);
    if (n.size() > 2 && n[2]) out[2] = sum(g, {0, 2, 3});
    return out;
  });
}

Tensor conv2d_backward_input(const Tensor& g, const Tensor& w, const Shape& x_shape, Conv2dArgs args) {
  detail::check_f32(g, "conv2d_backward_input", "grad_output");
  detail::check_f32(w, "conv2d_backward_input", "weight");
  detail::check_same_device(g, w, "conv2d_backward_input");
  YOCO_CHECK(g.dim() == 4 && w.dim() == 4 && g.size(1) == w.size(0), "conv2d_backward_input: grad_output ", g.str(),
             " channels do not match weight ", w.str());
  YOCO_CHECK(x_shape.size() == 4 && x_shape[0] == g.size(0), "conv2d_backward_input: input shape ",
             shape_str(x_shape), " does not fit grad_output ", g.str());
  kernels::ConvShape cs = conv_shape(x_shape, w.shape(), args, "conv2d_backward_input");
  check_grad_shape(g, cs, "conv2d_backward_input");
  Tensor gx = empty(x_shape, DType::F32, g.device());
  YOCO_DISPATCH(g, conv2d_backward_input, cs, g.data<float>(), w.data<float>(), gx.data<float>());
  // gx = A_w^T g, so <gg, gx> = <conv(gg, w), g>: linear in g and in w separately.
  return record(gx, "conv2d_backward_input", {g, w}, [g, w, args](const Tensor& gg, const std::vector<bool>& n, bool) {
    return std::vector<Tensor>{n[0] ? conv2d(gg, w, Tensor(), args) : Tensor(),
                               n[1] ? conv2d_backward_weight(gg, g, w.shape(), args) : Tensor()};
  });
}

Tensor conv2d_backward_weight(const Tensor& x, const Tensor& g, const Shape& w_shape, Conv2dArgs args) {
  detail::check_f32(x, "conv2d_backward_weight", "input");
  detail::check_f32(g, "conv2d_backward_weight", "grad_output");
  detail::check_same_device(x, g, "conv2d_backward_weight");
  kernels::ConvShape cs = conv_shape(x.shape(), w_shape, args, "conv2d_backward_weight");
  check_grad_shape(g, cs, "conv2d_backward_weight");
  Tensor gw = empty(w_shape, DType::F32, x.device());
  YOCO_DISPATCH(x, conv2d_backward_weight, cs, x.data<float>(), g.data<float>(), gw.data<float>());
  // <gg, gw> = <conv(x, gg), g>: linear in x and in g separately.
  return record(gw, "conv2d_backward_weight", {x, g}, [x, g, args](const Tensor& gg, const std::vector<bool>& n, bool) {
    return std::vector<Tensor>{n[0] ? conv2d_backward_input(g, gg, x.shape(), args) : Tensor(),
                               n[1] ? conv2d(x, gg, Tensor(), args) : Tensor()};
  });
}

}  // namespace yoco
