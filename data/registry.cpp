// Dataset registry (see registry.h).
#include "data/registry.h"
#include <filesystem>
#include "data/cifar.h"
#include "data/cifar_folder.h"
#include "data/idx.h"
#include "data/image_folder.h"
#include "kernels/common.h"

namespace yoco::data {

std::string canonical_dataset_name(const std::string& in) {
  std::string n;
  for (char c : in) n += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (n == "fashion" || n == "fashion-mnist" || n == "fashion_mnist" || n == "fashionmnist") return "fashion-mnist";
  if (n == "mnist") return "mnist";
  if (n == "cifar10" || n == "cifar-10") return "cifar10";
  if (n == "cifar100" || n == "cifar-100") return "cifar100";
  if (n == "imagenet" || n == "imagenet10" || n == "imagenet-10") return "imagenet10";
  YOCO_CHECK(false, "unknown dataset '", in, "': expected fashion-mnist, mnist, cifar10, cifar100 or imagenet10");
  return "";
}

DatasetShape dataset_shape(const std::string& name_in) {
  const std::string n = canonical_dataset_name(name_in);
  if (n == "fashion-mnist" || n == "mnist") return {10, 1, 28};
  if (n == "cifar10") return {10, 3, 32};
  if (n == "cifar100") return {100, 3, 32};
  return {10, 3, 0};  // imagenet10
}

Dataset load_dataset(const std::string& name_in, const std::string& dir_in, bool train, int64_t image_size) {
  std::string name = canonical_dataset_name(name_in);
  std::string dir = dir_in.empty() ? default_data_dir(name) : dir_in;
  YOCO_CHECK(std::filesystem::exists(dir), "data directory '", dir, "' for ", name,
             " does not exist (set --data-dir or YOCO_DATA_DIR)");
  if (name == "fashion-mnist" || name == "mnist") return load_mnist_like(dir, name, train);
  if (name == "cifar10") return is_cifar10_folder(dir) ? load_cifar10_folder(dir, train) : load_cifar10(dir, train);
  if (name == "cifar100") return load_cifar100(dir, train);
  // ImageNet-style folder: <dir>/train and <dir>/val, each root/<class>/*.{jpg,png}.
  std::string split = (std::filesystem::path(dir) / (train ? "train" : "val")).string();
  return load_image_folder(split, image_size > 0 ? image_size : 224, name);
}

}  // namespace yoco::data
