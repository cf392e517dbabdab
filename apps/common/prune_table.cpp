// Table-2 experiment driver (see prune_table.h).
#include "apps/common/prune_table.h"
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include "apps/common/cli.h"
#include "data/registry.h"
#include "data/set_dataset.h"

namespace yoco::app {

namespace fs = std::filesystem;

namespace {

std::string cell_key(int64_t target, const std::string& method, int64_t seed) {
  return std::to_string(target) + "/" + method + "/" + std::to_string(seed);
}

nlohmann::json load_progress(const std::string& path) {
  if (!fs::exists(path)) return nlohmann::json::object();
  std::ifstream f(path);
  nlohmann::json j = nlohmann::json::parse(f, nullptr, false);
  if (j.is_discarded() || !j.contains("cells")) return nlohmann::json::object();
  return j["cells"];
}

std::string render_markdown(const data::CondensedSet& set, const TableOptions& opt,
                            const std::map<std::string, std::map<int64_t, TableCell>>& cells,
                            const std::vector<std::string>& methods) {
  std::ostringstream md;
  md << "| " << set.meta.dataset << " IPC_F→IPC_T |";
  for (const auto& m : methods) md << " " << m << " |";
  md << "\n|---|";
  for (size_t i = 0; i < methods.size(); ++i) md << "---:|";
  md << "\n";
  for (int64_t t : opt.targets) {
    double best = -1;
    for (const auto& m : methods)
      if (cells.count(m) && cells.at(m).count(t)) best = std::max(best, cells.at(m).at(t).mean);
    md << "| " << set.meta.ipc << "→" << t << " |";
    for (const auto& m : methods) {
      if (!cells.count(m) || !cells.at(m).count(t)) {
        md << " – |";
        continue;
      }
      const TableCell& c = cells.at(m).at(t);
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.2f ± %.2f", c.mean, c.std);
      md << " " << (c.mean == best ? "**" + std::string(buf) + "**" : std::string(buf)) << " |";
    }
    md << "\n";
  }
  size_t runs = 0;
  for (const auto& [m, by_t] : cells)
    for (const auto& [t, c] : by_t) runs = std::max(runs, c.runs.size());
  md << "\nTest accuracy (%), mean ± std over up to " << runs << " run(s) per cell (scoring seeds × --repeat); "
     << "scoring run " << opt.scoring.train.epochs << " epochs (LBPE window " << opt.scoring.score.stop_epoch
     << ", top-" << opt.scoring.score.top_k << "), evaluation " << opt.eval.train.epochs << " epochs, best of "
     << opt.eval.train.eval_points << " test point(s). Bold: best in the row.\n";
  return md.str();
}

}  // namespace

std::string run_prune_table(const data::CondensedSet& set, const TableOptions& opt) {
  auto t0 = std::chrono::steady_clock::now();
  const Comm single;
  const Comm& comm = opt.comm ? *opt.comm : single;
  const bool root = comm.rank() == 0;
  // A report of nothing would only create an empty results directory: --report-only needs an existing one.
  if (opt.report_only)
    YOCO_CHECK(fs::is_directory(opt.out_dir), "--report-only: '", opt.out_dir, "' is not a results directory");
  else
    fs::create_directories(opt.out_dir);
  std::vector<std::string> methods = opt.methods;
  if (methods.empty()) {
    methods = table_methods();
    methods.push_back("random_balance");
  }
  if (std::find(methods.begin(), methods.end(), "random_balance") == methods.end()) methods.push_back("random_balance");
  for (const auto& m : methods) parse_method(m);  // fail fast on unknown names
  data::Dataset test = data::load_dataset(set.meta.dataset, "", false);
  const std::string progress_path = (fs::path(opt.out_dir) / "table.json").string();
  nlohmann::json done = load_progress(progress_path);
  const int64_t total = opt.seeds * static_cast<int64_t>(opt.targets.size() * methods.size());
  auto seed_of = [&](int64_t s) { return opt.scoring.train.seed + static_cast<uint64_t>(s); };
  auto scores_path = [&](uint64_t seed) {
    return (fs::path(opt.out_dir) / ("scores_seed" + std::to_string(seed) + ".npz")).string();
  };

  // The work, listed in the serial order, minus what an earlier run (with any number of ranks) finished.
  std::vector<uint64_t> to_score;
  struct Cell {
    int64_t target;
    std::string method;
    uint64_t seed;
  };
  std::vector<Cell> to_run;
  for (int64_t s = 0; s < opt.seeds && !opt.report_only; ++s) {
    if (fs::exists(scores_path(seed_of(s)))) {
      if (root) std::fprintf(stderr, "table: reusing %s\n", scores_path(seed_of(s)).c_str());
    } else {
      to_score.push_back(seed_of(s));
    }
    for (int64_t target : opt.targets)
      for (const std::string& m : methods)
        if (!done.contains(cell_key(target, m, static_cast<int64_t>(seed_of(s))))) to_run.push_back({target, m, seed_of(s)});
  }
  comm.barrier();  // every rank has listed the work before any rank writes a scores file

  // Scoring runs, one per seed: the rank that runs one writes its scores file.
  comm.run_queue(
      static_cast<int64_t>(to_score.size()),
      [&](int64_t i) {
        const uint64_t seed = to_score[static_cast<size_t>(i)];
        ScoringOptions so = opt.scoring;
        so.train.seed = seed;
        so.train.label = "[score seed " + std::to_string(seed) + "] ";
        nlohmann::json meta;
        ScoreTable table = run_scoring(set, so, &meta);
        meta["source_path"] = opt.input_path;
        save_score_table(scores_path(seed), table, meta);
        return std::string();
      },
      [](int64_t, const std::string&) {});

  // Cells: each rank loads the scores of a seed once; rank 0 records each result as it arrives.
  std::map<uint64_t, ScoreTable> tables;
  int64_t finished = total - static_cast<int64_t>(to_run.size());
  comm.run_queue(
      static_cast<int64_t>(to_run.size()),
      [&](int64_t i) {
        const Cell& cell = to_run[static_cast<size_t>(i)];
        if (!tables.count(cell.seed)) tables[cell.seed] = load_score_table(scores_path(cell.seed), set);
        const std::string key = cell_key(cell.target, cell.method, static_cast<int64_t>(cell.seed));
        SelectSpec spec = parse_method(cell.method);
        std::vector<int64_t> idx = select_indices(tables.at(cell.seed), spec, cell.target, cell.seed);
        data::CondensedSet pruned = make_pruned_set(set, idx, spec, cell.target, cell.seed, opt.input_path);
        data::Dataset train = data::decoded_dataset(pruned);
        EvalOptions eo = opt.eval;
        eo.train.seed = cell.seed * 1000 + 17;
        eo.train.label = "[" + key + "] ";
        EvalSummary es = evaluate_dataset(train, test, eo);
        nlohmann::json runs = nlohmann::json::array();
        for (const TrainResult& r : es.runs) runs.push_back(r.best * 100);
        const nlohmann::json result = {{"target", cell.target}, {"method", cell.method}, {"seed", cell.seed},
                                       {"best", runs},          {"n_images", train.size()}, {"mean", es.best_mean}};
        return result.dump();
      },
      [&](int64_t i, const std::string& r) {
        const Cell& cell = to_run[static_cast<size_t>(i)];
        const std::string key = cell_key(cell.target, cell.method, static_cast<int64_t>(cell.seed));
        nlohmann::json result = nlohmann::json::parse(r);
        const double mean = result["mean"].get<double>();
        result.erase("mean");
        done[key] = result;
        write_json_atomic(progress_path, {{"cells", done}, {"complete", false}});
        double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        std::fprintf(stderr, "table: %lld/%lld cells, %s: %.2f%% (elapsed %s)\n", static_cast<long long>(++finished),
                     static_cast<long long>(total), key.c_str(), mean, format_duration(el).c_str());
      });
  if (!root) return "";
  std::map<std::string, std::map<int64_t, TableCell>> cells;
  for (const auto& kv : done.items()) {
    const auto& c = kv.value();
    TableCell& cell = cells[c["method"].get<std::string>()][c["target"].get<int64_t>()];
    for (double v : c["best"]) cell.runs.push_back(v);
  }
  nlohmann::json summary = nlohmann::json::object();
  for (auto& [m, by_t] : cells)
    for (auto& [t, c] : by_t) {
      std::tie(c.mean, c.std) = mean_std(c.runs);
      summary[m][std::to_string(t)] = {{"mean", c.mean}, {"std", c.std}, {"runs", c.runs}};
    }
  std::string md = render_markdown(set, opt, cells, methods);
  double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  bool complete = static_cast<int64_t>(done.size()) >= total;
  write_json_atomic(progress_path, {{"cells", done},
                                    {"complete", complete},
                                    {"summary", summary},
                                    {"set", data::meta_to_json(set.meta)},
                                    {"seconds", el},
                                    {"score_epochs", opt.scoring.train.epochs},
                                    {"eval_epochs", opt.eval.train.epochs},
                                    {"repeat", opt.eval.repeat},
                                    {"seeds", opt.seeds}});
  std::string md_path = (fs::path(opt.out_dir) / "table.md").string();
  {
    std::ofstream f(md_path + ".tmp");
    f << md;
  }
  fs::rename(md_path + ".tmp", md_path);
  std::fprintf(stderr, "table: done in %s\n", format_duration(el).c_str());
  return md;
}

}  // namespace yoco::app
