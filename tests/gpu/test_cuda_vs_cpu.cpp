// CUDA backend vs the CPU oracle: every op's forward, first and second derivatives on the same inputs,
// bitwise determinism, RNG streams, SGD, and a flat device allocator in the steady state. Skipped (exit 77)
// on machines without a CUDA device.
#include <doctest/doctest.h>
#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <utility>
#include <vector>
#include "engine/autograd.h"
#include "engine/context.h"
#include "engine/ops.h"
#include "engine/optim.h"
#include "engine/per_sample.h"
#include "engine/resample_extra.h"
#include "kernels/softmax_loss.h"
#include "tests/unit/test_util.h"

using namespace yoco;
using test::random_tensor;
using test::rel_err;

namespace {

// CPU and CUDA differ only by summation order (cuBLAS/cuDNN/tree reductions vs OpenBLAS/double loops) and
// by ~1 ulp in device libm (expf, logf, ...): norm-wise relative differences stay near 1e-6.
constexpr double kTol = 1e-5;

using test::cuda_ready;

using Inputs = std::vector<Tensor>;
// An op under test: builds its output from differentiable inputs on device d (fixed non-differentiable
// arguments such as labels or grids are captured on the CPU and moved to d inside).
using OpFn = std::function<Tensor(const Inputs&, Device)>;

struct InputSpec {
  Shape shape;
  float lo = -1.f, hi = 1.f;
};

InputSpec in(Shape shape, float lo = -1.f, float hi = 1.f) { return InputSpec{std::move(shape), lo, hi}; }

struct OpCase {
  std::string name;
  std::vector<InputSpec> inputs;
  OpFn fn;
};

// Output, gradients of <y, w> (recorded, and plain: ops with fused backward kernels take those only when the
// backward is not recorded) and gradients of sum_i <g_i, v_i> (the second order), on one device.
struct Orders {
  Tensor y;
  std::vector<Tensor> g1, g1_plain, g2;
  bool second_order = false;
};

Orders run_orders(const OpCase& c, const Inputs& cpu_inputs, Device d, uint64_t stream) {
  Inputs leaves;
  for (const Tensor& x : cpu_inputs) {
    Tensor l = x.to(d).detach().clone();
    l.set_requires_grad(true);
    leaves.push_back(l);
  }
  Orders o;
  o.y = c.fn(leaves, d);
  Tensor w = random_tensor(o.y.shape(), stream).to(d);
  o.g1 = grad({sum(mul(o.y, w))}, leaves, {}, /*create_graph=*/true, /*allow_unused=*/true);
  o.g1_plain = grad({sum(mul(c.fn(leaves, d), w))}, leaves, {}, /*create_graph=*/false, /*allow_unused=*/true);
  Tensor s2;
  for (size_t i = 0; i < leaves.size(); ++i) {
    Tensor v = random_tensor(leaves[i].shape(), stream + 1 + i).to(d);
    Tensor t = sum(mul(o.g1[i], v));
    s2 = s2.defined() ? add(s2, t) : t;
  }
  // Ops linear in every input have constant gradients: there is no second-order graph to differentiate.
  o.second_order = s2.requires_grad();
  if (o.second_order) o.g2 = grad({s2}, leaves, {}, false, true);
  return o;
}

void check_case(const OpCase& c, uint64_t stream) {
  INFO("op: ", c.name);
  Inputs in;
  for (size_t i = 0; i < c.inputs.size(); ++i)
    in.push_back(random_tensor(c.inputs[i].shape, stream + 10 * i, c.inputs[i].lo, c.inputs[i].hi));
  const Orders a = run_orders(c, in, Device::CPU, stream + 500);
  const Orders b = run_orders(c, in, Device::CUDA, stream + 500);
  CHECK(b.y.is_cuda());
  CHECK(rel_err(b.y, a.y) <= kTol);
  REQUIRE(a.g1.size() == b.g1.size());
  for (size_t i = 0; i < a.g1.size(); ++i) {
    INFO("first order, input ", i);
    CHECK(rel_err(b.g1[i], a.g1[i]) <= kTol);
    INFO("first order, not recorded");
    REQUIRE(a.g1_plain[i].defined() == a.g1[i].defined());
    if (a.g1_plain[i].defined()) CHECK(rel_err(b.g1_plain[i], a.g1_plain[i]) <= kTol);
  }
  REQUIRE(a.second_order == b.second_order);
  for (size_t i = 0; i < a.g2.size(); ++i) {
    INFO("second order, input ", i);
    CHECK(rel_err(b.g2[i], a.g2[i]) <= kTol);
  }
}

// Three samples' dsa_color parameters (flip, brightness, saturation, contrast): flips mixed, IDC's ranges.
Tensor dsa_params_on(Device d) {
  return from_vector({1.f, 0.3f, 1.7f, 0.6f, 0.f, -0.4f, 0.2f, 1.4f, 1.f, 0.1f, 0.9f, 1.1f}, {3, 4}, d);
}

Tensor pos_index(const std::vector<int64_t>& v, Device d) {
  return from_int_vector(v, {static_cast<int64_t>(v.size())}).to(d);
}

std::vector<OpCase> elementwise_cases() {
  const InputSpec m = in({4, 5}), pos = in({4, 5}, 0.5f, 2.f), row = in({5}), col = in({4, 1}, 0.5f, 2.f);
  return {
      {"add broadcast", {m, row}, [](const Inputs& x, Device) { return add(x[0], x[1]); }},
      {"sub broadcast", {m, col}, [](const Inputs& x, Device) { return sub(x[0], x[1]); }},
      {"mul", {m, m}, [](const Inputs& x, Device) { return mul(x[0], x[1]); }},
      {"mul broadcast", {in({3, 1, 5}), in({4, 1})}, [](const Inputs& x, Device) { return mul(x[0], x[1]); }},
      {"div broadcast", {m, col}, [](const Inputs& x, Device) { return div(x[0], x[1]); }},
      {"add_scalar", {m}, [](const Inputs& x, Device) { return add_scalar(x[0], 0.7f); }},
      {"mul_scalar", {m}, [](const Inputs& x, Device) { return mul(mul_scalar(x[0], -1.3f), x[0]); }},
      {"neg", {m}, [](const Inputs& x, Device) { return mul(neg(x[0]), x[0]); }},
      {"exp", {m}, [](const Inputs& x, Device) { return exp(x[0]); }},
      {"log", {pos}, [](const Inputs& x, Device) { return log(x[0]); }},
      {"sqrt", {pos}, [](const Inputs& x, Device) { return sqrt(x[0]); }},
      {"rsqrt", {pos}, [](const Inputs& x, Device) { return rsqrt(x[0]); }},
      {"abs", {m}, [](const Inputs& x, Device) { return mul(abs(x[0]), x[0]); }},
      {"sign", {m}, [](const Inputs& x, Device) { return mul(sign(x[0]), x[0]); }},
      {"pow_scalar", {pos}, [](const Inputs& x, Device) { return pow_scalar(x[0], 2.5f); }},
      {"clamp", {m}, [](const Inputs& x, Device) { return mul(clamp(x[0], -0.5f, 0.5f), x[0]); }},
      {"relu", {m}, [](const Inputs& x, Device) { return mul(relu(x[0]), x[0]); }},
  };
}

std::vector<OpCase> reduce_shape_cases() {
  const InputSpec t3 = in({3, 4, 5});
  return {
      {"sum all", {t3}, [](const Inputs& x, Device) { return sum(mul(exp(x[0]), x[0])); }},
      {"sum dims", {t3}, [](const Inputs& x, Device) { return sum(mul(x[0], x[0]), {0, 2}, true); }},
      {"sum long", {in({3, 70000})}, [](const Inputs& x, Device) { return sum(mul(x[0], x[0]), {1}); }},
      {"sum outer", {in({5000, 7})}, [](const Inputs& x, Device) { return sum(mul(x[0], x[0]), {0}); }},
      {"sum rows kept", {in({40, 5000})}, [](const Inputs& x, Device) { return sum(mul(x[0], x[0]), {0}); }},
      {"mean", {t3}, [](const Inputs& x, Device) { return mean(mul(exp(x[0]), x[0])); }},
      {"mean dims", {t3}, [](const Inputs& x, Device) { return mean(exp(x[0]), {1}); }},
      {"sum_to", {t3}, [](const Inputs& x, Device) { return sum_to(mul(x[0], x[0]), {4, 1}); }},
      {"broadcast_to", {in({4, 1})}, [](const Inputs& x, Device) { return mul(broadcast_to(x[0], {3, 4, 5}), x[0]); }},
      {"reshape/flatten", {t3}, [](const Inputs& x, Device) { return flatten(reshape(mul(x[0], x[0]), {3, 2, 10})); }},
      {"slice", {t3}, [](const Inputs& x, Device) { return slice(mul(x[0], x[0]), 1, 1, 3); }},
      {"concat", {t3, in({3, 2, 5})},
       [](const Inputs& x, Device) { return concat({mul(x[0], x[0]), exp(x[1])}, 1); }},
      {"index_select", {t3},
       [](const Inputs& x, Device d) { return index_select(mul(x[0], x[0]), 1, pos_index({3, 0, 3, 1}, d)); }},
      {"index_add", {t3},
       [](const Inputs& x, Device d) { return index_add({3, 2, 5}, 1, pos_index({1, 0, 1, 1}, d), mul(x[0], x[0])); }},
      {"transpose", {t3}, [](const Inputs& x, Device) { return transpose(mul(x[0], x[0]), 0, 2); }},
      {"flip", {t3}, [](const Inputs& x, Device) { return flip(mul(x[0], x[0]), 1); }},
  };
}

std::vector<OpCase> nn_cases() {
  const InputSpec img = in({2, 3, 8, 8}), w3 = in({4, 3, 3, 3}), b4 = in({4});
  return {
      {"matmul", {in({5, 7}), in({7, 3})}, [](const Inputs& x, Device) { return matmul(x[0], x[1]); }},
      {"matmul ta tb", {in({7, 5}), in({3, 7})},
       [](const Inputs& x, Device) { return matmul(x[0], x[1], true, true); }},
      {"linear", {in({6, 9}), in({4, 9}), in({4})},
       [](const Inputs& x, Device) { return linear(mul(x[0], x[0]), x[1], x[2]); }},
      {"conv2d pad1", {img, w3, b4},
       [](const Inputs& x, Device) { return conv2d(mul(x[0], x[0]), x[1], x[2], {1, 1}); }},
      {"conv2d stride2", {img, w3},
       [](const Inputs& x, Device) { return conv2d(mul(x[0], x[0]), x[1], Tensor(), {2, 0}); }},
      {"group_norm", {img, in({3}), in({3})},
       [](const Inputs& x, Device) { return group_norm(mul(x[0], x[0]), 3, x[1], x[2]); }},
      {"group_norm 1 group", {in({2, 4, 5, 5})},
       [](const Inputs& x, Device) { return group_norm(exp(x[0]), 1, Tensor(), Tensor()); }},
      {"group_norm 32x32 planes", {in({2, 3, 32, 32}), in({3}), in({3})},
       [](const Inputs& x, Device) { return group_norm(mul(x[0], x[0]), 3, x[1], x[2]); }},
      {"group_norm_relu_pool", {img, in({3}), in({3})},
       [](const Inputs& x, Device) { return group_norm_relu_pool(mul(x[0], x[0]), 3, x[1], x[2]); }},
      {"group_norm_relu_pool grouped", {in({2, 4, 6, 10})},
       [](const Inputs& x, Device) { return group_norm_relu_pool(exp(x[0]), 2, Tensor(), Tensor()); }},
      {"group_norm_relu_pool 32x32 planes", {in({2, 3, 32, 32}), in({3}), in({3})},
       [](const Inputs& x, Device) { return group_norm_relu_pool(mul(x[0], x[0]), 3, x[1], x[2]); }},
      // Groups above 4096 elements take a block each instead of a warp (kernels/norm.cu).
      {"group_norm_relu_pool 64x72 planes (block per group)", {in({2, 2, 64, 72}), in({2}), in({2})},
       [](const Inputs& x, Device) { return group_norm_relu_pool(mul(x[0], x[0]), 2, x[1], x[2]); }},
      {"group_norm 1 group of 4800 (block per group)", {in({3, 3, 40, 40})},
       [](const Inputs& x, Device) { return group_norm(exp(x[0]), 1, Tensor(), Tensor()); }},
      // Taking the conv bias: under instance norm its gradient is zero up to rounding, so there it is a constant;
      // with two channels per group it is a real gradient and is compared.
      {"group_norm_relu_pool input bias", {img, in({3}), in({3})},
       [](const Inputs& x, Device d) {
         return group_norm_relu_pool(mul(x[0], x[0]), 3, x[1], x[2], 1e-5f, random_tensor({3}, 7100).to(d));
       }},
      {"group_norm_relu_pool input bias grouped", {in({2, 4, 6, 10}), in({4})},
       [](const Inputs& x, Device) { return group_norm_relu_pool(exp(x[0]), 2, Tensor(), Tensor(), 1e-5f, x[1]); }},
      {"batch_norm", {img, in({3}), in({3})},
       [](const Inputs& x, Device) { return batch_norm(mul(x[0], x[0]), x[1], x[2], Tensor(), Tensor(), true); }},
      {"avg_pool2x2", {img}, [](const Inputs& x, Device) { return avg_pool2x2(mul(x[0], x[0])); }},
      {"global_avg_pool", {img}, [](const Inputs& x, Device) { return global_avg_pool(mul(x[0], x[0])); }},
      {"log_softmax", {in({6, 10})}, [](const Inputs& x, Device) { return log_softmax(mul(x[0], x[0])); }},
      {"softmax", {in({6, 10})}, [](const Inputs& x, Device) { return softmax(x[0]); }},
      {"cross_entropy", {in({6, 10})},
       [](const Inputs& x, Device d) {
         return cross_entropy(mul(x[0], x[0]), pos_index({0, 9, 3, 3, 5, 1}, d));
       }},
      {"cross_entropy_soft", {in({6, 10}), in({6, 10})},
       [](const Inputs& x, Device) { return cross_entropy_soft(x[0], softmax(x[1])); }},
      {"resize_bilinear up", {in({2, 3, 5, 7})},
       [](const Inputs& x, Device) { return resize_bilinear(mul(x[0], x[0]), 9, 12); }},
      {"resize_bilinear down", {in({2, 3, 16, 12})},
       [](const Inputs& x, Device) { return resize_bilinear(mul(x[0], x[0]), 7, 5); }},
      {"grid_sample", {in({2, 3, 6, 6})},
       [](const Inputs& x, Device d) {
         const Tensor theta = from_vector({0.9f, 0.2f, 0.1f, -0.1f, 1.1f, 0.05f, 1.2f, 0.f, -0.2f, 0.3f, 0.8f, 0.1f},
                                          {2, 2, 3}, d);
         return grid_sample(mul(x[0], x[0]), affine_grid(theta, 5, 7));
       }},
      // Shifts inside, beyond and at the image size, and boxes partial / clipped / empty, made on the case's device.
      {"translate", {in({3, 3, 6, 9})},
       [](const Inputs& x, Device d) {
         return translate(mul(x[0], x[0]), from_int_vector({2, -3, -7, 1, 6, 9}, {3, 2}, d));
       }},
      {"translate inverse", {in({3, 2, 40, 33})},
       [](const Inputs& x, Device d) {
         return translate(mul(x[0], x[0]), from_int_vector({-5, 12, 0, -34, 41, 0}, {3, 2}, d), true);
       }},
      {"cutout", {in({3, 3, 6, 9})},
       [](const Inputs& x, Device d) {
         return cutout(mul(x[0], x[0]), from_int_vector({1, 4, 2, 7, 0, 6, 5, 9, 3, 3, 0, 9}, {3, 4}, d));
       }},
      // Fused DSA flip + colour: one block per sample over planes of 54 pixels to several block strides (40x70), an
      // ImageNet-sized image, and each part alone. mul(x, x) makes the op's second order reachable.
      {"dsa_color", {in({3, 3, 6, 9})},
       [](const Inputs& x, Device d) {
         return dsa_color(mul(x[0], x[0]), dsa_params_on(d), kDsaFlip | kDsaColor);
       }},
      {"dsa_color 1 channel, 40x70", {in({3, 1, 40, 70})},
       [](const Inputs& x, Device d) { return dsa_color(mul(x[0], x[0]), dsa_params_on(d), kDsaFlip | kDsaColor); }},
      {"dsa_color 224x224", {in({2, 3, 224, 224})},
       [](const Inputs& x, Device d) {
         return dsa_color(mul(x[0], x[0]), slice(dsa_params_on(d), 0, 0, 2), kDsaFlip | kDsaColor);
       }},
      {"dsa_color colour only", {in({3, 3, 17, 23})},
       [](const Inputs& x, Device d) { return dsa_color(mul(x[0], x[0]), dsa_params_on(d), kDsaColor); }},
      {"dsa_color flip only", {in({3, 2, 5, 8})},
       [](const Inputs& x, Device d) { return dsa_color(mul(x[0], x[0]), dsa_params_on(d), kDsaFlip); }},
  };
}

void check_all(const std::vector<OpCase>& cases, uint64_t stream) {
  for (size_t i = 0; i < cases.size(); ++i) check_case(cases[i], stream + 1000 * i);
}

// A small conv net step with a second-order term (the shape of gradient matching); returns every result.
std::vector<std::vector<float>> net_step(Device d) {
  Tensor x = random_tensor({8, 3, 16, 16}, 7001).to(d);
  Tensor w1 = random_tensor({16, 3, 3, 3}, 7002, -0.3f, 0.3f).to(d).detach().clone();
  Tensor w2 = random_tensor({10, 16 * 8 * 8}, 7003, -0.05f, 0.05f).to(d).detach().clone();
  Tensor b1 = random_tensor({16}, 7004).to(d).detach().clone();
  w1.set_requires_grad(true);
  b1.set_requires_grad(true);
  w2.set_requires_grad(true);
  x.set_requires_grad(true);
  const Tensor labels = pos_index({0, 1, 2, 3, 4, 5, 6, 7}, d);
  auto loss_of = [&](bool fused) {
    // The fused tail takes the conv bias, as in the ConvNet; the separate ops add it in the convolution.
    Tensor h = fused ? group_norm_relu_pool(conv2d(x, w1, Tensor(), {1, 1}), 16, Tensor(), Tensor(), 1e-5f, b1)
                     : avg_pool2x2(relu(group_norm(conv2d(x, w1, b1, {1, 1}), 16, Tensor(), Tensor())));
    return cross_entropy(linear(flatten(h), w2, Tensor()), labels);
  };
  Tensor loss = loss_of(false);
  std::vector<Tensor> g = grad({loss}, {w1, w2}, {}, true);
  Tensor match = add(sum(mul(g[0], g[0])), sum(mul(g[1], g[1])));
  Tensor gx = grad({match}, {x})[0];
  // A train step's backward (not recorded) through the fused tail: its kernels must be reproducible too. The
  // bias gradient comes last: under instance norm it is rounding noise, compared only for reproducibility.
  std::vector<Tensor> gt = grad({loss_of(true)}, {w1, w2, b1});
  return {loss.to_vector(), g[0].to_vector(), g[1].to_vector(), gx.to_vector(),
          gt[0].to_vector(), gt[1].to_vector(), gt[2].to_vector()};
}

}  // namespace

TEST_CASE("elementwise ops: CUDA matches CPU to first and second order") {
  if (!cuda_ready()) return;
  check_all(elementwise_cases(), 100000);
}

TEST_CASE("reduction and shape ops: CUDA matches CPU to first and second order") {
  if (!cuda_ready()) return;
  check_all(reduce_shape_cases(), 200000);
}

TEST_CASE("network ops: CUDA matches CPU to first and second order") {
  if (!cuda_ready()) return;
  check_all(nn_cases(), 300000);
}

// Covers both CUDA paths (tile kernel C <= 32; lane groups C > 32: 33, 100 and 128 take 4-lane groups of three
// register sizes, 1000 a warp that also reads past its register-held columns) with N = 1007, not a multiple of a
// tile or of a block's rows; ties for the maximum and nearly one-hot rows included. Two CUDA runs must agree
// bitwise (fixed-order reductions, no atomics).
TEST_CASE("per-sample statistics: CUDA matches CPU for C in {1, 10, 32, 33, 100, 128, 1000}, bit-reproducibly") {
  if (!cuda_ready()) return;
  const int64_t n = 1000 + 7;
  for (int64_t c : {1, 10, 32, 33, 100, 128, 1000}) {
    CAPTURE(c);
    std::vector<float> x = random_tensor({n, c}, 400001 + static_cast<uint64_t>(c), -4.f, 4.f).to_vector();
    std::vector<int64_t> y(n);
    for (int64_t i = 0; i < n; ++i) {
      float* row = x.data() + i * c;
      y[i] = (i * 37 + 11) % c;
      if (c >= 2 && i % 5 == 0) {  // a tied maximum (column c/2 wins), labelled the winner, the other, or neither
        row[c / 2] = row[c - 1] = 9.f;
        if (i % 3 != 2) y[i] = i % 3 == 0 ? c / 2 : c - 1;
      }
      if (i % 7 == 3) row[i % c] = 40.f;  // nearly one-hot: p_max ~ 1 - 1e-14
    }
    Tensor logits = from_vector(x, {n, c}), labels = from_int_vector(y, {n});
    PerSample a = per_sample_stats(logits, labels);
    Tensor lg = logits.to(Device::CUDA), lb = labels.to(Device::CUDA);
    PerSample b = per_sample_stats(lg, lb), b2 = per_sample_stats(lg, lb);
    CHECK(rel_err(b.el2n, a.el2n) <= kTol);
    CHECK(rel_err(b.loss, a.loss) <= kTol);
    CHECK(b.correct.to_vector() == a.correct.to_vector());  // argmax on identical inputs: exactly equal
    CHECK(rel_err(b.margin, a.margin) <= kTol);
    CHECK(rel_err(b.entropy, a.entropy) <= kTol);
    CHECK(b.el2n.to_vector() == b2.el2n.to_vector());
    CHECK(b.loss.to_vector() == b2.loss.to_vector());
    CHECK(b.correct.to_vector() == b2.correct.to_vector());
    CHECK(b.margin.to_vector() == b2.margin.to_vector());
    CHECK(b.entropy.to_vector() == b2.entropy.to_vector());
#ifdef YOCO_WITH_CUDA  // the raw launcher exists only in CUDA builds (this suite also builds, and skips, without)
    // The raw launcher with only the loss requested: null outputs are skipped, the loss is the same bits.
    Tensor only_loss = full({n}, std::numeric_limits<float>::quiet_NaN(), Device::CUDA);
    kernels::cuda::per_sample_stats(lg.data<float>(), lb.data<int64_t>(), n, c, nullptr, only_loss.data<float>(),
                                    nullptr, nullptr, nullptr, Context::get().cuda_stream());
    CHECK(only_loss.to_vector() == b.loss.to_vector());
#endif
  }
}

TEST_CASE("non-differentiable ops: nearest resize, batch-norm running stats") {
  if (!cuda_ready()) return;
  Tensor img = random_tensor({2, 3, 7, 9}, 400002);
  CHECK(resize_nearest(img.to(Device::CUDA), 13, 4).to_vector() == resize_nearest(img, 13, 4).to_vector());

  Tensor x = random_tensor({4, 3, 5, 5}, 400003);
  Tensor rm_c = zeros({3}), rv_c = ones({3});
  Tensor rm_g = zeros({3}, DType::F32, Device::CUDA), rv_g = ones({3}, Device::CUDA);
  batch_norm(x, Tensor(), Tensor(), rm_c, rv_c, true);
  batch_norm(x.to(Device::CUDA), Tensor(), Tensor(), rm_g, rv_g, true);
  CHECK(rel_err(rm_g, rm_c) <= kTol);
  CHECK(rel_err(rv_g, rv_c) <= kTol);
}

TEST_CASE("RNG streams on CUDA equal the CPU's") {
  if (!cuda_ready()) return;
  const Shape shape{1000, 37};
  // Uniform: integer Philox bits and one FMA on both sides: bitwise equal.
  CHECK(rand_uniform(shape, 1234, 5, 77, -2.f, 3.f, Device::CUDA).to_vector() ==
        rand_uniform(shape, 1234, 5, 77, -2.f, 3.f).to_vector());
  // Normal: device logf/cosf are within 2 ulp of the host's, amplified a little by sqrt(-2 log u):
  // an absolute-or-relative 1e-5 bound is ~100 ulp of headroom and still catches any wrong stream.
  const std::vector<float> a = rand_normal(shape, 99, 3, 11, 0.5f, 2.f).to_vector();
  const std::vector<float> b = rand_normal(shape, 99, 3, 11, 0.5f, 2.f, Device::CUDA).to_vector();
  REQUIRE(a.size() == b.size());
  size_t bad = 0;
  for (size_t i = 0; i < a.size(); ++i)
    if (!(std::fabs(a[i] - b[i]) <= 1e-5f * std::max(1.f, std::fabs(a[i])))) ++bad;
  CHECK(bad == 0);
}

TEST_CASE("SGD with momentum and weight decay: CUDA matches CPU") {
  if (!cuda_ready()) return;
  // 40 parameters: two multi-tensor launches (kernels::kSgdSegmentsPerLaunch = 32), sizes below and above a
  // block's tile, and one (index 7) that gets its first gradient only at step 2 (its own first momentum step).
  std::vector<Tensor> pc, pg, g;
  for (int k = 0; k < 40; ++k) {
    const int64_t n = k == 20 ? 150000 : (k * 131) % 1500 + 1;
    pc.push_back(random_tensor({n}, 500001 + 2 * k).clone());
    pg.push_back(pc.back().to(Device::CUDA).detach().clone());
    g.push_back(random_tensor({n}, 500002 + 2 * k));
    pc.back().set_requires_grad(true);
    pg.back().set_requires_grad(true);
  }
  SGD opt_c(pc, 0.1f, 0.9f, 5e-4f), opt_g(pg, 0.1f, 0.9f, 5e-4f);
  for (int step = 0; step < 3; ++step) {
    for (size_t k = 0; k < pc.size(); ++k) {
      if (k == 7 && step < 2) continue;
      pc[k].set_grad(g[k]);
      pg[k].set_grad(g[k].to(Device::CUDA));
    }
    opt_c.step();
    opt_g.step();
  }
  for (size_t k = 0; k < pc.size(); ++k) {
    INFO("parameter ", k);
    CHECK(rel_err(pg[k], pc[k]) <= kTol);
    CHECK(rel_err(opt_g.momentum_buffers()[k], opt_c.momentum_buffers()[k]) <= kTol);
  }
}

TEST_CASE("CUDA results are bitwise reproducible") {
  if (!cuda_ready()) return;
  const auto first = net_step(Device::CUDA), second = net_step(Device::CUDA);
  REQUIRE(first.size() == second.size());
  for (size_t i = 0; i < first.size(); ++i) {
    INFO("result ", i);
    CHECK(first[i] == second[i]);
  }
  // And the whole step agrees with the CPU.
  const auto cpu = net_step(Device::CPU);
  for (size_t i = 0; i + 1 < cpu.size(); ++i) {  // not the last: the bias gradient's noise (net_step)
    INFO("vs CPU, result ", i);
    CHECK(rel_err(first[i], cpu[i]) <= kTol);
  }
}

TEST_CASE("CUDA allocator reaches a steady state") {
  if (!cuda_ready()) return;
  CachingAllocator& alloc = Context::get().allocator(Device::CUDA);
  for (int i = 0; i < 2; ++i) net_step(Device::CUDA);  // warm-up fills the pool
  const size_t before = alloc.stats().system_allocs;
  for (int i = 0; i < 5; ++i) net_step(Device::CUDA);
  CHECK(alloc.stats().system_allocs == before);
}
