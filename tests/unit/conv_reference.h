// A naive convolution with double accumulation and both of its adjoints: the reference of the convolution tests
// (engine ops in tests/unit, emulated CUDA kernels in tests/emu).
#pragma once
#include <cstdint>
#include <vector>
#include "kernels/conv.h"

namespace yoco::test {

struct ConvReference {
  std::vector<double> y, gx, gw;  // y = conv(x, w) without bias; gx and gw for the output gradient g
};

inline ConvReference conv_reference(const kernels::ConvShape& cs, const std::vector<float>& x,
                                    const std::vector<float>& w, const std::vector<float>& g) {
  ConvReference ref{std::vector<double>(g.size()), std::vector<double>(x.size()), std::vector<double>(w.size())};
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
  return ref;
}

// y + b over the output channels of cs (y laid out [n, k, oh, ow]).
inline std::vector<double> with_bias(std::vector<double> y, const std::vector<float>& b,
                                     const kernels::ConvShape& cs) {
  const size_t plane = static_cast<size_t>(cs.oh * cs.ow);
  for (size_t i = 0; i < y.size(); ++i) y[i] += b[(i / plane) % static_cast<size_t>(cs.k)];
  return y;
}

}  // namespace yoco::test
