// Elementwise family, CUDA: one thread per output element; the op is a template parameter so the switch
// in unary_apply/binary_apply (the only place the math lives) folds away at compile time.
#include <climits>
#include <cstdint>
#include "kernels/cuda_check.cuh"
#include "kernels/elementwise.h"

namespace yoco::kernels::cuda {

namespace {
template <UnaryOp OP>
__global__ void unary_kernel(const float* x, float* out, int64_t n, float a, float b) {
  const int64_t i = global_index();
  if (i >= n) return;
  out[i] = unary_apply(OP, x[i], a, b);
}

template <BinaryOp OP>
__global__ void binary_kernel(const float* x, const float* y, float* out, int64_t n, float a, float b) {
  const int64_t i = global_index();
  if (i >= n) return;
  out[i] = binary_apply(OP, x[i], y[i], a, b);
}

// The Broadcast record travels by value (kernel parameter space), so no device copy is needed. I is the index
// type of the offset arithmetic (see broadcast_offsets_as).
template <BinaryOp OP, class I>
__global__ void binary_bc_kernel(const float* x, const float* y, float* out, int64_t n, float a, float b,
                                 Broadcast bc) {
  const int64_t i = global_index();
  if (i >= n) return;
  I ox, oy;
  broadcast_offsets_as<I>(bc, static_cast<I>(i), &ox, &oy);
  out[i] = binary_apply(OP, x[ox], y[oy], a, b);
}

template <class T>
__global__ void fill_kernel(T* out, int64_t n, T v) {
  const int64_t i = global_index();
  if (i >= n) return;
  out[i] = v;
}

template <BinaryOp OP>
void binary_launch(const float* x, const float* y, float* out, int64_t n, float a, float b, const Broadcast* bc,
                   void* s) {
  if (bc && n <= INT32_MAX)
    launch_1d(binary_bc_kernel<OP, uint32_t>, n, s, x, y, out, n, a, b, *bc);
  else if (bc)
    launch_1d(binary_bc_kernel<OP, int64_t>, n, s, x, y, out, n, a, b, *bc);
  else
    launch_1d(binary_kernel<OP>, n, s, x, y, out, n, a, b);
}
}  // namespace

void unary(UnaryOp op, const float* x, float* out, int64_t n, float a, float b, void* stream) {
  switch (op) {
#define YOCO_CASE(O) \
  case UnaryOp::O: return launch_1d(unary_kernel<UnaryOp::O>, n, stream, x, out, n, a, b);
    YOCO_CASE(Neg) YOCO_CASE(Exp) YOCO_CASE(Log) YOCO_CASE(Sqrt) YOCO_CASE(Rsqrt) YOCO_CASE(Abs)
    YOCO_CASE(Sign) YOCO_CASE(Relu) YOCO_CASE(AddScalar) YOCO_CASE(MulScalar) YOCO_CASE(PowScalar) YOCO_CASE(Clamp)
#undef YOCO_CASE
  }
  YOCO_CHECK(false, "unary: unknown op ", static_cast<int>(op));
}

void binary(BinaryOp op, const float* x, const float* y, float* out, int64_t n, float a, float b, const Broadcast* bc,
            void* stream) {
  switch (op) {
#define YOCO_CASE(O) \
  case BinaryOp::O: return binary_launch<BinaryOp::O>(x, y, out, n, a, b, bc, stream);
    YOCO_CASE(Add) YOCO_CASE(Sub) YOCO_CASE(Mul) YOCO_CASE(Div) YOCO_CASE(ReluMask) YOCO_CASE(ClampMask)
#undef YOCO_CASE
  }
  YOCO_CHECK(false, "binary: unknown op ", static_cast<int>(op));
}

void fill(float* out, int64_t n, float v, void* stream) { launch_1d(fill_kernel<float>, n, stream, out, n, v); }

void fill_i64(int64_t* out, int64_t n, int64_t v, void* stream) {
  launch_1d(fill_kernel<int64_t>, n, stream, out, n, v);
}

}  // namespace yoco::kernels::cuda
