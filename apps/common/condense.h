// IDC condensation (algorithms.md §3.1-§3.2): multi-formation stored images learned by matching the conv-weight
// gradients of real and decoded synthetic batches under Siamese DSA, with a fresh ConvNet-3 per outer iteration.
#pragma once
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>
#include "apps/common/matching.h"
#include "apps/common/mpi_comm.h"
#include "data/dataset.h"
#include "apps/common/setting_check.h"
#include "apps/common/steps.h"
#include "data/set_file.h"
#include "engine/optim.h"
#include "models/convnet.h"

namespace yoco::app {

struct CondenseConfig {
  int64_t ipc = 10, factor = 2;
  int64_t niter = 2000;  // outer iterations (IDC: niter·100 / inner = 2000)
  int64_t inner = 100;   // inner steps per outer iteration
  MatchMetric metric = MatchMetric::L1;
  float lr_img = 1e-4f;  // already scaled by tune_lr_img (see default_condense_config)
  float mom_img = 0.5f;
  int64_t batch_real = 64;
  int64_t batch_syn_max = 128;  // decoded synthetic images per class step, at most (IDC sample())
  int64_t n_data = 500;         // real images the network trains on after each inner step
  int64_t batch_net = 64;
  std::string dsa_match = "color_crop_cutout";  // Siamese DSA for matching (Fashion: IDC's aug_type)
  std::string dsa_net = "color_crop";           // network training: DSA minus cutout, + CutMix
  float cutmix_p = 0.5f;
  uint64_t seed = 0;
  Device device = Device::CPU;
  bool cuda_graph = false;  // CUDA: matching and network-update steps replayed from CUDA graphs (CondenseSteps)
  int64_t checkpoint_every = 10;  // outer iterations; 0 = only at the end and on SIGINT/SIGTERM
  std::string checkpoint_path;    // default: <out>.ckpt.npz
  bool progress = true;
  // Polled between class steps; set by the app's SIGINT/SIGTERM handler. The loop then saves the last
  // complete outer iteration's state and returns.
  const std::atomic<bool>* stop = nullptr;
  // Scale-out (docs/scaling.md): with a distributed comm, condense_run steps only this rank's block of classes
  // (class_shard) and gathers the state on rank 0 for checkpoints and its result. Neither is part of the
  // checkpoint, so a run resumes with any number of ranks.
  const Comm* comm = nullptr;
  int64_t class_begin = 0, class_end = -1;  // the classes condense_inner_step steps; -1: through the last
};

// IDC's per-dataset defaults (misc/reproduce.py), lr_img tuned as lr·(ipc/10)·(size/base)², base 32
// (28 for mnist, 224 for imagenet).
CondenseConfig default_condense_config(const std::string& dataset, int64_t ipc, int64_t factor);
// Refuses (never replaces) out-of-range settings: counts >= 1 (checkpoint_every >= 0), lr_img positive finite,
// mom_img in [0, 1), cutmix_p in [0, 1]. Errors name a field as `names` calls it (an app passes its flags), else
// "CondenseConfig.<field>". condense_init and condense_run call it first.
void validate(const CondenseConfig& c, const SettingNames& names = {});
nlohmann::json condense_config_json(const CondenseConfig& c);

struct CondenseState {
  std::vector<Tensor> stored;    // one leaf per class: [ipc, C, H, W] in [0,1]
  std::vector<Tensor> momentum;  // image-SGD momentum buffer per class (undefined before the first step)
  int64_t next_outer = 0;        // outer iterations completed
  std::vector<double> loss_history;  // mean matching loss per completed outer iteration
  // Not checkpointed: the last inner step's matching loss per class (0 for classes it did not step) and the
  // seconds this process spent in class steps and in network updates (scale-out progress and its model).
  std::vector<float> class_loss;
  double class_seconds = 0, net_seconds = 0;

  // Index lists of the real data, built once per run (hoisted out of the per-class loop).
  const std::vector<std::vector<int64_t>>& class_index(const data::Dataset& train);
  const std::vector<int64_t>& all_index(const data::Dataset& train);

 private:
  std::vector<std::vector<int64_t>> by_class_;
  std::vector<int64_t> all_;
};

CondenseState condense_init(const data::Dataset& train, const CondenseConfig& cfg);  // IDC init 'mix'
// Runs outer iterations [state.next_outer, cfg.niter); checkpoints as configured. Under a distributed cfg.comm
// every rank calls it: each steps its classes (the network and its updates, on real data, are the same on every
// rank), the per-class losses are gathered each outer iteration so every rank's loss_history is the
// one-process one, and rank 0 gathers the images and momentum for each checkpoint and before returning (only
// rank 0's state then holds every class; only rank 0 writes checkpoints). Returns false when stopped
// by a signal (state then holds the last complete outer iteration, already checkpointed). A NaN or inf in a
// matching loss, the stored images after an image step or a network update's loss throws an Error naming the
// outer and inner step (and class), read with the inner step's loss (no extra host wait); the checkpoint file
// is then left as it was.
bool condense_run(const data::Dataset& train, const CondenseConfig& cfg, CondenseState& state);
// The steps of one outer iteration's net: its matching steps and network updates (captured into CUDA graphs
// with cuda_graph on CUDA).
struct CondenseSteps {
  MatchStep match;
  TrainStep train;
  CondenseSteps(ConvNet& net, SGD& net_opt, MatchMetric metric, bool cuda_graph)
      : match(net, metric, cuda_graph), train(net, net_opt, cuda_graph) {}
};

// One inner step (every class in [cfg.class_begin, class_end) once + the network update) of the net and optimizer
// `steps` run on, exposed for tests and benchmarks. Returns the mean matching loss over those classes.
float condense_inner_step(const data::Dataset& train, const CondenseConfig& cfg, CondenseState& state,
                          CondenseSteps& steps, int64_t outer, int64_t inner);

// The checkpoint records the run's configuration with its data (dataset, classes, image shape), device and
// numerics. save_checkpoint refuses a state holding a NaN or inf. load_checkpoint refuses, with one line naming the
// file, the field, its value and this run's, a checkpoint that disagrees with this run (data, settings, the numerics
// that change results on its device, array names and shapes, next_outer in [0, niter], loss_history) or holds a
// non-finite value.
void save_checkpoint(const std::string& path, const data::Dataset& train, const CondenseConfig& cfg,
                     const CondenseState& s);
CondenseState load_checkpoint(const std::string& path, const data::Dataset& train, const CondenseConfig& cfg);
data::CondensedSet state_to_set(const data::Dataset& train, const CondenseConfig& cfg, const CondenseState& s);

}  // namespace yoco::app
