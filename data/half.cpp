// Bit-level float16 conversion (no compiler _Float16 / F16C needed, so every host gives identical files).
#include "data/half.h"

#include <cmath>
#include <cstring>

namespace yoco::data {

namespace {
uint32_t bits_of(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}
float float_of(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}
// Drops the low `shift` bits of v, rounding to nearest with ties to even.
uint32_t round_shift(uint32_t v, uint32_t shift) {
  const uint32_t q = v >> shift, rem = v & ((1u << shift) - 1u), half = 1u << (shift - 1u);
  return q + ((rem > half || (rem == half && (q & 1u))) ? 1u : 0u);
}
}  // namespace

uint16_t float_to_half(float f) {
  const uint32_t x = bits_of(f);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  const uint32_t ax = x & 0x7fffffffu;
  if (ax > 0x7f800000u)  // NaN: keep the top payload bits, force quiet so it cannot collapse to inf
    return static_cast<uint16_t>(sign | 0x7e00u | ((ax >> 13) & 0x3ffu));
  // 65520 = 0x477ff000 is the tie between the largest half 65504 (odd mantissa) and 2^16: rounds up to inf.
  if (ax >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);
  if (ax >= 0x38800000u)  // normal half (>= 2^-14): rebias the exponent 127 -> 15; a carry may bump it, correctly
    return static_cast<uint16_t>(sign | round_shift(ax - 0x38000000u, 13));
  // Subnormal half or zero: the result counts units of 2^-24. |f| <= 2^-25 (a tie at exactly 2^-25) gives 0.
  if (ax <= 0x33000000u) return sign;
  const uint32_t e = ax >> 23, m = (ax & 0x7fffffu) | 0x800000u;  // 102 <= e <= 112, so 14 <= shift <= 24
  return static_cast<uint16_t>(sign | round_shift(m, 126u - e));   // may round up to 0x0400, the smallest normal
}

float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
  if (e == 0) {  // zero or subnormal: m · 2^-24, exact in float
    const float v = std::ldexp(static_cast<float>(m), -24);
    return sign ? -v : v;
  }
  if (e == 31) return float_of(sign | 0x7f800000u | (m << 13));  // inf / NaN (payload kept)
  return float_of(sign | ((e + 112u) << 23) | (m << 13));
}

void floats_to_halves(const float* src, uint16_t* dst, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] = float_to_half(src[i]);
}

void halves_to_floats(const uint16_t* src, float* dst, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] = half_to_float(src[i]);
}

}  // namespace yoco::data
