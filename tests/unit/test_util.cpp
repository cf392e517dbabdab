// Shared test helpers (see test_util.h).
#include "tests/unit/test_util.h"
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <unistd.h>
#include "engine/context.h"
#include "engine/ops.h"

namespace yoco::test {

double rel_err(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return std::numeric_limits<double>::infinity();
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(a[i]) || std::isnan(b[i])) return std::numeric_limits<double>::infinity();
    double d = static_cast<double>(a[i]) - b[i];
    num += d * d;
    den += static_cast<double>(b[i]) * b[i];
  }
  if (den == 0) return std::sqrt(num);
  return std::sqrt(num / den);
}

double rel_err(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape()) return std::numeric_limits<double>::infinity();
  return rel_err(a.to_vector(), b.to_vector());
}

uint64_t test_seed() {
  static uint64_t seed = [] {
    const char* env = std::getenv("YOCO_TEST_SEED");
    uint64_t s = env ? std::strtoull(env, nullptr, 10)
                     : static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) % 1000000007ull;
    std::printf("[yoco tests] seed %llu (reproduce with YOCO_TEST_SEED=%llu)\n", static_cast<unsigned long long>(s),
                static_cast<unsigned long long>(s));
    return s;
  }();
  return seed;
}

Tensor random_tensor(const Shape& shape, uint64_t stream, float lo, float hi) {
  return rand_uniform(shape, test_seed(), stream, 0, lo, hi);
}

data::Dataset two_class_dataset(int64_t n, uint64_t stream) {
  data::Dataset d;
  d.name = "fashion-mnist";
  d.num_classes = 2, d.channels = 1, d.height = 28, d.width = 28;
  d.mean = {0.2861f}, d.std = {0.3530f};
  d.images = rand_uniform({n, 1, 28, 28}, 99, stream, 0);
  std::vector<int64_t> lab;
  for (int64_t i = 0; i < n; ++i) lab.push_back(i % 2);
  d.labels = from_int_vector(lab, {n});
  return d;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "<no error>";
}

double dot(const Tensor& a, const Tensor& b) {
  std::vector<float> va = a.to_vector(), vb = b.to_vector();
  YOCO_CHECK(va.size() == vb.size(), "dot: ", a.str(), " vs ", b.str());
  double s = 0;
  for (size_t i = 0; i < va.size(); ++i) s += static_cast<double>(va[i]) * vb[i];
  return s;
}

bool same_bits(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape()) return false;
  const std::vector<float> x = a.to_vector(), y = b.to_vector();
  return x.empty() || std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0;
}

bool same_values(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.to_vector() == b.to_vector();
}

uint64_t bits_fingerprint(const std::vector<float>& v, uint64_t h) {
  for (float f : v) {
    uint32_t b;
    std::memcpy(&b, &f, sizeof b);
    h = (h ^ b) * 1099511628211ull;
  }
  return h;
}

Im2colConvolutions::Im2colConvolutions() : saved(Context::get().conv_algo) {
  Context::get().conv_algo = kernels::ConvAlgo::Im2col;
}
Im2colConvolutions::~Im2colConvolutions() { Context::get().conv_algo = saved; }

TempDir::TempDir(const std::string& prefix) {
  static int counter = 0;
  p = std::filesystem::temp_directory_path() /
      (prefix + "_" + std::to_string(getpid()) + "_" + std::to_string(counter++));
  std::filesystem::remove_all(p);
  std::filesystem::create_directories(p);
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(p, ec);
}

void skip_suite(const std::string& why) {
  std::printf("[yoco tests] SKIPPED: %s\n", why.c_str());
  setenv("YOCO_TEST_SKIPPED_ALL", "1", 1);
}

bool cuda_ready() {
  static const bool ok = [] {
    const bool a = Context::get().cuda_available();
    if (!a) skip_suite("no CUDA device");
    return a;
  }();
  return ok;
}

}  // namespace yoco::test
