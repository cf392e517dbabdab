// The paper's Table-2 experiment: score once per seed, prune with every method to every target, evaluate
// each pruned set, and report mean ± std per (IPC_F→IPC_T, method). Resumable: finished cells are kept.
#pragma once
#include <string>
#include <vector>
#include "apps/common/evaluate.h"
#include "apps/common/mpi_comm.h"
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
  // Under a distributed comm the scoring runs, then the cells, go through its work queue (every rank calls
  // run_prune_table; rank 0 records results and writes the table). The out_dir must be one directory every
  // rank reads and writes (one machine, or a shared file system): scores files pass through it.
  const Comm* comm = nullptr;
};

struct TableCell {
  double mean = 0, std = 0;
  std::vector<double> runs;
};

// Runs (or resumes) the experiment; writes <out_dir>/table.md and <out_dir>/table.json; returns the Markdown
// (on rank 0; "" on the other ranks). The table is the same, byte for byte, for any number of ranks.
std::string run_prune_table(const data::CondensedSet& set, const TableOptions& opt);

}  // namespace yoco::app
