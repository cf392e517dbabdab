// Backward functions are told whether grad() records them (create_graph), so an op can choose between a fused
// kernel and a differentiable composite without reading global grad mode.
#include <doctest/doctest.h>
#include <vector>
#include "engine/autograd.h"
#include "engine/context.h"
#include "engine/ops.h"
#include "tests/unit/test_util.h"

using namespace yoco;

namespace {

// y = 2 x, whose backward writes down the create_graph flag it was called with.
Tensor doubled_spy(const Tensor& x, std::vector<bool>* seen) {
  Tensor y;
  {
    NoGradGuard no_grad;
    y = mul_scalar(x, 2.f);
  }
  return record(y, "doubled_spy", {x}, [seen](const Tensor& g, const std::vector<bool>&, bool create_graph) {
    seen->push_back(create_graph);
    return std::vector<Tensor>{mul_scalar(g, 2.f)};
  });
}

}  // namespace

TEST_CASE("backward functions receive grad()'s create_graph; backward() passes false") {
  Tensor x = test::leaf(from_vector({1.f, -2.f, 3.f}, {3}));
  std::vector<bool> seen;
  grad({sum(doubled_spy(x, &seen))}, {x}, {}, false);
  grad({sum(doubled_spy(x, &seen))}, {x}, {}, true);
  backward(sum(doubled_spy(x, &seen)));
  CHECK(seen == std::vector<bool>{false, true, false});
}

TEST_CASE("fused group norm: first order by the fused kernel, second order by the composite, same gradients") {
  Tensor x = test::leaf(test::random_tensor({2, 4, 3, 5}, 161));
  Tensor gamma = test::leaf(test::random_tensor({4}, 162, 0.5f, 1.5f));
  Tensor beta = test::leaf(test::random_tensor({4}, 163));
  Tensor w = test::random_tensor({2, 4, 3, 5}, 164);
  auto loss = [&] { return sum(mul(group_norm(x, 2, gamma, beta, 1e-5f), w)); };
  auto fused = grad({loss()}, {x, gamma, beta}, {}, false);
  auto composite = grad({loss()}, {x, gamma, beta}, {}, true);
  for (int i = 0; i < 3; ++i) {
    CHECK_FALSE(fused[i].requires_grad());
    if (i < 2) CHECK(composite[i].requires_grad());  // recorded (dbeta = sum(w) is a constant)
    CHECK(test::rel_err(fused[i], composite[i]) < 1e-5);
  }
}
