// Autograd core: grad()/backward() on small graphs with hand-computed first and second derivatives.
#include <doctest/doctest.h>
#include "engine/autograd.h"
#include "engine/context.h"
#include "engine/ops.h"
#include "tests/unit/test_util.h"

using namespace yoco;

TEST_CASE("grad of a polynomial, first and second order") {
  Tensor x = from_vector({1.f, 2.f, -3.f}, {3});
  x.set_requires_grad(true);
  Tensor y = sum(mul(mul(x, x), x));  // sum x^3
  auto g = grad({y}, {x}, {}, true);
  CHECK(g[0].to_vector() == std::vector<float>{3.f, 12.f, 27.f});
  auto gg = grad({sum(g[0])}, {x});  // d/dx sum 3x^2 = 6x
  CHECK(gg[0].to_vector() == std::vector<float>{6.f, 12.f, -18.f});
}

TEST_CASE("backward accumulates into leaves and broadcasting sums back") {
  Tensor a = from_vector({1.f, 2.f, 3.f, 4.f, 5.f, 6.f}, {2, 3});
  Tensor b = from_vector({10.f, 20.f, 30.f}, {1, 3});
  a.set_requires_grad(true);
  b.set_requires_grad(true);
  backward(sum(mul(a, b)));
  CHECK(a.grad().to_vector() == std::vector<float>{10.f, 20.f, 30.f, 10.f, 20.f, 30.f});
  CHECK(b.grad().to_vector() == std::vector<float>{5.f, 7.f, 9.f});
  backward(sum(mul(a, b)));
  CHECK(b.grad().to_vector() == std::vector<float>{10.f, 14.f, 18.f});
}

TEST_CASE("no-grad scope records nothing; unused inputs are reported") {
  Tensor x = from_vector({1.f, 2.f}, {2});
  x.set_requires_grad(true);
  {
    NoGradGuard ng;
    Tensor y = mul(x, x);
    CHECK_FALSE(y.requires_grad());
  }
  Tensor z = from_vector({1.f}, {1});
  z.set_requires_grad(true);
  Tensor y = sum(x);
  CHECK_THROWS_AS(grad({y}, {z}), Error);
  auto g = grad({y}, {z}, {}, false, true);
  CHECK(g[0].to_vector() == std::vector<float>{0.f});
}

TEST_CASE("matmul gradients with transposes") {
  Tensor a = from_vector({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = from_vector({1, 0, 2, 1, 0, 3}, {3, 2});
  a.set_requires_grad(true);
  b.set_requires_grad(true);
  Tensor c = matmul(a, b);
  CHECK(c.to_vector() == std::vector<float>{5, 11, 14, 23});
  auto g = grad({sum(c)}, {a, b});
  CHECK(g[0].to_vector() == std::vector<float>{1, 3, 3, 1, 3, 3});
  CHECK(g[1].to_vector() == std::vector<float>{5, 5, 7, 7, 9, 9});
  Tensor ct = matmul(b, a, true, true);  // (a b)^T
  CHECK(ct.to_vector() == std::vector<float>{5, 14, 11, 23});
}

TEST_CASE("shape ops: slice, concat, index_select, transpose, flip and their adjoints") {
  Tensor a = from_vector({0, 1, 2, 3, 4, 5}, {2, 3});
  a.set_requires_grad(true);
  Tensor s = slice(a, 1, 1, 3);
  CHECK(s.to_vector() == std::vector<float>{1, 2, 4, 5});
  Tensor c = concat({a, s}, 1);
  CHECK(c.shape() == Shape{2, 5});
  CHECK(c.to_vector() == std::vector<float>{0, 1, 2, 1, 2, 3, 4, 5, 4, 5});
  auto g = grad({sum(c)}, {a});
  CHECK(g[0].to_vector() == std::vector<float>{1, 2, 2, 1, 2, 2});
  Tensor idx = from_int_vector({2, 0, 2}, {3});
  Tensor sel = index_select(a, 1, idx);
  CHECK(sel.to_vector() == std::vector<float>{2, 0, 2, 5, 3, 5});
  auto gs = grad({sum(sel)}, {a});
  CHECK(gs[0].to_vector() == std::vector<float>{1, 0, 2, 1, 0, 2});
  CHECK(transpose(a, 0, 1).to_vector() == std::vector<float>{0, 3, 1, 4, 2, 5});
  CHECK(flip(a, 1).to_vector() == std::vector<float>{2, 1, 0, 5, 4, 3});
  CHECK_THROWS_AS(slice(a, 1, 2, 4), Error);
}

TEST_CASE("reductions over dims, keepdim and mean") {
  Tensor a = from_vector({1, 2, 3, 4, 5, 6, 7, 8}, {2, 2, 2});
  CHECK(sum(a, {0, 2}).to_vector() == std::vector<float>{1 + 2 + 5 + 6, 3 + 4 + 7 + 8});
  CHECK(mean(a, {1}, true).shape() == Shape{2, 1, 2});
  CHECK(mean(a).item() == doctest::Approx(4.5));
  Tensor big = full({3, 70000}, 0.5f);
  CHECK(sum(big, {1}).to_vector() == std::vector<float>{35000.f, 35000.f, 35000.f});
}

TEST_CASE("philox streams are reproducible and independent") {
  Tensor u1 = rand_uniform({1000}, 7, 1, 0), u2 = rand_uniform({1000}, 7, 1, 0), u3 = rand_uniform({1000}, 7, 2, 0);
  CHECK(u1.to_vector() == u2.to_vector());
  CHECK(u1.to_vector() != u3.to_vector());
  Tensor tail = rand_uniform({500}, 7, 1, 500);
  auto v1 = u1.to_vector(), vt = tail.to_vector();
  CHECK(std::vector<float>(v1.begin() + 500, v1.end()) == vt);
  double m = mean(u1).item();
  CHECK(m > 0.45);
  CHECK(m < 0.55);
  Tensor n = rand_normal({20000}, 3, 0, 0);
  CHECK(std::abs(mean(n).item()) < 0.03);
  CHECK(mean(mul(n, n)).item() == doctest::Approx(1.0).epsilon(0.05));
}
