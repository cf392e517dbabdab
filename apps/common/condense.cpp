// IDC condensation loop (see condense.h). Every random draw is a Philox stream keyed by (seed, outer, inner,
// class), so a run resumed from a checkpoint at an outer-iteration boundary is bit-identical on CPU.
#include "apps/common/condense.h"
#include <chrono>
#include <cmath>
#include <cstdio>
#include "apps/common/cli.h"
#include "apps/common/finite_check.h"
#include "apps/common/mix_set.h"
#include "apps/common/trainer.h"
#include "data/augment.h"
#include "data/decode.h"
#include "data/npz.h"
#include "data/printable.h"
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

// Stops condensation at the first NaN or inf of an inner step (class -1: the network update), before anything
// holding it can reach a checkpoint; the last checkpoint written stays as it was.
void check_finite_step(const CondenseConfig& cfg, float v, const char* what, int64_t outer, int64_t inner,
                       int64_t cls) {
  if (std::isfinite(v)) return;
  YOCO_CHECK(false, "condensation stopped: ", what, " became non-finite (", v, ") at outer iteration ", outer + 1, "/",
             cfg.niter, ", inner step ", inner + 1, "/", cfg.inner, cls >= 0 ? ", class " + std::to_string(cls) : "",
             " (lr_img ", cfg.lr_img, "); no checkpoint was written from it",
             cfg.checkpoint_path.empty() ? "" : " (" + cfg.checkpoint_path + " is left as it was)");
}
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
  } else {  // cifar10 / cifar100: IDC's argument.py defaults (aug_type color_crop_cutout; the net's DSA drops cutout)
    c.metric = MatchMetric::Mse, lr = 5e-3f, c.n_data = 2000;
    c.dsa_match = "color_crop_cutout", c.dsa_net = "color_crop";
  }
  c.lr_img = lr * (static_cast<float>(ipc) / 10.f) * (size / base) * (size / base);
  return c;
}

void validate(const CondenseConfig& c, const SettingNames& names) {
  const SettingCheck check("CondenseConfig", names);
  check.at_least("ipc", c.ipc, 1);
  check.at_least("factor", c.factor, 1);
  check.at_least("niter", c.niter, 1);
  check.at_least("inner", c.inner, 1);
  check.positive_finite("lr_img", c.lr_img);
  check.fraction_below_one("mom_img", c.mom_img);
  check.at_least("batch_real", c.batch_real, 1);
  check.at_least("batch_syn_max", c.batch_syn_max, 1);
  check.at_least("n_data", c.n_data, 1);
  check.at_least("batch_net", c.batch_net, 1);
  check.within("cutmix_p", c.cutmix_p, 0, 1);
  check.at_least("checkpoint_every", c.checkpoint_every, 0);
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
  validate(cfg);
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

float condense_inner_step(const data::Dataset& train, const CondenseConfig& cfg, CondenseState& st,
                          CondenseSteps& steps, int64_t outer, int64_t inner) {
  const std::vector<std::vector<int64_t>>& by_class = st.class_index(train);
  const data::Dsa siamese(cfg.dsa_match, /*batch=*/true);
  const Device dev = cfg.device;
  // Each class's matching loss stays on the device in its slot (no host wait per class, so the host keeps
  // queueing the next class's work); the host sums the slots in double, in class order, once per inner step.
  // Beside them, in the same read: each class's stored images' nonfinite_probe after its image step (slot K + c)
  // and the network update's (slot 2K), so the non-finite guard adds no host wait.
  const int64_t K = train.num_classes;
  Tensor slots = empty({2 * K + 1}, DType::F32, dev);
  Tensor class_loss = make_view(slots, {K}, 0);
  // This rank's classes (all of them in a one-process run).
  const int64_t c_begin = cfg.class_begin, c_end = cfg.class_end < 0 ? K : cfg.class_end;
  YOCO_CHECK(c_begin >= 0 && c_begin < c_end && c_end <= K, "condense: class block [", c_begin, ", ", c_end,
             ") is not within the ", K, " classes");
  auto mean_loss = [&](int64_t classes_end, bool net_updated) {
    const std::vector<float> v = slots.to_vector();
    for (int64_t k = c_begin; k < classes_end; ++k) {  // in the order they were computed: the first bad value is named
      check_finite_step(cfg, v[static_cast<size_t>(k)], "the matching loss", outer, inner, k);
      check_finite_step(cfg, v[static_cast<size_t>(K + k)], "the stored images", outer, inner, k);
    }
    if (net_updated) check_finite_step(cfg, v[static_cast<size_t>(2 * K)], "the network update's loss", outer, inner, -1);
    st.class_loss.assign(static_cast<size_t>(K), 0.f);
    double sum = 0;
    for (int64_t k = c_begin; k < classes_end; ++k) {
      sum += v[static_cast<size_t>(k)];
      st.class_loss[static_cast<size_t>(k)] = v[static_cast<size_t>(k)];
    }
    return static_cast<float>(sum / static_cast<double>(std::max<int64_t>(classes_end - c_begin, 1)));
  };
  const auto t_classes = Clock::now();
  for (int64_t c = c_begin; c < c_end; ++c) {
    if (cfg.stop && cfg.stop->load()) return mean_loss(c, false);
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
    // The network half (replayed from a graph with cuda_graph), then the rest of the chain rule (Siamese DSA,
    // normalisation, decoding) from the synthetic batch's gradient.
    MatchStep::Result r =
        steps.match.run(ar, one_hot(yr, train.num_classes), as.detach(), one_hot(ys, train.num_classes));
    Tensor g_img = grad({as}, {st.stored[c]}, {r.grad_syn})[0];
    Tensor slot = make_view(class_loss, {1}, c);
    copy_(slot, r.distance);
    // Image SGD (momentum 0.5, no weight decay) for class c, as IDC's per-class optimiser step.
    NoGradGuard no_grad;
    Tensor& buf = st.momentum[c];
    buf = buf.defined() ? add(mul_scalar(buf, cfg.mom_img), g_img) : g_img.clone();
    Tensor updated = sub(st.stored[c].detach(), mul_scalar(buf, cfg.lr_img));
    copy_(st.stored[c], updated);
    Tensor probe_slot = make_view(slots, {1}, K + c);
    copy_(probe_slot, nonfinite_probe(st.stored[c]));
  }
  const auto t_net = Clock::now();
  st.class_seconds += std::chrono::duration<double>(t_net - t_classes).count();
  // Network update: n_data real images, batch 64, DSA without cutout (per sample) + CutMix.
  const data::Dsa dsa_net(cfg.dsa_net, /*batch=*/false);
  const std::vector<int64_t>& all = st.all_index(train);
  const uint64_t nkey = static_cast<uint64_t>(outer) * static_cast<uint64_t>(cfg.inner) + static_cast<uint64_t>(inner);
  std::vector<int64_t> pick = sample_k(all, cfg.n_data, cfg.seed, kNetDataStream, nkey);
  Tensor net_probe;  // Σ of the batches' probes, queued eagerly after each (graphed) step: 0 or NaN
  for (int64_t s = 0, b = 0; s < static_cast<int64_t>(pick.size()); s += cfg.batch_net, ++b) {
    std::vector<int64_t> idx(pick.begin() + s, pick.begin() + std::min<int64_t>(s + cfg.batch_net, pick.size()));
    Tensor loss = train_batch(steps.train, train, idx, &dsa_net, cfg.cutmix_p, cfg.seed ^ 0x5eedull,
                              (nkey << 8) + static_cast<uint64_t>(b));
    Tensor probe = nonfinite_probe(loss);
    net_probe = net_probe.defined() ? add(net_probe, probe) : probe;
  }
  Tensor net_slot = make_view(slots, {1}, 2 * K);
  if (net_probe.defined()) copy_(net_slot, net_probe);
  // On CUDA the split is of host time: the device is waited for once, in mean_loss.
  const float loss = mean_loss(c_end, net_probe.defined());
  st.net_seconds += std::chrono::duration<double>(Clock::now() - t_net).count();
  return loss;
}

namespace {
constexpr const char* kCheckpointKind = "yoco-condense-checkpoint";

// What a checkpoint must agree on with the run that resumes it: the data it condenses and the device, beside the
// configuration (condense_config_json, numerics included).
nlohmann::json checkpoint_config_json(const data::Dataset& train, const CondenseConfig& cfg) {
  nlohmann::json j = condense_config_json(cfg);
  j["dataset"] = train.name;
  j["num_classes"] = train.num_classes;
  j["channels"] = train.channels;
  j["height"] = train.height;
  j["width"] = train.width;
  j["device"] = device_name(cfg.device);
  return j;
}

// obj[key] when obj is an object holding key, else nullptr (operator[] would insert a null, at() would throw
// nlohmann's own message).
const nlohmann::json* field(const nlohmann::json& obj, const char* key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

// "stored/<k>" -> k for a canonical decimal k (no sign, no leading zero), else -1.
int64_t class_of(const std::string& name, const std::string& prefix) {
  if (name.compare(0, prefix.size(), prefix) != 0) return -1;
  const std::string k = name.substr(prefix.size());
  if (k.empty() || k.size() > 9 || (k.size() > 1 && k[0] == '0')) return -1;
  for (char ch : k)
    if (ch < '0' || ch > '9') return -1;
  return std::stoll(k);
}

// A stored or momentum array of class k: f32 [ipc, C, H, W], every value finite.
void check_class_array(const std::string& path, const std::string& name, const Tensor& t, const Shape& want) {
  YOCO_CHECK(t.dtype() == DType::F32 && t.shape() == want, path, ": checkpoint array '", name, "' is ", t.str(),
             ", this run needs f32", shape_str(want));
  const std::vector<float> v = t.to_vector();
  const int64_t bad = first_nonfinite(v);
  YOCO_CHECK(bad < 0, path, ": checkpoint array '", name, "' holds a non-finite value (", bad >= 0 ? v[bad] : 0.f,
             " at element ", bad, ")");
}
}  // namespace

void save_checkpoint(const std::string& path, const data::Dataset& train, const CondenseConfig& cfg,
                     const CondenseState& s) {
  // Never checkpoint a NaN or inf: the file would overwrite the last good state and could not be resumed.
  std::map<std::string, Tensor> arrays;
  auto add_array = [&](const std::string& name, const Tensor& t) {
    Tensor host = t.detach().cpu();
    const std::vector<float> v = host.to_vector();
    const int64_t bad = first_nonfinite(v);
    YOCO_CHECK(bad < 0, path, ": refusing to write a checkpoint whose '", name, "' holds a non-finite value (",
               bad >= 0 ? v[bad] : 0.f, " at element ", bad, ") after ", s.next_outer, " outer iterations");
    arrays[name] = host;
  };
  for (size_t c = 0; c < s.stored.size(); ++c) {
    add_array("stored/" + std::to_string(c), s.stored[c]);
    if (s.momentum[c].defined()) add_array("momentum/" + std::to_string(c), s.momentum[c]);
  }
  for (size_t i = 0; i < s.loss_history.size(); ++i)
    YOCO_CHECK(std::isfinite(s.loss_history[i]), path, ": refusing to write a checkpoint whose loss_history[", i,
               "] is ", s.loss_history[i]);
  nlohmann::json meta = {{"kind", kCheckpointKind}, {"next_outer", s.next_outer},
                         {"config", checkpoint_config_json(train, cfg)}, {"loss_history", s.loss_history}};
  data::save_arrays_with_meta(path, arrays, meta);
}

CondenseState load_checkpoint(const std::string& path, const data::Dataset& train, const CondenseConfig& cfg) {
  data::ArraysWithMeta a = data::load_arrays_with_meta(path);
  const nlohmann::json* kind = field(a.meta, "kind");
  YOCO_CHECK(kind && *kind == kCheckpointKind, path, ": not a condensation checkpoint (meta.kind is ",
             kind ? kind->dump() : "missing", ", expected \"", kCheckpointKind, "\")");
  const nlohmann::json* have = field(a.meta, "config");
  YOCO_CHECK(have && have->is_object(), path, ": checkpoint meta has no 'config' object");
  const nlohmann::json want = checkpoint_config_json(train, cfg);
  auto same = [&](const nlohmann::json* h, const nlohmann::json& w, const std::string& name, const char* hint) {
    YOCO_CHECK(h && *h == w, path, ": checkpoint was made with ", name, " = ", h ? h->dump() : "(missing)",
               ", this run has ", w.dump(), hint);
  };
  for (const char* k : {"dataset", "num_classes", "channels", "height", "width", "device", "ipc", "factor", "inner",
                        "metric", "lr_img", "mom_img", "batch_real", "batch_syn_max", "n_data", "batch_net",
                        "dsa_match", "dsa_net", "cutmix_p", "seed"})
    same(field(*have, k), want.at(k), k, " (resume with the data and flags the checkpoint was made with)");
  // The numerics that change results on this run's device (cuda_graph and niter do not: same numbers).
  const nlohmann::json* num = field(*have, "numerics");
  const nlohmann::json& want_num = want.at("numerics");
  const char* num_hint = " (numeric settings that change results must match: YOCO_CONV, OMP_NUM_THREADS, "
                         "YOCO_ALLOW_TF32, YOCO_CONV_SEARCH, YOCO_CUDNN_API)";
  std::vector<const char*> numerics;
  if (cfg.device == Device::CPU) {
    // The thread count always: oneDNN's convolutions depend on it, and so does a whole condensation with im2col ones
    // (measured: 1 and 2 threads first differ at byte 31 791 of the set; docs/scaling.md).
    numerics = {"cpu_conv", "cpu_threads"};
  } else {
    numerics = {"allow_tf32", "cuda_conv_search", "cudnn_api"};
  }
  for (const char* k : numerics) same(num ? field(*num, k) : nullptr, want_num.at(k), std::string("numerics.") + k, num_hint);

  CondenseState s;
  const nlohmann::json* next = field(a.meta, "next_outer");
  YOCO_CHECK(next && next->is_number_integer() && next->get<int64_t>() >= 0 && next->get<int64_t>() <= cfg.niter,
             path, ": checkpoint next_outer is ", next ? next->dump() : "(missing)", ", expected an integer in [0, ",
             cfg.niter, "] (this run's niter)");
  s.next_outer = next->get<int64_t>();
  const nlohmann::json* hist = field(a.meta, "loss_history");
  YOCO_CHECK(hist && hist->is_array() && static_cast<int64_t>(hist->size()) == s.next_outer, path,
             ": checkpoint loss_history should be an array of next_outer = ", s.next_outer, " numbers, got ",
             hist ? (hist->is_array() ? std::to_string(hist->size()) + " entries" : hist->type_name()) : "none");
  for (size_t i = 0; i < hist->size(); ++i) {
    const nlohmann::json& v = (*hist)[i];
    YOCO_CHECK(v.is_number() && std::isfinite(v.get<double>()), path, ": checkpoint loss_history[", i, "] is ",
               v.dump(), ", expected a finite number");
    s.loss_history.push_back(v.get<double>());
  }

  // Exactly stored/0..K-1, and momentum/0..K-1 once an outer iteration has run (none before).
  const int64_t K = train.num_classes;
  for (const auto& kv : a.arrays) {
    const int64_t k = std::max(class_of(kv.first, "stored/"), class_of(kv.first, "momentum/"));
    YOCO_CHECK(k >= 0 && k < K, path, ": unexpected checkpoint array '", data::printable(kv.first), "' (this run has ", K,
               " classes: stored/0..", K - 1, " and momentum/0..", K - 1, ")");
  }
  const Shape shape{cfg.ipc, train.channels, train.height, train.width};
  for (int64_t c = 0; c < K; ++c) {
    const std::string sname = "stored/" + std::to_string(c), mname = "momentum/" + std::to_string(c);
    auto it = a.arrays.find(sname);
    YOCO_CHECK(it != a.arrays.end(), path, ": checkpoint has no '", sname, "' (this run has ", K, " classes)");
    check_class_array(path, sname, it->second, shape);
    Tensor t = it->second.clone().to(cfg.device);
    t.set_requires_grad(true);
    s.stored.push_back(t);
    auto m = a.arrays.find(mname);
    YOCO_CHECK((m != a.arrays.end()) == (s.next_outer > 0), path, ": checkpoint ",
               m != a.arrays.end() ? "has" : "lacks", " '", mname, "' after ", s.next_outer,
               " outer iterations (momentum exists once an outer iteration has run)");
    if (m != a.arrays.end()) check_class_array(path, mname, m->second, shape);
    s.momentum.push_back(m == a.arrays.end() ? Tensor() : m->second.clone().to(cfg.device));
  }
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

namespace {
// Rank 0 collects every class's stored images (and momentum, once it exists) from the rank owning it; the
// blocks arrive in rank order, which is class order.
void gather_state(const Comm& comm, const data::Dataset& train, const CondenseConfig& cfg, CondenseState& s) {
  if (!comm.distributed()) return;
  const int64_t K = train.num_classes;
  const ClassShard mine = class_shard(K, comm.rank(), comm.size());
  // The same on every rank: momentum exists for every class once an outer iteration has run.
  const bool with_momentum = s.momentum[static_cast<size_t>(mine.begin)].defined();
  std::vector<float> flat;
  for (int64_t c = mine.begin; c < mine.end; ++c) {
    const std::vector<float> img = s.stored[static_cast<size_t>(c)].detach().cpu().to_vector();
    flat.insert(flat.end(), img.begin(), img.end());
    if (!with_momentum) continue;
    const std::vector<float> mom = s.momentum[static_cast<size_t>(c)].cpu().to_vector();
    flat.insert(flat.end(), mom.begin(), mom.end());
  }
  const std::vector<std::vector<float>> parts = comm.gather(flat);
  if (comm.rank() != 0) return;
  const Shape shape{cfg.ipc, train.channels, train.height, train.width};
  const size_t per = static_cast<size_t>(cfg.ipc * train.channels * train.height * train.width);
  NoGradGuard no_grad;
  for (int r = 0; r < comm.size(); ++r) {
    const ClassShard theirs = class_shard(K, r, comm.size());
    const std::vector<float>& p = parts[static_cast<size_t>(r)];
    YOCO_CHECK(p.size() == per * static_cast<size_t>(theirs.end - theirs.begin) * (with_momentum ? 2 : 1),
               "condense: rank ", r, " sent ", p.size(), " values for classes [", theirs.begin, ", ", theirs.end, ")");
    size_t at = 0;
    auto next = [&] {
      std::vector<float> v(p.begin() + static_cast<std::ptrdiff_t>(at), p.begin() + static_cast<std::ptrdiff_t>(at + per));
      at += per;
      return from_vector(v, shape, cfg.device);
    };
    for (int64_t c = theirs.begin; c < theirs.end; ++c) {
      copy_(s.stored[static_cast<size_t>(c)], next());
      if (with_momentum) s.momentum[static_cast<size_t>(c)] = next();
    }
  }
}

// "; 3 ranks: class steps 1.20-1.31 s (slowest rank 2), network updates 0.52 s" for one outer iteration, from
// each rank's seconds (rank 0 gets them; "" elsewhere and in a one-process run).
std::string rank_times(const Comm& comm, double class_s, double net_s) {
  const std::vector<double> cls = comm.gather(class_s), net = comm.gather(net_s);
  if (!comm.distributed() || comm.rank() != 0) return "";
  size_t slow = 0, fast = 0;
  for (size_t r = 0; r < cls.size(); ++r) {
    if (cls[r] > cls[slow]) slow = r;
    if (cls[r] < cls[fast]) fast = r;
  }
  double net_max = 0;
  for (double v : net) net_max = std::max(net_max, v);
  char buf[160];
  std::snprintf(buf, sizeof buf, " | %d ranks: class steps %.2f-%.2f s (slowest rank %zu), network updates %.2f s",
                comm.size(), cls[fast], cls[slow], slow, net_max);
  return buf;
}
}  // namespace

bool condense_run(const data::Dataset& train_set, const CondenseConfig& cfg_in, CondenseState& st) {
  validate(cfg_in);
  const Comm single;
  const Comm& comm = cfg_in.comm ? *cfg_in.comm : single;
  CondenseConfig cfg = cfg_in;
  const int64_t K = train_set.num_classes;
  if (comm.distributed()) {
    YOCO_CHECK(comm.size() <= K, "condense: ", comm.size(), " ranks but ", train_set.name, " has ", K,
               " classes: start at most one rank per class");
    const ClassShard mine = class_shard(K, comm.rank(), comm.size());
    cfg.class_begin = mine.begin;
    cfg.class_end = mine.end;
  }
  const bool report = cfg.progress && comm.rank() == 0;
  const data::Dataset train = resident_for_training(train_set, cfg.device);
  const std::string ckpt = cfg.checkpoint_path;
  auto save = [&](CondenseState& s) {  // rank 0 writes what every rank holds
    gather_state(comm, train, cfg, s);
    if (!ckpt.empty() && comm.rank() == 0) save_checkpoint(ckpt, train, cfg, s);
  };
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
    // A new net each outer iteration, so new steps too: with cuda_graph, at the defaults its 100 inner steps replay
    // the matching graph about 1000 times and the network-update one about 800.
    CondenseSteps steps(net, net_opt, cfg.metric, cfg.cuda_graph);
    const double class_s0 = st.class_seconds, net_s0 = st.net_seconds;
    double loss = 0;
    std::vector<float> my_losses;  // [inner][this rank's classes], for the one-process loss on every rank
    for (int64_t inner = 0; inner < cfg.inner; ++inner) {
      loss += condense_inner_step(train, cfg, st, steps, outer, inner);
      my_losses.insert(my_losses.end(), st.class_loss.begin() + cfg.class_begin,
                       st.class_loss.begin() + (cfg.class_end < 0 ? K : cfg.class_end));
      // Every rank stops at the same inner step (a signal may reach them at different times).
      if (comm.any(cfg.stop && cfg.stop->load())) {
        save(snapshot);
        st = snapshot;
        for (Tensor& t : st.stored) t.set_requires_grad(true);
        if (comm.rank() == 0)
          std::fprintf(stderr, "condense: stopped; state of %lld complete outer iterations saved to %s\n",
                       static_cast<long long>(st.next_outer), ckpt.c_str());
        return false;
      }
    }
    if (comm.distributed()) {
      // The one-process mean: per inner step, the classes' losses summed in class order (rank order is class
      // order), so loss_history and the checkpoints do not depend on the number of ranks.
      const std::vector<std::vector<float>> parts = comm.allgather(my_losses);
      loss = 0;
      for (int64_t inner = 0; inner < cfg.inner; ++inner) {
        double sum = 0;
        for (int r = 0; r < comm.size(); ++r) {
          const ClassShard b = class_shard(K, r, comm.size());
          for (int64_t c = b.begin; c < b.end; ++c)
            sum += parts[static_cast<size_t>(r)][static_cast<size_t>(inner * (b.end - b.begin) + (c - b.begin))];
        }
        loss += static_cast<float>(sum / static_cast<double>(K));
      }
    }
    if (!graph_error_reported) {  // once per run: each outer iteration's graphs would say the same
      const std::string& e =
          steps.match.capture_error().empty() ? steps.train.capture_error() : steps.match.capture_error();
      if (!e.empty()) {
        std::fprintf(stderr, "condense: CUDA graph capture failed, those steps ran eagerly: %s\n", e.c_str());
        graph_error_reported = true;
      }
    }
    st.loss_history.push_back(loss / static_cast<double>(cfg.inner));
    st.next_outer = outer + 1;
    double el = std::chrono::duration<double>(Clock::now() - t0).count();
    const std::string ranks = rank_times(comm, st.class_seconds - class_s0, st.net_seconds - net_s0);
    if (report) {
      double per = el / static_cast<double>(outer + 1 - start);
      double inner_steps_per_s = static_cast<double>((outer + 1 - start) * cfg.inner) / el;
      std::fprintf(stderr, "condense: outer %lld/%lld match loss %.4f | %.2f inner steps/s, %.0f syn img/s | ETA %s%s\n",
                   static_cast<long long>(outer + 1), static_cast<long long>(cfg.niter), st.loss_history.back(),
                   inner_steps_per_s,
                   inner_steps_per_s * static_cast<double>(train.num_classes * cfg.ipc * cfg.factor * cfg.factor),
                   format_duration(per * static_cast<double>(cfg.niter - outer - 1)).c_str(), ranks.c_str());
    }
    if (!ckpt.empty() && cfg.checkpoint_every > 0 && st.next_outer % cfg.checkpoint_every == 0) save(st);
  }
  gather_state(comm, train, cfg, st);  // rank 0 returns every class's state
  return true;
}

}  // namespace yoco::app
