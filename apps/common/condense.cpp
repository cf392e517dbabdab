// IDC condensation loop (see condense.h). Every random draw is a Philox stream keyed by (seed, outer, inner,
// class), so a run resumed from a checkpoint at an outer-iteration boundary is bit-identical on CPU.
#include "apps/common/condense.h"
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include "apps/common/cli.h"
#include "apps/common/mix_set.h"
#include "apps/common/trainer.h"
#include "data/augment.h"
#include "data/decode.h"
#include "data/npz.h"
#include "data/set_dataset.h"
#include "engine/autograd.h"
#include "engine/context.h"
#include "engine/ops.h"
#include "kernels/rng.h"

namespace yoco::app {

namespace {
// Philox streams of condensation (init uses 1000+, the trainer 11, DSA/CutMix their own).
constexpr uint64_t kRealBatchStream = 51, kNetSeedStream = 52, kSynSubsampleStream = 53, kNetDataStream = 54;

uint64_t mix_seed(uint64_t seed, uint64_t stream, uint64_t a, uint64_t b = 0) {
  kernels::Philox4 r = kernels::philox4x32_10(seed, stream, (a << 24) ^ b);
  return (static_cast<uint64_t>(r.v[0]) << 32) | r.v[1];
}

// k distinct draws from pool (partial Fisher-Yates over a copy), Philox-keyed.
std::vector<int64_t> sample_k(const std::vector<int64_t>& pool, int64_t k, uint64_t seed, uint64_t stream, uint64_t key) {
  std::vector<int64_t> v = pool;
  int64_t n = static_cast<int64_t>(v.size());
  k = std::min(k, n);
  for (int64_t i = 0; i < k; ++i) {
    uint32_t r = kernels::philox_u32(seed, stream, (key << 20) + static_cast<uint64_t>(i));
    int64_t j = i + static_cast<int64_t>(r % static_cast<uint32_t>(n - i));
    std::swap(v[i], v[j]);
  }
  v.resize(static_cast<size_t>(k));
  return v;
}

using Clock = std::chrono::steady_clock;
}  // namespace

const std::vector<std::vector<int64_t>>& CondenseState::class_index(const data::Dataset& train) {
  if (by_class_.empty()) by_class_ = data::class_indices(train);
  return by_class_;
}

const std::vector<int64_t>& CondenseState::all_index(const data::Dataset& train) {
  if (all_.empty())
    for (int64_t i = 0; i < train.size(); ++i) all_.push_back(i);
  return all_;
}

CondenseConfig default_condense_config(const std::string& dataset, int64_t ipc, int64_t factor) {
  CondenseConfig c;
  c.ipc = ipc;
  c.factor = factor;
  float lr = 5e-3f, base = 32.f, size = 32.f;
  if (dataset == "fashion-mnist") {
    c.metric = MatchMetric::L1, lr = 1e-4f, c.n_data = 500, size = 28.f;
    c.dsa_match = "color_crop_cutout", c.dsa_net = "color_crop";
  } else if (dataset == "mnist") {
    c.metric = MatchMetric::L1, lr = 1e-4f, c.n_data = 500, size = 28.f, base = 28.f;
    c.dsa_match = "color_crop", c.dsa_net = "color_crop", c.cutmix_p = factor > 1 ? 0.f : 0.5f;
  } else if (dataset == "imagenet10") {
    c.metric = MatchMetric::L1, lr = 3e-3f, c.n_data = 500, size = 224.f, base = 224.f, c.niter = 500;
    c.dsa_match = "color_crop_cutout_flip_scale_rotate", c.dsa_net = "color_crop_flip_scale_rotate";
  } else {  // cifar10 / cifar100
    c.metric = MatchMetric::Mse, lr = 5e-3f, c.n_data = 2000;
    c.dsa_match = "color_crop_cutout_flip_scale_rotate", c.dsa_net = "color_crop_flip_scale_rotate";
  }
  c.lr_img = lr * (static_cast<float>(ipc) / 10.f) * (size / base) * (size / base);
  return c;
}

nlohmann::json condense_config_json(const CondenseConfig& c) {
  return {{"ipc", c.ipc},           {"factor", c.factor},         {"niter", c.niter},
          {"inner", c.inner},       {"metric", metric_name(c.metric)}, {"lr_img", c.lr_img},
          {"mom_img", c.mom_img},   {"batch_real", c.batch_real}, {"batch_syn_max", c.batch_syn_max},
          {"n_data", c.n_data},     {"batch_net", c.batch_net},   {"dsa_match", c.dsa_match},
          {"dsa_net", c.dsa_net},   {"cutmix_p", c.cutmix_p},     {"seed", c.seed},
          {"init", "mix"},          {"net", "convnet3-instance"}, {"net_sgd", "lr 0.01 momentum 0.9 wd 5e-4"},
          {"cuda_graph", c.cuda_graph}, {"numerics", app::numerics_json()}};
}

CondenseState condense_init(const data::Dataset& train, const CondenseConfig& cfg) {
  data::CondensedSet mix = make_mix_set(train, cfg.ipc, cfg.factor);
  CondenseState s;
  for (int64_t c = 0; c < train.num_classes; ++c) {
    Tensor t = slice(mix.images, 0, c * cfg.ipc, (c + 1) * cfg.ipc).clone().to(cfg.device);
    t.set_requires_grad(true);
    s.stored.push_back(t);
    s.momentum.emplace_back();
  }
  return s;
}

float condense_inner_step(const data::Dataset& train, const CondenseConfig& cfg, CondenseState& st, ConvNet& net,
                          SGD& net_opt, int64_t outer, int64_t inner, CondenseGraphs* graphs) {
  const std::vector<std::vector<int64_t>>& by_class = st.class_index(train);
  const data::Dsa siamese(cfg.dsa_match, /*batch=*/true);
  const Device dev = cfg.device;
  const std::vector<Tensor> weights = net.conv_weights();
  // Each class's matching loss stays on the device in its slot (no host wait per class, so the host keeps
  // queueing the next class's work); the host sums the slots in double, in class order, once per inner step.
  Tensor class_loss = empty({train.num_classes}, DType::F32, dev);
  auto mean_loss = [&](int64_t classes) {
    const std::vector<float> v = class_loss.to_vector();
    double sum = 0;
    for (int64_t k = 0; k < classes; ++k) sum += v[static_cast<size_t>(k)];
    return static_cast<float>(sum / static_cast<double>(std::max<int64_t>(classes, 1)));
  };
  for (int64_t c = 0; c < train.num_classes; ++c) {
    if (cfg.stop && cfg.stop->load()) return mean_loss(c);
    NvtxRange nvtx("match_step");
    const uint64_t key = (static_cast<uint64_t>(outer) * static_cast<uint64_t>(cfg.inner) + static_cast<uint64_t>(inner)) *
                             static_cast<uint64_t>(train.num_classes) + static_cast<uint64_t>(c);
    // Real batch of class c, normalised then augmented with the shared (Siamese) draw.
    std::vector<int64_t> ridx = sample_k(by_class[c], cfg.batch_real, cfg.seed, kRealBatchStream, key);
    Tensor xr = data::gather_images(train, ridx, dev);
    Tensor xs = data::decode(st.stored[c], cfg.factor);  // differentiable to the stored images
    if (xs.size(0) > cfg.batch_syn_max) {
      std::vector<int64_t> all(static_cast<size_t>(xs.size(0)));
      for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int64_t>(i);
      std::vector<int64_t> sidx = sample_k(all, cfg.batch_syn_max, cfg.seed, kSynSubsampleStream, key);
      xs = index_select(xs, 0, from_int_vector(sidx, {static_cast<int64_t>(sidx.size())}, dev));
    }
    Tensor ar, as;
    {
      NoGradGuard no_grad;
      ar = siamese(data::normalize(xr, train.mean, train.std), cfg.seed, key);
    }
    as = siamese(data::normalize(xs, train.mean, train.std), cfg.seed, key);
    Tensor yr = from_int_vector(std::vector<int64_t>(static_cast<size_t>(ar.size(0)), c), {ar.size(0)}, dev);
    Tensor ys = from_int_vector(std::vector<int64_t>(static_cast<size_t>(as.size(0)), c), {as.size(0)}, dev);
    Tensor d, g_img;
    if (graphs) {
      // The network half from a graph, then the rest of the chain rule (Siamese DSA, normalisation, decoding)
      // eagerly from the synthetic batch's gradient.
      GraphedMatchStep::Result r =
          graphs->match.run(ar, one_hot(yr, train.num_classes), as.detach(), one_hot(ys, train.num_classes));
      d = r.distance;
      g_img = grad({as}, {st.stored[c]}, {r.grad_syn})[0];
    } else {
      std::vector<Tensor> gr = grad({cross_entropy(net.forward(ar), yr)}, weights);
      std::vector<Tensor> gs = grad({cross_entropy(net.forward(as), ys)}, weights, {}, /*create_graph=*/true);
      d = match_distance(gr, gs, cfg.metric);
      g_img = grad({d}, {st.stored[c]})[0];
    }
    Tensor slot = make_view(class_loss, {1}, c);
    copy_(slot, d.detach());
    // Image SGD (momentum 0.5, no weight decay) for class c, as IDC's per-class optimiser step.
    NoGradGuard no_grad;
    Tensor& buf = st.momentum[c];
    buf = buf.defined() ? add(mul_scalar(buf, cfg.mom_img), g_img) : g_img.clone();
    Tensor updated = sub(st.stored[c].detach(), mul_scalar(buf, cfg.lr_img));
    copy_(st.stored[c], updated);
  }
  // Network update: n_data real images, batch 64, DSA without cutout (per sample) + CutMix.
  const data::Dsa dsa_net(cfg.dsa_net, /*batch=*/false);
  const std::vector<int64_t>& all = st.all_index(train);
  const uint64_t nkey = static_cast<uint64_t>(outer) * static_cast<uint64_t>(cfg.inner) + static_cast<uint64_t>(inner);
  std::vector<int64_t> pick = sample_k(all, cfg.n_data, cfg.seed, kNetDataStream, nkey);
  for (int64_t s = 0, b = 0; s < static_cast<int64_t>(pick.size()); s += cfg.batch_net, ++b) {
    std::vector<int64_t> idx(pick.begin() + s, pick.begin() + std::min<int64_t>(s + cfg.batch_net, pick.size()));
    train_batch(net, net_opt, train, idx, &dsa_net, cfg.cutmix_p, cfg.seed ^ 0x5eedull, (nkey << 8) + static_cast<uint64_t>(b),
                nullptr, nullptr, graphs ? &graphs->train : nullptr);
  }
  return mean_loss(train.num_classes);
}

void save_checkpoint(const std::string& path, const CondenseConfig& cfg, const CondenseState& s) {
  std::map<std::string, Tensor> arrays;
  for (size_t c = 0; c < s.stored.size(); ++c) {
    arrays["stored/" + std::to_string(c)] = s.stored[c].detach().cpu();
    if (s.momentum[c].defined()) arrays["momentum/" + std::to_string(c)] = s.momentum[c].cpu();
  }
  nlohmann::json meta = {{"kind", "yoco-condense-checkpoint"}, {"next_outer", s.next_outer},
                         {"config", condense_config_json(cfg)}, {"loss_history", s.loss_history}};
  data::save_arrays_with_meta(path, arrays, meta);
}

CondenseState load_checkpoint(const std::string& path, const CondenseConfig& cfg) {
  data::ArraysWithMeta a = data::load_arrays_with_meta(path);
  YOCO_CHECK(a.meta.value("kind", "") == "yoco-condense-checkpoint", path, ": not a condensation checkpoint");
  nlohmann::json want = condense_config_json(cfg), have = a.meta["config"];
  for (const char* k : {"ipc", "factor", "inner", "metric", "lr_img", "batch_real", "n_data", "dsa_match", "dsa_net", "seed"})
    YOCO_CHECK(have[k] == want[k], path, ": checkpoint was made with ", k, " = ", have[k].dump(), ", this run has ",
               want[k].dump(), " (resume with the same flags)");
  CondenseState s;
  s.next_outer = a.meta["next_outer"].get<int64_t>();
  s.loss_history = a.meta["loss_history"].get<std::vector<double>>();
  for (int64_t c = 0;; ++c) {
    auto it = a.arrays.find("stored/" + std::to_string(c));
    if (it == a.arrays.end()) break;
    Tensor t = it->second.clone().to(cfg.device);
    t.set_requires_grad(true);
    s.stored.push_back(t);
    auto m = a.arrays.find("momentum/" + std::to_string(c));
    s.momentum.push_back(m == a.arrays.end() ? Tensor() : m->second.clone().to(cfg.device));
  }
  YOCO_CHECK(!s.stored.empty(), path, ": checkpoint holds no stored images");
  return s;
}

data::CondensedSet state_to_set(const data::Dataset& train, const CondenseConfig& cfg, const CondenseState& s) {
  data::CondensedSet out;
  std::vector<Tensor> parts;
  std::vector<int64_t> labels;
  for (size_t c = 0; c < s.stored.size(); ++c) {
    parts.push_back(clamp(s.stored[c].detach().cpu(), 0.f, 1.f));
    labels.insert(labels.end(), static_cast<size_t>(cfg.ipc), static_cast<int64_t>(c));
  }
  out.images = concat(parts, 0);
  out.labels = from_int_vector(labels, {static_cast<int64_t>(labels.size())});
  out.meta = data::meta_for(train, cfg.ipc, cfg.factor, "idc", cfg.seed);
  out.meta.config = condense_config_json(cfg);
  out.meta.config["outer_completed"] = s.next_outer;
  return out;
}

bool condense_run(const data::Dataset& train_set, const CondenseConfig& cfg, CondenseState& st) {
  const data::Dataset train = resident_for_training(train_set, cfg.device);
  const std::string ckpt = cfg.checkpoint_path;
  auto t0 = Clock::now();
  const int64_t start = st.next_outer;
  bool graph_error_reported = false;
  for (int64_t outer = st.next_outer; outer < cfg.niter; ++outer) {
    NvtxRange nvtx("condense_outer");
    // Snapshot of the last complete outer iteration: what a signal-time checkpoint writes.
    CondenseState snapshot = st;
    for (size_t c = 0; c < st.stored.size(); ++c) {
      NoGradGuard no_grad;
      copy_(st.stored[c], clamp(st.stored[c].detach(), 0.f, 1.f));  // IDC clamps at each outer iteration
      snapshot.stored[c] = st.stored[c].detach().clone();
      if (st.momentum[c].defined()) snapshot.momentum[c] = st.momentum[c].clone();
    }
    ConvNet net(convnet_for(train), mix_seed(cfg.seed, kNetSeedStream, static_cast<uint64_t>(outer)), cfg.device);
    SGD net_opt(net.parameters(), 0.01f, 0.9f, 5e-4f);
    // A new net each outer iteration, so new graphs too: at the defaults its 100 inner steps replay the matching
    // graph about 1000 times and the network-update one about 800.
    std::unique_ptr<CondenseGraphs> graphs;
    if (cfg.cuda_graph) graphs = std::make_unique<CondenseGraphs>(net, net_opt, cfg.metric, /*capture=*/true);
    double loss = 0;
    for (int64_t inner = 0; inner < cfg.inner; ++inner) {
      loss += condense_inner_step(train, cfg, st, net, net_opt, outer, inner, graphs.get());
      if (cfg.stop && cfg.stop->load()) {
        if (!ckpt.empty()) save_checkpoint(ckpt, cfg, snapshot);
        st = snapshot;
        for (Tensor& t : st.stored) t.set_requires_grad(true);
        std::fprintf(stderr, "condense: stopped; state of %lld complete outer iterations saved to %s\n",
                     static_cast<long long>(st.next_outer), ckpt.c_str());
        return false;
      }
    }
    if (graphs && !graph_error_reported) {  // once per run: each outer iteration's graphs would say the same
      const std::string& e =
          graphs->match.capture_error().empty() ? graphs->train.capture_error() : graphs->match.capture_error();
      if (!e.empty()) {
        std::fprintf(stderr, "condense: CUDA graph capture failed, those steps ran eagerly: %s\n", e.c_str());
        graph_error_reported = true;
      }
    }
    st.loss_history.push_back(loss / static_cast<double>(cfg.inner));
    st.next_outer = outer + 1;
    double el = std::chrono::duration<double>(Clock::now() - t0).count();
    if (cfg.progress) {
      double per = el / static_cast<double>(outer + 1 - start);
      double inner_steps_per_s = static_cast<double>((outer + 1 - start) * cfg.inner) / el;
      std::fprintf(stderr, "condense: outer %lld/%lld match loss %.4f | %.2f inner steps/s, %.0f syn img/s | ETA %s\n",
                   static_cast<long long>(outer + 1), static_cast<long long>(cfg.niter), st.loss_history.back(),
                   inner_steps_per_s,
                   inner_steps_per_s * static_cast<double>(train.num_classes * cfg.ipc * cfg.factor * cfg.factor),
                   format_duration(per * static_cast<double>(cfg.niter - outer - 1)).c_str());
    }
    if (!ckpt.empty() && cfg.checkpoint_every > 0 && st.next_outer % cfg.checkpoint_every == 0)
      save_checkpoint(ckpt, cfg, st);
  }
  return true;
}

}  // namespace yoco::app
