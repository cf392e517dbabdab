// Fisher-Yates shuffle on Philox (host side), the one used by every random order: epochs, k-means seeds, random
// selection and CutMix partners.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <utility>
#include "kernels/rng.h"

namespace yoco::kernels {

// How position i draws its partner j in [0, i] from the Philox word at offset + i. The sites predate this
// function and drew differently; both stay so that every existing order is reproduced bit for bit.
enum class ShuffleDraw {
  Modulo,        // j = u32 % (i + 1)
  ScaledUniform  // j = min(floor(U[0,1) · (i + 1)), i), numpy randint style (U from the word's 24 high bits)
};

// Shuffles v[0, n) in place: for i = n-1 down to 1, swap v[i] with v[j], j drawn from philox(seed, stream,
// offset + i). Offsets used: [offset + 1, offset + n).
template <typename T>
void philox_shuffle(T* v, int64_t n, uint64_t seed, uint64_t stream, uint64_t offset, ShuffleDraw draw) {
  for (int64_t i = n - 1; i > 0; --i) {
    const uint64_t at = offset + static_cast<uint64_t>(i);
    int64_t j;
    if (draw == ShuffleDraw::Modulo) {
      j = static_cast<int64_t>(philox_u32(seed, stream, at) % static_cast<uint64_t>(i + 1));
    } else {
      j = static_cast<int64_t>(std::floor(static_cast<double>(philox_uniform(seed, stream, at)) * (i + 1)));
      j = std::min(j, i);
    }
    std::swap(v[i], v[j]);
  }
}

}  // namespace yoco::kernels
