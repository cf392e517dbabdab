// LibTorch parity of the network ops: conv2d and its backward ops, group/instance norm, batch norm, pooling
// (forward, first- and second-order gradients on fresh random inputs).
#include <doctest/doctest.h>
#include <torch/torch.h>
#include "tests/parity/parity_torch.h"

using namespace yoco;
using namespace yoco::parity;
namespace F = torch::nn::functional;
using TV = std::vector<torch::Tensor>;
using YV = std::vector<Tensor>;

namespace {

Case make(const std::string& name, YV inputs, OurFn ours, TheirFn theirs) {
  std::vector<bool> diff;
  for (const Tensor& t : inputs) diff.push_back(t.dtype() == DType::F32);
  return Case{name, std::move(inputs), diff, std::move(ours), std::move(theirs)};
}

int64_t conv_out(int64_t n, int64_t k, int64_t stride, int64_t pad) { return (n + 2 * pad - k) / stride + 1; }

torch::Tensor torch_conv(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b, Conv2dArgs a) {
  return torch::conv2d(x, w, b, {a.stride, a.stride}, {a.pad, a.pad});
}

// conv2d, conv2d_backward_input and conv2d_backward_weight for one configuration. The backward ops are
// compared as values with torch's autograd gradients of conv2d, and then differentiated twice like any op.
void conv_cases(int64_t k, int64_t stride, int64_t pad, bool bias) {
  const Conv2dArgs args{stride, pad};
  const int64_t h = 9, w = 8;  // odd/even: stride 2 must floor like PyTorch
  const Shape xs{2, 3, h, w}, ws{4, 3, k, k}, gs{2, 4, conv_out(h, k, stride, pad), conv_out(w, k, stride, pad)};
  const std::string tag = std::to_string(k) + "x" + std::to_string(k) + " s" + std::to_string(stride) + " p" +
                          std::to_string(pad) + (bias ? " bias" : "");
  const uint64_t st = stream_of("conv " + tag);
  YV in{rnd(xs, st), rnd(ws, st + 1, -0.5f, 0.5f)};
  if (bias) in.push_back(rnd({4}, st + 2));
  check_case(make("conv2d " + tag, in,
                  [=](const YV& x) { return conv2d(x[0], x[1], bias ? x[2] : Tensor(), args); },
                  [=](const TV& x) { return torch_conv(x[0], x[1], bias ? x[2] : torch::Tensor(), args); }));
  if (bias) return;  // the backward ops do not see the bias
  check_case(make("conv2d_backward_input " + tag, {rnd(gs, st + 3), rnd(ws, st + 4, -0.5f, 0.5f)},
                  [=](const YV& x) { return conv2d_backward_input(x[0], x[1], xs, args); },
                  [=](const TV& x) {
                    torch::Tensor x0 = torch::zeros(xs, x[0].options()).requires_grad_(true);
                    torch::Tensor y = torch_conv(x0, x[1], torch::Tensor(), args);
                    return torch::autograd::grad({y}, {x0}, {x[0]}, true, true)[0];
                  }));
  check_case(make("conv2d_backward_weight " + tag, {rnd(xs, st + 5), rnd(gs, st + 6)},
                  [=](const YV& x) { return conv2d_backward_weight(x[0], x[1], ws, args); },
                  [=](const TV& x) {
                    torch::Tensor w0 = torch::zeros(ws, x[0].options()).requires_grad_(true);
                    torch::Tensor y = torch_conv(x[0], w0, torch::Tensor(), args);
                    return torch::autograd::grad({y}, {w0}, {x[1]}, true, true)[0];
                  }));
}

void group_norm_case(int64_t c, int64_t groups, bool affine) {
  const std::string name =
      "group_norm C=" + std::to_string(c) + " G=" + std::to_string(groups) + (affine ? " affine" : "");
  const uint64_t st = stream_of(name);
  // A non-zero mean and spread per sample, as real activations have.
  YV in{rnd({3, c, 5, 4}, st, -1.f, 2.f)};
  if (affine) {
    in.push_back(rnd({c}, st + 1, 0.5f, 1.5f));
    in.push_back(rnd({c}, st + 2));
  }
  check_case(make(name, in,
                  [=](const YV& x) {
                    return group_norm(x[0], groups, affine ? x[1] : Tensor(), affine ? x[2] : Tensor(), 1e-5f);
                  },
                  [=](const TV& x) {
                    return torch::group_norm(x[0], groups, affine ? x[1] : torch::Tensor(),
                                             affine ? x[2] : torch::Tensor(), 1e-5);
                  }));
}

// The fused ConvNet block tail against torch's three ops.
void group_norm_relu_pool_case(int64_t c, int64_t groups, bool affine) {
  const std::string name = "group_norm_relu_pool C=" + std::to_string(c) + " G=" + std::to_string(groups) +
                           (affine ? " affine" : "");
  const uint64_t st = stream_of(name);
  YV in{rnd({3, c, 6, 4}, st, -1.f, 2.f)};
  if (affine) {
    in.push_back(rnd({c}, st + 1, 0.5f, 1.5f));
    in.push_back(rnd({c}, st + 2));
  }
  check_case(make(name, in,
                  [=](const YV& x) {
                    return group_norm_relu_pool(x[0], groups, affine ? x[1] : Tensor(), affine ? x[2] : Tensor(),
                                                1e-5f);
                  },
                  [=](const TV& x) {
                    torch::Tensor y = torch::group_norm(x[0], groups, affine ? x[1] : torch::Tensor(),
                                                        affine ? x[2] : torch::Tensor(), 1e-5);
                    return torch::avg_pool2d(torch::relu(y), {2, 2});
                  }));
}

// The ConvNet block as the model runs it: the convolution without its bias, which the fused tail adds, against
// torch's conv2d with bias → group_norm → relu → avg_pool.
void conv_block_case(int64_t groups) {
  const std::string name = "conv2d + bias-taking group_norm_relu_pool G=" + std::to_string(groups);
  const uint64_t st = stream_of(name);
  const int64_t c = 6;
  YV in{rnd({2, 3, 6, 8}, st, -1.f, 2.f), rnd({c, 3, 3, 3}, st + 1, -0.3f, 0.3f), rnd({c}, st + 2, -1.f, 1.f),
        rnd({c}, st + 3, 0.5f, 1.5f), rnd({c}, st + 4)};
  Case cs = make(name, in,
                 [=](const YV& x) {
                   return group_norm_relu_pool(conv2d(x[0], x[1], Tensor(), {1, 1}), groups, x[3], x[4], 1e-5f,
                                               x[2]);
                 },
                 [=](const TV& x) {
                   torch::Tensor y = torch::group_norm(torch_conv(x[0], x[1], x[2], {1, 1}), groups, x[3], x[4], 1e-5);
                   return torch::avg_pool2d(torch::relu(y), {2, 2});
                 });
  // Under instance norm the bias cancels: its derivatives are zero up to rounding on both sides, which a relative
  // error cannot compare. It still shifts the statistics the other derivatives are checked through.
  if (groups == c) cs.diff[2] = false;
  check_case(cs);
}

}  // namespace

TEST_CASE("parity: conv2d and its backward ops") {
  for (int64_t k : {3, 1})
    for (int64_t stride : {1, 2})
      for (int64_t pad : {0, 1, 2, 3})
        for (bool bias : {true, false}) conv_cases(k, stride, pad, bias);
  // ConvNet's shapes: 128 channels (many-term sums), and the 1-channel first layer with padding 3.
  const uint64_t st = stream_of("conv wide");
  check_case(make("conv2d 3x3 s1 p1 128->128 8x8 bias",
                  {rnd({2, 128, 8, 8}, st), rnd({128, 128, 3, 3}, st + 1, -0.03f, 0.03f), rnd({128}, st + 2)},
                  [](const YV& x) { return conv2d(x[0], x[1], x[2], {1, 1}); },
                  [](const TV& x) { return torch_conv(x[0], x[1], x[2], {1, 1}); }));
  check_case(make("conv2d 3x3 s1 p3 1->16 28x28 bias",
                  {rnd({2, 1, 28, 28}, st + 3), rnd({16, 1, 3, 3}, st + 4), rnd({16}, st + 5)},
                  [](const YV& x) { return conv2d(x[0], x[1], x[2], {1, 3}); },
                  [](const TV& x) { return torch_conv(x[0], x[1], x[2], {1, 3}); }));
}

TEST_CASE("parity: group norm and instance norm") {
  for (bool affine : {true, false}) {
    group_norm_case(6, 6, affine);  // instance norm
    group_norm_case(6, 3, affine);
    group_norm_case(6, 2, affine);
    group_norm_case(6, 1, affine);
    group_norm_relu_pool_case(6, 6, affine);
    group_norm_relu_pool_case(6, 2, affine);
  }
  conv_block_case(6);
  conv_block_case(2);
}

TEST_CASE("parity: batch norm (train and eval, running statistics)") {
  const int64_t c = 4;
  const Shape xs{5, c, 3, 4};
  const float momentum = 0.1f, eps = 1e-5f;
  for (bool training : {true, false}) {
    const std::string name = std::string("batch_norm ") + (training ? "train" : "eval");
    const uint64_t st = stream_of(name);
    Tensor rm = rnd({c}, st + 3), rv = rnd({c}, st + 4, 0.5f, 2.f);
    // Each run gets its own copy of the running statistics (on the input's device): the op updates them in place.
    check_case(make(name, {rnd(xs, st, -1.f, 2.f), rnd({c}, st + 1, 0.5f, 1.5f), rnd({c}, st + 2)},
                    [=](const YV& x) {
                      return batch_norm(x[0], x[1], x[2], rm.to(x[0].device()).clone(),
                                        rv.to(x[0].device()).clone(), training, momentum, eps);
                    },
                    [=](const TV& x) {
                      return torch::batch_norm(x[0], x[1], x[2], to_torch(rm, x[0].scalar_type()).to(x[0].device()),
                                               to_torch(rv, x[0].scalar_type()).to(x[0].device()), training,
                                               momentum, eps, false);
                    }));
    // The running statistics after one step (unchanged in eval).
    Tensor x = rnd(xs, st + 5, -1.f, 2.f), our_rm = rm.clone(), our_rv = rv.clone();
    batch_norm(x, Tensor(), Tensor(), our_rm, our_rv, training, momentum, eps);
    torch::Tensor t_rm = to_torch(rm, torch::kDouble), t_rv = to_torch(rv, torch::kDouble);
    torch::batch_norm(to_torch(x, torch::kDouble), {}, {}, t_rm, t_rv, training, momentum, eps, false);
    const double e_rm = err(our_rm, t_rm), e_rv = err(our_rv, t_rv);
    std::printf("[parity] %-44s fwd %.2e (mean) %.2e (var)\n", (name + " running stats").c_str(), e_rm, e_rv);
    CHECK_MESSAGE(e_rm <= kFwdTol, name << " running_mean: " << e_rm);
    CHECK_MESSAGE(e_rv <= kFwdTol, name << " running_var: " << e_rv);
  }
  check_case(make("batch_norm train, no running stats, no affine", {rnd(xs, stream_of("bn bare"), -1.f, 2.f)},
                  [=](const YV& x) { return batch_norm(x[0], Tensor(), Tensor(), Tensor(), Tensor(), true); },
                  [=](const TV& x) {
                    return torch::batch_norm(x[0], {}, {}, {}, {}, true, momentum, eps, false);
                  }));
}

TEST_CASE("parity: pooling") {
  for (Shape xs : {Shape{2, 3, 8, 8}, Shape{2, 5, 32, 32}, Shape{3, 2, 4, 6}}) {
    const std::string tag = shape_str(xs);
    check_case(make("avg_pool2x2 " + tag, {rnd(xs, stream_of("pool" + tag))},
                    [](const YV& x) { return avg_pool2x2(x[0]); },
                    [](const TV& x) { return torch::avg_pool2d(x[0], {2, 2}, {2, 2}); }));
    const Shape gs{xs[0], xs[1], xs[2] / 2, xs[3] / 2};
    check_case(make("avg_pool2x2_backward " + tag, {rnd(gs, stream_of("poolb" + tag))},
                    [xs](const YV& g) { return avg_pool2x2_backward(g[0], xs); },
                    [xs](const TV& g) {
                      torch::Tensor x0 = torch::zeros(xs, g[0].options()).requires_grad_(true);
                      torch::Tensor y = torch::avg_pool2d(x0, {2, 2}, {2, 2});
                      return torch::autograd::grad({y}, {x0}, {g[0]}, true, true)[0];
                    }));
    check_case(make("global_avg_pool " + tag, {rnd(xs, stream_of("gap" + tag))},
                    [](const YV& x) { return global_avg_pool(x[0]); },
                    [](const TV& x) { return torch::adaptive_avg_pool2d(x[0], {1, 1}).flatten(1); }));
  }
}
