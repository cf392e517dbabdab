// YOCO pruning pipeline: one scoring run per seed (streaming statistics), a scores file, and pruned sets.
#pragma once
#include <cstdint>
#include <string>
#include <vector>
#include "apps/common/scores.h"
#include "apps/common/select.h"
#include "apps/common/trainer.h"
#include "data/set_file.h"

namespace yoco::app {

struct ScoringOptions {
  TrainConfig train;  // YOCO: 1000 epochs, batch 64, MultiStep per iteration, DSA (per sample) + CutMix 0.5
  ScoreConfig score;
  Device device = Device::CPU;
  ScoringOptions() { train.lr_per_iteration = true; train.eval_points = 0; }
};

// Fingerprint of a set's images and labels (FNV-1a over the bytes): ties a scores file to its set.
std::string set_fingerprint(const data::CondensedSet& set);

// Trains the scoring ConvNet-3 on the decoded sub-images and derives every score: yoco (LBPE top-K),
// el2n, forgetting, aum (stored as difficulty = −AUM), entropy (final model, un-augmented inputs) and the
// final model's penultimate features (SSP).
ScoreTable run_scoring(const data::CondensedSet& set, const ScoringOptions& opt, nlohmann::json* meta_out);

void save_score_table(const std::string& path, const ScoreTable& t, const nlohmann::json& meta);
// Loads a scores file and checks it belongs to `set` (fingerprint, sizes) with a clear error otherwise.
ScoreTable load_score_table(const std::string& path, const data::CondensedSet& set, nlohmann::json* meta_out = nullptr);

// The pruned set (factor 1) holding the selected decoded sub-images of `set`, with provenance metadata.
data::CondensedSet make_pruned_set(const data::CondensedSet& set, const std::vector<int64_t>& indices,
                                   const SelectSpec& spec, int64_t ipc_target, uint64_t seed,
                                   const std::string& source_path);

}  // namespace yoco::app
