// The op table against LibTorch (forward, first and second order; float64 reference, float32 double-check), and the
// check of the table's own gather-based grid_sample reference against LibTorch's kernel.
#include <doctest/doctest.h>
#include "tests/ops/op_check.h"
#include "tests/ops/run_cases.h"
#include "tests/ops/torch_refs.h"
#include "tests/parity/parity_torch.h"

using namespace yoco;
using namespace yoco::ops_test;

TEST_CASE("op table: LibTorch parity, forward, first and second order") {
  CHECK(run_cases([](const OpCase& c) { check_torch(c, kTorch); }) > 0);
}

TEST_CASE("op table: the gather grid_sample reference equals LibTorch's kernel in float64") {
  namespace F = torch::nn::functional;
  parity::torch_setup();
  auto opts = F::GridSampleFuncOptions().mode(torch::kBilinear).padding_mode(torch::kZeros).align_corners(false);
  struct G {
    int64_t h, w, oh, ow;
  };
  uint64_t st = stream_of("grid_sample reference");
  for (G g : {G{9, 11, 9, 11}, G{32, 32, 32, 32}, G{8, 8, 12, 10}}) {
    // Random affine maps near the identity (some samples shifted partly outside: zero padding is exercised).
    std::vector<float> th;
    const std::vector<float> u = test::random_tensor({2, 5}, st++).to_vector();
    for (int i = 0; i < 2; ++i) {
      const float* p = &u[i * 5];
      const float a = 0.5f * p[0], sx = 1.f + 0.3f * p[1], sy = 1.f + 0.3f * p[2];
      th.insert(th.end(), {sx * std::cos(a), -sx * std::sin(a), 0.4f * p[3], sy * std::sin(a), sy * std::cos(a),
                           0.4f * p[4]});
    }
    const Tensor grid = affine_grid(from_vector(th, {2, 2, 3}), g.oh, g.ow);
    torch::Tensor x = parity::to_torch(test::random_tensor({2, 3, g.h, g.w}, st++), torch::kDouble).requires_grad_(true);
    torch::Tensor tg = parity::to_torch(grid, torch::kDouble);
    torch::Tensor r = parity::to_torch(test::random_tensor({2, 3, g.oh, g.ow}, st++), torch::kDouble);
    torch::Tensor ya = torch_ref::grid_sample(x, tg), yb = F::grid_sample(x, tg, opts);
    torch::Tensor ga = torch::autograd::grad({(ya * r).sum()}, {x})[0];
    torch::Tensor gb = torch::autograd::grad({(yb * r).sum()}, {x})[0];
    // Only rounding may differ in float64.
    CHECK((ya - yb).norm().item<double>() <= 1e-12 * yb.norm().item<double>());
    CHECK((ga - gb).norm().item<double>() <= 1e-12 * gb.norm().item<double>());
  }
}
