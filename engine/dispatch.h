// Internal helpers for op implementations: argument checks and CPU/CUDA dispatch.
#pragma once
#include "engine/context.h"
#include "engine/profiler.h"
#include "engine/tensor.h"
#include "kernels/elementwise.h"

namespace yoco::detail {

inline void check_f32(const Tensor& t, const char* op, const char* arg) {
  YOCO_CHECK(t.defined(), op, ": ", arg, " is undefined");
  YOCO_CHECK(t.dtype() == DType::F32, op, ": ", arg, " must be f32, got ", t.str());
}
inline void check_same_device(const Tensor& a, const Tensor& b, const char* op) {
  YOCO_CHECK(a.device() == b.device(), op, ": tensors on different devices: ", a.str(), " and ", b.str());
}
inline void check_dim(const Tensor& t, int64_t d, const char* op, const char* arg) {
  YOCO_CHECK(t.dim() == d, op, ": ", arg, " must be ", d, "-D, got ", t.str());
}
inline void* stream() { return Context::get().cuda_stream(); }

// Broadcast plan of out = f(x, y) with neighbouring contiguous dims merged (engine/ops_elementwise.cpp).
kernels::Broadcast make_broadcast(const Shape& out, const Shape& xs, const Shape& ys);

}  // namespace yoco::detail

// Calls kernels::cpu::NAME(args...) or kernels::cuda::NAME(args..., stream) by the device of `t`.
// A CPU-only build has no CUDA launchers; a CUDA tensor cannot exist there (the context refuses it).
#ifdef YOCO_WITH_CUDA
#define YOCO_DISPATCH(t, NAME, ...)                                       \
  do {                                                                    \
    ::yoco::KernelTimer yoco_timer_(#NAME);                               \
    if ((t).is_cuda())                                                    \
      ::yoco::kernels::cuda::NAME(__VA_ARGS__, ::yoco::detail::stream()); \
    else                                                                  \
      ::yoco::kernels::cpu::NAME(__VA_ARGS__);                            \
  } while (0)
#else
#define YOCO_DISPATCH(t, NAME, ...)                                                          \
  do {                                                                                       \
    ::yoco::KernelTimer yoco_timer_(#NAME);                                                  \
    YOCO_CHECK(!(t).is_cuda(), #NAME ": this build has no CUDA backend, got ", (t).str()); \
    ::yoco::kernels::cpu::NAME(__VA_ARGS__);                                                 \
  } while (0)
#endif
