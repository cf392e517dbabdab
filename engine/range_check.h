// Range checks of i64 values (class labels, gather/scatter indices): a host loop for CPU tensors, a device-side
// check for CUDA tensors whose failure is thrown at the next host wait with the same message.
#pragma once
#include <cstdint>
#include "engine/tensor.h"

namespace yoco::detail {

enum class RangeKind { Label, Index };

// Every value of the i64 tensor `v` must lie in [0, limit). The error names the op and the first bad element:
// "<op>: label V of sample I is outside [0, limit)" or "<op>: index V at position I is outside [0, limit)".
// CUDA: no host sync (so a step using it can be captured in a CUDA graph or run ahead of the GPU); the kernels
// that consume the values must tolerate bad ones until then (Context::check_device_errors reports them).
void check_in_range(const Tensor& v, int64_t limit, const char* op, RangeKind kind);

}  // namespace yoco::detail
