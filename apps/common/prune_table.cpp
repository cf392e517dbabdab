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
  int64_t finished = 0;

  for (int64_t s = 0; s < opt.seeds && !opt.report_only; ++s) {
    uint64_t seed = opt.scoring.train.seed + static_cast<uint64_t>(s);
    std::string scores_path = (fs::path(opt.out_dir) / ("scores_seed" + std::to_string(seed) + ".npz")).string();
    ScoreTable table;
    if (fs::exists(scores_path)) {
      table = load_score_table(scores_path, set);
      std::fprintf(stderr, "table: reusing %s\n", scores_path.c_str());
    } else {
      ScoringOptions so = opt.scoring;
      so.train.seed = seed;
      so.train.label = "[score seed " + std::to_string(seed) + "] ";
      nlohmann::json meta;
      table = run_scoring(set, so, &meta);
      meta["source_path"] = opt.input_path;
      save_score_table(scores_path, table, meta);
    }
    for (int64_t target : opt.targets) {
      for (const std::string& m : methods) {
        std::string key = cell_key(target, m, static_cast<int64_t>(seed));
        ++finished;
        if (done.contains(key)) continue;
        SelectSpec spec = parse_method(m);
        std::vector<int64_t> idx = select_indices(table, spec, target, seed);
        data::CondensedSet pruned = make_pruned_set(set, idx, spec, target, seed, opt.input_path);
        data::Dataset train = data::decoded_dataset(pruned);
        EvalOptions eo = opt.eval;
        eo.train.seed = seed * 1000 + 17;
        eo.train.label = "[" + key + "] ";
        EvalSummary es = evaluate_dataset(train, test, eo);
        nlohmann::json runs = nlohmann::json::array();
        for (const TrainResult& r : es.runs) runs.push_back(r.best * 100);
        done[key] = {{"target", target}, {"method", m}, {"seed", seed}, {"best", runs}, {"n_images", train.size()}};
        write_json_atomic(progress_path, {{"cells", done}, {"complete", false}});
        double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        std::fprintf(stderr, "table: %lld/%lld cells, %s: %.2f%% (elapsed %s)\n", static_cast<long long>(finished),
                     static_cast<long long>(total), key.c_str(), es.best_mean, format_duration(el).c_str());
      }
    }
  }
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
