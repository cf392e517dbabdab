// Torch-free helpers for the LibTorch parity suite: tolerances, the relative error measure, random inputs.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>
#include "engine/ops.h"
#include "engine/tensor.h"
#include "tests/unit/test_util.h"

namespace yoco::parity {

// The bars from the issue: our float32 results against LibTorch's (float64 reference, and float32
// as a double-check). Forward values only see float32 rounding of inputs and outputs; first- and
// second-order gradients chain several float32 ops (and our CPU sums accumulate in double), hence 1e-4.
constexpr double kFwdTol = 1e-5;
constexpr double kGradTol = 1e-4;
constexpr double kGrad2Tol = 1e-4;

// ||a - b|| / ||b|| computed in double. NaN or a size mismatch gives +inf so every check fails.
// Where ||b|| == 0 (a derivative that is identically zero) the absolute ||a - b|| is returned.
inline double rel_error(const std::vector<float>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) return std::numeric_limits<double>::infinity();
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(a[i]) || std::isnan(b[i])) return std::numeric_limits<double>::infinity();
    const double d = static_cast<double>(a[i]) - b[i];
    num += d * d;
    den += b[i] * b[i];
  }
  return den == 0 ? std::sqrt(num) : std::sqrt(num / den);
}

// Uniform [lo, hi) values, fresh each run: keyed by the run's printed seed (YOCO_TEST_SEED reproduces).
inline Tensor rnd(const Shape& shape, uint64_t stream, float lo = -1.f, float hi = 1.f) {
  return test::random_tensor(shape, stream, lo, hi);
}

// Random class labels in [0, classes) as i64 [n].
inline Tensor rnd_labels(int64_t n, int64_t classes, uint64_t stream) {
  std::vector<float> u = rnd({n}, stream, 0.f, static_cast<float>(classes)).to_vector();
  std::vector<int64_t> lab(u.size());
  for (size_t i = 0; i < u.size(); ++i) lab[i] = std::min<int64_t>(classes - 1, static_cast<int64_t>(u[i]));
  return from_int_vector(lab, {n});
}

// Random soft targets [n, c] with rows summing to 1 (as CutMix's mixed labels).
inline Tensor rnd_soft_targets(int64_t n, int64_t c, uint64_t stream) {
  std::vector<float> u = rnd({n, c}, stream, 0.05f, 1.f).to_vector();
  for (int64_t i = 0; i < n; ++i) {
    double s = 0;
    for (int64_t j = 0; j < c; ++j) s += u[i * c + j];
    for (int64_t j = 0; j < c; ++j) u[i * c + j] = static_cast<float>(u[i * c + j] / s);
  }
  return from_vector(u, {n, c});
}

// A stream id per case name, so cases draw independent inputs.
inline uint64_t stream_of(const std::string& name) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a: stable across runs and compilers
  for (char ch : name) h = (h ^ static_cast<unsigned char>(ch)) * 1099511628211ull;
  return h & 0xffffffffull;
}

}  // namespace yoco::parity
