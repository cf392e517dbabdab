// YOCO pruning pipeline (see prune.h; algorithms.md §1.2-§1.5).
#include "apps/common/prune.h"
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <type_traits>
#include "apps/common/cli.h"
#include "apps/common/finite_check.h"
#include "data/augment.h"
#include "data/printable.h"
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

namespace {

// One meta field of a scores file, with nlohmann's missing-key and type errors turned into one line naming the file
// and the field.
template <class T>
T score_meta(const nlohmann::json& m, const char* key, const std::string& path, const char* expected) {
  bool ok = m.contains(key);
  if (ok) {
    const nlohmann::json& v = m.at(key);
    if constexpr (std::is_same_v<T, std::string>) ok = v.is_string();
    else ok = v.is_number_integer();
  }
  YOCO_CHECK(ok, path, ": meta field '", key, "' is ", m.contains(key) ? m.at(key).dump() : std::string("missing"),
             ", expected ", expected);
  return m.at(key).get<T>();
}

// The set's decoded labels: sub-images follow their stored image's class, f² each, class-major.
std::vector<int64_t> decoded_labels(const data::CondensedSet& set) {
  const int64_t f2 = set.meta.factor * set.meta.factor;
  std::vector<int64_t> out;
  for (int64_t l : set.labels.to_int_vector()) out.insert(out.end(), static_cast<size_t>(f2), l);
  return out;
}

void check_finite(const Tensor& t, const std::string& path, const std::string& entry) {
  const Tensor c = t.cpu();
  const float* p = c.data<float>();
  for (int64_t i = 0; i < c.numel(); ++i)
    YOCO_CHECK(std::isfinite(p[i]), path, ": entry '", entry, "' holds ", p[i], " at index ", i,
               ", expected finite numbers");
}

// "f32[16,2]": what an entry holds, for errors (no device suffix: files have none).
std::string entry_desc(const Tensor& t) { return dtype_name(t.dtype()) + shape_str(t.shape()); }

constexpr int64_t kMaxFeatureDim = int64_t{1} << 20;

}  // namespace

ScoreTable load_score_table(const std::string& path, const data::CondensedSet& set, nlohmann::json* meta_out) {
  data::ArraysWithMeta a = data::load_arrays_with_meta(path);
  const nlohmann::json& m = a.meta;
  YOCO_CHECK(m.is_object(), path, ": meta is not a JSON object");
  const std::string kind = score_meta<std::string>(m, "kind", path, "the string 'yoco-scores'");
  YOCO_CHECK(kind == "yoco-scores", path, ": not a scores file (meta.kind is '", kind, "', expected 'yoco-scores')");
  const std::string fp = set_fingerprint(set);
  const std::string file_fp = score_meta<std::string>(m, "set_fingerprint", path, "a string");
  YOCO_CHECK(file_fp == fp, path, ": these scores were computed on another set (fingerprint ", file_fp,
             ", this set is ", fp, ")");
  // Everything selection reads must agree with the set itself, not only the fingerprint string.
  auto same = [&](const char* key, int64_t want) {
    const int64_t got = score_meta<int64_t>(m, key, path, "an integer");
    YOCO_CHECK(got == want, path, ": meta field '", key, "' is ", got, ", expected ", want, " (the set's)");
  };
  same("num_classes", set.meta.num_classes);
  same("ipc_from", set.meta.ipc);
  same("factor", set.meta.factor);
  const std::string ds = score_meta<std::string>(m, "dataset", path, "a string");
  YOCO_CHECK(ds == set.meta.dataset, path, ": meta field 'dataset' is '", ds, "', expected '", set.meta.dataset,
             "' (the set's)");

  ScoreTable t;
  t.source = path;
  t.num_classes = set.meta.num_classes;
  t.ipc_from = set.meta.ipc;
  t.factor = set.meta.factor;
  t.dataset = set.meta.dataset;
  t.labels = decoded_labels(set);
  const int64_t n = t.n();
  if (m.contains("n")) same("n", n);

  auto entry = [&](const char* key) -> const Tensor& {
    auto it = a.arrays.find(key);
    YOCO_CHECK(it != a.arrays.end(), path, ": no '", key, "' entry (not a scores file from `prune score`?)");
    return it->second;
  };
  const Tensor& labels = entry("labels");
  YOCO_CHECK(labels.dtype() == DType::I64 && labels.dim() == 1 && labels.size(0) == n, path,
             ": entry 'labels' is ", entry_desc(labels), ", expected i64[", n, "] (the set's decoded sub-images)");
  YOCO_CHECK(labels.to_int_vector() == t.labels, path,
             ": entry 'labels' differs from the set's decoded labels (scores of another set?)");

  const Tensor& f = entry("features");
  YOCO_CHECK(f.dtype() == DType::F32 && f.dim() == 2 && f.size(0) == n && f.size(1) >= 1 &&
                 f.size(1) <= kMaxFeatureDim,
             path, ": entry 'features' is ", entry_desc(f), ", expected f32[", n, ",d] with 1 <= d <= ",
             kMaxFeatureDim);
  check_finite(f, path, "features");
  t.feat_dim = f.size(1);
  t.features = f.to_vector();

  for (const auto& [key, arr] : a.arrays) {
    if (key.rfind("scores/", 0) != 0) continue;
    YOCO_CHECK(key.size() > 7, path, ": entry 'scores/' has no score name");
    YOCO_CHECK(arr.dtype() == DType::F32 && arr.dim() == 1 && arr.size(0) == n, path, ": entry '", data::printable(key), "' is ",
               entry_desc(arr), ", expected f32[", n, "] (one score per decoded sub-image)");
    check_finite(arr, path, data::printable(key));
    t.difficulty[key.substr(7)] = arr.to_vector();
  }
  YOCO_CHECK(!t.difficulty.empty(), path, ": no 'scores/<name>' entries");
  if (meta_out) *meta_out = m;
  return t;
}

data::CondensedSet make_pruned_set(const data::CondensedSet& set, const std::vector<int64_t>& indices,
                                   const SelectSpec& spec, int64_t ipc_target, uint64_t seed,
                                   const std::string& source_path) {
  YOCO_CHECK(!indices.empty(), "pruning with ", spec.name(), " to IPC ", ipc_target, " keeps no image");
  data::Dataset d = data::decoded_dataset(set);
  std::vector<int64_t> labels_all = d.labels.to_int_vector(), labels;
  for (int64_t i : indices) {
    YOCO_CHECK(i >= 0 && i < d.size(), "pruned index ", i, " is outside the set's ", d.size(), " sub-images");
    labels.push_back(labels_all[i]);
  }
  data::CondensedSet out;
  out.images = index_select(d.images, 0, from_int_vector(indices, {static_cast<int64_t>(indices.size())}));
  out.labels = from_int_vector(labels, {static_cast<int64_t>(labels.size())});
  out.meta = set.meta;
  out.meta.factor = 1;
  out.meta.method = spec.name();
  out.meta.seed = seed;
  out.meta.source = source_path;
  // The meta describes this file, never the source's balance: class_counts exactly when the classes differ (a
  // stale copy from an imbalanced source would make the set unreadable), else ipc = the common count. The file
  // holds decoded sub-images (factor 1), so ipc counts images per class (t·f² for target IPC t, the nominal count
  // when classes differ); the YOCO target itself is config.selection.ipc_target.
  std::vector<int64_t> counts(static_cast<size_t>(d.num_classes), 0);
  for (int64_t l : labels) ++counts[l];
  const bool balanced = std::all_of(counts.begin(), counts.end(), [&](int64_t c) { return c == counts[0]; });
  out.meta.ipc = balanced ? counts[0] : ipc_target * set.meta.factor * set.meta.factor;
  out.meta.class_counts = balanced ? std::vector<int64_t>{} : counts;
  // Provenance: this step, and the chain of the steps the source itself came from.
  nlohmann::json from = {{"path", source_path}, {"fingerprint", set_fingerprint(set)}, {"method", set.meta.method},
                         {"ipc", set.meta.ipc}, {"factor", set.meta.factor}};
  if (!set.meta.class_counts.empty()) from["class_counts"] = set.meta.class_counts;
  if (set.meta.config.is_object() && set.meta.config.contains("pruned_from"))
    from["pruned_from"] = set.meta.config["pruned_from"];
  out.meta.config = {{"pruned_from", from},
                     {"selection", {{"method", spec.name()}, {"metric", spec.metric}, {"easy", spec.easy},
                                    {"balanced", spec.balanced}, {"ipc_target", ipc_target}, {"seed", seed}}},
                     {"decoded_indices", indices}};
  return out;
}

}  // namespace yoco::app
