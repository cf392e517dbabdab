// SGD (momentum, weight decay, first step) and MultiStepLR against hand-computed values; raw-kernel poisoning.
#include <doctest/doctest.h>
#include <limits>
#include <vector>
#include "engine/ops.h"
#include "engine/optim.h"
#include "kernels/optim.h"

using namespace yoco;

namespace {
const float kNaN = std::numeric_limits<float>::quiet_NaN();

// Hand values below are exact decimal arithmetic; float32 rounding of a few operations stays below 1e-6.
void check_vec(const std::vector<float>& got, const std::vector<double>& want) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    CAPTURE(i);
    CHECK(got[i] == doctest::Approx(want[i]).epsilon(1e-6));
  }
}

// p = (1, -2), g = (0.5, 1), lr 0.1, momentum 0.9, wd 0.1:
// step 1: d = (0.6, 0.8), buf = d, p = (0.94, -2.08);
// step 2: d = (0.594, 0.792), buf = 0.9 buf + d = (1.134, 1.512), p = (0.8266, -2.2312).
const std::vector<double> kP1 = {0.94, -2.08}, kBuf1 = {0.6, 0.8};
const std::vector<double> kP2 = {0.8266, -2.2312}, kBuf2 = {1.134, 1.512};
}  // namespace

TEST_CASE("sgd_update raw kernel: first step ignores a poisoned buffer") {
  using kernels::SgdSegment;
  std::vector<float> p = {1.f, -2.f}, g = {0.5f, 1.f}, buf = {kNaN, kNaN};
  SgdSegment seg{p.data(), g.data(), buf.data(), 2, true};
  kernels::cpu::sgd_update(&seg, 1, 0.1f, 0.9f, 0.1f);
  check_vec(p, kP1);
  check_vec(buf, kBuf1);
  seg.first_step = false;
  kernels::cpu::sgd_update(&seg, 1, 0.1f, 0.9f, 0.1f);
  check_vec(p, kP2);
  check_vec(buf, kBuf2);
  // Without momentum the buffer is not used (null is allowed).
  std::vector<float> q = {1.f, -2.f};
  SgdSegment plain{q.data(), g.data(), nullptr, 2, true};
  kernels::cpu::sgd_update(&plain, 1, 0.1f, 0.f, 0.1f);
  check_vec(q, kP1);  // no momentum: p -= lr * d, the same as a first momentum step
}

TEST_CASE("sgd_update raw kernel: segments are independent (own first step, empty ones, parallel sizes)") {
  using kernels::SgdSegment;
  // One segment in its second momentum step beside one in its first, an empty one, and one large enough for the
  // parallel region (> 65536 elements): each must equal the same segment updated alone.
  const int64_t big = 70001;
  std::vector<float> pa = {0.94f, -2.08f}, ba = {0.6f, 0.8f}, ga = {0.5f, 1.f};  // the state after step 1
  std::vector<float> pb = {1.f, -2.f}, bb = {kNaN, kNaN};
  std::vector<float> pc(big), gc(big), bc(big, kNaN);
  for (int64_t i = 0; i < big; ++i) pc[i] = 0.001f * static_cast<float>(i % 997), gc[i] = 0.5f - 0.0001f * i;
  std::vector<float> pc_alone = pc, bc_alone = bc;
  SgdSegment alone{pc_alone.data(), gc.data(), bc_alone.data(), big, true};
  kernels::cpu::sgd_update(&alone, 1, 0.1f, 0.9f, 0.1f);
  const std::vector<SgdSegment> segs = {{pa.data(), ga.data(), ba.data(), 2, false},
                                        {nullptr, nullptr, nullptr, 0, true},
                                        {pb.data(), ga.data(), bb.data(), 2, true},
                                        {pc.data(), gc.data(), bc.data(), big, true}};
  kernels::cpu::sgd_update(segs.data(), static_cast<int64_t>(segs.size()), 0.1f, 0.9f, 0.1f);
  check_vec(pa, kP2);
  check_vec(ba, kBuf2);
  check_vec(pb, kP1);
  check_vec(bb, kBuf1);
  CHECK(pc == pc_alone);
  CHECK(bc == bc_alone);
}

TEST_CASE("SGD class: momentum, weight decay, in-place update, state") {
  Tensor p = from_vector({1.f, -2.f}, {2});
  p.set_requires_grad(true);
  Tensor untouched = from_vector({5.f}, {1});
  untouched.set_requires_grad(true);
  Tensor alias = p;  // the update must land in the caller's storage
  SGD opt({p, untouched}, 0.1f, 0.9f, 0.1f);
  CHECK_FALSE(opt.momentum_buffers()[0].defined());
  p.set_grad(from_vector({0.5f, 1.f}, {2}));
  opt.step();
  check_vec(alias.to_vector(), kP1);
  check_vec(opt.momentum_buffers()[0].to_vector(), kBuf1);
  CHECK(untouched.to_vector() == std::vector<float>{5.f});  // no gradient: skipped
  CHECK_FALSE(opt.momentum_buffers()[1].defined());
  CHECK_FALSE(p.grad_fn());
  opt.step();
  check_vec(alias.to_vector(), kP2);
  check_vec(opt.momentum_buffers()[0].to_vector(), kBuf2);
  CHECK(opt.step_count() == 2);
  opt.zero_grad();
  CHECK_FALSE(p.grad().defined());
  opt.step();  // nothing to do without gradients
  check_vec(alias.to_vector(), kP2);
  opt.set_lr(0.5f);
  CHECK(opt.lr() == 0.5f);
}

TEST_CASE("SGD restores momentum buffers from a checkpoint") {
  Tensor p = from_vector({0.94f, -2.08f}, {2});
  p.set_requires_grad(true);
  SGD opt({p}, 0.1f, 0.9f, 0.1f);
  opt.momentum_buffers()[0] = from_vector({0.6f, 0.8f}, {2});
  opt.set_step_count(1);
  p.set_grad(from_vector({0.5f, 1.f}, {2}));
  opt.step();  // continues as the second step of the run above
  check_vec(p.to_vector(), kP2);
  CHECK(opt.step_count() == 2);
}

TEST_CASE("SGD without momentum and bad arguments") {
  Tensor p = from_vector({1.f, -2.f}, {2});
  p.set_requires_grad(true);
  SGD opt({p}, 0.1f);
  p.set_grad(from_vector({0.5f, 1.f}, {2}));
  opt.step();
  opt.step();
  check_vec(p.to_vector(), {0.9, -2.2});
  CHECK_FALSE(opt.momentum_buffers()[0].defined());
  CHECK_THROWS_AS(SGD({p}, -0.1f), Error);
  CHECK_THROWS_AS(SGD({p}, 0.1f, -1.f), Error);
  CHECK_THROWS_AS(SGD({from_int_vector({1}, {1})}, 0.1f), Error);
  CHECK_THROWS_AS(SGD({p, p}, 0.1f), Error);  // the same storage twice would be updated twice, in a race
  p.set_grad(from_vector({0.5f, 1.f, 2.f}, {3}));
  CHECK_THROWS_AS(opt.step(), Error);
}

TEST_CASE("MultiStepLR: lr = base * gamma^(milestones <= t)") {
  Tensor p = from_vector({1.f}, {1});
  SGD opt({p}, 0.1f, 0.9f);
  MultiStepLR sched(opt, {4, 2}, 0.1f);  // unsorted on purpose
  CHECK(sched.last_step() == 0);
  const std::vector<double> expect = {0.1, 0.01, 0.01, 0.001, 0.001, 0.001};  // after calls 1..6
  for (size_t t = 0; t < expect.size(); ++t) {
    sched.step();
    CAPTURE(t);
    CHECK(sched.last_step() == static_cast<int64_t>(t + 1));
    CHECK(opt.lr() == doctest::Approx(expect[t]).epsilon(1e-6));
  }
  sched.set_last_step(1);  // restoring a checkpoint
  CHECK(opt.lr() == doctest::Approx(0.1).epsilon(1e-6));
  MultiStepLR twice(opt, {3, 3}, 0.5f);  // repeated milestones count twice, as PyTorch's Counter
  for (int i = 0; i < 3; ++i) twice.step();
  CHECK(opt.lr() == doctest::Approx(0.025).epsilon(1e-6));
  CHECK_THROWS_AS(sched.set_last_step(-1), Error);
}
