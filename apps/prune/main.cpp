// apps/prune: YOCO pruning of a condensed set. `score` trains once and stores every score; `select` writes
// pruned sets instantly from stored scores; `table` runs the paper's Table-2 experiment; `demo` is the
// README's main job (prune the shipped Fashion-MNIST set to IPC 1, 2, 5 with yoco and random, evaluate briefly);
// `convert` rewrites a set file with another image storage (f32 | f16), or imports/exports PyTorch .pt sets.
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include "apps/common/cli.h"
#include "apps/common/mix_set.h"
#include "apps/common/mpi_comm.h"
#include "apps/common/omp_wait.h"
#include "apps/common/prune_table.h"
#include "apps/common/set_input.h"
#include "data/png_grid.h"
#include "data/registry.h"
#include "data/set_dataset.h"

using namespace yoco;
namespace fs = std::filesystem;

namespace {

// Comma list of target IPCs; a repeated target is kept once (it would name the same output file).
std::vector<int64_t> parse_targets(const std::string& s) {
  std::vector<int64_t> out;
  std::stringstream ss(s);
  std::string tok;
  while (std::getline(ss, tok, ',')) {
    try {
      size_t pos = 0;
      long long v = std::stoll(tok, &pos);
      YOCO_CHECK(pos == tok.size() && v > 0 && !tok.empty() && std::isdigit(static_cast<unsigned char>(tok[0])), "");
      if (std::find(out.begin(), out.end(), v) == out.end()) out.push_back(v);
    } catch (const std::exception&) {
      YOCO_CHECK(false, "-t/--ipc-target: expected a comma list of positive integers like 1,2,5, got '", s, "'");
    }
  }
  YOCO_CHECK(!out.empty(), "-t/--ipc-target: expected a comma list of positive integers like 1,2,5, got an empty list");
  return out;
}

// Comma list of method names; empty items are an error, names that mean the same method are kept once.
std::vector<std::string> parse_methods(const std::string& s) {
  std::vector<std::string> out, canonical;
  std::stringstream ss(s);
  std::string tok;
  while (std::getline(ss, tok, ',')) {
    YOCO_CHECK(!tok.empty(), "-m/--method: expected a comma list of method names like yoco,el2n, got '", s, "'");
    std::string name = app::parse_method(tok).name();
    if (std::find(canonical.begin(), canonical.end(), name) != canonical.end()) continue;
    canonical.push_back(name);
    out.push_back(tok);
  }
  YOCO_CHECK(!out.empty(), "-m/--method: expected a comma list of method names like yoco,el2n, got an empty list");
  return out;
}

// The embedded default input: the shipped Fashion-MNIST IPC-10 factor-2 set, else a fresh 'mix' set.
data::CondensedSet default_set(std::string* path) {
  for (const char* p : {"assets/fashion-mnist_ipc10_f2.npz", YOCO_SOURCE_DIR "/assets/fashion-mnist_ipc10_f2.npz"})
    if (fs::exists(p)) {
      *path = p;
      return data::load_set(p);
    }
  std::fprintf(stderr, "prune: no shipped condensed set found; using IDC's 'mix' initialisation (IPC 10, factor 2)\n");
  *path = "mix:fashion-mnist:ipc10:f2";
  return app::make_mix_set(data::load_dataset("fashion-mnist", "", true), 10, 2);
}

void add_train_flags(CLI::App* c, app::TrainConfig& t, const char* what) {
  c->add_option("--epochs", t.epochs, std::string(what) + " epochs")->check(app::positive_int());
  c->add_option("--batch", t.batch, std::string(what) + " batch size")->check(app::positive_int());
  c->add_option("--dsa", t.dsa, "DSA strategy or 'none'");
  c->add_option("--cutmix-p", t.cutmix_p, "CutMix probability")->check(app::probability());
}

constexpr const char* kCudaGraphHelp = "CUDA: replay each training step's network half from a CUDA graph (same numbers)";

}  // namespace

int main(int argc, char** argv) {
  yoco::app::bound_omp_spinning(argv);  // may re-exec: before MPI starts
  const app::Comm comm(&argc, &argv);     // mpirun -np R: table (scoring runs, then cells) over R ranks
  CLI::App app{"YOCO: prune a condensed set to any smaller IPC (scores once, selects instantly)"};
  app.require_subcommand(1);
  std::string input, out, scores_path, methods_arg = "yoco", targets_arg = "1,2,5", device = "cpu", out_dir,
              store = "f32";
  uint64_t seed = 0;
  data::PtImportOptions pt;  // describes a PyTorch .pt input (IDC's data.pt)
  app::ScoringOptions so;
  app::TableOptions to;
  bool png = false;

  auto* score = app.add_subcommand("score", "train the scoring ConvNet once and store every score");
  score->add_option("-i,--input", input, "condensed set .npz")->required();
  score->add_option("-o,--out", out, "scores .npz to write")->required();
  score->add_option("--seed", seed, "seed of the scoring run")->check(app::unsigned_int());
  score->add_option("--stop-epoch", so.score.stop_epoch, "LBPE window [0, stop)")->check(app::positive_int());
  score->add_option("--top-k", so.score.top_k, "LBPE: top-K most accurate epochs")->check(app::positive_int());
  score->add_option("--device", device, "cpu | cuda");
  add_train_flags(score, so.train, "scoring");
  bool cuda_graph = false;
  score->add_flag("--cuda-graph", cuda_graph, kCudaGraphHelp);
  app::add_pt_import_flags(score, pt, true);

  auto* select = app.add_subcommand("select", "write pruned sets from stored scores (instant)");
  select->add_option("-i,--input", input, "condensed set .npz the scores were computed on")->required();
  select->add_option("-s,--scores", scores_path, "scores .npz from `prune score`")->required();
  select->add_option("-m,--method", methods_arg, "comma list: yoco, el2n, forgetting, aum, entropy, ssp, ccs, random "
                                                 "(+ _easy/_hard, _balance/_imbalance)");
  select->add_option("-t,--ipc-target", targets_arg, "comma list of target IPCs, e.g. 1,2,5");
  select->add_option("-o,--out-dir", out_dir, "directory for <method>_ipc<t>.npz")->required();
  select->add_option("--seed", seed, "seed for random/ssp selections")->check(app::unsigned_int());
  select->add_flag("--png", png, "also write a PNG grid of each pruned set");
  select->add_option("--store", store, "image storage of the pruned sets: f32 | f16");
  app::add_pt_import_flags(select, pt, true);

  auto* table = app.add_subcommand("table", "score per seed, prune with every method, evaluate: the paper's table");
  table->add_option("-i,--input", input, "condensed set .npz (default: the shipped Fashion-MNIST set)");
  table->add_option("-t,--ipc-target", targets_arg, "comma list of target IPCs");
  CLI::Option* table_methods =
      table->add_option("-m,--method", methods_arg, "comma list, or 'all' (the default) for the paper's eight");
  table->add_option("--seeds", to.seeds, "scoring runs (seeds)")->check(app::positive_int());
  table->add_option("--seed", seed, "first seed")->check(app::unsigned_int());
  table->add_option("--score-epochs", to.scoring.train.epochs, "scoring-run epochs (protocol 1000)")
      ->check(app::positive_int());
  table->add_option("--stop-epoch", to.scoring.score.stop_epoch, "LBPE window [0, stop)")->check(app::positive_int());
  table->add_option("--eval-epochs", to.eval.train.epochs, "evaluation epochs (protocol 1000)")
      ->check(app::positive_int());
  table->add_option("--repeat", to.eval.repeat, "evaluations per pruned set")->check(app::positive_int());
  table->add_option("--eval-points", to.eval.train.eval_points, "test checkpoints per evaluation (protocol 4)")
      ->check(app::positive_int());
  table->add_option("-o,--out-dir", out_dir, "results directory (resumable)");
  table->add_option("--device", device, "cpu | cuda");
  table->add_flag("--cuda-graph", cuda_graph, kCudaGraphHelp);
  table->add_flag("--report-only", to.report_only, "print the table of the cells finished so far; compute nothing");
  app::add_pt_import_flags(table, pt, true);

  auto* demo = app.add_subcommand("demo", "README main job: prune the default set to IPC 1,2,5 (yoco, random), evaluate");
  int64_t demo_epochs = 100, demo_score_epochs = 60;
  demo->add_option("--eval-epochs", demo_epochs, "short evaluation schedule")->check(app::positive_int());
  demo->add_option("--score-epochs", demo_score_epochs, "short scoring run")->check(app::positive_int());
  demo->add_option("-o,--out-dir", out_dir, "results directory");

  auto* convert = app.add_subcommand("convert", "rewrite a set file with another image storage, meta kept; import "
                                                 "a PyTorch .pt set (IDC's data.pt) or write one");
  convert->add_option("-i,--input", input, "condensed or pruned set .npz, or .pt (then give --dataset, --factor)")
      ->required();
  convert->add_option("-o,--out", out, "set .npz (or .pt: torch.save's [images, labels]) to write (may be the input)")
      ->required();
  auto* convert_store = convert->add_option("--store", store, "f32 | f16 (default: the input's)");
  app::add_pt_import_flags(convert, pt, true);

  return app::run_cli("prune", app, argc, argv, [&] { comm.check_launch("prune"); comm.run_or_abort("prune", [&] {
    // The other subcommands are one job each: several ranks would only write the same files at once.
    YOCO_CHECK(!comm.distributed() || table->parsed() || demo->parsed(), "prune ",
               app.get_subcommands().empty() ? "" : app.get_subcommands().front()->get_name(),
               " runs as one process; under mpirun use prune table (or demo)");
    Device dev = app::select_rank_device(device);
    YOCO_CHECK(!cuda_graph || dev == Device::CUDA, "--cuda-graph needs --device cuda");
    const data::SetStorage storage = data::parse_storage(store, "--store");
    if (score->parsed()) {
      app::check_output_file("-o/--out", out);
      data::CondensedSet set = data::load_set_any(input, pt);
      so.train.seed = seed;
      so.device = dev;
      so.train.cuda_graph = cuda_graph;
      nlohmann::json meta;
      app::ScoreTable t = app::run_scoring(set, so, &meta);
      meta["source_path"] = input;
      app::save_score_table(out, t, meta);
      std::printf("scores of %lld sub-images written to %s (LBPE epochs:", static_cast<long long>(t.n()), out.c_str());
      for (auto& e : meta["lbpe_epochs"]) std::printf(" %lld", static_cast<long long>(e.get<int64_t>()));
      std::printf(")\n");
    } else if (select->parsed()) {
      app::check_output_dir("-o/--out-dir", out_dir);
      const std::vector<int64_t> targets = parse_targets(targets_arg);
      std::vector<app::SelectSpec> specs;
      for (const auto& m : parse_methods(methods_arg)) specs.push_back(app::parse_method(m));
      data::CondensedSet set = data::load_set_any(input, pt);
      app::ScoreTable t = app::load_score_table(scores_path, set);
      // Build and check every (method, target) output before creating the directory or writing anything, so bad
      // input leaves no empty folder and no partial outputs.
      std::vector<std::pair<std::string, data::CondensedSet>> outputs;
      for (const auto& spec : specs)
        for (int64_t tgt : targets) {
          std::vector<int64_t> idx = app::select_indices(t, spec, tgt, seed);
          std::string name = spec.name() + "_ipc" + std::to_string(tgt);
          data::CondensedSet ps = app::make_pruned_set(set, idx, spec, tgt, seed, input);
          ps.meta.storage = storage;
          data::check_set(ps, name);
          outputs.emplace_back(std::move(name), std::move(ps));
        }
      fs::create_directories(out_dir);
      for (auto& [name, ps] : outputs) {
        std::string p = (fs::path(out_dir) / (name + ".npz")).string();
        data::save_set(p, ps);
        if (png) data::write_png_grid((fs::path(out_dir) / (name + ".png")).string(), ps.images, ps.labels, 0);
        std::printf("%s (%lld images)\n", p.c_str(), static_cast<long long>(ps.labels.numel()));
      }
    } else if (convert->parsed()) {
      app::check_output_file("-o/--out", out);
      data::CondensedSet set = data::load_set_any(input, pt);  // read whole: -o may be the input itself (temp + rename)
      const data::SetStorage from = set.meta.storage;
      if (convert_store->count() > 0) set.meta.storage = storage;
      data::save_set_any(out, set);
      std::printf("%s (%s) -> %s (%s, %lld bytes)\n", input.c_str(), data::storage_name(from), out.c_str(),
                  data::storage_name(set.meta.storage), static_cast<long long>(fs::file_size(out)));
    } else if (table->parsed()) {
      to.out_dir = out_dir.empty() ? "prune_table" : out_dir;
      if (to.report_only)
        YOCO_CHECK(fs::is_directory(to.out_dir), "-o/--out-dir: --report-only reads finished cells from an existing "
                   "results directory; '", to.out_dir, "' is not one");
      app::check_output_dir("-o/--out-dir", to.out_dir);
      to.targets = parse_targets(targets_arg);
      // Unset means all (the select default "yoco" is not the table's): an explicit `-m yoco` is yoco alone.
      if (table_methods->count() > 0 && methods_arg != "all") to.methods = parse_methods(methods_arg);
      std::string path = input;
      data::CondensedSet set = input.empty() ? default_set(&path) : data::load_set_any(input, pt);
      to.scoring.train.seed = seed;
      to.scoring.device = dev;
      to.eval.device = dev;
      to.scoring.train.cuda_graph = to.eval.train.cuda_graph = cuda_graph;
      to.input_path = path;
      to.comm = &comm;
      std::printf("%s", app::run_prune_table(set, to).c_str());
    } else if (demo->parsed()) {
      const std::string demo_dir = out_dir.empty() ? "prune_demo" : out_dir;
      app::check_output_dir("-o/--out-dir", demo_dir);
      std::string path;
      data::CondensedSet set = default_set(&path);
      app::TableOptions d;
      d.targets = {1, 2, 5};
      d.seeds = 1;
      d.methods = {"yoco", "random_balance"};
      d.scoring.train.epochs = demo_score_epochs;
      d.eval.train.epochs = demo_epochs;
      d.eval.train.eval_points = 1;  // one test pass at the end keeps the demo short
      d.out_dir = demo_dir;
      d.input_path = path;
      d.comm = &comm;
      std::printf("%s", app::run_prune_table(set, d).c_str());
    }
  }); });
}
