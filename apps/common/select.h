// Selection rules for pruning a decoded condensed set: YOCO (low LBPE, balanced) and the baselines
// (random, SSP, entropy, AUM, forgetting, EL2N, CCS), each with easy|hard and balanced|imbalanced variants.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace yoco::app {

// Everything selection needs, as stored in a scores file. Scores are *difficulty* (higher = harder) for every
// metric: AUM is stored negated, so "hard" always means "keep the highest".
struct ScoreTable {
  std::map<std::string, std::vector<float>> difficulty;  // yoco, el2n, forgetting, aum, entropy
  std::vector<float> features;                           // n × feat_dim (SSP)
  int64_t feat_dim = 0;
  std::vector<int64_t> labels;  // class-major decoded order
  int64_t num_classes = 0, ipc_from = 0, factor = 1;
  std::string dataset;
  std::string source = "the scores file";  // names the scores in errors (load_score_table sets the path)
  int64_t n() const { return static_cast<int64_t>(labels.size()); }
  int64_t per_class() const { return ipc_from * factor * factor; }
};

struct SelectSpec {
  std::string metric;  // yoco | el2n | forgetting | aum | entropy | ssp | ccs | random
  bool easy = false;
  bool balanced = false;
  std::string name() const;  // canonical, e.g. "yoco", "el2n", "el2n_easy_balance"
};
// Parses "yoco", "el2n_hard", "random_balance", "accumulated_margin", ... Defaults (the papers' and YOCO's):
// yoco easy+balanced; ccs/random imbalanced; classic metrics hard+imbalanced.
SelectSpec parse_method(const std::string& s);
const std::vector<std::string>& table_methods();  // the 8 methods of the paper's table

// CCS hard cut-off β for (dataset, ipc_from, ipc_target) from YOCO's table; Fashion-MNIST and MNIST borrow
// CIFAR-10's (same class count, the settings YOCO never ran); unknown pairs get 0.
float ccs_beta(const std::string& dataset, int64_t ipc_from, int64_t ipc_target);

// Indices (into the decoded order) of the kept sub-images, sorted class-major then by index. Balanced rules keep
// exactly ipc_target·f² per class; imbalanced ones int(ipc_target/ipc_from · N) overall. Ties in a score are
// broken by the lower index first (stable sort), so a selection is a pure function of its inputs and seed.
std::vector<int64_t> select_indices(const ScoreTable& t, const SelectSpec& spec, int64_t ipc_target, uint64_t seed);

// CCS stratified sampling (exposed for tests): budget per stratum, strata visited in increasing size.
std::vector<int64_t> ccs_bin_allocate(const std::vector<int64_t>& stratum_sizes, int64_t budget);

}  // namespace yoco::app
