// A naive double-precision convolution (forward with and without bias, both gradients) and the relative 2-norm
// error against it: the reference of the emulated convolution tests.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>
#include "kernels/conv.h"
#include "tests/emu/emu_test_util.h"

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

struct ConvRef {
  std::vector<double> y, y_bias, gx, gw;  // y = conv(x, w), y_bias = y + b, gx and gw for the output gradient g
};

inline ConvRef conv_reference(const kernels::ConvShape& cs, const std::vector<float>& x, const std::vector<float>& w,
                              const std::vector<float>& b, const std::vector<float>& g) {
  ConvRef ref{std::vector<double>(g.size()), {}, std::vector<double>(x.size()), std::vector<double>(w.size())};
  for (int64_t n = 0; n < cs.n; ++n)
    for (int64_t k = 0; k < cs.k; ++k)
      for (int64_t oh = 0; oh < cs.oh; ++oh)
        for (int64_t ow = 0; ow < cs.ow; ++ow) {
          const int64_t yi = ((n * cs.k + k) * cs.oh + oh) * cs.ow + ow;
          double acc = 0;
          for (int64_t c = 0; c < cs.c; ++c)
            for (int64_t r = 0; r < cs.r; ++r)
              for (int64_t s = 0; s < cs.s; ++s) {
                const int64_t ih = oh * cs.stride - cs.pad + r, iw = ow * cs.stride - cs.pad + s;
                if (ih < 0 || ih >= cs.h || iw < 0 || iw >= cs.w) continue;
                const int64_t xi = ((n * cs.c + c) * cs.h + ih) * cs.w + iw;
                const int64_t wi = ((k * cs.c + c) * cs.r + r) * cs.s + s;
                acc += static_cast<double>(x[xi]) * w[wi];
                ref.gx[xi] += static_cast<double>(g[yi]) * w[wi];
                ref.gw[wi] += static_cast<double>(g[yi]) * x[xi];
              }
          ref.y[yi] = acc;
        }
  ref.y_bias = ref.y;
  for (size_t i = 0; i < ref.y_bias.size(); ++i) ref.y_bias[i] += b[(i / static_cast<size_t>(cs.oh * cs.ow)) % cs.k];
  return ref;
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
