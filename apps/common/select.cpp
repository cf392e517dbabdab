// Selection rules (see select.h); algorithms.md §1.5 and §2 describe the reference behaviour followed here.
#include "apps/common/select.h"
#include <algorithm>
#include <cmath>
#include <numeric>
#include "apps/common/kmeans.h"
#include "data/printable.h"
#include "kernels/common.h"
#include "kernels/philox_shuffle.h"
#include "kernels/rng.h"

namespace yoco::app {

namespace {
constexpr uint64_t kRandomStream = 41, kSspSeedStream = 43;

std::vector<int64_t> order_by(const std::vector<float>& score, std::vector<int64_t> idx, bool hardest_first) {
  std::stable_sort(idx.begin(), idx.end(), [&](int64_t a, int64_t b) {
    return hardest_first ? score[a] > score[b] : score[a] < score[b];
  });
  return idx;
}

std::vector<int64_t> philox_shuffle(std::vector<int64_t> v, uint64_t seed, uint64_t stream) {
  kernels::philox_shuffle(v.data(), static_cast<int64_t>(v.size()), seed, stream, 0, kernels::ShuffleDraw::Modulo);
  return v;
}

std::vector<std::vector<int64_t>> by_class(const ScoreTable& t) {
  std::vector<std::vector<int64_t>> c(static_cast<size_t>(t.num_classes));
  for (int64_t i = 0; i < t.n(); ++i) c[t.labels[i]].push_back(i);
  return c;
}

std::string score_names(const ScoreTable& t) {
  std::string s;
  for (const auto& kv : t.difficulty) s += (s.empty() ? "" : ", ") + data::printable(kv.first, 32);
  return s.empty() ? "none" : s;
}

const std::vector<float>& scores_of(const ScoreTable& t, const std::string& metric) {
  auto it = t.difficulty.find(metric);
  YOCO_CHECK(it != t.difficulty.end(), t.source, ": no '", metric, "' scores (have ", score_names(t), ")");
  YOCO_CHECK(static_cast<int64_t>(it->second.size()) == t.n(), t.source, ": scores '", metric, "' has ",
             it->second.size(), " values for ", t.n(), " sub-images");
  return it->second;
}

std::vector<int64_t> ssp_pick(const ScoreTable& t, const std::vector<int64_t>& pool, int64_t k, uint64_t seed) {
  YOCO_CHECK(t.feat_dim > 0, t.source, ": SSP needs penultimate features, the scores file has none");
  std::vector<float> pts;
  pts.reserve(pool.size() * static_cast<size_t>(t.feat_dim));
  for (int64_t i : pool) pts.insert(pts.end(), t.features.begin() + i * t.feat_dim, t.features.begin() + (i + 1) * t.feat_dim);
  int64_t n = static_cast<int64_t>(pool.size());
  std::vector<float> cent = kmeans(pts, n, t.feat_dim, k, seed);
  std::vector<int64_t> near = nearest_to_centroids(pts, n, t.feat_dim, cent, k);
  std::vector<int64_t> out;
  for (int64_t j : near) out.push_back(pool[j]);  // duplicates kept, as the reference does
  return out;
}

std::vector<int64_t> ccs_select(const ScoreTable& t, const std::vector<float>& s, int64_t budget, float beta) {
  std::vector<int64_t> all(static_cast<size_t>(t.n()));
  std::iota(all.begin(), all.end(), 0);
  std::vector<int64_t> desc = order_by(s, all, true);
  int64_t drop = static_cast<int64_t>(beta * static_cast<float>(t.n()));
  std::vector<int64_t> pool(desc.begin() + drop, desc.end());  // hardest β removed; still descending
  if (pool.empty() || budget <= 0) return {};
  float lo = s[pool.back()], hi = s[pool.front()] * 1.0001f;
  if (hi <= lo) hi = lo + 1e-6f;
  const int strata = 50;
  float width = (hi - lo) / strata;
  std::vector<std::vector<int64_t>> bins(strata);
  for (int64_t i : pool) {
    int b = std::min(strata - 1, static_cast<int>((s[i] - lo) / width));
    bins[b].push_back(i);  // pool is in descending order, so each bin is too
  }
  std::vector<int64_t> sizes;
  for (auto& b : bins) sizes.push_back(static_cast<int64_t>(b.size()));
  std::vector<int64_t> alloc = ccs_bin_allocate(sizes, budget);
  std::vector<int64_t> out;
  for (int b = 0; b < strata; ++b) out.insert(out.end(), bins[b].begin(), bins[b].begin() + alloc[b]);
  return out;
}

}  // namespace

std::string SelectSpec::name() const {
  SelectSpec d = parse_method(metric);
  std::string n = metric;
  if (easy != d.easy) n += easy ? "_easy" : "_hard";
  if (balanced != d.balanced) n += balanced ? "_balance" : "_imbalance";
  return n;
}

SelectSpec parse_method(const std::string& in) {
  std::string s = in;
  SelectSpec spec;
  int easy = -1, balanced = -1;
  auto strip = [&](const std::string& suffix) {
    if (s.size() > suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0) {
      s.resize(s.size() - suffix.size());
      return true;
    }
    return false;
  };
  for (int pass = 0; pass < 2; ++pass) {
    if (strip("_balance") || strip("_balanced")) balanced = 1;
    if (strip("_imbalance") || strip("_imbalanced")) balanced = 0;
    if (strip("_easy")) easy = 1;
    if (strip("_hard")) easy = 0;
  }
  if (s == "accumulated_margin") s = "aum";
  static const std::vector<std::string> known = {"yoco", "el2n", "forgetting", "aum", "entropy", "ssp", "ccs", "random"};
  YOCO_CHECK(std::find(known.begin(), known.end(), s) != known.end(), "unknown pruning method '", in,
             "': expected yoco, el2n, forgetting, aum, entropy, ssp, ccs or random (optionally with _easy/_hard and "
             "_balance/_imbalance)");
  spec.metric = s;
  spec.easy = easy >= 0 ? easy == 1 : s == "yoco";
  spec.balanced = balanced >= 0 ? balanced == 1 : s == "yoco";
  return spec;
}

const std::vector<std::string>& table_methods() {
  static const std::vector<std::string> m = {"random", "ssp", "entropy", "aum", "forgetting", "el2n", "ccs", "yoco"};
  return m;
}

float ccs_beta(const std::string& dataset, int64_t from, int64_t to) {
  struct Row { const char* ds; int64_t from, to; float beta; };
  static const Row rows[] = {
      {"cifar10", 10, 1, .3f},   {"cifar10", 10, 2, .1f},   {"cifar10", 10, 5, 0.f},   {"cifar10", 50, 1, .3f},
      {"cifar10", 50, 2, .3f},   {"cifar10", 50, 5, .3f},   {"cifar10", 50, 10, .1f},  {"cifar100", 10, 1, .5f},
      {"cifar100", 10, 2, .4f},  {"cifar100", 10, 5, .2f},  {"cifar100", 20, 1, .5f},  {"cifar100", 20, 2, .5f},
      {"cifar100", 20, 5, .3f},  {"cifar100", 50, 1, .5f},  {"cifar100", 50, 2, .5f},  {"cifar100", 50, 5, .5f},
      {"cifar100", 50, 10, .3f}, {"imagenet10", 10, 1, .3f}, {"imagenet10", 10, 2, .2f}, {"imagenet10", 10, 5, .1f},
      {"imagenet10", 20, 1, .3f}, {"imagenet10", 20, 2, .3f}, {"imagenet10", 20, 5, .2f}};
  std::string ds = (dataset == "fashion-mnist" || dataset == "mnist") ? "cifar10" : dataset;
  for (const Row& r : rows)
    if (ds == r.ds && from == r.from && to == r.to) return r.beta;
  return 0.f;
}

std::vector<int64_t> ccs_bin_allocate(const std::vector<int64_t>& sizes, int64_t budget) {
  std::vector<int64_t> order(sizes.size()), alloc(sizes.size(), 0);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return sizes[a] < sizes[b]; });
  int64_t left = budget, strata_left = static_cast<int64_t>(sizes.size());
  for (int64_t b : order) {
    alloc[b] = std::min(sizes[b], left / strata_left);
    left -= alloc[b];
    --strata_left;
  }
  return alloc;
}

std::vector<int64_t> select_indices(const ScoreTable& t, const SelectSpec& spec, int64_t ipc_target, uint64_t seed) {
  YOCO_CHECK(ipc_target >= 1 && ipc_target < t.ipc_from, "--ipc-target ", ipc_target, " is not below the set's IPC ",
             t.ipc_from, ": expected a target in [1, ", t.ipc_from - 1, "]");
  const int64_t per_target = ipc_target * t.factor * t.factor;
  // Imbalanced rules keep int(t/ipc_from · N) of the set's actual N sub-images; for a balanced set that is
  // exactly t·f² per class on average, computed without rounding.
  const bool balanced_set = t.n() == t.per_class() * t.num_classes;
  const int64_t global_keep = balanced_set ? per_target * t.num_classes
                                           : static_cast<int64_t>(static_cast<double>(ipc_target) / t.ipc_from * t.n());
  YOCO_CHECK(global_keep >= 1, "--ipc-target ", ipc_target, " keeps no image of the set's ", t.n());
  auto classes = by_class(t);
  // Balanced rules keep t·f² in every class, so each class must hold that many (a pruned imbalanced set may not).
  for (int64_t c = 0; c < t.num_classes && spec.balanced; ++c)
    YOCO_CHECK(static_cast<int64_t>(classes[c].size()) >= per_target, "--ipc-target ", ipc_target, ": class ", c,
               " has ", classes[c].size(), " sub-images, fewer than the ", per_target, " per class that ",
               spec.name(), " keeps (balanced); use an _imbalance rule or a smaller target");
  std::vector<int64_t> all(static_cast<size_t>(t.n()));
  std::iota(all.begin(), all.end(), 0);
  std::vector<int64_t> out;
  if (spec.metric == "random") {
    if (spec.balanced) {
      for (int64_t c = 0; c < t.num_classes; ++c) {
        auto p = philox_shuffle(classes[c], seed, kRandomStream + 100 * static_cast<uint64_t>(c + 1));
        out.insert(out.end(), p.begin(), p.begin() + per_target);
      }
    } else {
      auto p = philox_shuffle(all, seed, kRandomStream);
      out.assign(p.begin(), p.begin() + global_keep);
    }
  } else if (spec.metric == "ssp") {
    uint64_t ks = kernels::philox_u32(seed, kSspSeedStream, 0);
    if (spec.balanced) {
      for (int64_t c = 0; c < t.num_classes; ++c) {
        auto p = ssp_pick(t, classes[c], per_target, ks + static_cast<uint64_t>(c));
        out.insert(out.end(), p.begin(), p.end());
      }
    } else {
      out = ssp_pick(t, all, global_keep, ks);
    }
  } else if (spec.metric == "ccs") {
    const std::vector<float>& s = scores_of(t, "el2n");
    float beta = ccs_beta(t.dataset, t.ipc_from, ipc_target);
    if (spec.balanced) {
      for (int64_t c = 0; c < t.num_classes; ++c) {
        ScoreTable sub;
        sub.labels.assign(classes[c].size(), 0);
        sub.num_classes = 1;
        std::vector<float> cs;
        for (int64_t i : classes[c]) cs.push_back(s[i]);
        for (int64_t j : ccs_select(sub, cs, per_target, beta)) out.push_back(classes[c][j]);
      }
    } else {
      out = ccs_select(t, s, global_keep, beta);
    }
  } else {
    const std::vector<float>& s = scores_of(t, spec.metric);
    bool hardest_first = !spec.easy;
    if (spec.balanced) {
      for (int64_t c = 0; c < t.num_classes; ++c) {
        auto o = order_by(s, classes[c], hardest_first);
        out.insert(out.end(), o.begin(), o.begin() + per_target);
      }
    } else {
      auto o = order_by(s, all, hardest_first);
      out.assign(o.begin(), o.begin() + global_keep);
    }
  }
  std::stable_sort(out.begin(), out.end(), [&](int64_t a, int64_t b) {
    return t.labels[a] != t.labels[b] ? t.labels[a] < t.labels[b] : a < b;
  });
  return out;
}

}  // namespace yoco::app
