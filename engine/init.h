// Parameter initialisation with PyTorch's defaults, drawn from named Philox streams.
#pragma once
#include <cstdint>
#include "engine/tensor.h"

namespace yoco {

// Conv/linear weight as PyTorch: kaiming_uniform(a=sqrt(5)) = U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
// Bias likewise U(-1/sqrt(fan_in), 1/sqrt(fan_in)). fan_in = prod(shape[1:]) of the weight.
Tensor init_kaiming_uniform_a5(const Shape& weight_shape, uint64_t seed, uint64_t stream, Device device = Device::CPU);
Tensor init_bias_uniform(int64_t size, int64_t fan_in, uint64_t seed, uint64_t stream, Device device = Device::CPU);

}  // namespace yoco
