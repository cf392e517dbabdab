// Edge cases of the normalisation and pooling kernels against PyTorch float32 values pasted below: channel planes
// whose values are all equal (variance 0) and 2x2 pools over odd sizes.
#include <doctest/doctest.h>
#include <cmath>
#include <vector>
#include "engine/autograd.h"
#include "engine/ops.h"
#include "models/convnet.h"
#include "tests/unit/test_util.h"

using namespace yoco;

namespace {

// Values of the pattern ((i * mul) % mod - off) / div, exact in float (the Python side builds the same).
std::vector<float> pattern(int64_t n, int64_t mul = 37, int64_t mod = 23, int64_t off = 11, float div = 8.f) {
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[i] = static_cast<float>((i * mul) % mod - off) / div;
  return v;
}

// |got - want| <= tol · (1 + |want|) everywhere: float32 against float32, through sums of a few dozen terms.
void check_close(const Tensor& got, const std::vector<float>& want, float tol, const char* what) {
  const std::vector<float> g = got.to_vector();
  REQUIRE(g.size() == want.size());
  for (size_t i = 0; i < g.size(); ++i) {
    INFO(what, "[", i, "] = ", g[i], ", PyTorch ", want[i]);
    CHECK(std::fabs(g[i] - want[i]) <= tol * (1.f + std::fabs(want[i])));
  }
}

// Constant planes: group norm gives y = beta and the same gradients for every value of the constant (adding a
// constant to a group changes neither), so PyTorch's numbers are taken on planes of zeros, where its own mean is
// exact. On other constants PyTorch's mean is off by an ulp too (0.7 and 0.1 + 0.05 in float32 and even in
// float64), and its relu then passes gradients of ±60..300 that exact arithmetic gives as 0.
//
// import torch, torch.nn.functional as F
// x = torch.zeros(1, 4, 3, 5, requires_grad=True); gamma = [1.5, 0.5, 2.0, 0.75]; beta = [0.0, 0.2, -0.1, 0.0]
// y = F.relu(F.group_norm(x, 4, gamma, beta, 1e-5)); g = pattern(60) as [1, 4, 3, 5]
// dx, dgamma, dbeta = torch.autograd.grad(y, [x, gamma, beta], g)
// and for the fused tail: x = torch.zeros(1, 2, 4, 4), input bias b = 0, gamma = [1.5, 0.5], beta = [0.0, 0.2],
// y = F.avg_pool2d(F.relu(F.group_norm(x + b.view(1, 2, 1, 1), 2, gamma, beta, 1e-5)), 2),
// g = pattern(8, 5, 7, 3, 4.0) as [1, 2, 2, 2].
const std::vector<float> kConstA_dx = {  // [1, 4, 3, 5]
    0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, -148.890579f, 127.808731f,
    -50.069397f, 226.629913f, 48.7517853f, -129.126343f, 147.572968f, -30.3051624f, -208.183289f, 68.5160217f,
    -109.362106f, 167.337204f, -10.540926f, -188.419052f, 88.2802582f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f,
    0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f};
const std::vector<float> kConstA_dgamma = {  // [4]
    0.f, 0.f, 0.f, 0.f};
const std::vector<float> kConstA_dbeta = {  // [4]
    0.f, -0.875f, 0.f, 0.f};
const std::vector<float> kConstB_dx = {  // [1, 2, 4, 4]
    0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 29.6463547f, 29.6463547f,
    9.88211823f, 9.88211823f, 29.6463547f, 29.6463547f, 9.88211823f, 9.88211823f, -9.88211823f, -9.88211823f,
    -29.6463547f, -29.6463547f, -9.88211823f, -9.88211823f, -29.6463547f, -29.6463547f};
const std::vector<float> kConstB_dgamma = {  // [2]
    0.f, 0.f};
const std::vector<float> kConstB_dbeta = {  // [2]
    0.f, 0.f};
const std::vector<float> kConstB_dbias = {  // [2]
    0.f, 0.f};

// Planes of 0.1, -2.3, 1000.3 and 0.7 (channels 0..3): float sums of these are not exact.
Tensor constant_planes(const std::vector<float>& values, int64_t h, int64_t w) {
  const int64_t c = static_cast<int64_t>(values.size());
  std::vector<float> v(static_cast<size_t>(c * h * w));
  for (int64_t i = 0; i < c * h * w; ++i) v[i] = values[i / (h * w)];
  return from_vector(v, {1, c, h, w});
}

}  // namespace

TEST_CASE("group norm normalises a constant plane to exactly 0, and relu's gradient then matches PyTorch's") {
  Tensor x = test::leaf(constant_planes({0.1f, -2.3f, 1000.3f, 0.7f}, 3, 5));
  Tensor gamma = test::leaf(from_vector({1.5f, 0.5f, 2.f, 0.75f}, {4}));
  Tensor beta = test::leaf(from_vector({0.f, 0.2f, -0.1f, 0.f}, {4}));
  Tensor xhat = group_norm(x, 4, Tensor(), Tensor(), 1e-5f);
  for (float v : xhat.to_vector()) CHECK(v == 0.f);
  Tensor y = relu(group_norm(x, 4, gamma, beta, 1e-5f));
  const std::vector<float> yv = y.to_vector();
  for (size_t i = 0; i < yv.size(); ++i) CHECK(yv[i] == std::vector<float>{0.f, 0.2f, 0.f, 0.f}[i / 15]);
  auto g = grad({y}, {x, gamma, beta}, {from_vector(pattern(60), {1, 4, 3, 5})});
  check_close(g[0], kConstA_dx, 1e-5f, "dx");
  check_close(g[1], kConstA_dgamma, 1e-5f, "dgamma");
  check_close(g[2], kConstA_dbeta, 1e-5f, "dbeta");
}

TEST_CASE("the fused norm-relu-pool tail on constant planes (with the input bias) matches PyTorch's gradients") {
  Tensor x = test::leaf(constant_planes({0.1f, 0.7f}, 4, 4));
  Tensor bias = test::leaf(from_vector({0.05f, -0.01f}, {2}));
  Tensor gamma = test::leaf(from_vector({1.5f, 0.5f}, {2}));
  Tensor beta = test::leaf(from_vector({0.f, 0.2f}, {2}));
  Tensor y = group_norm_relu_pool(x, 2, gamma, beta, 1e-5f, bias);
  CHECK(y.to_vector() == std::vector<float>{0.f, 0.f, 0.f, 0.f, 0.2f, 0.2f, 0.2f, 0.2f});
  auto g = grad({y}, {x, gamma, beta, bias}, {from_vector(pattern(8, 5, 7, 3, 4.f), {1, 2, 2, 2})});
  check_close(g[0], kConstB_dx, 1e-5f, "dx");
  check_close(g[1], kConstB_dgamma, 1e-5f, "dgamma");
  check_close(g[2], kConstB_dbeta, 1e-5f, "dbeta");
  check_close(g[3], kConstB_dbias, 1e-5f, "dbias");
  // The recorded (create_graph) backward: composite ops, relu's mask from the fused forward's values.
  auto gc = grad({group_norm_relu_pool(x, 2, gamma, beta, 1e-5f, bias)}, {x, gamma, beta, bias},
                 {from_vector(pattern(8, 5, 7, 3, 4.f), {1, 2, 2, 2})}, true);
  check_close(gc[0], kConstB_dx, 1e-5f, "dx (composite)");
  check_close(gc[3], kConstB_dbias, 1e-5f, "dbias (composite)");
}

// Odd sizes: PyTorch's avg_pool2d(kernel 2, stride 2) floors, ignoring an odd plane's last row and column (they
// get zero gradient from the pool). Inputs pattern(2·h·w) as [1, 2, h, w], gradients pattern(n, 5, 7, 3, 4.0):
//   y = F.avg_pool2d(x, 2); dx, = torch.autograd.grad(y, [x], g)
// and the fused tail on 5x7 (one group of both channels, statistics over the whole planes):
//   x = pattern(70) as [1, 2, 5, 7], b = [0.25, -0.5], gamma = [1.25, 0.75], beta = [0.125, -0.0625],
//   y = F.avg_pool2d(F.relu(F.group_norm(x + b.view(1, 2, 1, 1), 1, gamma, beta, 1e-5)), 2)
namespace {
const std::vector<float> kPool7x7_y = {  // [1, 2, 3, 3]
    -0.125f, -0.21875f, -0.3125f, -0.0625f, -0.15625f, 0.46875f, 0.f, -0.09375f, -0.1875f, 0.09375f, 0.f, -0.09375f,
    0.15625f, 0.0625f, -0.03125f, 0.21875f, 0.125f, 0.03125f};
const std::vector<float> kPool7x7_dx = {  // [1, 2, 7, 7]
    -0.1875f, -0.1875f, 0.125f, 0.125f, 0.f, 0.f, 0.f, -0.1875f, -0.1875f, 0.125f, 0.125f, 0.f, 0.f, 0.f, -0.125f,
    -0.125f, 0.1875f, 0.1875f, 0.0625f, 0.0625f, 0.f, -0.125f, -0.125f, 0.1875f, 0.1875f, 0.0625f, 0.0625f, 0.f,
    -0.0625f, -0.0625f, -0.1875f, -0.1875f, 0.125f, 0.125f, 0.f, -0.0625f, -0.0625f, -0.1875f, -0.1875f, 0.125f,
    0.125f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, -0.125f, -0.125f, 0.1875f, 0.1875f, 0.f, 0.f, 0.f,
    -0.125f, -0.125f, 0.1875f, 0.1875f, 0.f, 0.0625f, 0.0625f, -0.0625f, -0.0625f, -0.1875f, -0.1875f, 0.f, 0.0625f,
    0.0625f, -0.0625f, -0.0625f, -0.1875f, -0.1875f, 0.f, 0.125f, 0.125f, 0.f, 0.f, -0.125f, -0.125f, 0.f, 0.125f,
    0.125f, 0.f, 0.f, -0.125f, -0.125f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f};
const std::vector<float> kPool5x6_y = {  // [1, 2, 2, 3]
    -0.28125f, 0.34375f, -0.46875f, 0.59375f, -0.21875f, -0.3125f, 0.46875f, -0.34375f, 0.28125f, -0.09375f,
    -0.1875f, -0.28125f};
const std::vector<float> kPool5x6_dx = {  // [1, 2, 5, 6]
    -0.1875f, -0.1875f, 0.125f, 0.125f, 0.f, 0.f, -0.1875f, -0.1875f, 0.125f, 0.125f, 0.f, 0.f, -0.125f, -0.125f,
    0.1875f, 0.1875f, 0.0625f, 0.0625f, -0.125f, -0.125f, 0.1875f, 0.1875f, 0.0625f, 0.0625f, 0.f, 0.f, 0.f, 0.f,
    0.f, 0.f, -0.0625f, -0.0625f, -0.1875f, -0.1875f, 0.125f, 0.125f, -0.0625f, -0.0625f, -0.1875f, -0.1875f,
    0.125f, 0.125f, 0.f, 0.f, -0.125f, -0.125f, 0.1875f, 0.1875f, 0.f, 0.f, -0.125f, -0.125f, 0.1875f, 0.1875f, 0.f,
    0.f, 0.f, 0.f, 0.f, 0.f};
const std::vector<float> kFused5x7_y = {  // [1, 2, 2, 3]
    0.850204349f, 0.678162813f, 0.506121337f, 0.759181976f, 0.759181976f, 1.40433764f, 0.16907385f, 0.091655165f,
    0.0658489466f, 0.157504112f, 0.183310345f, 0.143267617f};
const std::vector<float> kFused5x7_dx = {  // [1, 2, 5, 7]
    -0.000376542564f, -0.262592584f, -0.00186003686f, 0.166027695f, -0.00334353116f, -0.000673241448f,
    -0.00482702535f, -0.00215673586f, -0.264372796f, 0.168401286f, -0.000969940331f, -0.00512372423f,
    -0.00245343451f, -0.00660721865f, -0.175978422f, -0.00126663921f, 0.252641827f, 0.255312115f, 0.0791168362f,
    0.0817871243f, -0.00156333798f, -0.177758619f, -0.175088331f, -0.000376542564f, 0.253531933f, -0.00186003686f,
    0.0800069347f, -0.00334353116f, -0.000673241448f, -0.00482702535f, -0.00215673586f, -0.00631051976f,
    -0.00364023005f, -0.000969940331f, -0.00512372423f, -0.000673241448f, -0.056439478f, -0.00215673586f,
    0.000513553852f, 0.0995846763f, -0.000969940331f, -0.00512372423f, -0.00245343451f, 0.000216855202f,
    -0.158774272f, -0.00126663921f, 0.0014036505f, -0.0027501334f, -7.98436813e-05f, -0.00423362758f,
    -0.00156333798f, 0.00110695162f, -0.106271736f, -0.000376542564f, 0.150307029f, -0.00186003686f,
    0.000810252735f, -0.00334353116f, -0.000673241448f, -0.108051926f, -0.00215673586f, 0.000513553852f,
    -0.00364023005f, -0.000969940331f, -0.00512372423f, -0.00245343451f, 0.000216855202f, -0.0039369287f,
    -0.00126663921f, 0.0014036505f};
const std::vector<float> kFused5x7_dgamma = {  // [2]
    0.168846443f, -0.0986780971f};
const std::vector<float> kFused5x7_dbeta = {  // [2]
    0.25f, -0.1875f};
const std::vector<float> kFused5x7_dbias = {  // [2]
    0.22053206f, -0.22053206f};
}  // namespace

TEST_CASE("2x2 average pooling floors odd sizes like PyTorch, forward and backward") {
  struct Case {
    int64_t h, w;
    const std::vector<float>& y;
    const std::vector<float>& dx;
  };
  for (const Case& t : {Case{7, 7, kPool7x7_y, kPool7x7_dx}, Case{5, 6, kPool5x6_y, kPool5x6_dx}}) {
    CAPTURE(t.h);
    CAPTURE(t.w);
    Tensor x = test::leaf(from_vector(pattern(2 * t.h * t.w), {1, 2, t.h, t.w}));
    Tensor y = avg_pool2x2(x);
    REQUIRE(y.shape() == Shape{1, 2, t.h / 2, t.w / 2});
    CHECK(y.to_vector() == t.y);  // dyadic values: exact on both sides
    auto g = grad({y}, {x}, {from_vector(pattern(y.numel(), 5, 7, 3, 4.f), y.shape())});
    CHECK(g[0].to_vector() == t.dx);
  }
  CHECK(test::contains(test::error_of([] { avg_pool2x2(zeros({1, 1, 1, 4})); }), "at least 2"));
}

TEST_CASE("the fused norm-relu-pool tail floors odd sizes like PyTorch, with statistics over the whole plane") {
  Tensor x = test::leaf(from_vector(pattern(70), {1, 2, 5, 7}));
  Tensor bias = test::leaf(from_vector({0.25f, -0.5f}, {2}));
  Tensor gamma = test::leaf(from_vector({1.25f, 0.75f}, {2}));
  Tensor beta = test::leaf(from_vector({0.125f, -0.0625f}, {2}));
  Tensor y = group_norm_relu_pool(x, 1, gamma, beta, 1e-5f, bias);
  REQUIRE(y.shape() == Shape{1, 2, 2, 3});
  check_close(y, kFused5x7_y, 1e-6f, "y");
  const Tensor gy = from_vector(pattern(12, 5, 7, 3, 4.f), {1, 2, 2, 3});
  auto g = grad({y}, {x, gamma, beta, bias}, {gy});  // the fused kernel
  check_close(g[0], kFused5x7_dx, 1e-5f, "dx");
  check_close(g[1], kFused5x7_dgamma, 1e-5f, "dgamma");
  check_close(g[2], kFused5x7_dbeta, 1e-5f, "dbeta");
  check_close(g[3], kFused5x7_dbias, 1e-5f, "dbias");
  auto gc = grad({group_norm_relu_pool(x, 1, gamma, beta, 1e-5f, bias)}, {x, gamma, beta, bias}, {gy}, true);
  check_close(gc[0], kFused5x7_dx, 1e-5f, "dx (composite, create_graph)");
  check_close(gc[3], kFused5x7_dbias, 1e-5f, "dbias (composite, create_graph)");
}

TEST_CASE("ConvNet on 3x28x28 inputs pools 28 -> 14 -> 7 -> 3, both norm paths") {
  for (NormKind norm : {NormKind::Instance, NormKind::Batch}) {
    ConvNetConfig cfg;
    cfg.channels = 3;
    cfg.image_size = 28;
    cfg.width = 8;
    cfg.norm = norm;
    ConvNet net(cfg, 1);
    CHECK(net.feature_dim() == 8 * 3 * 3);
    Tensor logits = net.forward(test::random_tensor({2, 3, 28, 28}, 181));
    CHECK(logits.shape() == Shape{2, 10});
    auto g = grad({sum(logits)}, net.parameters());
    CHECK(g.size() == net.parameters().size());
  }
}
