// Dataset registry: loads a named dataset (train or test split) from a directory, with the defaults users expect.
#pragma once
#include <cstdint>
#include <string>
#include "data/dataset.h"

namespace yoco::data {

// Canonical name for user input ("fashion" → "fashion-mnist", "cifar-10" → "cifar10"); throws for unknown names.
std::string canonical_dataset_name(const std::string& name);
// What a dataset's images look like without loading it: classes, channels, and the side length (0 = any: an
// image folder resized on load).
struct DatasetShape {
  int64_t num_classes = 0, channels = 0, size = 0;
};
DatasetShape dataset_shape(const std::string& name);

// Loads `name` from `dir` ("" = default_data_dir(name)). Supported: fashion-mnist, mnist, cifar10 (binary batches
// or an image folder dir/{train,test|val}/<class>/*, see cifar_folder.h), cifar100,
// imagenet10 / imagenet (an image folder root/{train,val}/<class>/*, resized to `image_size`, default 224).
Dataset load_dataset(const std::string& name, const std::string& dir, bool train, int64_t image_size = 0);

}  // namespace yoco::data
