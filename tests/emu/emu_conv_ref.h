// The emulated convolution tests' cases, seeded inputs and relative 2-norm error against the shared
// double-precision reference (tests/unit/conv_reference.h).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>
#include "kernels/conv.h"
#include "tests/emu/emu_test_util.h"
#include "tests/unit/conv_reference.h"

namespace yoco::emu_test {

// One emulated convolution case: what it exercises, and its shape (square or not, any stride and pad).
struct ConvCase {
  const char* what;
  int64_t n, c, h, w, k, r, s, stride, pad;
};

inline kernels::ConvShape shape_of(const ConvCase& t) {
  return {t.n,    t.c, t.h, t.w, t.k, t.r, t.s, kernels::conv_out_size(t.h, t.r, t.stride, t.pad),
          kernels::conv_out_size(t.w, t.s, t.stride, t.pad), t.stride, t.pad};
}

// Seeded inputs of one case: x, w, bias b and an output gradient g.
struct ConvData {
  std::vector<float> x, w, b, g;
};

inline ConvData conv_data(const kernels::ConvShape& cs, uint32_t seed) {
  return {uniform(static_cast<size_t>(cs.n * cs.c * cs.h * cs.w), seed),
          uniform(static_cast<size_t>(cs.k * cs.c * cs.r * cs.s), seed + 1), uniform(static_cast<size_t>(cs.k), seed + 2),
          uniform(static_cast<size_t>(cs.n * cs.k * cs.oh * cs.ow), seed + 3)};
}

// ||a - b|| / ||b|| (2-norms); +inf when a holds a NaN (an element the kernel never wrote).
inline double rel2(const std::vector<float>& a, const std::vector<double>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(a[i])) return INFINITY;
    num += (a[i] - b[i]) * (a[i] - b[i]);
    den += b[i] * b[i];
  }
  return std::sqrt(num / std::max(den, 1e-300));
}

}  // namespace yoco::emu_test
