// LibTorch parity of the elementwise, reduction, shape, linear-algebra, softmax/loss, resampling, shift and
// DSA colour ops (forward, first- and second-order gradients on fresh random inputs).
#include <doctest/doctest.h>
#include <torch/torch.h>
#include "engine/per_sample.h"
#include "tests/parity/parity_torch.h"

using namespace yoco;
using namespace yoco::parity;
namespace F = torch::nn::functional;
using TV = std::vector<torch::Tensor>;
using YV = std::vector<Tensor>;

namespace {

std::string shp(const Shape& s) { return shape_str(s); }

// A case on the given inputs, all differentiated.
Case make(const std::string& name, YV inputs, OurFn ours, TheirFn theirs) {
  std::vector<bool> diff;
  for (const Tensor& t : inputs) diff.push_back(t.dtype() == DType::F32);
  return Case{name, std::move(inputs), diff, std::move(ours), std::move(theirs)};
}

void binary_cases(const Shape& sa, const Shape& sb) {
  const std::string tag = shp(sa) + "," + shp(sb);
  auto in = [&](const char* op, float blo, float bhi) {
    const uint64_t s = stream_of(std::string(op) + tag);
    return YV{rnd(sa, s), rnd(sb, s + 1, blo, bhi)};
  };
  check_case(make("add " + tag, in("add", -1, 1), [](const YV& x) { return add(x[0], x[1]); },
                  [](const TV& x) { return x[0] + x[1]; }));
  check_case(make("sub " + tag, in("sub", -1, 1), [](const YV& x) { return sub(x[0], x[1]); },
                  [](const TV& x) { return x[0] - x[1]; }));
  check_case(make("mul " + tag, in("mul", -1, 1), [](const YV& x) { return mul(x[0], x[1]); },
                  [](const TV& x) { return x[0] * x[1]; }));
  // Denominators kept in [0.5, 1.5]: away from the pole.
  check_case(make("div " + tag, in("div", 0.5f, 1.5f), [](const YV& x) { return div(x[0], x[1]); },
                  [](const TV& x) { return x[0] / x[1]; }));
}

void unary_case(const std::string& name, float lo, float hi, const std::function<Tensor(const Tensor&)>& ours,
                const std::function<torch::Tensor(const torch::Tensor&)>& theirs) {
  const Shape s{2, 3, 4, 5};
  check_case(make(name, {rnd(s, stream_of(name), lo, hi)}, [ours](const YV& x) { return ours(x[0]); },
                  [theirs](const TV& x) { return theirs(x[0]); }));
}

void reduce_case(const std::vector<int64_t>& dims, bool keepdim) {
  const Shape s{3, 4, 5, 6};
  std::string tag = "[";
  for (int64_t d : dims) tag += std::to_string(d) + " ";
  tag += keepdim ? "] keep" : "]";
  check_case(make("sum dims " + tag, {rnd(s, stream_of("sum" + tag))},
                  [=](const YV& x) { return sum(x[0], dims, keepdim); },
                  [=](const TV& x) { return x[0].sum(dims, keepdim); }));
  check_case(make("mean dims " + tag, {rnd(s, stream_of("mean" + tag))},
                  [=](const YV& x) { return mean(x[0], dims, keepdim); },
                  [=](const TV& x) { return x[0].mean(dims, keepdim); }));
}

}  // namespace

TEST_CASE("parity: elementwise binary ops with broadcasting") {
  binary_cases({2, 3, 4, 5}, {2, 3, 4, 5});
  binary_cases({2, 3, 4, 5}, {1, 3, 1, 1});
  binary_cases({2, 3, 4, 5}, {2, 1, 1, 1});
  binary_cases({1, 3, 1, 1}, {2, 3, 4, 5});
  binary_cases({4, 5}, {5});
}

TEST_CASE("parity: scalar and unary ops") {
  unary_case("add_scalar", -1, 1, [](const Tensor& a) { return add_scalar(a, 0.7f); },
             [](const torch::Tensor& a) { return a + 0.7; });
  unary_case("mul_scalar", -1, 1, [](const Tensor& a) { return mul_scalar(a, -1.3f); },
             [](const torch::Tensor& a) { return a * -1.3; });
  unary_case("neg", -1, 1, [](const Tensor& a) { return neg(a); }, [](const torch::Tensor& a) { return -a; });
  unary_case("exp", -1, 1, [](const Tensor& a) { return exp(a); }, [](const torch::Tensor& a) { return a.exp(); });
  // log/sqrt/rsqrt/fractional pow on [0.5, 2]: inside their domains, away from the singularity at 0.
  unary_case("log", 0.5f, 2, [](const Tensor& a) { return log(a); }, [](const torch::Tensor& a) { return a.log(); });
  unary_case("sqrt", 0.5f, 2, [](const Tensor& a) { return sqrt(a); },
             [](const torch::Tensor& a) { return a.sqrt(); });
  unary_case("rsqrt", 0.5f, 2, [](const Tensor& a) { return rsqrt(a); },
             [](const torch::Tensor& a) { return a.rsqrt(); });
  unary_case("abs", -1, 1, [](const Tensor& a) { return abs(a); }, [](const torch::Tensor& a) { return a.abs(); });
  unary_case("sign", -1, 1, [](const Tensor& a) { return sign(a); },
             [](const torch::Tensor& a) { return a.sign(); });
  for (float p : {2.f, 3.f, 0.5f, -1.5f})
    unary_case("pow_scalar " + std::to_string(p), 0.5f, 2, [p](const Tensor& a) { return pow_scalar(a, p); },
               [p](const torch::Tensor& a) { return a.pow(p); });
  unary_case("pow_scalar 2 (negative base)", -1, 1, [](const Tensor& a) { return pow_scalar(a, 2.f); },
             [](const torch::Tensor& a) { return a.pow(2.0); });
  unary_case("clamp", -1, 1, [](const Tensor& a) { return clamp(a, -0.5f, 0.4f); },
             [](const torch::Tensor& a) { return a.clamp(-0.5, 0.4); });
  unary_case("relu", -1, 1, [](const Tensor& a) { return relu(a); }, [](const torch::Tensor& a) { return a.relu(); });
}

TEST_CASE("parity: reductions") {
  const Shape s{3, 4, 5, 6};
  check_case(make("sum all", {rnd(s, stream_of("sum all"))}, [](const YV& x) { return sum(x[0]); },
                  [](const TV& x) { return x[0].sum(); }));
  check_case(make("mean all", {rnd(s, stream_of("mean all"))}, [](const YV& x) { return mean(x[0]); },
                  [](const TV& x) { return x[0].mean(); }));
  for (bool keep : {false, true}) {
    reduce_case({1}, keep);
    reduce_case({0, 2}, keep);
    reduce_case({2, 3}, keep);
    reduce_case({1, 2, 3}, keep);
    reduce_case({-1}, keep);
  }
  check_case(make("broadcast_to [3,1,5]->[2,3,4,5]", {rnd({3, 1, 5}, stream_of("bcast"))},
                  [](const YV& x) { return broadcast_to(x[0], {2, 3, 4, 5}); },
                  [](const TV& x) { return x[0].expand({2, 3, 4, 5}); }));
  check_case(make("sum_to [2,3,4,5]->[3,1,5]", {rnd({2, 3, 4, 5}, stream_of("sum_to"))},
                  [](const YV& x) { return sum_to(x[0], {3, 1, 5}); },
                  [](const TV& x) { return x[0].sum({0}).sum({1}, true); }));
}

TEST_CASE("parity: shape ops") {
  const Shape s{3, 4, 5, 6};
  auto one = [&](const std::string& name, OurFn o, TheirFn t) {
    check_case(make(name, {rnd(s, stream_of(name))}, std::move(o), std::move(t)));
  };
  one("reshape [12,30]", [](const YV& x) { return reshape(x[0], {12, 30}); },
      [](const TV& x) { return x[0].reshape({12, 30}); });
  one("reshape [-1,5]", [](const YV& x) { return reshape(x[0], {-1, 5}); },
      [](const TV& x) { return x[0].reshape({-1, 5}); });
  one("flatten", [](const YV& x) { return flatten(x[0]); }, [](const TV& x) { return x[0].flatten(1); });
  one("slice dim0", [](const YV& x) { return slice(x[0], 0, 1, 3); },
      [](const TV& x) { return x[0].slice(0, 1, 3); });
  one("slice dim2", [](const YV& x) { return slice(x[0], 2, 1, 4); },
      [](const TV& x) { return x[0].slice(2, 1, 4); });
  one("slice dim3", [](const YV& x) { return slice(x[0], 3, 0, 5); },
      [](const TV& x) { return x[0].slice(3, 0, 5); });
  for (auto [d0, d1] : {std::pair<int64_t, int64_t>{0, 1}, {1, 3}, {2, 3}, {0, 3}})
    one("transpose " + std::to_string(d0) + "," + std::to_string(d1),
        [d0 = d0, d1 = d1](const YV& x) { return transpose(x[0], d0, d1); },
        [d0 = d0, d1 = d1](const TV& x) { return x[0].transpose(d0, d1).contiguous(); });
  for (int64_t d : {0, 1, 3})
    one("flip " + std::to_string(d), [d](const YV& x) { return flip(x[0], d); },
        [d](const TV& x) { return x[0].flip({d}); });
  for (int64_t d : {0, 1, 3}) {
    Shape a = s, b = s, c = s;
    b[d] = 2;
    c[d] = 1;
    const std::string name = "concat dim " + std::to_string(d);
    const uint64_t st = stream_of(name);
    check_case(make(name, {rnd(a, st), rnd(b, st + 1), rnd(c, st + 2)},
                    [d](const YV& x) { return concat({x[0], x[1], x[2]}, d); },
                    [d](const TV& x) { return torch::cat({x[0], x[1], x[2]}, d); }));
  }
  for (int64_t d : {0, 1, 2}) {
    // Repeated indices: the backward must accumulate (index_add), not overwrite.
    Tensor idx = from_int_vector({2, 0, 2, 1, 2}, {5});
    const std::string name = "index_select dim " + std::to_string(d);
    check_case(make(name, {rnd(s, stream_of(name)), idx},
                    [d](const YV& x) { return index_select(x[0], d, x[1]); },
                    [d](const TV& x) { return x[0].index_select(d, x[1]); }));
  }
}

TEST_CASE("parity: matmul and linear") {
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      const Shape sa = ta ? Shape{7, 5} : Shape{5, 7}, sb = tb ? Shape{3, 7} : Shape{7, 3};
      const std::string name = std::string("matmul ta=") + (ta ? "1" : "0") + " tb=" + (tb ? "1" : "0");
      const uint64_t st = stream_of(name);
      check_case(make(name, {rnd(sa, st), rnd(sb, st + 1)}, [=](const YV& x) { return matmul(x[0], x[1], ta, tb); },
                      [=](const TV& x) { return (ta ? x[0].t() : x[0]).matmul(tb ? x[1].t() : x[1]); }));
    }
  const uint64_t st = stream_of("linear");
  check_case(make("linear (bias)", {rnd({6, 20}, st), rnd({4, 20}, st + 1), rnd({4}, st + 2)},
                  [](const YV& x) { return linear(x[0], x[1], x[2]); },
                  [](const TV& x) { return F::linear(x[0], x[1], x[2]); }));
  check_case(make("linear (no bias)", {rnd({6, 20}, st + 3), rnd({4, 20}, st + 4)},
                  [](const YV& x) { return linear(x[0], x[1], Tensor()); },
                  [](const TV& x) { return F::linear(x[0], x[1]); }));
}

TEST_CASE("parity: softmax and cross-entropy") {
  const uint64_t st = stream_of("softmax");
  const Shape s{6, 10};
  // Logits in [-3, 3]: a spread of probabilities, not all near uniform.
  check_case(make("log_softmax", {rnd(s, st, -3, 3)}, [](const YV& x) { return log_softmax(x[0]); },
                  [](const TV& x) { return x[0].log_softmax(1); }));
  check_case(make("softmax", {rnd(s, st + 1, -3, 3)}, [](const YV& x) { return softmax(x[0]); },
                  [](const TV& x) { return x[0].softmax(1); }));
  check_case(make("cross_entropy (hard labels)", {rnd(s, st + 2, -3, 3), rnd_labels(6, 10, st + 3)},
                  [](const YV& x) { return cross_entropy(x[0], x[1]); },
                  [](const TV& x) { return F::cross_entropy(x[0], x[1]); }));
  Tensor target = rnd_soft_targets(6, 10, st + 4);
  check_case(Case{"cross_entropy_soft", {rnd(s, st + 5, -3, 3), target}, {true, false},
                  [](const YV& x) { return cross_entropy_soft(x[0], x[1]); },
                  [](const TV& x) { return F::cross_entropy(x[0], x[1]); }});
  Tensor lab = rnd_labels(6, 10, st + 6);
  Tensor oh = one_hot(lab, 10);
  CHECK(err(oh, F::one_hot(to_torch(lab), 10).to(torch::kFloat)) == 0);
}

// Not differentiable, so outside check_case: each statistic against its torch formula (float64 reference, and
// torch float32 as a double-check) with the forward tolerance; `correct` must match exactly.
TEST_CASE("parity: per-sample statistics (EL2N, loss, correct, margin, entropy)") {
  torch_setup();
  for (int64_t c : {10, 100}) {
    const std::string name = "per_sample_stats C=" + std::to_string(c);
    const uint64_t st = stream_of(name);
    const int64_t n = 300;
    // Logits in [-8, 8]: rows from nearly uniform to confident.
    Tensor x = rnd({n, c}, st, -8, 8), y = rnd_labels(n, c, st + 1);
    // On the CPU, and on CUDA on both sides when both engines have a GPU (the fused CUDA kernels).
    for (const bool on_cuda : {false, true}) {
      if (on_cuda && !cuda_parity()) break;
      const Device dev = on_cuda ? Device::CUDA : Device::CPU;
      const torch::Device tdev = on_cuda ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
      const std::string where = on_cuda ? " (CUDA)" : "";
      PerSample ps = per_sample_stats(x.to(dev), y.to(dev));
      for (torch::Dtype dt : {torch::kDouble, torch::kFloat}) {
        torch::Tensor tx = to_torch(x, dt).to(tdev), ty = to_torch(y).to(tdev), iy = ty.unsqueeze(1);
        torch::Tensor logp = tx.log_softmax(1), p = logp.exp();
        torch::Tensor oh = F::one_hot(ty, c);
        torch::Tensor el2n = (p - oh.to(dt)).square().sum(1).sqrt();
        torch::Tensor loss = -logp.gather(1, iy).squeeze(1);
        torch::Tensor correct = tx.argmax(1).eq(ty).to(dt);
        torch::Tensor margin = p.gather(1, iy).squeeze(1) - p.masked_fill(oh.to(torch::kBool), -1).amax(1);
        torch::Tensor entropy = -(p * logp).sum(1);
        const double e[] = {err(ps.el2n, el2n), err(ps.loss, loss), err(ps.correct, correct), err(ps.margin, margin),
                            err(ps.entropy, entropy)};
        const std::string ref = std::string(dt == torch::kDouble ? "torch f64" : "torch f32") + where;
        std::printf("[parity] %-44s vs %s: el2n %.2e loss %.2e correct %.0e margin %.2e entropy %.2e\n", name.c_str(),
                    ref.c_str(), e[0], e[1], e[2], e[3], e[4]);
        DOCTEST_CHECK_MESSAGE(e[0] <= kFwdTol, name << " el2n vs " << ref << ": " << e[0]);
        DOCTEST_CHECK_MESSAGE(e[1] <= kFwdTol, name << " loss vs " << ref << ": " << e[1]);
        DOCTEST_CHECK_MESSAGE(e[2] == 0, name << " correct vs " << ref << ": " << e[2]);
        DOCTEST_CHECK_MESSAGE(e[3] <= kFwdTol, name << " margin vs " << ref << ": " << e[3]);
        DOCTEST_CHECK_MESSAGE(e[4] <= kFwdTol, name << " entropy vs " << ref << ": " << e[4]);
      }
    }
  }
}

TEST_CASE("parity: resize_bilinear (align_corners=false)") {
  struct R {
    int64_t h, w, oh, ow;
  };
  // 14->28 and 16->32 are IDC's decode; downsampling and non-integer ratios too.
  for (R r : {R{14, 14, 28, 28}, R{16, 16, 32, 32}, R{32, 32, 16, 16}, R{28, 28, 14, 14}, R{10, 7, 17, 12},
              R{17, 12, 10, 7}, R{9, 9, 9, 9}}) {
    const std::string name = "resize_bilinear " + std::to_string(r.h) + "x" + std::to_string(r.w) + "->" +
                             std::to_string(r.oh) + "x" + std::to_string(r.ow);
    const Shape xs{2, 3, r.h, r.w};
    auto opts = F::InterpolateFuncOptions()
                    .size(std::vector<int64_t>{r.oh, r.ow})
                    .mode(torch::kBilinear)
                    .align_corners(false);
    check_case(make(name, {rnd(xs, stream_of(name))}, [r](const YV& x) { return resize_bilinear(x[0], r.oh, r.ow); },
                    [opts](const TV& x) { return F::interpolate(x[0], opts); }));
    // The adjoint as an op of its own, against torch's autograd adjoint (differentiable: it is linear in g).
    check_case(make(name + " adjoint", {rnd({2, 3, r.oh, r.ow}, stream_of(name + "adj"))},
                    [xs](const YV& g) { return resize_bilinear_adjoint(g[0], xs); },
                    [xs, opts](const TV& g) {
                      torch::Tensor x0 = torch::zeros(xs, g[0].options()).requires_grad_(true);
                      return torch::autograd::grad({F::interpolate(x0, opts)}, {x0}, {g[0]}, true, true)[0];
                    }));
  }
}

namespace {

// Random affine maps near the identity: rotation, anisotropic scale and a shift that pushes some samples
// outside the image, so zero padding is exercised.
Tensor random_theta(int64_t n, uint64_t st) {
  std::vector<float> u = rnd({n, 5}, st).to_vector(), th;
  for (int64_t i = 0; i < n; ++i) {
    const float* p = &u[i * 5];
    const float a = 0.5f * p[0], sx = 1.f + 0.3f * p[1], sy = 1.f + 0.3f * p[2];
    th.insert(th.end(), {sx * std::cos(a), -sx * std::sin(a), 0.4f * p[3], sy * std::sin(a), sy * std::cos(a),
                         0.4f * p[4]});
  }
  return from_vector(th, {n, 2, 3});
}

// Bilinear grid sampling (zeros padding, align_corners=false) written with gather, as the reference for
// grid_sample: LibTorch 1.13 has no double backward for grid_sampler_2d, while gather is differentiable to
// any order. It is itself checked against F::grid_sample (values and first-order gradient) below.
torch::Tensor grid_sample_ref(const torch::Tensor& x, const torch::Tensor& grid) {
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3), oh = grid.size(1), ow = grid.size(2);
  torch::Tensor g = grid.detach().to(x.dtype());
  torch::Tensor ix = ((g.select(3, 0) + 1) * w - 1) / 2, iy = ((g.select(3, 1) + 1) * h - 1) / 2;
  torch::Tensor x0 = ix.floor(), y0 = iy.floor();
  torch::Tensor flat = x.reshape({n, c, h * w});
  torch::Tensor out = torch::zeros({n, c, oh * ow}, x.options());
  for (int dy : {0, 1})
    for (int dx : {0, 1}) {
      torch::Tensor xc = x0 + dx, yc = y0 + dy;
      torch::Tensor wx = dx ? ix - x0 : 1 - (ix - x0), wy = dy ? iy - y0 : 1 - (iy - y0);
      torch::Tensor valid = ((xc >= 0) & (xc <= w - 1) & (yc >= 0) & (yc <= h - 1)).to(x.dtype());
      torch::Tensor wgt = (wx * wy * valid).reshape({n, 1, oh * ow});
      torch::Tensor idx = (yc.clamp(0, h - 1) * w + xc.clamp(0, w - 1)).to(torch::kLong);
      out = out + flat.gather(2, idx.reshape({n, 1, oh * ow}).expand({n, c, oh * ow})) * wgt;
    }
  return out.reshape({n, c, oh, ow});
}

double torch_rel(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).norm().item<double>() / b.norm().item<double>();
}

}  // namespace

TEST_CASE("parity: affine_grid and grid_sample (bilinear, zeros, align_corners=false)") {
  struct G {
    int64_t h, w, oh, ow;
  };
  for (G g : {G{9, 11, 9, 11}, G{32, 32, 32, 32}, G{8, 8, 12, 10}}) {
    const std::string name = std::to_string(g.h) + "x" + std::to_string(g.w) + "->" + std::to_string(g.oh) + "x" +
                             std::to_string(g.ow);
    const uint64_t st = stream_of("grid " + name);
    Tensor theta = random_theta(2, st);
    Tensor grid = affine_grid(theta, g.oh, g.ow);
    torch::Tensor tgrid = F::affine_grid(to_torch(theta, torch::kDouble), {2, 3, g.oh, g.ow}, false);
    const double e_grid = err(grid, tgrid);
    std::printf("[parity] %-44s fwd %.2e\n", ("affine_grid " + name).c_str(), e_grid);
    CHECK_MESSAGE(e_grid <= kFwdTol, "affine_grid " << name << ": " << e_grid);
    // Both engines sample on the same (our) grid: grid_sample is compared, not affine_grid twice.
    auto opts = F::GridSampleFuncOptions().mode(torch::kBilinear).padding_mode(torch::kZeros).align_corners(false);
    const Shape xs{2, 3, g.h, g.w};
    {  // the gather reference against LibTorch's own kernel, in float64 (only rounding may differ)
      torch::Tensor x = to_torch(rnd(xs, st + 3), torch::kDouble).requires_grad_(true);
      torch::Tensor tg = to_torch(grid, torch::kDouble), r = to_torch(rnd({2, 3, g.oh, g.ow}, st + 4), torch::kDouble);
      torch::Tensor ya = grid_sample_ref(x, tg), yb = F::grid_sample(x, tg, opts);
      torch::Tensor ga = torch::autograd::grad({(ya * r).sum()}, {x})[0];
      torch::Tensor gb = torch::autograd::grad({(yb * r).sum()}, {x})[0];
      CHECK(torch_rel(ya, yb) <= 1e-12);
      CHECK(torch_rel(ga, gb) <= 1e-12);
    }
    check_case(Case{"grid_sample " + name, {rnd(xs, st + 1), grid}, {true, false},
                    [](const YV& x) { return grid_sample(x[0], x[1]); },
                    [](const TV& x) { return grid_sample_ref(x[0], x[1]); }});
    check_case(Case{"grid_sample_adjoint " + name, {rnd({2, 3, g.oh, g.ow}, st + 2), grid}, {true, false},
                    [xs](const YV& x) { return grid_sample_adjoint(x[0], x[1], xs); },
                    [xs](const TV& x) {
                      torch::Tensor x0 = torch::zeros(xs, x[0].options()).requires_grad_(true);
                      torch::Tensor y = grid_sample_ref(x0, x[1]);
                      return torch::autograd::grad({y}, {x0}, {x[0]}, true, true)[0];
                    }});
  }
}

namespace {

// Per-sample translation with zero fill in torch ops: pad by the image size on every side, then take the window
// moved by sign * (dh, dw), clamped to the image size (beyond it the window lies wholly in the padding).
torch::Tensor translate_ref(const torch::Tensor& x, const torch::Tensor& shifts, int64_t sign) {
  const int64_t n = x.size(0), h = x.size(2), w = x.size(3);
  torch::Tensor p = F::pad(x, F::PadFuncOptions({w, w, h, h}));
  std::vector<torch::Tensor> out;
  for (int64_t k = 0; k < n; ++k) {
    const int64_t dh = std::clamp<int64_t>(sign * shifts[k][0].item<int64_t>(), -h, h);
    const int64_t dw = std::clamp<int64_t>(sign * shifts[k][1].item<int64_t>(), -w, w);
    out.push_back(p[k].slice(1, h + dh, 2 * h + dh).slice(2, w + dw, 2 * w + dw));
  }
  return torch::stack(out);
}

// x times a [N,1,H,W] mask that is 0 inside each sample's half-open (h0, h1, w0, w1) box, built with comparisons.
torch::Tensor cutout_ref(const torch::Tensor& x, const torch::Tensor& boxes) {
  const int64_t n = x.size(0), h = x.size(2), w = x.size(3);
  torch::Tensor rows = torch::arange(h, boxes.options()).view({1, h, 1});  // on the boxes' device
  torch::Tensor cols = torch::arange(w, boxes.options()).view({1, 1, w});
  auto col = [&](int64_t i) { return boxes.select(1, i).view({n, 1, 1}); };
  torch::Tensor inside = (rows >= col(0)) & (rows < col(1)) & (cols >= col(2)) & (cols < col(3));
  return x * torch::logical_not(inside).to(x.dtype()).unsqueeze(1);
}

}  // namespace

TEST_CASE("parity: translate (zero fill, both signs) and cutout") {
  // Shifts inside, beyond one axis, exactly the image size, zero; H != W.
  const Shape xs{4, 2, 7, 9};
  const Tensor shifts = from_int_vector({2, -3, -8, 4, 0, 9, -7, 0}, {4, 2});
  for (bool inverse : {false, true}) {
    const std::string name = std::string("translate") + (inverse ? " inverse" : "");
    check_case(make(name, {rnd(xs, stream_of(name)), shifts},
                    [inverse](const YV& x) { return translate(x[0], x[1], inverse); },
                    [inverse](const TV& x) { return translate_ref(x[0], x[1], inverse ? -1 : 1); }));
  }
  // Partial, clipped to the corner, empty and whole-image boxes (as data/augment.cpp clamps them).
  const Tensor boxes = from_int_vector({1, 4, 2, 6, 0, 2, 7, 9, 3, 3, 0, 9, 0, 7, 0, 9}, {4, 4});
  check_case(make("cutout", {rnd(xs, stream_of("cutout")), boxes}, [](const YV& x) { return cutout(x[0], x[1]); },
                  [](const TV& x) { return cutout_ref(x[0], x[1]); }));
}

namespace {

// DSA flip + colour in torch ops, as IDC's DiffAug writes them: where(flip, x.flip(3), x), then brightness,
// saturation around the channel mean, contrast around the sample mean; params [N,4] = (flip, b, s, c).
torch::Tensor dsa_color_ref(const torch::Tensor& x, const torch::Tensor& params, int ops) {
  const int64_t n = x.size(0);
  auto col = [&](int64_t i) { return params.select(1, i).view({n, 1, 1, 1}); };
  torch::Tensor v = x;
  if (ops & kDsaFlip) v = torch::where(col(0) != 0, x.flip(3), x);
  if (ops & kDsaColor) {
    v = v + col(1);
    torch::Tensor mc = v.mean(1, true);
    v = (v - mc) * col(2) + mc;
    torch::Tensor m = v.mean({1, 2, 3}, true);
    v = (v - m) * col(3) + m;
  }
  return v;
}

}  // namespace

TEST_CASE("parity: dsa_color (flip, brightness, saturation, contrast; each part alone)") {
  // Flips mixed; IDC's ranges of brightness [-0.5, 0.5), saturation [0, 2), contrast [0.5, 1.5); C = 3 and 1.
  const Tensor params =
      from_vector({1.f, 0.3f, 1.7f, 0.6f, 0.f, -0.4f, 0.2f, 1.4f, 1.f, 0.1f, 0.9f, 1.1f, 0.f, 0.45f, 1.9f, 0.55f},
                  {4, 4});
  for (const Shape& xs : {Shape{4, 3, 7, 9}, Shape{4, 1, 12, 10}})
    for (int ops : {kDsaFlip, kDsaColor, kDsaFlip | kDsaColor}) {
      const std::string name = "dsa_color " + shp(xs) + " ops " + std::to_string(ops);
      check_case(Case{name, {rnd(xs, stream_of(name)), params}, {true, false},
                      [ops](const YV& x) { return dsa_color(x[0], x[1], ops); },
                      [ops](const TV& x) { return dsa_color_ref(x[0], x[1], ops); }});
    }
}
