// Evaluation protocol: train fresh ConvNets on a set R times (different seeds) and report mean ± std accuracy.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <vector>
#include "apps/common/mpi_comm.h"
#include "apps/common/trainer.h"
#include "data/dataset.h"
#include "models/convnet.h"

namespace yoco::app {

struct EvalOptions {
  TrainConfig train;  // train.seed is the base seed; run r uses base + r
  int64_t repeat = 1;
  int64_t depth = 3, width = 128;
  NormKind norm = NormKind::Instance;
  Device device = Device::CPU;
  // Under a distributed comm the runs go through its work queue and rank 0 gets the summary (the same numbers
  // as one process); other ranks get an empty one. Leave it unset inside other queued work (a table cell).
  const Comm* comm = nullptr;
};

struct EvalSummary {
  std::vector<TrainResult> runs;
  double best_mean = 0, best_std = 0, last_mean = 0, last_std = 0;  // percent
  double seconds = 0;
  nlohmann::json to_json() const;
};

EvalSummary evaluate_dataset(const data::Dataset& train, const data::Dataset& test, const EvalOptions& opt);

// Mean and (population, as numpy's default) standard deviation.
std::pair<double, double> mean_std(const std::vector<double>& v);

}  // namespace yoco::app
