// CUDA backend vs the CPU oracle beyond single ops (those are the op table's, tests/ops/test_op_table_device.cpp):
// the per-sample statistics sweep, bitwise determinism, SGD, and a flat device allocator in the steady state.
// Skipped (exit 77) on machines without a CUDA device.
#include <doctest/doctest.h>
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <utility>
#include <vector>
#include "engine/autograd.h"
#include "engine/context.h"
#include "engine/ops.h"
#include "engine/optim.h"
#include "engine/per_sample.h"
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

Tensor pos_index(const std::vector<int64_t>& v, Device d) {
  return from_int_vector(v, {static_cast<int64_t>(v.size())}).to(d);
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
