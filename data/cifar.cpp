// CIFAR binary readers: size and label-range validation with file/offset in each error.
#include "data/cifar.h"
#include "data/zip.h"

#include <filesystem>
#include <tuple>

namespace yoco::data {
namespace {

constexpr int64_t kPixels = 3 * 32 * 32;

// The largest batch file accepted (CIFAR-100's train.bin is 153 MB): refused from its size, before reading.
constexpr uint64_t kMaxBatchBytes = uint64_t(1) << 30;

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
  const size_t rec = static_cast<size_t>(label_bytes + kPixels);
  std::error_code ec;
  YOCO_CHECK(std::filesystem::is_regular_file(path, ec), path, ": cannot open (not a regular file)");
  const uint64_t size = std::filesystem::file_size(path, ec);
  YOCO_CHECK(!ec, path, ": cannot read its size: ", ec.message());
  YOCO_CHECK(size <= kMaxBatchBytes, path, ": ", size, " bytes, more than the ", kMaxBatchBytes,
             " a CIFAR batch file may have");
  YOCO_CHECK(size > 0 && size % rec == 0, path, ": truncated at byte ", size - size % rec, ": file size ", size,
             " is not a positive multiple of the ", rec, "-byte record size");
  const std::vector<char> raw = read_file_bytes(path, kMaxBatchBytes);
  YOCO_CHECK(raw.size() == size, path, ": changed size while being read");
  const uint8_t* b = reinterpret_cast<const uint8_t*>(raw.data());
  x.reserve(x.size() + size);  // one float per byte, slightly over (labels): avoids regrowth
  for (size_t off = 0; off < size; off += rec) {
    const int label = b[off + static_cast<size_t>(label_bytes) - 1];
    YOCO_CHECK(label < num_classes, path, ": label ", label, " at byte ", off + label_bytes - 1, ": expected < ",
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
