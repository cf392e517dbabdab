// Elementwise family, CPU loops (OpenMP). The op switch is hoisted out of the loops by templates.
#include "kernels/elementwise.h"

namespace yoco::kernels::cpu {

namespace {
template <UnaryOp OP>
void unary_loop(const float* x, float* out, int64_t n, float a, float b) {
#pragma omp parallel for simd schedule(static) if (n > 32768)
  for (int64_t i = 0; i < n; ++i) out[i] = unary_apply(OP, x[i], a, b);
}
template <BinaryOp OP>
void binary_loop(const float* x, const float* y, float* out, int64_t n, float a, float b, const Broadcast* bc) {
  if (!bc) {
#pragma omp parallel for simd schedule(static) if (n > 32768)
    for (int64_t i = 0; i < n; ++i) out[i] = binary_apply(OP, x[i], y[i], a, b);
    return;
  }
  // Runs along the last dim are contiguous in the output; stride per input is 0 or its own.
  const int64_t inner = bc->shape[bc->ndim - 1];
  const int64_t sx = bc->stride_x[bc->ndim - 1], sy = bc->stride_y[bc->ndim - 1];
  const int64_t rows = n / inner;
#pragma omp parallel for schedule(static) if (n > 32768)
  for (int64_t r = 0; r < rows; ++r) {
    int64_t ox, oy;
    broadcast_offsets(*bc, r * inner, &ox, &oy);
    float* o = out + r * inner;
    const float* xr = x + ox;
    const float* yr = y + oy;
    // The common stride pairs get their own vector loops (a scalar held across the run, or two contiguous
    // runs); the general gather stays for the rest.
    if (sx == 1 && sy == 0) {
      const float yv = yr[0];
#pragma omp simd
      for (int64_t j = 0; j < inner; ++j) o[j] = binary_apply(OP, xr[j], yv, a, b);
    } else if (sx == 0 && sy == 1) {
      const float xv = xr[0];
#pragma omp simd
      for (int64_t j = 0; j < inner; ++j) o[j] = binary_apply(OP, xv, yr[j], a, b);
    } else if (sx == 1 && sy == 1) {
#pragma omp simd
      for (int64_t j = 0; j < inner; ++j) o[j] = binary_apply(OP, xr[j], yr[j], a, b);
    } else {
      for (int64_t j = 0; j < inner; ++j) o[j] = binary_apply(OP, xr[j * sx], yr[j * sy], a, b);
    }
  }
}
}  // namespace

void unary(UnaryOp op, const float* x, float* out, int64_t n, float a, float b) {
  switch (op) {
#define YOCO_CASE(O) \
  case UnaryOp::O: return unary_loop<UnaryOp::O>(x, out, n, a, b);
    YOCO_CASE(Neg) YOCO_CASE(Exp) YOCO_CASE(Log) YOCO_CASE(Sqrt) YOCO_CASE(Rsqrt) YOCO_CASE(Abs)
    YOCO_CASE(Sign) YOCO_CASE(Relu) YOCO_CASE(AddScalar) YOCO_CASE(MulScalar) YOCO_CASE(PowScalar) YOCO_CASE(Clamp)
#undef YOCO_CASE
  }
}

void binary(BinaryOp op, const float* x, const float* y, float* out, int64_t n, float a, float b, const Broadcast* bc) {
  switch (op) {
#define YOCO_CASE(O) \
  case BinaryOp::O: return binary_loop<BinaryOp::O>(x, y, out, n, a, b, bc);
    YOCO_CASE(Add) YOCO_CASE(Sub) YOCO_CASE(Mul) YOCO_CASE(Div) YOCO_CASE(ReluMask) YOCO_CASE(ClampMask)
#undef YOCO_CASE
  }
}

void fill(float* out, int64_t n, float v) {
#pragma omp parallel for simd schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) out[i] = v;
}

void fill_i64(int64_t* out, int64_t n, int64_t v) {
  for (int64_t i = 0; i < n; ++i) out[i] = v;
}

}  // namespace yoco::kernels::cpu
