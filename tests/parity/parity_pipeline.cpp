// LibTorch parity of IDC's gradient matching end to end: ConvNet-3 (GroupNorm with groups == channels,
// width 128) in both engines with identical weights, parameter gradients, and the matching loss
// (l1 / mse / cos over the conv weights' gradients) differentiated to the synthetic images.
#include <doctest/doctest.h>
#include <torch/torch.h>
#include <cmath>
#include "models/convnet.h"
#include "models/resnet_ap.h"
#include "tests/parity/parity_torch.h"

using namespace yoco;
using namespace yoco::parity;
namespace F = torch::nn::functional;

namespace {

constexpr int64_t kWidth = 128, kDepth = 3, kClasses = 10, kRealBatch = 16, kSynBatch = 8;
constexpr float kCosEps = 1e-6f;  // IDC's dist(): 1 - <a,b> / (|a| |b| + 1e-6) per output row

enum class Metric { L1, Mse, Cos };
const char* metric_name(Metric m) { return m == Metric::L1 ? "l1" : m == Metric::Mse ? "mse" : "cos"; }

// ConvNet-3 parameters in the order conv w, conv b, norm gamma, norm beta per block, then classifier w, b.
struct Params {
  std::vector<Tensor> v;
};

Params random_params(int64_t channels, uint64_t st) {
  Params p;
  int64_t in = channels;
  for (int64_t d = 0; d < kDepth; ++d, in = kWidth) {
    const float bound = 1.f / std::sqrt(static_cast<float>(in * 9));  // PyTorch's default conv init range
    p.v.push_back(rnd({kWidth, in, 3, 3}, st + 4 * d, -bound, bound));
    p.v.push_back(rnd({kWidth}, st + 4 * d + 1, -bound, bound));
    // Non-trivial affine parameters, so their use in the forward and backward is exercised.
    p.v.push_back(rnd({kWidth}, st + 4 * d + 2, 0.5f, 1.5f));
    p.v.push_back(rnd({kWidth}, st + 4 * d + 3, -0.5f, 0.5f));
  }
  const float bound = 1.f / std::sqrt(2048.f);
  p.v.push_back(rnd({kClasses, 2048}, st + 20, -bound, bound));
  p.v.push_back(rnd({kClasses}, st + 21, -bound, bound));
  return p;
}

int64_t first_pad(int64_t channels) { return channels == 1 ? 3 : 1; }  // 1×28×28 → 32×32

// Why the reference can follow our branch: the gradients are discontinuous at ReLU's kink (and l1's sign).
// Over ~4M activations per run a few pre-activations lie within float32 rounding of 0, so any float32
// engine (ours, or LibTorch in float32) picks the other side of the kink there than float64 does, and the
// conv-weight gradients then differ by 1e-4..1e-2 (measured), with no bug anywhere: LibTorch-f32 and -f64
// disagree like that too. The checked comparison therefore gives torch our ReLU masks [pre-activation > 0]
// and our l1 signs as constants: it then differentiates exactly the branch we took, every function is
// smooth there, and the bars apply. The comparison on torch's own branch is printed for information.
struct Branch {
  std::vector<Tensor> relu_real, relu_syn;  // [pre-activation > 0] per block, as f32 0/1
  std::vector<Tensor> l1_sign;              // sign(g_real - g_syn) per conv weight
};

Tensor our_forward(const std::vector<Tensor>& p, const Tensor& x, std::vector<Tensor>* masks = nullptr) {
  Tensor h = x;
  for (int64_t d = 0; d < kDepth; ++d) {
    // The bias added after the convolution's sum, as models/convnet.h's fused tail adds it: the pre-activations
    // then round as the module's do, so the ReLU masks handed to torch are the module's own (see Branch).
    h = conv2d(h, p[4 * d], Tensor(), Conv2dArgs{1, d == 0 ? first_pad(x.size(1)) : 1});
    h = add(h, reshape(p[4 * d + 1], {1, kWidth, 1, 1}));
    h = group_norm(h, kWidth, p[4 * d + 2], p[4 * d + 3], 1e-5f);
    if (masks) masks->push_back(relu_backward(ones(h.shape()), h.detach()));
    h = avg_pool2x2(relu(h));
  }
  return linear(flatten(h), p[4 * kDepth], p[4 * kDepth + 1]);
}

// masks: ReLU masks to use instead of torch's own (x * mask has relu's derivatives on that branch), or null.
torch::Tensor torch_forward(const std::vector<torch::Tensor>& p, const torch::Tensor& x,
                            const std::vector<Tensor>* masks = nullptr) {
  torch::Tensor h = x;
  for (int64_t d = 0; d < kDepth; ++d) {
    const int64_t pad = d == 0 ? first_pad(x.size(1)) : 1;
    h = torch::conv2d(h, p[4 * d], p[4 * d + 1], {1, 1}, {pad, pad});
    h = torch::group_norm(h, kWidth, p[4 * d + 2], p[4 * d + 3], 1e-5);
    h = masks ? h * to_torch((*masks)[d], h.scalar_type()).to(h.device()) : torch::relu(h);
    h = torch::avg_pool2d(h, {2, 2});
  }
  return F::linear(h.flatten(1), p[4 * kDepth], p[4 * kDepth + 1]);
}

Tensor our_dist(const Tensor& gr, const Tensor& gs, Metric m) {
  if (m == Metric::L1) return sum(abs(sub(gr, gs)));
  if (m == Metric::Mse) {
    Tensor d = sub(gr, gs);
    return sum(mul(d, d));
  }
  Tensor a = reshape(gr, {gr.size(0), -1}), b = reshape(gs, {gs.size(0), -1});
  Tensor na = sqrt(sum(mul(a, a), {1})), nb = sqrt(sum(mul(b, b), {1}));
  Tensor cos = div(sum(mul(a, b), {1}), add_scalar(mul(na, nb), kCosEps));
  return sum(add_scalar(neg(cos), 1.f));
}

// sign: our sign(gr - gs) to use instead of abs's own branch (undefined: plain abs).
torch::Tensor torch_dist(const torch::Tensor& gr, const torch::Tensor& gs, Metric m, const Tensor& sign) {
  if (m == Metric::L1)
    return sign.defined() ? ((gr - gs) * to_torch(sign, gr.scalar_type()).to(gr.device())).sum()
                          : (gr - gs).abs().sum();
  if (m == Metric::Mse) return (gr - gs).pow(2).sum();
  torch::Tensor a = gr.reshape({gr.size(0), -1}), b = gs.reshape({gs.size(0), -1});
  return (1 - (a * b).sum(-1) / (a.norm(2, -1) * b.norm(2, -1) + kCosEps)).sum();
}

// Everything the matching step produces, in one engine.
template <class T>
struct Match {
  T loss_real, loss_syn;
  std::vector<T> g_real, g_syn, dist, d_syn;  // per conv weight; dist and d_syn per metric
};

struct Batch {
  Tensor x_real, y_real, x_syn, y_syn;
};

const std::vector<Metric> kMetrics{Metric::L1, Metric::Mse, Metric::Cos};

Match<Tensor> our_match(const Params& prm, const Batch& b, Branch& br, Device dev = Device::CPU) {
  std::vector<Tensor> p, w;
  for (const Tensor& t : prm.v) p.push_back(t.to(dev).clone());
  for (int64_t d = 0; d < kDepth; ++d) w.push_back(p[4 * d].set_requires_grad(true));
  Tensor xs = b.x_syn.to(dev).clone().set_requires_grad(true);
  Match<Tensor> m;
  m.loss_real = cross_entropy(our_forward(p, b.x_real.to(dev), &br.relu_real), b.y_real.to(dev));
  m.g_real = grad({m.loss_real}, w);
  m.loss_syn = cross_entropy(our_forward(p, xs, &br.relu_syn), b.y_syn.to(dev));
  m.g_syn = grad({m.loss_syn}, w, {}, true);
  for (int64_t d = 0; d < kDepth; ++d) br.l1_sign.push_back(sign(sub(m.g_real[d], m.g_syn[d]).detach()));
  for (Metric k : kMetrics) {
    Tensor dist;
    for (int64_t d = 0; d < kDepth; ++d) {
      Tensor t = our_dist(m.g_real[d], m.g_syn[d], k);
      dist = dist.defined() ? add(dist, t) : t;
    }
    m.dist.push_back(dist);
    m.d_syn.push_back(grad({dist}, {xs})[0]);
  }
  return m;
}

// br: follow our branch (ReLU masks, l1 signs), or null for torch's own.
Match<torch::Tensor> torch_match(const Params& prm, const Batch& b, torch::Dtype dt, const Branch* br,
                                 torch::Device dev = torch::kCPU) {
  std::vector<torch::Tensor> p, w;
  for (const Tensor& t : prm.v) p.push_back(to_torch(t, dt).to(dev));
  for (int64_t d = 0; d < kDepth; ++d) w.push_back(p[4 * d].requires_grad_(true));
  torch::Tensor xs = to_torch(b.x_syn, dt).to(dev).requires_grad_(true);
  Match<torch::Tensor> m;
  m.loss_real = F::cross_entropy(torch_forward(p, to_torch(b.x_real, dt).to(dev), br ? &br->relu_real : nullptr),
                                 to_torch(b.y_real).to(dev));
  m.g_real = torch::autograd::grad({m.loss_real}, w);
  m.loss_syn = F::cross_entropy(torch_forward(p, xs, br ? &br->relu_syn : nullptr), to_torch(b.y_syn).to(dev));
  m.g_syn = torch::autograd::grad({m.loss_syn}, w, {}, true, true);
  for (Metric k : kMetrics) {
    torch::Tensor dist = torch::zeros({}, xs.options());
    for (int64_t d = 0; d < kDepth; ++d)
      dist = dist + torch_dist(m.g_real[d].detach(), m.g_syn[d], k, br ? br->l1_sign[d] : Tensor());
    m.dist.push_back(dist);
    m.d_syn.push_back(torch::autograd::grad({dist}, {xs}, {}, true)[0]);
  }
  return m;
}

struct MatchErrs {
  double loss = 0, g = 0;
  std::vector<double> dist, d_syn;
};

template <class T>
MatchErrs compare(const Match<T>& a, const Match<torch::Tensor>& b) {
  MatchErrs e;
  e.loss = std::max(err(a.loss_real, b.loss_real), err(a.loss_syn, b.loss_syn));
  e.g = std::max(max_err(a.g_real, b.g_real), max_err(a.g_syn, b.g_syn));
  for (size_t k = 0; k < kMetrics.size(); ++k) {
    e.dist.push_back(err(a.dist[k], b.dist[k]));
    e.d_syn.push_back(err(a.d_syn[k], b.d_syn[k]));
  }
  return e;
}

void check_match(const std::string& tag, const MatchErrs& e, const char* ref) {
  const std::string r(ref);
  std::printf("[parity] %-44s fwd %.2e grad %.2e (vs %s)\n", ("convnet3 " + tag + " losses/param grads").c_str(),
              e.loss, e.g, ref);
  CHECK_MESSAGE(e.loss <= kFwdTol, tag << " losses vs " << r << ": " << e.loss);
  CHECK_MESSAGE(e.g <= kGradTol, tag << " conv weight grads vs " << r << ": " << e.g);
  for (size_t k = 0; k < kMetrics.size(); ++k) {
    const std::string name = "convnet3 " + tag + " match " + metric_name(kMetrics[k]);
    std::printf("[parity] %-44s fwd %.2e grad2 %.2e (vs %s)\n", name.c_str(), e.dist[k], e.d_syn[k], ref);
    // The distance is a function of first-order gradients, so it is held to the gradient bar.
    CHECK_MESSAGE(e.dist[k] <= kGradTol, name << " distance vs " << r << ": " << e.dist[k]);
    CHECK_MESSAGE(e.d_syn[k] <= kGrad2Tol, name << " d/d(x_syn) vs " << r << ": " << e.d_syn[k]);
  }
}

Batch random_batch(int64_t channels, int64_t size, uint64_t st) {
  // Normalised-image range; labels drawn independently for the two batches.
  return {rnd({kRealBatch, channels, size, size}, st, -2.f, 2.f), rnd_labels(kRealBatch, kClasses, st + 1),
          rnd({kSynBatch, channels, size, size}, st + 2, -2.f, 2.f), rnd_labels(kSynBatch, kClasses, st + 3)};
}

void match_case(int64_t channels, int64_t size) {
  torch_setup();
  const std::string tag = std::to_string(channels) + "x" + std::to_string(size) + "x" + std::to_string(size);
  const uint64_t st = stream_of("pipeline " + tag) * 64;
  const Params prm = random_params(channels, st);
  const Batch b = random_batch(channels, size, st + 32);
  Branch br;
  const Match<Tensor> ours = our_match(prm, b, br);
  check_match(tag, compare(ours, torch_match(prm, b, torch::kDouble, &br)), "torch-f64");
  check_match(tag, compare(ours, torch_match(prm, b, torch::kFloat, &br)), "torch-f32");
  // Information only (see Branch): each engine on its own branch of the kinks.
  const Match<torch::Tensor> own64 = torch_match(prm, b, torch::kDouble, nullptr);
  const MatchErrs e_ours = compare(ours, own64), e_t32 = compare(torch_match(prm, b, torch::kFloat, nullptr), own64);
  std::printf("[parity] info %s, torch on its own ReLU/sign branch (f64): ours grads %.2e d/dx_syn l1 %.2e mse %.2e "
              "cos %.2e | torch-f32 grads %.2e d/dx_syn l1 %.2e mse %.2e cos %.2e\n",
              tag.c_str(), e_ours.g, e_ours.d_syn[0], e_ours.d_syn[1], e_ours.d_syn[2], e_t32.g, e_t32.d_syn[0],
              e_t32.d_syn[1], e_t32.d_syn[2]);
  // Again with both engines on the GPU (torch following our CUDA run's branch), when both have one.
  if (!cuda_parity()) return;
  Branch brc;
  const Match<Tensor> ours_c = our_match(prm, b, brc, Device::CUDA);
  const torch::Device cuda(torch::kCUDA);
  check_match(tag + " (CUDA)", compare(ours_c, torch_match(prm, b, torch::kDouble, &brc, cuda)), "torch-f64 CUDA");
  check_match(tag + " (CUDA)", compare(ours_c, torch_match(prm, b, torch::kFloat, &brc, cuda)), "torch-f32 CUDA");
}

// models/convnet.h (written alongside) against the same torch forward, with its own weights.
void convnet_module_case(int64_t channels, int64_t size) {
  torch_setup();
  ConvNetConfig cfg;
  cfg.channels = channels;
  cfg.image_size = size;
  const uint64_t seed = test::test_seed();
  const std::string shape = std::to_string(channels) + "x" + std::to_string(size) + "x" + std::to_string(size);
  const uint64_t st = stream_of("module " + shape);
  const Tensor x_cpu = rnd({4, channels, size, size}, st, -2.f, 2.f), y_cpu = rnd_labels(4, kClasses, st + 1);
  // On the CPU, then on CUDA in both engines when both have a GPU (the same weights: same seed and init streams).
  for (const bool on_cuda : {false, true}) {
    if (on_cuda && !cuda_parity()) break;
    const Device dev = on_cuda ? Device::CUDA : Device::CPU;
    const torch::Device tdev = on_cuda ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
    const std::string tag = shape + (on_cuda ? " (CUDA)" : "");
    ConvNet net(cfg, seed, dev);
    std::vector<Tensor> p = net.parameters();
    REQUIRE(p.size() == static_cast<size_t>(4 * kDepth + 2));  // conv w/b + norm gamma/beta per block, classifier
    const Tensor x = x_cpu.to(dev), y = y_cpu.to(dev);
    std::vector<Tensor> w = net.conv_weights();
    Tensor logits = net.forward(x);
    std::vector<Tensor> g = grad({cross_entropy(logits, y)}, w);
    // ReLU masks from our inline model on the module's weights (same ops), for torch to follow (see Branch).
    std::vector<Tensor> masks, pc;
    for (const Tensor& t : p) pc.push_back(t.detach());
    our_forward(pc, x, &masks);
    std::vector<torch::Tensor> tp, tw;
    for (const Tensor& t : p) tp.push_back(to_torch(t, torch::kDouble).to(tdev));
    for (int64_t d = 0; d < kDepth; ++d) tw.push_back(tp[4 * d].requires_grad_(true));
    torch::Tensor tl = torch_forward(tp, to_torch(x, torch::kDouble).to(tdev), &masks);
    std::vector<torch::Tensor> tg = torch::autograd::grad({F::cross_entropy(tl, to_torch(y).to(tdev))}, tw);
    const double ef = err(logits, tl), eg = max_err(g, tg);
    std::printf("[parity] %-44s fwd %.2e grad %.2e\n", ("models/convnet.h ConvNet-3 " + tag).c_str(), ef, eg);
    CHECK_MESSAGE(ef <= kFwdTol, "ConvNet module logits " << tag << ": " << ef);
    CHECK_MESSAGE(eg <= kGradTol, "ConvNet module conv grads " << tag << ": " << eg);
  }
}

}  // namespace

TEST_CASE("parity: ConvNet-3 gradient matching, 1x28x28 (first conv padding 3)") { match_case(1, 28); }
TEST_CASE("parity: ConvNet-3 gradient matching, 3x32x32") { match_case(3, 32); }
TEST_CASE("parity: models/convnet.h ConvNet-3 forward and conv-weight gradients") {
  convnet_module_case(1, 28);
  convnet_module_case(3, 32);
}

// ---- ResNetAP-10 (models/resnet_ap.h) against the same network written with torch ops ----
namespace {

// The network once, over two op sets: ours (records each ReLU's mask) and LibTorch's (applies those masks),
// so both differentiate the same piecewise-linear path (see the comment in resnet_ap_case).
struct OurOps {
  std::vector<Tensor>* masks;
  Tensor conv(const Tensor& x, const Tensor& w, int64_t pad) { return conv2d(x, w, Tensor(), Conv2dArgs{1, pad}); }
  Tensor norm(const Tensor& x, const Tensor& g, const Tensor& b) { return group_norm(x, x.size(1), g, b, 1e-5f); }
  Tensor relu_(const Tensor& x) {
    Tensor m = sign(relu(x.detach()));  // 1 where x > 0
    masks->push_back(m);
    return relu(x);
  }
  Tensor pool(const Tensor& x, int64_t k) { return k == 4 ? avg_pool2x2(avg_pool2x2(x)) : avg_pool2x2(x); }
  Tensor plus(const Tensor& a, const Tensor& b) { return add(a, b); }
  Tensor gap(const Tensor& x) { return global_avg_pool(x); }
  Tensor fc(const Tensor& x, const Tensor& w, const Tensor& b) { return linear(x, w, b); }
};
struct TorchOps {
  const std::vector<Tensor>* masks;
  size_t next = 0;
  torch::Dtype dt;
  torch::Tensor conv(const torch::Tensor& x, const torch::Tensor& w, int64_t pad) {
    return F::conv2d(x, w, F::Conv2dFuncOptions().padding(pad));
  }
  torch::Tensor norm(const torch::Tensor& x, const torch::Tensor& g, const torch::Tensor& b) {
    return F::group_norm(x, F::GroupNormFuncOptions(x.size(1)).weight(g).bias(b).eps(1e-5));
  }
  torch::Tensor relu_(const torch::Tensor& x) { return masks ? x * to_torch((*masks)[next++], dt) : torch::relu(x); }
  torch::Tensor pool(const torch::Tensor& x, int64_t k) { return F::avg_pool2d(x, F::AvgPool2dFuncOptions(k).stride(k)); }
  torch::Tensor plus(const torch::Tensor& a, const torch::Tensor& b) { return a + b; }
  torch::Tensor gap(const torch::Tensor& x) { return x.mean({2, 3}); }
  torch::Tensor fc(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b) { return F::linear(x, w, b); }
};

template <class Ops, class T>
T resnet_ap_forward(Ops& o, const std::vector<T>& p, T x, int64_t size) {
  size_t i = 0;
  auto norm = [&](const T& h) {
    const T& g = p[i++];
    const T& b = p[i++];
    return o.norm(h, g, b);
  };
  auto conv = [&](const T& h, int64_t pad) { return o.conv(h, p[i++], pad); };
  const bool large = size > 128, mid = !large && size > 64;
  T h = o.relu_(norm(conv(x, large ? 3 : 1)));
  if (large) h = o.pool(h, 4);
  if (mid) h = o.pool(h, 2);
  for (int l = 1; l <= 4; ++l) {
    const bool down = l > 1;
    T out = o.relu_(norm(conv(h, 1)));
    if (down) out = o.pool(out, 2);
    out = norm(conv(out, 1));
    T res = h;
    if (down) res = norm(o.pool(conv(h, 0), 2));
    h = o.relu_(o.plus(out, res));
  }
  return o.fc(o.gap(h), p[i], p[i + 1]);
}

void resnet_ap_case(int64_t channels, int64_t size, int64_t batch) {
  ResNetAPConfig cfg;
  cfg.channels = channels, cfg.image_size = size;
  ResNetAP10 net(cfg, yoco::test::test_seed() + static_cast<uint64_t>(size));
  Tensor x = yoco::test::random_tensor({batch, channels, size, size}, 700 + static_cast<uint64_t>(size));
  std::vector<int64_t> lab;
  for (int64_t k = 0; k < batch; ++k) lab.push_back(k % 10);
  Tensor y = from_int_vector(lab, {batch});
  Tensor logits = net.forward(x);
  std::vector<Tensor> ours = grad({cross_entropy(logits, y)}, net.parameters());
  // Our ReLU masks, from the same network written over OurOps (its logits must equal the module's).
  std::vector<Tensor> masks;
  OurOps oo{&masks};
  Tensor logits2 = resnet_ap_forward(oo, net.parameters(), x, size);
  DOCTEST_CHECK(yoco::test::rel_err(logits2, logits) == 0.0);

  // LibTorch in float64 on our ReLU path (a few of the ~10⁶-10⁷ ReLU inputs sit within float32 rounding of
  // zero; on which side they fall is float noise, not a bug, and it moves gradients by up to 1e-2), and in
  // float64 on its own path (printed, not checked).
  auto torch_grads = [&](torch::Dtype dt, const std::vector<Tensor>* m, torch::Tensor* tl_out) {
    std::vector<torch::Tensor> tp;
    for (const Tensor& t : net.parameters()) tp.push_back(to_torch(t, dt).requires_grad_(true));
    TorchOps to{m, 0, dt};
    torch::Tensor tl = resnet_ap_forward(to, tp, to_torch(x, dt), size);
    if (tl_out) *tl_out = tl;
    return torch::autograd::grad({F::cross_entropy(tl, to_torch(y))}, tp);
  };
  torch::Tensor tl;
  std::vector<torch::Tensor> tg = torch_grads(torch::kDouble, &masks, &tl);
  std::vector<torch::Tensor> tg_own = torch_grads(torch::kDouble, nullptr, nullptr);
  double fwd = err(logits, tl), g1 = 0, g1_own = 0;
  size_t worst = 0;
  for (size_t k = 0; k < ours.size(); ++k) {
    double e = err(ours[k], tg[k]);
    if (e > g1) g1 = e, worst = k;
    g1_own = std::max(g1_own, err(ours[k], tg_own[k]));
  }
  MESSAGE("ResNetAP-10 " << channels << "x" << size << ": logits " << fwd << ", parameter gradients (max) " << g1
                          << " at " << net.named_parameters()[worst].first
                          << " (info: against LibTorch's own ReLU path " << g1_own << ")");
  DOCTEST_CHECK(fwd <= kFwdTol);
  DOCTEST_CHECK(g1 <= kGradTol);
}

}  // namespace

TEST_CASE("parity: ResNetAP-10 forward and parameter gradients (small, mid and large stems)") {
  resnet_ap_case(3, 32, 4);
  resnet_ap_case(3, 96, 2);
  resnet_ap_case(1, 160, 2);  // the 7×7 + pool-4 stem of > 128 px inputs (224 in IDC)
}
