// The paper's Table-2 experiment: score once per seed, prune with every method to every target, evaluate
// each pruned set, and report mean ± std per (IPC_F→IPC_T, method). Resumable: finished cells are kept.
#pragma once
#include <string>
#include <vector>
#include "apps/common/evaluate.h"
#include "apps/common/prune.h"

namespace yoco::app {

struct TableOptions {
  std::vector<int64_t> targets{1, 2, 5};
  int64_t seeds = 3;
  std::vector<std::string> methods;  // empty: the paper's 8 plus random_balance
  ScoringOptions scoring;
  EvalOptions eval;
  std::string out_dir = "prune_table";
  std::string input_path;
  bool report_only = false;  // render the table from the cells finished so far, compute nothing
};

struct TableCell {
  double mean = 0, std = 0;
  std::vector<double> runs;
};

// Runs (or resumes) the experiment; writes <out_dir>/table.md and <out_dir>/table.json; returns the Markdown.
std::string run_prune_table(const data::CondensedSet& set, const TableOptions& opt);

}  // namespace yoco::app
