// Elementwise family: unary and broadcasting binary element math, written once for CPU and CUDA.
#pragma once
#include <cmath>
#include <cstdint>
#include "kernels/common.h"

namespace yoco::kernels {

// relu, and relu's backward (g where the relu input y is positive), as bit masks (keep_or_zero): NaN maps to 0.
YOCO_HD float relu_value(float x) { return keep_or_zero(x > 0.f, x); }
YOCO_HD float relu_mask(float g, float y) { return keep_or_zero(y > 0.f, g); }

enum class UnaryOp : int { Neg, Exp, Log, Sqrt, Rsqrt, Abs, Sign, Relu, AddScalar, MulScalar, PowScalar, Clamp };
// a, b: the op's scalar parameters (AddScalar/MulScalar/PowScalar use a; Clamp uses [a, b]).
YOCO_HD float unary_apply(UnaryOp op, float x, float a, float b) {
  switch (op) {
    case UnaryOp::Neg: return -x;
    case UnaryOp::Exp: return expf(x);
    case UnaryOp::Log: return logf(x);
    case UnaryOp::Sqrt: return sqrtf(x);
    case UnaryOp::Rsqrt: return 1.0f / sqrtf(x);
    case UnaryOp::Abs: return fabsf(x);
    case UnaryOp::Sign: return x > 0.f ? 1.f : (x < 0.f ? -1.f : 0.f);
    case UnaryOp::Relu: return relu_value(x);
    case UnaryOp::AddScalar: return x + a;
    case UnaryOp::MulScalar: return x * a;
    case UnaryOp::PowScalar: return powf(x, a);
    case UnaryOp::Clamp: return x < a ? a : (x > b ? b : x);
  }
  return 0.f;
}

// ReluMask: x * [y > 0] (relu backward, y = the relu input); ClampMask: x * [a <= y <= b].
enum class BinaryOp : int { Add, Sub, Mul, Div, ReluMask, ClampMask };
YOCO_HD float binary_apply(BinaryOp op, float x, float y, float a, float b) {
  switch (op) {
    case BinaryOp::Add: return x + y;
    case BinaryOp::Sub: return x - y;
    case BinaryOp::Mul: return x * y;
    case BinaryOp::Div: return x / y;
    case BinaryOp::ReluMask: return relu_mask(x, y);
    case BinaryOp::ClampMask: return keep_or_zero((y >= a) & (y <= b), x);
  }
  return 0.f;
}

// Broadcast description: output dims and, per input, the element stride of each dim (0 where broadcast).
constexpr int kMaxDims = 6;
struct Broadcast {
  int ndim = 0;
  int64_t shape[kMaxDims] = {};
  int64_t stride_x[kMaxDims] = {};
  int64_t stride_y[kMaxDims] = {};
};

// Offsets of output element i in both inputs, in index type I: int64_t in general; the CUDA launcher uses
// uint32_t when the output has fewer than 2^31 elements (every offset then fits, and 32-bit division costs a
// fraction of 64-bit division on the GPU, where this runs once per element).
template <class I>
YOCO_HD void broadcast_offsets_as(const Broadcast& bc, I i, I* ox, I* oy) {
  I x = 0, y = 0;
  for (int d = bc.ndim - 1; d >= 0; --d) {
    const I s = static_cast<I>(bc.shape[d]);
    const I c = i % s;
    i /= s;
    x += c * static_cast<I>(bc.stride_x[d]);
    y += c * static_cast<I>(bc.stride_y[d]);
  }
  *ox = x;
  *oy = y;
}

YOCO_HD void broadcast_offsets(const Broadcast& bc, int64_t i, int64_t* ox, int64_t* oy) {
  broadcast_offsets_as<int64_t>(bc, i, ox, oy);
}

namespace cpu {
void unary(UnaryOp op, const float* x, float* out, int64_t n, float a, float b);
// bc == nullptr: x, y and out all have n elements.
void binary(BinaryOp op, const float* x, const float* y, float* out, int64_t n, float a, float b, const Broadcast* bc);
void fill(float* out, int64_t n, float v);
void fill_i64(int64_t* out, int64_t n, int64_t v);
}  // namespace cpu
namespace cuda {
void unary(UnaryOp op, const float* x, float* out, int64_t n, float a, float b, void* stream);
void binary(BinaryOp op, const float* x, const float* y, float* out, int64_t n, float a, float b, const Broadcast* bc,
            void* stream);
void fill(float* out, int64_t n, float v, void* stream);
void fill_i64(int64_t* out, int64_t n, int64_t v, void* stream);
}  // namespace cuda

}  // namespace yoco::kernels
