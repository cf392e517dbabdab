// YOCO pruning pipeline (see prune.h; algorithms.md §1.2-§1.5).
#include "apps/common/prune.h"
#include <cstdio>
#include "apps/common/cli.h"
#include "apps/common/finite_check.h"
#include "data/augment.h"
#include "data/set_dataset.h"
#include "engine/context.h"
#include "engine/ops.h"
#include "engine/per_sample.h"
#include "models/convnet.h"

namespace yoco::app {

std::string set_fingerprint(const data::CondensedSet& set) {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&](const void* p, size_t n) {
    const unsigned char* b = static_cast<const unsigned char*>(p);
    for (size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 1099511628211ull;
  };
  Tensor im = set.images.cpu(), lb = set.labels.cpu();
  mix(im.raw(), static_cast<size_t>(im.numel()) * 4);
  mix(lb.raw(), static_cast<size_t>(lb.numel()) * 8);
  char buf[20];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

ScoreTable run_scoring(const data::CondensedSet& set, const ScoringOptions& opt, nlohmann::json* meta_out) {
  data::Dataset d = data::decoded_dataset(set);
  const int64_t n = d.size();
  ConvNet net(convnet_for(d), opt.train.seed, opt.device);
  DynamicsRecorder rec(n, opt.train.epochs, opt.score);
  TrainResult tr = train_model(net, d, nullptr, opt.train, [&](const BatchView& b) { rec.observe(b); });

  ScoreTable t;
  t.labels = d.labels.to_int_vector();
  t.num_classes = d.num_classes;
  t.ipc_from = set.meta.ipc;
  t.factor = set.meta.factor;
  t.dataset = set.meta.dataset;
  std::vector<int64_t> chosen;
  t.difficulty["yoco"] = lbpe_topk(rec.el2n_by_epoch(), rec.correct_by_epoch(), n, opt.score.stop_epoch,
                                   opt.score.top_k, &chosen);
  t.difficulty["el2n"] = el2n_sum(rec.el2n_by_epoch(), n, opt.score.el2n_epochs);
  t.difficulty["forgetting"] = rec.forgetting();
  std::vector<float> neg_aum = rec.aum();
  for (float& v : neg_aum) v = -v;  // low margin = hard
  t.difficulty["aum"] = neg_aum;
  // Entropy and features of the final model on the un-augmented (normalised) sub-images.
  {
    NvtxRange nvtx("scoring_pass");
    NoGradGuard no_grad;
    net.set_training(false);
    std::vector<float> ent, feats;
    for (int64_t s = 0; s < n; s += 256) {
      int64_t e = std::min(n, s + 256);
      Tensor x = data::normalize(slice(d.images, 0, s, e).to(opt.device), d.mean, d.std);
      Tensor f = net.features(x);
      Tensor logits = linear(f, net.parameters()[net.parameters().size() - 2], net.parameters().back());
      std::vector<int64_t> lab(t.labels.begin() + s, t.labels.begin() + e);
      PerSample ps = per_sample_stats(logits, from_int_vector(lab, {e - s}, opt.device));
      auto ev = ps.entropy.to_vector();
      ent.insert(ent.end(), ev.begin(), ev.end());
      auto fv = f.to_vector();
      feats.insert(feats.end(), fv.begin(), fv.end());
    }
    t.difficulty["entropy"] = ent;
    t.features = feats;
    t.feat_dim = net.feature_dim();
  }
  // train_model stops on a non-finite loss; a NaN that reached a statistic some other way must not be saved either.
  for (const auto& kv : t.difficulty) {
    const int64_t bad = first_nonfinite(kv.second);
    YOCO_CHECK(bad < 0, "scoring run: the '", kv.first, "' score of sub-image ", bad, " is ",
               bad >= 0 ? kv.second[static_cast<size_t>(bad)] : 0.f, "; no scores written");
  }
  YOCO_CHECK(first_nonfinite(t.features) < 0, "scoring run: the final model's features are not finite; no scores written");
  if (meta_out) {
    std::vector<int64_t> correct = rec.correct_by_epoch();
    *meta_out = {{"kind", "yoco-scores"},
                 {"set_fingerprint", set_fingerprint(set)},
                 {"set_meta", data::meta_to_json(set.meta)},
                 {"n", n},
                 {"seed", opt.train.seed},
                 {"numerics", app::numerics_json()},
                 {"epochs", opt.train.epochs},
                 {"batch", opt.train.batch},
                 {"dsa", opt.train.dsa},
                 {"cutmix_p", opt.train.cutmix_p},
                 {"stop_epoch", opt.score.stop_epoch},
                 {"top_k", opt.score.top_k},
                 {"el2n_epochs", opt.score.el2n_epochs},
                 {"lbpe_epochs", chosen},
                 {"correct_by_epoch", correct},
                 {"train_seconds", tr.seconds},
                 {"images_per_sec", tr.images_per_sec},
                 {"difficulty_convention", "higher = harder; aum is stored negated"}};
  }
  return t;
}


void save_score_table(const std::string& path, const ScoreTable& t, const nlohmann::json& meta) {
  std::map<std::string, Tensor> arrays;
  for (const auto& kv : t.difficulty)
    arrays["scores/" + kv.first] = from_vector(kv.second, {static_cast<int64_t>(kv.second.size())});
  arrays["features"] = from_vector(t.features, {t.n(), t.feat_dim});
  arrays["labels"] = from_int_vector(t.labels, {t.n()});
  nlohmann::json m = meta;
  m["num_classes"] = t.num_classes;
  m["ipc_from"] = t.ipc_from;
  m["factor"] = t.factor;
  m["dataset"] = t.dataset;
  data::save_arrays_with_meta(path, arrays, m);
}

ScoreTable load_score_table(const std::string& path, const data::CondensedSet& set, nlohmann::json* meta_out) {
  data::ArraysWithMeta a = data::load_arrays_with_meta(path);
  const nlohmann::json& m = a.meta;
  YOCO_CHECK(m.value("kind", "") == "yoco-scores", path, ": not a scores file (meta.kind is '", m.value("kind", ""),
             "', expected 'yoco-scores')");
  std::string fp = set_fingerprint(set);
  YOCO_CHECK(m.value("set_fingerprint", "") == fp, path, ": these scores were computed on another set (fingerprint ",
             m.value("set_fingerprint", ""), ", this set is ", fp, ")");
  ScoreTable t;
  t.num_classes = m.at("num_classes").get<int64_t>();
  t.ipc_from = m.at("ipc_from").get<int64_t>();
  t.factor = m.at("factor").get<int64_t>();
  t.dataset = m.at("dataset").get<std::string>();
  YOCO_CHECK(a.arrays.count("labels") && a.arrays.count("features"), path, ": missing 'labels' or 'features'");
  t.labels = a.arrays.at("labels").to_int_vector();
  Tensor f = a.arrays.at("features");
  YOCO_CHECK(f.dim() == 2 && f.size(0) == t.n(), path, ": 'features' is ", f.str(), " for ", t.n(), " sub-images");
  t.feat_dim = f.size(1);
  t.features = f.to_vector();
  for (const auto& kv : a.arrays)
    if (kv.first.rfind("scores/", 0) == 0) t.difficulty[kv.first.substr(7)] = kv.second.to_vector();
  if (meta_out) *meta_out = m;
  return t;
}

data::CondensedSet make_pruned_set(const data::CondensedSet& set, const std::vector<int64_t>& indices,
                                   const SelectSpec& spec, int64_t ipc_target, uint64_t seed,
                                   const std::string& source_path) {
  data::Dataset d = data::decoded_dataset(set);
  std::vector<int64_t> labels_all = d.labels.to_int_vector(), labels;
  for (int64_t i : indices) labels.push_back(labels_all[i]);
  data::CondensedSet out;
  out.images = index_select(d.images, 0, from_int_vector(indices, {static_cast<int64_t>(indices.size())}));
  out.labels = from_int_vector(labels, {static_cast<int64_t>(labels.size())});
  out.meta = set.meta;
  // The file holds decoded sub-images (factor 1): ipc counts the images per class actually stored
  // (t·f² for target IPC t); the YOCO target itself is config.selection.ipc_target.
  out.meta.ipc = ipc_target * set.meta.factor * set.meta.factor;
  out.meta.factor = 1;
  out.meta.method = spec.name();
  out.meta.seed = seed;
  out.meta.source = source_path;
  std::vector<int64_t> counts(static_cast<size_t>(d.num_classes), 0);
  for (int64_t l : labels) ++counts[l];
  if (!spec.balanced) out.meta.class_counts = counts;
  out.meta.config = {{"pruned_from", {{"path", source_path}, {"fingerprint", set_fingerprint(set)},
                                      {"method", set.meta.method}, {"ipc", set.meta.ipc}, {"factor", set.meta.factor}}},
                     {"selection", {{"method", spec.name()}, {"metric", spec.metric}, {"easy", spec.easy},
                                    {"balanced", spec.balanced}, {"ipc_target", ipc_target}, {"seed", seed}}},
                     {"decoded_indices", indices}};
  return out;
}

}  // namespace yoco::app
