// Convolution family (NCHW, weight [K,C,R,S], groups 1): shape record and CPU/CUDA launcher declarations.
#pragma once
#include <cstdint>
#include <string>
#include "kernels/common.h"

namespace yoco::kernels {

// CPU algorithm: oneDNN primitives (fast, deterministic for a fixed thread count) or our im2col + GEMM
// (slower, bitwise identical for any thread count). Chosen per call by the engine's context.
enum class ConvAlgo : int64_t { Dnnl = 0, Im2col = 1 };

// How a CUDA convolution shape gets its algorithm, once per shape and direction (kernels/conv.cu). Heuristic:
// cuDNN's heuristics pick (graph API first, legacy API as fallback): the same choice in every process, so runs are
// bitwise reproducible; PyTorch's default. Measured: cuDNN's deterministic candidates of both APIs and our direct
// kernels are timed on the first call and the fastest is kept (PyTorch's cudnn.benchmark): faster, but two
// candidates that time alike may be chosen differently in two processes, and their results differ in the last bits.
enum class ConvSearch : int64_t { Heuristic = 0, Measured = 1 };

// Everything a launcher needs: input [n,c,h,w], weight [k,c,r,s], output [n,k,oh,ow].
struct ConvShape {
  int64_t n, c, h, w, k, r, s, oh, ow, stride, pad;
  ConvAlgo algo = ConvAlgo::Dnnl;
};

// PyTorch output size: floor((in + 2 pad - kernel) / stride) + 1.
YOCO_HD int64_t conv_out_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad) {
  return (in + 2 * pad - kernel) / stride + 1;
}

namespace cpu {
// Dispatchers: oneDNN or im2col by cs.algo.
// y = conv(x, w) + b; b may be null (no bias). Every element of y is written.
void conv2d_forward(const ConvShape& cs, const float* x, const float* w, const float* b, float* y);
// gx = transposed convolution of g with w. Every element of gx is written.
void conv2d_backward_input(const ConvShape& cs, const float* g, const float* w, float* gx);
// gw = sum over images of g ⋆ x. Bitwise identical for any thread count (fixed chunking and order).
void conv2d_backward_weight(const ConvShape& cs, const float* x, const float* g, float* gw);
// The two implementations behind them (kernels/conv_cpu.cpp, kernels/conv_dnnl_cpu.cpp).
void conv2d_forward_im2col(const ConvShape& cs, const float* x, const float* w, const float* b, float* y);
void conv2d_backward_input_im2col(const ConvShape& cs, const float* g, const float* w, float* gx);
void conv2d_backward_weight_im2col(const ConvShape& cs, const float* x, const float* g, float* gw);
void conv2d_forward_dnnl(const ConvShape& cs, const float* x, const float* w, const float* b, float* y);
void conv2d_backward_input_dnnl(const ConvShape& cs, const float* g, const float* w, float* gx);
void conv2d_backward_weight_dnnl(const ConvShape& cs, const float* x, const float* g, float* gw);
}  // namespace cpu
namespace cuda {
void conv2d_forward(const ConvShape& cs, const float* x, const float* w, const float* b, float* y, void* stream);
void conv2d_backward_input(const ConvShape& cs, const float* g, const float* w, float* gx, void* stream);
void conv2d_backward_weight(const ConvShape& cs, const float* x, const float* g, float* gw, void* stream);
// Direct kernels for few input channels (kernels/conv_direct.cu), deterministic (fixed summation order, no
// atomics). Supported: 1 <= c <= 4, 1 <= r, s <= 7, stride 1 or 2, 0 <= pad <= 64, consistent oh/ow, planes below
// 2^26 and per-image tensors below 2^30 elements. The launchers throw on anything else. Same semantics as the CPU
// kernels; every output element is written. backward_weight takes scratch from the handles' workspace.
bool conv2d_direct_supported(const ConvShape& cs);
void conv2d_forward_direct(const ConvShape& cs, const float* x, const float* w, const float* b, float* y,
                           void* stream);  // b may be null
void conv2d_backward_input_direct(const ConvShape& cs, const float* g, const float* w, float* gx, void* stream);
void conv2d_backward_weight_direct(const ConvShape& cs, const float* x, const float* g, float* gw, void* stream);
// One line per convolution shape seen so far: each direction's chosen algorithm, how it was chosen and, for a
// measured choice, its time and the runners-up. Empty before the first convolution.
std::string conv_plan_report(void* stream);
}  // namespace cuda

}  // namespace yoco::kernels
