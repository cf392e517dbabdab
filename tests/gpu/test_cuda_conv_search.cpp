// CUDA convolutions under both algorithm searches (cuDNN's heuristic pick; timing of cuDNN's deterministic legacy
// and graph-API candidates and our direct kernels), and with the legacy API alone, on ConvNet-3's shapes: each
// direction matches the CPU oracle, repeats bit for bit, and the plan report says how each was chosen. Skipped
// (exit 77) without a CUDA device.
#include <doctest/doctest.h>
#include <string>
#include <vector>
#include "engine/context.h"
#include "engine/ops.h"
#include "tests/unit/test_util.h"

using namespace yoco;
using test::contains;
using test::cuda_ready;
using test::random_tensor;
using test::rel_err;

namespace {

constexpr double kTol = 1e-5;  // the GPU suite's CUDA-vs-CPU bar (TF32 off)

struct ConvCase {
  const char* what;
  Shape x, w;
  Conv2dArgs args;
};

// ConvNet-3's convolutions: train and matching batches, 1x28x28 (first conv pad 3) and 3x32x32.
const std::vector<ConvCase> kCases = {
    {"train28 conv1", {256, 1, 28, 28}, {128, 1, 3, 3}, {1, 3}},
    {"train28 conv2", {256, 128, 16, 16}, {128, 128, 3, 3}, {1, 1}},
    {"train32 conv1", {256, 3, 32, 32}, {128, 3, 3, 3}, {1, 1}},
    {"match28 syn conv1", {40, 1, 28, 28}, {128, 1, 3, 3}, {1, 3}},
    {"match28 conv3", {64, 128, 8, 8}, {128, 128, 3, 3}, {1, 1}},
};

// Forward (with bias), backward input and backward weight on CUDA against the CPU, twice for reproducibility.
void check_case(const ConvCase& c, uint64_t stream) {
  CAPTURE(c.what);
  const Tensor x = random_tensor(c.x, stream), w = random_tensor(c.w, stream + 1, -0.2f, 0.2f);
  const Tensor b = random_tensor({c.w[0]}, stream + 2);
  const Tensor y = conv2d(x, w, b, c.args);
  const Tensor g = random_tensor(y.shape(), stream + 3);
  const Tensor gx = conv2d_backward_input(g, w, x.shape(), c.args);
  const Tensor gw = conv2d_backward_weight(x, g, w.shape(), c.args);

  const Tensor xd = x.to(Device::CUDA), wd = w.to(Device::CUDA), bd = b.to(Device::CUDA), gd = g.to(Device::CUDA);
  for (int run = 0; run < 2; ++run) {
    CAPTURE(run);
    const Tensor yd = conv2d(xd, wd, bd, c.args);
    const Tensor gxd = conv2d_backward_input(gd, wd, x.shape(), c.args);
    const Tensor gwd = conv2d_backward_weight(xd, gd, w.shape(), c.args);
    CHECK(rel_err(yd.to(Device::CPU), y) <= kTol);
    CHECK(rel_err(gxd.to(Device::CPU), gx) <= kTol);
    CHECK(rel_err(gwd.to(Device::CPU), gw) <= kTol);
    if (run == 1) continue;
    // The plan is fixed after the first call, so a second call gives the same bits.
    CHECK(conv2d(xd, wd, bd, c.args).to_vector() == yd.to_vector());
    CHECK(conv2d_backward_input(gd, wd, x.shape(), c.args).to_vector() == gxd.to_vector());
    CHECK(conv2d_backward_weight(xd, gd, w.shape(), c.args).to_vector() == gwd.to_vector());
  }
}

// Restores the context's search mode when a test case ends, even on a failed check.
struct SearchGuard {
  kernels::ConvSearch saved = Context::get().conv_search;
  explicit SearchGuard(kernels::ConvSearch s) { Context::get().conv_search = s; }
  ~SearchGuard() { Context::get().conv_search = saved; }
};

// Restores the context's cuDNN API choice likewise.
struct ApiGuard {
  bool saved = Context::get().cudnn_graph_api;
  explicit ApiGuard(bool graph_api) { Context::get().cudnn_graph_api = graph_api; }
  ~ApiGuard() { Context::get().cudnn_graph_api = saved; }
};

}  // namespace

TEST_CASE("CUDA convolutions with cuDNN's heuristic choice match the CPU") {
  if (!cuda_ready()) return;
  SearchGuard guard(kernels::ConvSearch::Heuristic);
  uint64_t stream = 100;
  for (const ConvCase& c : kCases) check_case(c, stream += 10);
  const std::string report = Context::get().conv_plan_report();
  CAPTURE(report);
  CHECK(contains(report, "conv 256x1x28x28 -> 128 ch, 3x3, pad 3, stride 1 (heuristic search):"));
  // No chosen plan failed its trial run. Whether the graph API offers a plan for every shape is
  // gpu_test_cuda_conv_graph's check; here a legacy fallback is correct behaviour, so it is only reported.
  CHECK_FALSE(contains(report, "failed"));
  CHECK(contains(report, "forward:         graph API engine"));
  const std::string fallback = "some convolutions fell back to the legacy API:\n" + report;
  WARN_MESSAGE(!contains(report, "legacy"), fallback);
}

TEST_CASE("CUDA convolutions with measured algorithm choice match the CPU and report their timings") {
  if (!cuda_ready()) return;
  SearchGuard guard(kernels::ConvSearch::Measured);
  uint64_t stream = 200;
  for (const ConvCase& c : kCases) check_case(c, stream += 10);
  const std::string report = Context::get().conv_plan_report();
  CAPTURE(report);
  // One shape's block of the report: its header line and three direction lines.
  auto block = [&](const std::string& head) {
    const size_t at = report.find(head);
    REQUIRE(at != std::string::npos);
    return report.substr(at, report.find("conv ", at + 1) - at);
  };
  // Every direction was timed; the few-channel first layer also timed our direct kernels, the 128-channel
  // layer does not offer them.
  const std::string first = block("conv 256x1x28x28 -> 128 ch, 3x3, pad 3, stride 1 (measured search");
  CHECK(contains(first, "measured: "));
  CHECK(contains(first, "yoco direct"));
  CHECK_FALSE(contains(first, "not used yet"));
  CHECK_FALSE(contains(first, "(heuristic"));
  const std::string wide = block("conv 256x128x16x16 -> 128 ch, 3x3, pad 1, stride 1 (measured search");
  CHECK(contains(wide, "measured: "));
  CHECK(contains(wide, "; graph API engine"));  // graph-API plans were timed too
  CHECK_FALSE(contains(wide, "yoco direct"));
  CHECK_FALSE(contains(report, "failed"));
}

TEST_CASE("with the graph API switched off (YOCO_CUDNN_API=legacy) convolutions take the legacy API and match the CPU") {
  if (!cuda_ready()) return;
  SearchGuard guard(kernels::ConvSearch::Heuristic);
  ApiGuard api(false);
  uint64_t stream = 300;
  for (const ConvCase& c : kCases) check_case(c, stream += 10);
  const std::string report = Context::get().conv_plan_report();
  CAPTURE(report);
  const std::string head = "conv 256x128x16x16 -> 128 ch, 3x3, pad 1, stride 1 (heuristic search, legacy API only):";
  const size_t at = report.find(head);
  REQUIRE(at != std::string::npos);
  const std::string block = report.substr(at, report.find("conv ", at + 1) - at);
  CHECK(contains(block, "off (YOCO_CUDNN_API=legacy)"));
  CHECK_FALSE(contains(block, "graph API engine"));
}
