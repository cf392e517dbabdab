// Normalisation ops: group norm and the fused (bias→)norm→relu→pool tail (fused kernels; composite backward when
// recorded), and batch norm (composite).
#include <initializer_list>
#include "engine/autograd.h"
#include "engine/context.h"
#include "engine/dispatch.h"
#include "engine/ops.h"
#include "kernels/norm.h"

namespace yoco {

namespace {

struct GnDims {
  int64_t n, c, s, groups;
};

GnDims group_norm_check(const Tensor& x, int64_t groups, const Tensor& gamma, const Tensor& beta) {
  detail::check_f32(x, "group_norm", "x");
  YOCO_CHECK(x.dim() >= 2, "group_norm: x must be [N, C, ...], got ", x.str());
  const int64_t n = x.size(0), c = x.size(1);
  YOCO_CHECK(groups > 0 && c % groups == 0, "group_norm: groups ", groups, " must divide C of ", x.str());
  for (const Tensor* p : {&gamma, &beta}) {
    if (!p->defined()) continue;
    detail::check_f32(*p, "group_norm", "gamma/beta");
    detail::check_same_device(x, *p, "group_norm");
    YOCO_CHECK(p->shape() == Shape{c}, "group_norm: gamma/beta must be [", c, "], got ", p->str(), " for x ",
               x.str());
  }
  return {n, c, n * c == 0 ? 0 : x.numel() / (n * c), groups};
}

const float* ptr_or_null(const Tensor& t) { return t.defined() ? t.data<float>() : nullptr; }

// Broadcast view of a per-channel [C] parameter against [N, C, S].
Tensor per_channel(const Tensor& p) { return reshape(p, {1, p.numel(), 1}); }

// x + bias - mean(x + bias) per group as [N, G, M], in differentiable ops, without materialising x + bias (a
// full-size tensor the recorded graph would keep): the bias only moves each channel against its group's mean,
// x + b_c - (mean_g(x) + mean_g(b)) = x - (mean_g(x) + mean_g(b) - b_c), a shift of [N, G, C/G] values.
Tensor centred(const Tensor& x, const Tensor& bias, const GnDims& d) {
  Tensor xg = reshape(x, {d.n, d.groups, -1});
  if (!bias.defined()) return sub(xg, mean(xg, {2}, true));
  const int64_t cpg = d.c / d.groups;
  Tensor bg = reshape(bias, {1, d.groups, cpg});
  Tensor shift = sub(add(mean(xg, {2}, true), mean(bg, {2}, true)), bg);  // [N, G, cpg]
  Tensor xc = sub(reshape(x, {d.n, d.groups, cpg, d.s}), reshape(shift, {d.n, d.groups, cpg, 1}));
  return reshape(xc, {d.n, d.groups, -1});
}

// The group-norm backward in differentiable ops (of x + bias when bias is defined: its gradient is dx's),
// recomputing the statistics from x so that second derivatives (create_graph) see x's history.
std::vector<Tensor> group_norm_backward_composite(const Tensor& g, const Tensor& x, const Tensor& bias,
                                                  const Tensor& gamma, const GnDims& d, float eps,
                                                  const std::vector<bool>& needs) {
  Tensor xc = centred(x, bias, d);
  Tensor rstd = rsqrt(add_scalar(mean(mul(xc, xc), {2}, true), eps));
  Tensor xhat = mul(xc, rstd);  // [N, G, M]
  Tensor g3 = reshape(g, {d.n, d.c, d.s});
  std::vector<Tensor> out(3);
  if (needs[0]) {
    Tensor gxh = reshape(gamma.defined() ? mul(g3, per_channel(gamma)) : g3, {d.n, d.groups, -1});
    Tensor a = mean(gxh, {2}, true), b = mean(mul(gxh, xhat), {2}, true);
    out[0] = reshape(mul(rstd, sub(sub(gxh, a), mul(xhat, b))), x.shape());
  }
  if (needs.size() > 1 && needs[1]) out[1] = sum(mul(g3, reshape(xhat, {d.n, d.c, d.s})), {0, 2});
  if (needs.size() > 2 && needs[2]) out[2] = sum(g3, {0, 2});
  return out;
}

}  // namespace

Tensor group_norm(const Tensor& x, int64_t groups, const Tensor& gamma, const Tensor& beta, float eps) {
  const GnDims d = group_norm_check(x, groups, gamma, beta);
  Tensor y = empty(x.shape(), DType::F32, x.device());
  Tensor mu = empty({d.n, d.groups}, DType::F32, x.device());
  Tensor rs = empty({d.n, d.groups}, DType::F32, x.device());
  if (x.numel() > 0)
    YOCO_DISPATCH(x, group_norm_forward, x.data<float>(), ptr_or_null(gamma), ptr_or_null(beta), y.data<float>(),
                  mu.data<float>(), rs.data<float>(), d.n, d.c, d.s, d.groups, eps);
  auto backward = [x, gamma, d, eps, mu, rs](const Tensor& g, const std::vector<bool>& needs, bool create_graph) {
    if (create_graph) return group_norm_backward_composite(g, x, Tensor(), gamma, d, eps, needs);
    // Not recorded: the fused kernel, using the saved statistics (they are constants here).
    std::vector<Tensor> out(3);
    if (needs[0]) out[0] = empty(x.shape(), DType::F32, x.device());
    if (needs[1]) out[1] = empty({d.c}, DType::F32, x.device());
    if (needs[2]) out[2] = empty({d.c}, DType::F32, x.device());
    float* dx = out[0].defined() ? out[0].data<float>() : nullptr;
    float* dgamma = out[1].defined() ? out[1].data<float>() : nullptr;
    float* dbeta = out[2].defined() ? out[2].data<float>() : nullptr;
    YOCO_DISPATCH(x, group_norm_backward, g.data<float>(), x.data<float>(), mu.data<float>(), rs.data<float>(),
                  ptr_or_null(gamma), d.n, d.c, d.s, d.groups, dx, dgamma, dbeta);
    return out;
  };
  return record(y, "group_norm", {x, gamma, beta}, backward);
}

Tensor group_norm_relu_pool(const Tensor& x, int64_t groups, const Tensor& gamma, const Tensor& beta, float eps,
                            const Tensor& input_bias) {
  const GnDims d = group_norm_check(x, groups, gamma, beta);
  // The pool floors odd H and W as PyTorch's avg_pool2d; the statistics still cover the whole H×W plane.
  YOCO_CHECK(x.dim() == 4 && x.size(2) >= 2 && x.size(3) >= 2,
             "group_norm_relu_pool: x must be [N, C, H, W] with H and W at least 2, got ", x.str());
  if (input_bias.defined()) {
    detail::check_f32(input_bias, "group_norm_relu_pool", "input_bias");
    detail::check_same_device(x, input_bias, "group_norm_relu_pool");
    YOCO_CHECK(input_bias.shape() == Shape{d.c}, "group_norm_relu_pool: input_bias must be [", d.c, "], got ",
               input_bias.str(), " for x ", x.str());
  }
  const int64_t h = x.size(2), w = x.size(3);
  Tensor y = empty({d.n, d.c, h / 2, w / 2}, DType::F32, x.device());
  Tensor mu = empty({d.n, d.groups}, DType::F32, x.device());
  Tensor rs = empty({d.n, d.groups}, DType::F32, x.device());
  if (x.numel() > 0)
    YOCO_DISPATCH(x, group_norm_relu_pool_forward, x.data<float>(), ptr_or_null(input_bias), ptr_or_null(gamma),
                  ptr_or_null(beta), y.data<float>(), mu.data<float>(), rs.data<float>(), d.n, d.c, h, w, d.groups,
                  eps);
  auto backward = [x, input_bias, gamma, beta, d, eps, mu, rs](const Tensor& g, const std::vector<bool>& needs,
                                                                bool create_graph) {
    const bool need_bias = needs.size() > 3 && needs[3];
    if (create_graph) {
      // Recorded (second order): the three ops' backwards in differentiable form, of x + bias (so higher
      // derivatives reach both). relu's mask is a constant (its derivative is zero almost everywhere), taken
      // from the normalised values recomputed without history (x + bias exists only for that moment).
      Tensor yn;
      {
        NoGradGuard no_grad;
        const Tensor xd = x.detach();
        yn = group_norm(input_bias.defined() ? add(xd, reshape(input_bias.detach(), {1, d.c, 1, 1})) : xd,
                        d.groups, gamma.defined() ? gamma.detach() : Tensor(),
                        beta.defined() ? beta.detach() : Tensor(), eps);
      }
      std::vector<bool> norm_needs{needs[0] || need_bias, needs.size() > 1 && needs[1], needs.size() > 2 && needs[2]};
      std::vector<Tensor> out = group_norm_backward_composite(relu_backward(avg_pool2x2_backward(g, x.shape()), yn),
                                                              x, input_bias, gamma, d, eps, norm_needs);
      // The bias is added to every element of its channel: its gradient is dx summed over (N, H, W).
      out.push_back(need_bias ? sum(out[0], {0, 2, 3}) : Tensor());
      if (!needs[0]) out[0] = Tensor();
      return out;
    }
    std::vector<Tensor> out(4);
    // dx always: the kernel stages the gradient at the norm's output in it.
    Tensor dx = empty(x.shape(), DType::F32, x.device());
    if (needs[0]) out[0] = dx;
    if (needs[1]) out[1] = empty({d.c}, DType::F32, x.device());
    if (needs[2]) out[2] = empty({d.c}, DType::F32, x.device());
    if (need_bias) out[3] = empty({d.c}, DType::F32, x.device());
    if (x.numel() > 0)
      YOCO_DISPATCH(x, group_norm_relu_pool_backward, g.data<float>(), x.data<float>(), ptr_or_null(input_bias),
                    mu.data<float>(), rs.data<float>(), ptr_or_null(gamma), ptr_or_null(beta), d.n, d.c, x.size(2),
                    x.size(3), d.groups, dx.data<float>(), out[1].defined() ? out[1].data<float>() : nullptr,
                    out[2].defined() ? out[2].data<float>() : nullptr,
                    out[3].defined() ? out[3].data<float>() : nullptr);
    out.resize(needs.size());
    return out;
  };
  return record(y, "group_norm_relu_pool", {x, gamma, beta, input_bias}, backward);
}

Tensor batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor running_mean, Tensor running_var,
                  bool training, float momentum, float eps) {
  detail::check_f32(x, "batch_norm", "x");
  YOCO_CHECK(x.dim() >= 2, "batch_norm: x must be [N, C, ...], got ", x.str());
  const int64_t c = x.size(1);
  for (const Tensor* p : std::initializer_list<const Tensor*>{&gamma, &beta, &running_mean, &running_var}) {
    if (!p->defined()) continue;
    detail::check_f32(*p, "batch_norm", "parameter/buffer");
    detail::check_same_device(x, *p, "batch_norm");
    YOCO_CHECK(p->shape() == Shape{c}, "batch_norm: parameters/buffers must be [", c, "], got ", p->str(),
               " for x ", x.str());
  }
  Shape pshape(x.dim(), 1);
  pshape[1] = c;
  std::vector<int64_t> dims{0};
  for (int64_t i = 2; i < x.dim(); ++i) dims.push_back(i);
  const int64_t count = x.numel() / c;
  Tensor mu, var;
  if (training) {
    YOCO_CHECK(count > 1, "batch_norm: training needs more than one value per channel, got ", x.str());
    mu = mean(x, dims, true);
    Tensor xc = sub(x, mu);
    var = mean(mul(xc, xc), dims, true);
    if (running_mean.defined() || running_var.defined()) {
      NoGradGuard no_grad;
      // PyTorch: running = (1 - m) * running + m * stat, with the unbiased variance.
      const float unbias = static_cast<float>(count) / static_cast<float>(count - 1);
      if (running_mean.defined())
        copy_(running_mean, add(mul_scalar(running_mean, 1.f - momentum), mul_scalar(reshape(mu.detach(), {c}), momentum)));
      if (running_var.defined())
        copy_(running_var,
              add(mul_scalar(running_var, 1.f - momentum), mul_scalar(reshape(var.detach(), {c}), momentum * unbias)));
    }
  } else {
    YOCO_CHECK(running_mean.defined() && running_var.defined(), "batch_norm: eval mode needs running stats");
    mu = reshape(running_mean.detach(), pshape);
    var = reshape(running_var.detach(), pshape);
  }
  Tensor y = mul(sub(x, mu), rsqrt(add_scalar(var, eps)));
  if (gamma.defined()) y = mul(y, reshape(gamma, pshape));
  if (beta.defined()) y = add(y, reshape(beta, pshape));
  return y;
}

}  // namespace yoco
