// Dataset helpers: stats table, data directories, per-class selection and subsets.
#include "data/dataset.h"

#include <cstdlib>
#include <cstring>
#include "engine/ops.h"
#include "kernels/rng.h"

namespace yoco::data {

std::pair<std::vector<float>, std::vector<float>> dataset_stats(const std::string& name) {
  // Numbers from the reference data.py (spec algorithms.md §3.3), ImageNet's are torchvision's.
  if (name == "fashion-mnist" || name == "fashion" || name == "fashion_mnist") return {{0.2861f}, {0.3530f}};
  if (name == "mnist") return {{0.1307f}, {0.3081f}};
  if (name == "cifar10" || name == "cifar100" || name == "cifar")
    return {{0.4914f, 0.4822f, 0.4465f}, {0.2023f, 0.1994f, 0.2010f}};
  if (name.rfind("imagenet", 0) == 0) return {{0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f}};
  YOCO_CHECK(false, "dataset_stats: unknown dataset '", name,
             "' (known: fashion-mnist, mnist, cifar10, cifar100, imagenet*)");
  return {};
}

std::string default_data_dir(const std::string& dataset) {
  if (const char* env = std::getenv("YOCO_DATA_DIR"); env && *env) return std::string(env) + "/" + dataset;
  if (dataset == "fashion-mnist" || dataset == "fashion" || dataset == "fashion_mnist")
    return "/usr/share/datasets/fashion-mnist";  // Debian package dataset-fashion-mnist
  return "/usr/share/datasets/" + dataset;
}

void validate(const Dataset& d, const std::string& what) {
  YOCO_CHECK(d.images.defined() && d.labels.defined(), what, ": images/labels not set");
  YOCO_CHECK(d.images.dtype() == DType::F32 && d.images.dim() == 4, what, ": images must be f32 [N,C,H,W], got ",
             d.images.str());
  YOCO_CHECK(d.labels.dtype() == DType::I64 && d.labels.dim() == 1, what, ": labels must be i64 [N], got ",
             d.labels.str());
  YOCO_CHECK(d.images.size(0) == d.labels.size(0), what, ": ", d.images.size(0), " images but ", d.labels.size(0),
             " labels");
  YOCO_CHECK(d.images.size(1) == d.channels && d.images.size(2) == d.height && d.images.size(3) == d.width, what,
             ": images ", d.images.str(), " do not match C,H,W = ", d.channels, ",", d.height, ",", d.width);
  const int64_t* y = d.labels.data<int64_t>();
  for (int64_t i = 0; i < d.labels.numel(); ++i)
    YOCO_CHECK(y[i] >= 0 && y[i] < d.num_classes, what, ": label ", y[i], " at index ", i, " outside [0, ",
               d.num_classes, ")");
}

std::vector<std::vector<int64_t>> class_indices(const Dataset& d) {
  std::vector<std::vector<int64_t>> out(static_cast<size_t>(d.num_classes));
  const int64_t* y = d.labels.data<int64_t>();
  for (int64_t i = 0; i < d.size(); ++i) {
    YOCO_CHECK(y[i] >= 0 && y[i] < d.num_classes, d.name, ": label ", y[i], " at index ", i, " out of range");
    out[static_cast<size_t>(y[i])].push_back(i);
  }
  return out;
}

Dataset subset(const Dataset& d, const std::vector<int64_t>& idx) {
  Dataset out = d;  // copies the metadata; tensors are replaced below
  const int64_t n = static_cast<int64_t>(idx.size()), row = d.channels * d.height * d.width;
  out.labels = empty({n}, DType::I64);
  const int64_t* ys = d.labels.data<int64_t>();  // labels live on the host, also for a device-resident set
  int64_t* yd = out.labels.data<int64_t>();
  for (int64_t k = 0; k < n; ++k) {
    const int64_t i = idx[static_cast<size_t>(k)];
    YOCO_CHECK(i >= 0 && i < d.size(), d.name, ": subset index ", i, " outside [0, ", d.size(), ")");
    yd[k] = ys[i];
  }
  if (d.images.device() != Device::CPU) {  // images resident on a device (apps' training runs): gather there
    out.images = gather_images(d, idx, d.images.device());
    return out;
  }
  out.images = empty({n, d.channels, d.height, d.width}, DType::F32);
  const float* src = d.images.data<float>();
  float* dst = out.images.data<float>();
  for (int64_t k = 0; k < n; ++k)
    std::memcpy(dst + k * row, src + idx[static_cast<size_t>(k)] * row, static_cast<size_t>(row) * sizeof(float));
  return out;
}

Tensor gather_images(const Dataset& d, const std::vector<int64_t>& idx, Device dev) {
  const Tensor rows = from_int_vector(idx, {static_cast<int64_t>(idx.size())}, d.images.device());
  return index_select(d.images, 0, rows).to(dev);
}

Dataset first_n_per_class(const Dataset& d, int64_t n) {
  auto per = class_indices(d);
  std::vector<int64_t> idx;
  for (size_t c = 0; c < per.size(); ++c) {
    YOCO_CHECK(static_cast<int64_t>(per[c].size()) >= n, d.name, ": class ", c, " has ", per[c].size(),
               " images, need ", n);
    idx.insert(idx.end(), per[c].begin(), per[c].begin() + n);
  }
  return subset(d, idx);
}

Dataset random_n_per_class(const Dataset& d, int64_t n, uint64_t seed) {
  auto per = class_indices(d);
  std::vector<int64_t> idx;
  for (size_t c = 0; c < per.size(); ++c) {
    auto& v = per[c];
    const int64_t m = static_cast<int64_t>(v.size());
    YOCO_CHECK(m >= n, d.name, ": class ", c, " has ", m, " images, need ", n);
    // Partial Fisher-Yates: positions 0..n-1 get a uniform draw without replacement. Keyed by (seed, class)
    // so the choice for one class does not depend on the other classes' sizes.
    for (int64_t k = 0; k < n; ++k) {
      const uint64_t r = kernels::philox_u32(seed, c, static_cast<uint64_t>(k));
      const int64_t j = k + static_cast<int64_t>(r % static_cast<uint64_t>(m - k));
      std::swap(v[static_cast<size_t>(k)], v[static_cast<size_t>(j)]);
    }
    idx.insert(idx.end(), v.begin(), v.begin() + n);
  }
  return subset(d, idx);
}

}  // namespace yoco::data
