// Shared test helpers: relative error, seeded random inputs (seed printed, overridable by YOCO_TEST_SEED).
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>
#include "data/dataset.h"
#include "engine/tensor.h"
#include "kernels/conv.h"

namespace yoco::test {

// ||a - b|| / ||b|| over all elements (NaN or a shape mismatch gives +inf so every check fails).
double rel_err(const std::vector<float>& a, const std::vector<float>& b);
double rel_err(const Tensor& a, const Tensor& b);

// The run's base seed: YOCO_TEST_SEED if set, else fresh from the clock; printed once per process.
uint64_t test_seed();
// Uniform [lo, hi) tensor from the engine RNG keyed by (test_seed(), stream).
Tensor random_tensor(const Shape& shape, uint64_t stream, float lo = -1.f, float hi = 1.f);

// A two-class 1x28x28 "fashion-mnist" dataset of n uniform random images (fixed seed 99, the given RNG stream),
// labels alternating 0, 1: small enough for training-loop tests to run in milliseconds.
data::Dataset two_class_dataset(int64_t n, uint64_t stream);

// The message of the yoco::Error that f throws, or "<no error>".
std::string error_of(const std::function<void()>& f);
inline bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// t itself, marked as requiring grad: an autograd leaf for grad() in tests.
inline Tensor leaf(Tensor t) {
  t.set_requires_grad(true);
  return t;
}

// Σ a·b over all elements, accumulated in double (adjoint identities, directional derivatives).
double dot(const Tensor& a, const Tensor& b);

// Same shape and the same bits everywhere (NaNs included, +0 != -0).
bool same_bits(const Tensor& a, const Tensor& b);
// Same shape and equal as numbers (+0 == -0, NaN never equal).
bool same_values(const Tensor& a, const Tensor& b);
// FNV-1a over the bits of the values, continuing from h: a fingerprint of a run's numbers, to compare with
// one recorded earlier (bit for bit).
constexpr uint64_t kFingerprintStart = 1469598103934665603ull;
uint64_t bits_fingerprint(const std::vector<float>& v, uint64_t h = kFingerprintStart);

// CPU convolutions through im2col while it lives (the same bits for any thread count, unlike oneDNN's), the former
// choice restored after: for results compared bit for bit with recorded ones.
struct Im2colConvolutions {
  kernels::ConvAlgo saved;
  Im2colConvolutions();
  ~Im2colConvolutions();
  Im2colConvolutions(const Im2colConvolutions&) = delete;
  Im2colConvolutions& operator=(const Im2colConvolutions&) = delete;
};

// A fresh, empty directory under the system temp dir, removed with everything in it on destruction.
struct TempDir {
  std::filesystem::path p;
  explicit TempDir(const std::string& prefix = "yoco_test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string operator/(const std::string& f) const { return (p / f).string(); }
};

// Marks the whole executable as skipped (exit code 77 for CTest) after the run, with a reason printed.
void skip_suite(const std::string& why);

// True when a CUDA device is present; otherwise marks the suite skipped (once) so CTest reports "skipped".
bool cuda_ready();

}  // namespace yoco::test
