// cuDNN graph-API convolution plans (kernels/conv_graph.h) on ConvNet-3's shapes and an odd strided one: every
// listed plan, in every direction, matches the CPU im2col oracle and repeats bit for bit; the graph API must
// offer plans for the ConvNet shapes; FP32-only lists hold no tensor-core engine. Skipped (exit 77) without a
// CUDA device or in builds without cuDNN.
#include <doctest/doctest.h>
#include <algorithm>
#include <cstdint>
#include <exception>
#include <limits>
#include <set>
#include <string>
#include <vector>
#include "engine/context.h"
#include "engine/tensor.h"
#include "kernels/conv.h"
#include "kernels/conv_graph.h"
#include "tests/unit/test_util.h"

using namespace yoco;

#ifdef YOCO_WITH_CUDNN
using kernels::ConvShape;
using kernels::cuda::ConvDirection;
using kernels::cuda::GraphConvPlan;
using test::contains;
using test::cuda_ready;
using test::random_tensor;
using test::rel_err;

namespace {

constexpr double kTol = 1e-5;               // the GPU suite's CUDA-vs-CPU bar (FP32 math)
constexpr size_t kMaxWs = size_t(1) << 30;  // kernels/conv.cu's workspace cap
constexpr int kMaxPlans = 8;
const ConvDirection kDirections[] = {ConvDirection::Forward, ConvDirection::BackwardInput,
                                     ConvDirection::BackwardWeight};

ConvShape conv_shape(int64_t n, int64_t c, int64_t h, int64_t w, int64_t k, int64_t r, int64_t stride, int64_t pad) {
  return ConvShape{n,      c,      h, w, k, r, r, kernels::conv_out_size(h, r, stride, pad),
                   kernels::conv_out_size(w, r, stride, pad), stride, pad, kernels::ConvAlgo::Im2col};
}

struct Case {
  const char* what;
  ConvShape cs;
  bool convnet;  // a shape ConvNet-3 runs: the graph API must offer plans for it
};

const std::vector<Case> kCases = {
    {"conv1 1x28x28 pad 3", conv_shape(256, 1, 28, 28, 128, 3, 1, 3), true},
    {"conv2 128x16x16", conv_shape(256, 128, 16, 16, 128, 3, 1, 1), true},
    {"conv1 3x32x32", conv_shape(64, 3, 32, 32, 128, 3, 1, 1), true},
    {"odd 2x13x11 stride 2", conv_shape(5, 2, 13, 11, 7, 3, 2, 0), false},
};

// A device copy of host floats starting `offset` floats into its allocation: offset 1 gives a pointer that is
// 4- but not 16-byte aligned (the caller's alignment-4 case).
class DeviceBuf {
 public:
  DeviceBuf(const std::vector<float>& host, int64_t offset) : offset_(offset) {
    std::vector<float> padded(host.size() + static_cast<size_t>(offset), 0.f);
    std::copy(host.begin(), host.end(), padded.begin() + offset);
    t_ = from_vector(padded, {static_cast<int64_t>(padded.size())}, Device::CUDA);
  }
  float* ptr() const { return t_.data<float>() + offset_; }
  std::vector<float> host() const {
    const std::vector<float> v = t_.to_vector();
    return std::vector<float>(v.begin() + offset_, v.end());
  }

 private:
  Tensor t_;
  int64_t offset_;
};

// Operands a, b and the CPU result for one direction (kernels::cpu::conv2d_*_im2col on the same inputs).
struct Problem {
  std::vector<float> a, b, want;
};

Problem make_problem(const ConvShape& cs, ConvDirection dir, uint64_t stream) {
  const std::vector<float> x = random_tensor({cs.n, cs.c, cs.h, cs.w}, stream).to_vector();
  const std::vector<float> w = random_tensor({cs.k, cs.c, cs.r, cs.s}, stream + 1, -0.2f, 0.2f).to_vector();
  const std::vector<float> dy = random_tensor({cs.n, cs.k, cs.oh, cs.ow}, stream + 2).to_vector();
  Problem p;
  switch (dir) {
    case ConvDirection::Forward:
      p.a = x, p.b = w, p.want.resize(dy.size());
      kernels::cpu::conv2d_forward_im2col(cs, x.data(), w.data(), nullptr, p.want.data());
      break;
    case ConvDirection::BackwardInput:
      p.a = dy, p.b = w, p.want.resize(x.size());
      kernels::cpu::conv2d_backward_input_im2col(cs, dy.data(), w.data(), p.want.data());
      break;
    case ConvDirection::BackwardWeight:
      p.a = x, p.b = dy, p.want.resize(w.size());
      kernels::cpu::conv2d_backward_weight_im2col(cs, x.data(), dy.data(), p.want.data());
      break;
  }
  return p;
}

cudnnHandle_t handle() { return kernels::cuda::cudnn_handle(Context::get().cuda_stream()); }

std::string listing(const std::vector<std::unique_ptr<GraphConvPlan>>& plans) {
  std::string s;
  for (const auto& p : plans) s += "\n  " + p->name() + ", workspace " + std::to_string(p->workspace_bytes());
  return s;
}

// Runs plan into a NaN-filled output (so an element it skips, or a beta=0 read of the old output, shows).
std::vector<float> run_plan(const GraphConvPlan& plan, const DeviceBuf& a, const DeviceBuf& b, size_t out_size,
                            int64_t offset) {
  DeviceBuf out(std::vector<float>(out_size, std::numeric_limits<float>::quiet_NaN()), offset);
  const int64_t ws_floats = static_cast<int64_t>((plan.workspace_bytes() + sizeof(float) - 1) / sizeof(float));
  Tensor ws = empty({ws_floats > 0 ? ws_floats : 1}, DType::F32, Device::CUDA);
  plan.run(handle(), a.ptr(), b.ptr(), out.ptr(), plan.workspace_bytes() > 0 ? ws.raw() : nullptr);
  return out.host();
}

// Every plan of one case and direction: matches the CPU and gives the same bits twice.
void check_direction(const Case& c, ConvDirection dir, int64_t alignment, int64_t offset, uint64_t stream) {
  CAPTURE(c.what);
  CAPTURE(kernels::cuda::direction_name(dir));
  CAPTURE(alignment);
  const Problem p = make_problem(c.cs, dir, stream);
  std::string why;
  const auto plans = kernels::cuda::graph_conv_plans(handle(), c.cs, dir, false, alignment, kMaxWs, kMaxPlans, &why);
  CAPTURE(why);
  MESSAGE(c.what, " ", kernels::cuda::direction_name(dir), ", alignment ", alignment, ": ", why, listing(plans));
  if (c.convnet) CHECK_MESSAGE(!plans.empty(), "the graph API offers no plan for a ConvNet shape");
  CHECK(plans.size() <= static_cast<size_t>(kMaxPlans));

  std::set<std::string> names;
  const DeviceBuf a(p.a, offset), b(p.b, offset);
  for (const auto& plan : plans) {
    CAPTURE(plan->name());
    CHECK(names.insert(plan->name()).second);  // duplicates were dropped
    CHECK(plan->name().rfind("engine " + std::to_string(plan->engine_id()), 0) == 0);
    CHECK(plan->workspace_bytes() <= kMaxWs);
    CHECK_FALSE(contains(plan->name(), "nondeterministic"));
    try {
      const std::vector<float> first = run_plan(*plan, a, b, p.want.size(), offset);
      CHECK(rel_err(first, p.want) <= kTol);
      CHECK(run_plan(*plan, a, b, p.want.size(), offset) == first);  // a deterministic engine repeats its bits
    } catch (const std::exception& e) {
      FAIL_CHECK("running the plan threw: ", e.what());
    }
  }
}

}  // namespace

TEST_CASE("graph-API convolution plans match the CPU and repeat bit for bit") {
  if (!cuda_ready()) return;
  uint64_t stream = 900000;
  for (const Case& c : kCases)
    for (ConvDirection dir : kDirections) {
      check_direction(c, dir, 16, 0, stream += 10);
      // The caller's fallback for pointers that are only float-aligned: plans built for 4-byte alignment.
      if (!c.convnet) check_direction(c, dir, 4, 1, stream += 10);
    }
}

TEST_CASE("FP32-only graph-API plan lists hold no tensor-core engine") {
  if (!cuda_ready()) return;
  const Case& c = kCases[1];
  CAPTURE(c.what);
  bool tf32_has_tensor_core = false;
  for (ConvDirection dir : kDirections) {
    CAPTURE(kernels::cuda::direction_name(dir));
    std::string why;
    const auto fp32 = kernels::cuda::graph_conv_plans(handle(), c.cs, dir, false, 16, kMaxWs, 64, &why);
    CAPTURE(why);
    CHECK(!fp32.empty());
    for (const auto& plan : fp32) {
      CAPTURE(plan->name());
      CHECK_FALSE(contains(plan->name(), "tensor_core"));
      CHECK_FALSE(contains(plan->name(), "down_convert"));
      CHECK_FALSE(contains(plan->name(), "reduced_precision"));
    }
    const auto tf32 = kernels::cuda::graph_conv_plans(handle(), c.cs, dir, true, 16, kMaxWs, 64, &why);
    MESSAGE(c.what, " ", kernels::cuda::direction_name(dir), " with TF32: ", why, listing(tf32));
    for (const auto& plan : tf32) {
      tf32_has_tensor_core |= contains(plan->name(), "tensor_core");
      // TF32 allows tensor cores, never inputs converted below TF32 or reductions in lower precision.
      CHECK_FALSE(contains(plan->name(), "down_convert"));
      CHECK_FALSE(contains(plan->name(), "reduced_precision"));
    }
  }
  // Proves the notes reach the names (else the checks above could not fail): on Ampere and later cuDNN has
  // TF32 tensor-core engines for FP32 convolutions, and allowing TF32 lists them.
  CHECK_MESSAGE(tf32_has_tensor_core, "no TF32 list names a tensor-core engine: notes missing from plan names?");
}

#else  // built without cuDNN: there is no graph API to test

TEST_CASE("graph-API convolution plans need cuDNN") { test::skip_suite("built without cuDNN"); }

#endif
