// apps/condense: IDC dataset condensation with multi-formation and Siamese DSA; resumable, checkpointed.
#include <csignal>
#include <cstdio>
#include <filesystem>
#include "apps/common/cli.h"
#include "apps/common/condense.h"
#include "apps/common/evaluate.h"
#include "apps/common/mix_set.h"
#include "apps/common/mpi_comm.h"
#include "apps/common/omp_wait.h"
#include "data/png_grid.h"
#include "data/registry.h"
#include "data/set_dataset.h"

using namespace yoco;

namespace {
// The one process-wide flag a signal handler may touch; the library polls it through CondenseConfig::stop.
std::atomic<bool> stop_requested{false};
void on_signal(int) { stop_requested.store(true); }
}  // namespace

int main(int argc, char** argv) {
  yoco::app::bound_omp_spinning(argv);  // may re-exec: before MPI starts
  const app::Comm comm(&argc, &argv);     // mpirun -np R: class-sharded over R ranks (docs/scaling.md)
  const bool root = comm.rank() == 0;
  CLI::App app{"Condense a dataset with IDC (gradient matching, multi-formation, Siamese DSA)"};
  std::string dataset = "fashion-mnist", data_dir, out, device = "cpu", metric, png, resume_path, store = "f32";
  int64_t ipc = 10, factor = 2, niter = -1, inner = -1, batch_real = -1, n_data = -1, checkpoint_every = 10, eval_every = 0,
          eval_epochs = 100;
  float lr_img = 0;
  uint64_t seed = 0;
  bool resume = false, init_only = false;
  app.add_option("-d,--dataset", dataset, "dataset");
  app.add_option("--data-dir", data_dir, "dataset directory");
  app.add_option("--ipc", ipc, "stored images per class")->check(app::positive_int());
  app.add_option("-f,--factor", factor, "multi-formation factor (sub-images per stored image = f²)")
      ->check(app::positive_int());
  app.add_option("-o,--out", out, "condensed set .npz to write")->required();
  app.add_option("--niter", niter, "outer iterations (IDC: 2000)")->check(app::positive_int());
  app.add_option("--inner", inner, "inner steps per outer iteration (IDC: 100)")->check(app::positive_int());
  app.add_option("--metric", metric, "l1 | mse | cos (default per dataset)");
  app.add_option("--lr-img", lr_img, "image learning rate (default per dataset, IPC- and size-scaled)");
  app.add_option("--batch-real", batch_real, "real images per class step")->check(app::positive_int());
  app.add_option("--n-data", n_data, "real images per network update (default per dataset)")->check(app::positive_int());
  app.add_option("--seed", seed, "seed")->check(app::unsigned_int());
  app.add_option("--device", device, "cpu | cuda | cuda:K (under mpirun, cuda picks the node-local rank's GPU)");
  bool cuda_graph = false;
  app.add_flag("--cuda-graph", cuda_graph,
               "CUDA: replay each network-update step (and quick-eval training step) from a CUDA graph (same numbers)");
  app.add_option("--checkpoint-every", checkpoint_every, "outer iterations between checkpoints (0: only on exit)")
      ->check(app::non_negative_int());
  app.add_flag("--resume", resume, "continue from <out>.ckpt.npz");
  app.add_flag("--init-only", init_only, "write the 'mix' initialisation itself (the baseline condensation starts from)");
  app.add_option("--png", png, "also write a PNG grid of the stored and decoded images");
  app.add_option("--eval-every", eval_every, "quick evaluation every K outer iterations (0: off)")
      ->check(app::non_negative_int());
  app.add_option("--eval-epochs", eval_epochs, "epochs of the quick evaluation")->check(app::positive_int());
  app.add_option("--store", store, "image storage of the written set: f32 | f16 (half the size; checkpoints stay f32)");

  return app::run_cli("condense", app, argc, argv, [&] { comm.check_launch("condense"); comm.run_or_abort("condense", [&] {
    // Output locations first: a bad path must fail now, not after hours of condensation.
    app::check_output_file("-o/--out", out);
    app::check_output_file("-o/--out (checkpoint)", out + ".ckpt.npz");
    if (!png.empty()) app::check_output_file("--png", png);
    std::string ds = data::canonical_dataset_name(dataset);
    const data::SetStorage storage = data::parse_storage(store, "--store");
    app::CondenseConfig cfg = app::default_condense_config(ds, ipc, factor);
    if (niter > 0) cfg.niter = niter;
    if (inner > 0) cfg.inner = inner;
    if (!metric.empty()) cfg.metric = app::parse_metric(metric);
    if (app.count("--lr-img")) cfg.lr_img = lr_img;  // refused below when out of range, never replaced
    if (batch_real > 0) cfg.batch_real = batch_real;
    if (n_data > 0) cfg.n_data = n_data;
    cfg.seed = seed;
    cfg.device = app::select_rank_device(device);
    YOCO_CHECK(!cuda_graph || cfg.device == Device::CUDA, "--cuda-graph needs --device cuda");
    cfg.cuda_graph = cuda_graph;
    cfg.checkpoint_every = checkpoint_every;
    cfg.checkpoint_path = out + ".ckpt.npz";
    cfg.stop = &stop_requested;
    cfg.comm = &comm;
    app::validate(cfg, {{"ipc", "--ipc"}, {"factor", "--factor"}, {"niter", "--niter"}, {"inner", "--inner"},
                        {"lr_img", "--lr-img"}, {"batch_real", "--batch-real"}, {"n_data", "--n-data"}, {"checkpoint_every", "--checkpoint-every"}});
    data::Dataset train = data::load_dataset(ds, data_dir, true);
    if (init_only) {
      if (!root) return;
      data::CondensedSet mix = app::make_mix_set(train, ipc, factor);
      mix.meta.storage = storage;
      data::save_set(out, mix);
      if (!png.empty()) data::write_set_pngs(png, mix);
      std::printf("'mix' initialisation written to %s\n", out.c_str());
      return;
    }
    app::CondenseState st;
    if (resume) {
      YOCO_CHECK(std::filesystem::exists(cfg.checkpoint_path), "--resume: no checkpoint at ", cfg.checkpoint_path);
      st = app::load_checkpoint(cfg.checkpoint_path, train, cfg);
      if (root)
        std::fprintf(stderr, "condense: resuming at outer iteration %lld/%lld\n", static_cast<long long>(st.next_outer),
                     static_cast<long long>(cfg.niter));
    } else {
      st = app::condense_init(train, cfg);
    }
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    if (root)
      std::fprintf(stderr, "condense: %s IPC %lld factor %lld, %lld x %lld iterations, metric %s, lr_img %.3g, %d rank(s)\n",
                   ds.c_str(), static_cast<long long>(ipc), static_cast<long long>(factor),
                   static_cast<long long>(cfg.niter), static_cast<long long>(cfg.inner), app::metric_name(cfg.metric),
                   cfg.lr_img, comm.size());
    data::Dataset test;
    if (eval_every > 0 && root) test = data::load_dataset(ds, data_dir, false);
    while (st.next_outer < cfg.niter) {
      app::CondenseConfig step = cfg;
      if (eval_every > 0) step.niter = std::min(cfg.niter, (st.next_outer / eval_every + 1) * eval_every);
      if (!app::condense_run(train, step, st)) throw Error("interrupted; resume with --resume");
      if (eval_every > 0 && root) {  // rank 0 holds every class after condense_run
        app::EvalOptions eo;
        eo.train.epochs = eval_epochs;
        eo.train.progress = false;
        eo.device = cfg.device;
        eo.train.cuda_graph = cfg.cuda_graph;
        app::EvalSummary es = app::evaluate_dataset(data::decoded_dataset(app::state_to_set(train, cfg, st)), test, eo);
        std::fprintf(stderr, "condense: quick eval at outer %lld (%lld epochs): %.2f%%\n",
                     static_cast<long long>(st.next_outer), static_cast<long long>(eval_epochs), es.best_mean);
      }
    }
    if (!root) return;  // condense_run gathered every class on rank 0
    data::CondensedSet set = app::state_to_set(train, cfg, st);
    set.meta.storage = storage;  // only the final set: the checkpoint keeps exact f32 state for bit-identical resume
    data::save_set(out, set);
    app::save_checkpoint(cfg.checkpoint_path, train, cfg, st);
    if (!png.empty()) data::write_set_pngs(png, set);
    std::printf("condensed set written to %s (%lld images, IPC %lld, factor %lld, %s)\n", out.c_str(),
                static_cast<long long>(set.labels.numel()), static_cast<long long>(ipc), static_cast<long long>(factor),
                data::storage_name(storage));
  }); });
}
