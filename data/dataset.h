// Dataset: an in-memory labelled image set (f32 [N,C,H,W] in [0,1]) plus per-class selection helpers.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>
#include "engine/tensor.h"

namespace yoco::data {

struct Dataset {
  std::string name;
  int64_t num_classes = 0, channels = 0, height = 0, width = 0;
  Tensor images;  // f32 [N,C,H,W], unnormalised, in [0,1]
  Tensor labels;  // i64 [N], each in [0, num_classes)
  std::vector<float> mean, std;  // per channel; normalisation itself is the engine's job
  int64_t size() const { return labels.defined() ? labels.numel() : 0; }
};

// Per-channel mean/std of a dataset name ("fashion-mnist"/"fashion", "mnist", "cifar10", "cifar100",
// "imagenet*"); throws for an unknown name.
std::pair<std::vector<float>, std::vector<float>> dataset_stats(const std::string& name);

// Where a dataset lives: $YOCO_DATA_DIR/<name> when the variable is set, else a system default
// (fashion-mnist: /usr/share/datasets/fashion-mnist).
std::string default_data_dir(const std::string& dataset);

// Indices of each class, in dataset order. Size num_classes.
std::vector<std::vector<int64_t>> class_indices(const Dataset& d);

// New dataset holding rows idx (in that order); images/labels are copied.
Dataset subset(const Dataset& d, const std::vector<int64_t>& idx);

// The rows `idx` of d's images on `dev`: gathered where the images live (the host, or a device for a set the
// apps keep resident there), then moved (a no-op when they live on `dev`).
Tensor gather_images(const Dataset& d, const std::vector<int64_t>& idx, Device dev);

// The first n images of each class, class-major (class 0 first). Throws when a class has fewer than n.
Dataset first_n_per_class(const Dataset& d, int64_t n);

// n images per class drawn without replacement (Philox-keyed Fisher-Yates, stream = class), class-major.
Dataset random_n_per_class(const Dataset& d, int64_t n, uint64_t seed);

// Checks the invariants above (shapes, dtypes, label range); `what` names the source in errors.
void validate(const Dataset& d, const std::string& what);

}  // namespace yoco::data
