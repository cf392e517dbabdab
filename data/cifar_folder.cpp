// CIFAR-10 image-folder reader: class names checked against CIFAR-10's, 32x32 images decoded by the image-folder
// reader's checked decoder.
#include "data/cifar_folder.h"

#include <algorithm>
#include <filesystem>
#include <tuple>
#include "data/image_folder.h"
#include "kernels/common.h"

namespace fs = std::filesystem;

namespace yoco::data {
namespace {

constexpr int kSide = 32;

std::string split_dir(const std::string& dir, bool train) {
  if (train) return (fs::path(dir) / "train").string();
  const fs::path test = fs::path(dir) / "test";
  return (fs::is_directory(test) ? test : fs::path(dir) / "val").string();
}

void check_classes(const std::string& root, const std::vector<std::string>& found) {
  const auto& want = cifar10_class_names();
  if (found == want) return;
  std::string missing, unexpected;
  for (const auto& c : want)
    if (std::find(found.begin(), found.end(), c) == found.end()) missing += " " + c;
  for (const auto& c : found)
    if (std::find(want.begin(), want.end(), c) == want.end()) unexpected += " " + c;
  YOCO_CHECK(false, root, ": class folders are not CIFAR-10's (airplane automobile bird cat deer dog frog horse ship ",
             "truck): missing", missing.empty() ? " none" : missing, "; unexpected",
             unexpected.empty() ? " none" : unexpected);
}

}  // namespace

const std::vector<std::string>& cifar10_class_names() {
  static const std::vector<std::string> names = {"airplane", "automobile", "bird", "cat",  "deer",
                                                 "dog",      "frog",       "horse", "ship", "truck"};
  return names;
}

bool is_cifar10_folder(const std::string& dir) {
  const fs::path d(dir);
  if (fs::exists(d / "data_batch_1.bin") || fs::exists(d / "test_batch.bin") || fs::exists(d / "cifar-10-batches-bin"))
    return false;
  return fs::is_directory(d / "train") || fs::is_directory(d / "test") || fs::is_directory(d / "val");
}

Dataset load_cifar10_folder(const std::string& dir, bool train) {
  const std::string root = split_dir(dir, train);
  const std::vector<std::string> classes = image_folder_classes(root);
  check_classes(root, classes);
  std::vector<std::string> files;
  std::vector<int64_t> labels;
  for (size_t k = 0; k < classes.size(); ++k) {
    std::vector<std::string> in_class = image_files((fs::path(root) / classes[k]).string());
    YOCO_CHECK(!in_class.empty(), root, "/", classes[k], ": no .png/.jpg/.jpeg files");
    for (auto& f : in_class) files.push_back(std::move(f));
    labels.insert(labels.end(), in_class.size(), static_cast<int64_t>(k));
  }
  Dataset d;
  d.name = "cifar10";
  d.num_classes = 10;
  d.channels = 3;
  d.height = d.width = kSide;
  std::tie(d.mean, d.std) = dataset_stats("cifar10");
  const int64_t n = static_cast<int64_t>(files.size());
  d.images = empty({n, 3, kSide, kSide}, DType::F32);
  d.labels = from_int_vector(labels, {n});
  float* x = d.images.data<float>();
  for (int64_t i = 0; i < n; ++i) {
    const std::string& path = files[static_cast<size_t>(i)];
    // The header first (with the image folder's checks against crafted files): another size is refused before
    // its pixels are decoded. At 32x32 decode_image's resize is the identity, so pixels are used as they are.
    const std::vector<char> b = read_image_file(path);
    const auto [w, h] = image_dimensions(b.data(), b.size(), path);
    YOCO_CHECK(w == kSide && h == kSide, path, ": image is ", w, "x", h, ", expected 32x32 (CIFAR-10 images are used ",
               "as they are, not resized)");
    decode_image(b.data(), b.size(), path, kSide, x + i * 3 * kSide * kSide);
  }
  return d;
}

}  // namespace yoco::data
