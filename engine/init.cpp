// PyTorch-default initialisers over the engine RNG.
#include "engine/init.h"
#include <cmath>
#include "engine/ops.h"

namespace yoco {

Tensor init_kaiming_uniform_a5(const Shape& s, uint64_t seed, uint64_t stream, Device device) {
  YOCO_CHECK(s.size() >= 2, "init_kaiming_uniform_a5: weight shape ", shape_str(s), " needs >= 2 dims");
  int64_t fan_in = shape_numel(s) / s[0];
  // gain = sqrt(2 / (1 + 5)), bound = gain * sqrt(3 / fan_in) = 1 / sqrt(fan_in)
  float bound = 1.0f / std::sqrt(static_cast<float>(fan_in));
  Tensor w = rand_uniform(s, seed, stream, 0, -bound, bound, device);
  return w;
}

Tensor init_bias_uniform(int64_t size, int64_t fan_in, uint64_t seed, uint64_t stream, Device device) {
  float bound = fan_in > 0 ? 1.0f / std::sqrt(static_cast<float>(fan_in)) : 0.f;
  return rand_uniform({size}, seed, stream, 0, -bound, bound, device);
}

}  // namespace yoco
