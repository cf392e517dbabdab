// CIFAR binary readers: size and label-range validation with file/offset in each error.
#include "data/cifar.h"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <tuple>

namespace yoco::data {
namespace {

constexpr int64_t kPixels = 3 * 32 * 32;

std::vector<uint8_t> read_raw(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  YOCO_CHECK(in.good(), path, ": cannot open");
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The archives unpack into a subdirectory; accept either the parent or the subdirectory itself.
std::string resolve_dir(const std::string& dir, const std::string& sub, const std::string& probe) {
  if (std::filesystem::exists(dir + "/" + probe)) return dir;
  if (std::filesystem::exists(dir + "/" + sub + "/" + probe)) return dir + "/" + sub;
  YOCO_CHECK(false, dir, ": no ", probe, " here or in ", sub, "/");
  return {};
}

// Appends all records of one file; `label_bytes` = 1 (CIFAR-10) or 2 (CIFAR-100, fine label is the last byte).
void append_file(const std::string& path, int label_bytes, int num_classes, std::vector<float>& x,
                 std::vector<int64_t>& y) {
  const auto b = read_raw(path);
  const std::string f = std::filesystem::path(path).filename().string();
  const size_t rec = static_cast<size_t>(label_bytes + kPixels);
  YOCO_CHECK(!b.empty() && b.size() % rec == 0, f, ": truncated at byte ", b.size() - b.size() % rec,
             ": file size ", b.size(), " is not a positive multiple of the ", rec, "-byte record size");
  x.reserve(x.size() + b.size());  // one float per byte, slightly over (labels): avoids regrowth
  for (size_t off = 0; off < b.size(); off += rec) {
    const int label = b[off + static_cast<size_t>(label_bytes) - 1];
    YOCO_CHECK(label < num_classes, f, ": label ", label, " at byte ", off + label_bytes - 1, ": expected < ",
               num_classes);
    y.push_back(label);
    for (int64_t p = 0; p < kPixels; ++p) x.push_back(static_cast<float>(b[off + label_bytes + p]) / 255.f);
  }
}

Dataset make(const std::string& name, int num_classes, std::vector<float>&& x, std::vector<int64_t>&& y) {
  Dataset d;
  d.name = name;
  d.num_classes = num_classes;
  d.channels = 3;
  d.height = d.width = 32;
  std::tie(d.mean, d.std) = dataset_stats(name);
  const int64_t n = static_cast<int64_t>(y.size());
  d.images = from_vector(x, {n, 3, 32, 32});  // the file layout is already C,H,W per record
  d.labels = from_int_vector(y, {n});
  return d;
}

}  // namespace

Dataset load_cifar10(const std::string& dir, bool train) {
  const std::string probe = train ? "data_batch_1.bin" : "test_batch.bin";
  const std::string root = resolve_dir(dir, "cifar-10-batches-bin", probe);
  std::vector<float> x;
  std::vector<int64_t> y;
  if (train) {
    for (int i = 1; i <= 5; ++i) append_file(root + "/data_batch_" + std::to_string(i) + ".bin", 1, 10, x, y);
  } else {
    append_file(root + "/test_batch.bin", 1, 10, x, y);
  }
  return make("cifar10", 10, std::move(x), std::move(y));
}

Dataset load_cifar100(const std::string& dir, bool train) {
  const std::string file = train ? "train.bin" : "test.bin";
  const std::string root = resolve_dir(dir, "cifar-100-binary", file);
  std::vector<float> x;
  std::vector<int64_t> y;
  append_file(root + "/" + file, 2, 100, x, y);
  return make("cifar100", 100, std::move(x), std::move(y));
}

}  // namespace yoco::data
