// apps/evaluate: train fresh ConvNets on a condensed set, a random real subset or the whole training set,
// and report test accuracy with the IDC/YOCO protocol (best of 4 checkpoints and last, mean ± std).
#include <cstdio>
#include "apps/common/cli.h"
#include "apps/common/evaluate.h"
#include "apps/common/mpi_comm.h"
#include "apps/common/omp_wait.h"
#include "apps/common/set_input.h"
#include "data/registry.h"
#include "data/set_dataset.h"

using namespace yoco;

int main(int argc, char** argv) {
  yoco::app::bound_omp_spinning(argv);  // may re-exec: before MPI starts
  const app::Comm comm(&argc, &argv);     // mpirun -np R: the --repeat runs spread over R ranks
  CLI::App app{"Evaluate a condensed or pruned set (or a real subset) by training ConvNets from scratch"};
  std::string input, dataset = "fashion-mnist", data_dir, json_out, device = "cpu", norm = "instance";
  std::string dsa = "color_crop_flip_scale_rotate";
  int64_t random_ipc = 0, depth = 3, width = 128;
  bool full = false;
  app::EvalOptions opt;
  auto* src = app.add_option_group("source", "what to train on (exactly one)");
  src->add_option("-i,--input", input, "condensed/pruned set .npz or PyTorch .pt (its sub-images are decoded)");
  src->add_option("--random-ipc", random_ipc, "a class-balanced random real subset of N images per class")
      ->check(app::positive_int());
  src->add_flag("--full", full, "the whole real training set");
  src->require_option(1);
  auto* dataset_flag =
      app.add_option("-d,--dataset", dataset, "dataset (fashion-mnist, mnist, cifar10, cifar100, imagenet10)");
  data::PtImportOptions pt;  // describes a PyTorch .pt input (IDC's data.pt); its dataset is --dataset
  app::add_pt_import_flags(&app, pt, false);
  app.add_option("--data-dir", data_dir, "dataset directory (default: the dataset's standard location)");
  app.add_option("--epochs", opt.train.epochs, "training epochs (protocol: 1000)")->check(app::positive_int());
  app.add_option("--batch", opt.train.batch, "batch size")->check(app::positive_int());
  app.add_option("--lr", opt.train.lr, "SGD learning rate");
  app.add_option("--repeat", opt.repeat, "runs with different seeds (mean ± std)")->check(app::positive_int());
  app.add_option("--seed", opt.train.seed, "base seed (run r uses seed + r)")->check(app::unsigned_int());
  app.add_option("--dsa", dsa, "DSA strategy, or 'none'");
  app.add_option("--cutmix-p", opt.train.cutmix_p, "CutMix probability")->check(app::probability());
  app.add_option("--depth", depth, "ConvNet depth")->check(app::positive_int());
  app.add_option("--width", width, "ConvNet width")->check(app::positive_int());
  app.add_option("--norm", norm, "instance | batch | none");
  app.add_option("--device", device, "cpu | cuda | cuda:K (under mpirun, cuda picks the node-local rank's GPU)");
  app.add_flag("--cuda-graph", opt.train.cuda_graph,
               "CUDA: replay each training step's network half from a CUDA graph (same numbers)");
  app.add_option("--json", json_out, "write the summary as JSON");
  app.add_flag("!--no-progress", opt.train.progress, "no progress lines");

  return app::run_cli("evaluate", app, argc, argv, [&] { comm.check_launch("evaluate"); comm.run_or_abort("evaluate", [&] {
    if (!json_out.empty()) app::check_output_file("--json", json_out);  // before any training
    opt.train.dsa = dsa;
    app::validate(opt.train, {{"epochs", "--epochs"}, {"batch", "--batch"}, {"lr", "--lr"}, {"cutmix_p", "--cutmix-p"}});
    opt.depth = depth;
    opt.width = width;
    opt.norm = parse_norm(norm);
    opt.device = app::select_rank_device(device);
    opt.comm = &comm;
    YOCO_CHECK(!opt.train.cuda_graph || opt.device == Device::CUDA, "--cuda-graph needs --device cuda");
    std::string what;
    data::Dataset train;
    nlohmann::json source;
    if (!input.empty()) {
      if (dataset_flag->count() > 0) pt.dataset = dataset;
      data::CondensedSet set = data::load_set_any(input, pt);
      dataset = set.meta.dataset;
      train = data::decoded_dataset(set);
      what = input;
      source = {{"input", input}, {"set_meta", data::meta_to_json(set.meta)}};
    }
    data::Dataset full_train;
    if (input.empty()) full_train = data::load_dataset(dataset, data_dir, true);
    if (random_ipc > 0) {
      train = data::random_n_per_class(full_train, random_ipc, opt.train.seed + 7919);
      what = "random real IPC " + std::to_string(random_ipc);
      source = {{"random_ipc", random_ipc}};
    } else if (full) {
      train = full_train;
      what = "full training set";
      source = {{"full", true}};
    }
    data::Dataset test = data::load_dataset(dataset, data_dir, false);
    if (comm.rank() == 0)
      std::fprintf(stderr, "evaluate: %s (%lld training images), %s test images %lld, %lld epochs x %lld runs\n",
                 what.c_str(), static_cast<long long>(train.size()), test.name.c_str(),
                 static_cast<long long>(test.size()), static_cast<long long>(opt.train.epochs),
                 static_cast<long long>(opt.repeat));
    app::EvalSummary s = app::evaluate_dataset(train, test, opt);
    if (comm.rank() != 0) return;  // rank 0 holds the summary
    std::printf("%s: best %.2f ± %.2f %%, last %.2f ± %.2f %% over %lld run(s) (%s)\n", what.c_str(), s.best_mean,
                s.best_std, s.last_mean, s.last_std, static_cast<long long>(opt.repeat),
                app::format_duration(s.seconds).c_str());
    if (!json_out.empty()) {
      nlohmann::json j = s.to_json();
      j["source"] = source;
      j["dataset"] = dataset;
      j["config"] = {{"epochs", opt.train.epochs}, {"batch", opt.train.batch}, {"lr", opt.train.lr},
                     {"momentum", opt.train.momentum}, {"weight_decay", opt.train.weight_decay},
                     {"dsa", opt.train.dsa}, {"cutmix_p", opt.train.cutmix_p}, {"repeat", opt.repeat},
                     {"seed", opt.train.seed}, {"depth", depth}, {"width", width}, {"norm", norm}, {"device", device},
                     {"cuda_graph", opt.train.cuda_graph},
                     {"numerics", app::numerics_json()}};
      app::write_json_atomic(json_out, j);
    }
  }); });
}
