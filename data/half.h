// IEEE 754 binary16 <-> binary32 on the host, for float16 ('<f2') storage in .npz files.
#pragma once
#include <cstddef>
#include <cstdint>

namespace yoco::data {

// Round-to-nearest-even; magnitudes >= 65520 become inf; NaN stays a (quiet) NaN; the sign of zero is kept.
uint16_t float_to_half(float f);
// Exact (every half is a float): subnormals, inf and NaN included.
float half_to_float(uint16_t h);

// Bulk forms over n elements.
void floats_to_halves(const float* src, uint16_t* dst, size_t n);
void halves_to_floats(const uint16_t* src, float* dst, size_t n);

}  // namespace yoco::data
