// Non-finite guards that cost no host wait of their own: a probe is queued on the device next to the values it
// watches and read back with them at a wait that already exists (a loss read, an epoch end).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>
#include "engine/tensor.h"

namespace yoco::app {

// Σ t·0 as a detached scalar on t's device: exactly 0 when every element of t is finite, NaN as soon as one is
// NaN or ±inf (inf·0 = NaN). Unlike Σ t itself it cannot overflow on large finite values.
Tensor nonfinite_probe(const Tensor& t);

// Index of the first non-finite value in v[begin, end) (end clipped to v.size()), or -1 when all are finite.
int64_t first_nonfinite(const std::vector<float>& v, size_t begin = 0, size_t end = static_cast<size_t>(-1));

}  // namespace yoco::app
