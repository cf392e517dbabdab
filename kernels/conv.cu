// Convolution family, CUDA: cuDNN (NCHW, cross-correlation, FP32 math unless the Context allows TF32, only
// deterministic algorithms) when YOCO_WITH_CUDNN, else direct convolution kernels (one thread per output
// element, fixed loop order: slow but exact and deterministic).
#include "kernels/conv.h"
#include <array>
#include <map>
#include <memory>
#include "kernels/cuda_check.cuh"

namespace yoco::kernels::cuda {

#ifdef YOCO_WITH_CUDNN
namespace {
// The four descriptors of one convolution problem, released on scope exit.
class ConvDescs {
 public:
  ConvDescs(const ConvShape& cs, bool tf32) {
    try {
      CUDNN_CHECK(cudnnCreateTensorDescriptor(&x));
      CUDNN_CHECK(cudnnCreateTensorDescriptor(&y));
      CUDNN_CHECK(cudnnCreateFilterDescriptor(&w));
      CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&conv));
      CUDNN_CHECK(cudnnSetTensor4dDescriptor(x, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, to_int(cs.n, "conv n"),
                                             to_int(cs.c, "conv c"), to_int(cs.h, "conv h"), to_int(cs.w, "conv w")));
      CUDNN_CHECK(cudnnSetTensor4dDescriptor(y, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, to_int(cs.n, "conv n"),
                                             to_int(cs.k, "conv k"), to_int(cs.oh, "conv oh"),
                                             to_int(cs.ow, "conv ow")));
      CUDNN_CHECK(cudnnSetFilter4dDescriptor(w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, to_int(cs.k, "conv k"),
                                             to_int(cs.c, "conv c"), to_int(cs.r, "conv r"), to_int(cs.s, "conv s")));
      const int pad = to_int(cs.pad, "conv pad"), stride = to_int(cs.stride, "conv stride");
      CUDNN_CHECK(cudnnSetConvolution2dDescriptor(conv, pad, pad, stride, stride, 1, 1, CUDNN_CROSS_CORRELATION,
                                                  CUDNN_DATA_FLOAT));
      // FMA_MATH forbids tensor cores (TF32) outright; DEFAULT_MATH permits TF32 on Ampere and later.
      CUDNN_CHECK(cudnnSetConvolutionMathType(conv, tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH));
    } catch (...) {
      release();
      throw;
    }
  }
  ~ConvDescs() { release(); }
  ConvDescs(const ConvDescs&) = delete;
  ConvDescs& operator=(const ConvDescs&) = delete;

  cudnnTensorDescriptor_t x = nullptr, y = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;

 private:
  void release() {
    if (conv) cudnnDestroyConvolutionDescriptor(conv);
    if (w) cudnnDestroyFilterDescriptor(w);
    if (y) cudnnDestroyTensorDescriptor(y);
    if (x) cudnnDestroyTensorDescriptor(x);
  }
};

constexpr size_t kMaxWorkspace = size_t(1) << 30;  // skip algorithms wanting more scratch than this

// Index of the fastest heuristic candidate that runs, is deterministic, fits the workspace cap and, without
// TF32, uses no tensor-core math; -1 when none qualifies (the caller then uses a fixed FP32 algorithm).
template <class Perf>
int pick_algo(const Perf* perf, int count, bool tf32) {
  for (int i = 0; i < count; ++i) {
    const Perf& p = perf[i];
    if (p.status != CUDNN_STATUS_SUCCESS || p.determinism != CUDNN_DETERMINISTIC || p.memory > kMaxWorkspace)
      continue;
    if (!tf32 && (p.mathType == CUDNN_TENSOR_OP_MATH || p.mathType == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION)) continue;
    return i;
  }
  return -1;
}

cudnnHandle_t dnn(void* s) { return static_cast<cudnnHandle_t>(handles(s).dnn); }

// cuDNN rejects zero-sized dims; an empty problem writes zeros to its (possibly non-empty) result.
bool empty_problem(const ConvShape& cs, float* out, int64_t out_elems, void* s) {
  if (cs.n > 0 && cs.c > 0 && cs.k > 0 && cs.oh > 0 && cs.ow > 0) return false;
  if (out_elems > 0) CUDA_CHECK(cudaMemsetAsync(out, 0, static_cast<size_t>(out_elems) * sizeof(float), stream_of(s)));
  return true;
}

// One direction's algorithm, chosen once by cuDNN's heuristics, with its math type and workspace size.
template <class Algo>
struct DirPlan {
  bool ready = false;
  Algo algo{};
  cudnnMathType_t math = CUDNN_FMA_MATH;
  size_t ws = 0;
};

// One convolution problem's descriptors and its three directions' choices. Looked up by shape on every call
// instead of re-deriving them.
struct ConvPlan {
  ConvPlan(const ConvShape& cs, bool tf32) : d(cs, tf32), tf32(tf32) {}
  ConvDescs d;
  bool tf32;
  DirPlan<cudnnConvolutionFwdAlgo_t> fwd;
  DirPlan<cudnnConvolutionBwdDataAlgo_t> bwd_data;
  DirPlan<cudnnConvolutionBwdFilterAlgo_t> bwd_filter;
  cudnnTensorDescriptor_t bias = nullptr;  // 1 x k x 1 x 1, made on first biased forward
  ~ConvPlan() {
    if (bias) cudnnDestroyTensorDescriptor(bias);
  }
};

using PlanKey = std::array<int64_t, 10>;
using PlanMap = std::map<PlanKey, std::unique_ptr<ConvPlan>>;

// The plan for this shape and TF32 setting, created on first use.
ConvPlan& plan_for(const ConvShape& cs, void* s) {
  CudaHandles& h = handles(s);
  if (!h.conv_plans) h.conv_plans = std::make_shared<PlanMap>();
  PlanMap& plans = *static_cast<PlanMap*>(h.conv_plans.get());
  const bool tf32 = tf32_allowed(s);
  const PlanKey key{cs.n, cs.c, cs.h, cs.w, cs.k, cs.r, cs.s, cs.pad, cs.stride, tf32 ? 1 : 0};
  auto it = plans.find(key);
  if (it == plans.end()) it = plans.emplace(key, std::make_unique<ConvPlan>(cs, tf32)).first;
  YOCO_CHECK(it->second->tf32 == tf32, "conv plan cache: TF32 setting mismatch");
  return *it->second;
}

// On first use of a direction: the heuristics' candidates (`query(count, &got, perf)`), the chosen algorithm
// and math type (FMA_MATH unless TF32 is allowed and the candidate needs it), its workspace size
// (`ws_of(algo, &bytes)`). On every use: the shared descriptor gets this direction's math type (the three may
// differ under TF32) and the workspace is grown to fit. Returns the workspace.
template <int kCount, class Perf, class Algo, class Query, class WsOf>
void* prepare(DirPlan<Algo>& dp, ConvPlan& p, Algo fallback, Query query, WsOf ws_of, void* stream) {
  if (!dp.ready) {
    Perf perf[kCount];
    int got = 0;
    CUDNN_CHECK(query(kCount, &got, perf));
    const int i = pick_algo(perf, got, p.tf32);
    dp.algo = i < 0 ? fallback : perf[i].algo;
    dp.math = (i >= 0 && p.tf32) ? perf[i].mathType : (p.tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH);
    CUDNN_CHECK(cudnnSetConvolutionMathType(p.d.conv, dp.math));
    CUDNN_CHECK(ws_of(dp.algo, &dp.ws));
    dp.ready = true;
  } else if (p.tf32) {
    CUDNN_CHECK(cudnnSetConvolutionMathType(p.d.conv, dp.math));
  }
  return workspace(stream, dp.ws);
}
}  // namespace

void conv2d_forward(const ConvShape& cs, const float* x, const float* w, const float* b, float* y, void* stream) {
  if (empty_problem(cs, y, cs.n * cs.k * cs.oh * cs.ow, stream)) return;
  ConvPlan& p = plan_for(cs, stream);
  ConvDescs& d = p.d;
  cudnnHandle_t h = dnn(stream);
  void* wsp = prepare<CUDNN_CONVOLUTION_FWD_ALGO_COUNT, cudnnConvolutionFwdAlgoPerf_t>(
      p.fwd, p, CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM,
      [&](int n, int* got, cudnnConvolutionFwdAlgoPerf_t* perf) {
        return cudnnGetConvolutionForwardAlgorithm_v7(h, d.x, d.w, d.conv, d.y, n, got, perf);
      },
      [&](cudnnConvolutionFwdAlgo_t a, size_t* ws) {
        return cudnnGetConvolutionForwardWorkspaceSize(h, d.x, d.w, d.conv, d.y, a, ws);
      },
      stream);
  const float one = 1.f, zero = 0.f;
  CUDNN_CHECK(cudnnConvolutionForward(h, &one, d.x, x, d.w, w, d.conv, p.fwd.algo, wsp, p.fwd.ws, &zero, d.y, y));
  if (!b) return;
  if (!p.bias) {
    CUDNN_CHECK(cudnnCreateTensorDescriptor(&p.bias));
    CUDNN_CHECK(cudnnSetTensor4dDescriptor(p.bias, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, to_int(cs.k, "conv k"), 1, 1));
  }
  CUDNN_CHECK(cudnnAddTensor(h, &one, p.bias, b, &one, d.y, y));
}

void conv2d_backward_input(const ConvShape& cs, const float* g, const float* w, float* gx, void* stream) {
  if (empty_problem(cs, gx, cs.n * cs.c * cs.h * cs.w, stream)) return;
  ConvPlan& p = plan_for(cs, stream);
  ConvDescs& d = p.d;
  cudnnHandle_t h = dnn(stream);
  void* wsp = prepare<CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, cudnnConvolutionBwdDataAlgoPerf_t>(
      p.bwd_data, p, CUDNN_CONVOLUTION_BWD_DATA_ALGO_1,
      [&](int n, int* got, cudnnConvolutionBwdDataAlgoPerf_t* perf) {
        return cudnnGetConvolutionBackwardDataAlgorithm_v7(h, d.w, d.y, d.conv, d.x, n, got, perf);
      },
      [&](cudnnConvolutionBwdDataAlgo_t a, size_t* ws) {
        return cudnnGetConvolutionBackwardDataWorkspaceSize(h, d.w, d.y, d.conv, d.x, a, ws);
      },
      stream);
  const float one = 1.f, zero = 0.f;
  CUDNN_CHECK(cudnnConvolutionBackwardData(h, &one, d.w, w, d.y, g, d.conv, p.bwd_data.algo, wsp, p.bwd_data.ws,
                                           &zero, d.x, gx));
}

void conv2d_backward_weight(const ConvShape& cs, const float* x, const float* g, float* gw, void* stream) {
  if (empty_problem(cs, gw, cs.k * cs.c * cs.r * cs.s, stream)) return;
  ConvPlan& p = plan_for(cs, stream);
  ConvDescs& d = p.d;
  cudnnHandle_t h = dnn(stream);
  void* wsp = prepare<CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, cudnnConvolutionBwdFilterAlgoPerf_t>(
      p.bwd_filter, p, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1,
      [&](int n, int* got, cudnnConvolutionBwdFilterAlgoPerf_t* perf) {
        return cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, d.x, d.y, d.conv, d.w, n, got, perf);
      },
      [&](cudnnConvolutionBwdFilterAlgo_t a, size_t* ws) {
        return cudnnGetConvolutionBackwardFilterWorkspaceSize(h, d.x, d.y, d.conv, d.w, a, ws);
      },
      stream);
  const float one = 1.f, zero = 0.f;
  CUDNN_CHECK(cudnnConvolutionBackwardFilter(h, &one, d.x, x, d.y, g, d.conv, p.bwd_filter.algo, wsp,
                                             p.bwd_filter.ws, &zero, d.w, gw));
}

#else  // direct convolution: no cuDNN in this build

namespace {
__global__ void conv_fwd_kernel(ConvShape cs, const float* x, const float* w, const float* b, float* y, int64_t n) {
  const int64_t t = global_index();
  if (t >= n) return;
  const int64_t ow = t % cs.ow, oh = (t / cs.ow) % cs.oh, k = (t / (cs.ow * cs.oh)) % cs.k;
  const int64_t img = t / (cs.ow * cs.oh * cs.k);
  float acc = b ? b[k] : 0.f;
  for (int64_t c = 0; c < cs.c; ++c)
    for (int64_t r = 0; r < cs.r; ++r) {
      const int64_t ih = oh * cs.stride - cs.pad + r;
      if (ih < 0 || ih >= cs.h) continue;
      for (int64_t s = 0; s < cs.s; ++s) {
        const int64_t iw = ow * cs.stride - cs.pad + s;
        if (iw < 0 || iw >= cs.w) continue;
        acc += x[((img * cs.c + c) * cs.h + ih) * cs.w + iw] * w[((k * cs.c + c) * cs.r + r) * cs.s + s];
      }
    }
  y[t] = acc;
}

// gx[img, c, ih, iw] gathers every (k, r, s) whose output position (ih + pad - r) / stride is whole and valid.
__global__ void conv_bwd_input_kernel(ConvShape cs, const float* g, const float* w, float* gx, int64_t n) {
  const int64_t t = global_index();
  if (t >= n) return;
  const int64_t iw = t % cs.w, ih = (t / cs.w) % cs.h, c = (t / (cs.w * cs.h)) % cs.c;
  const int64_t img = t / (cs.w * cs.h * cs.c);
  float acc = 0.f;
  for (int64_t k = 0; k < cs.k; ++k)
    for (int64_t r = 0; r < cs.r; ++r) {
      const int64_t ohs = ih + cs.pad - r;
      if (ohs < 0 || ohs % cs.stride != 0 || ohs / cs.stride >= cs.oh) continue;
      for (int64_t s = 0; s < cs.s; ++s) {
        const int64_t ows = iw + cs.pad - s;
        if (ows < 0 || ows % cs.stride != 0 || ows / cs.stride >= cs.ow) continue;
        acc += g[((img * cs.k + k) * cs.oh + ohs / cs.stride) * cs.ow + ows / cs.stride] *
               w[((k * cs.c + c) * cs.r + r) * cs.s + s];
      }
    }
  gx[t] = acc;
}

// gw[k, c, r, s] = sum over images and output positions, in that fixed order.
__global__ void conv_bwd_weight_kernel(ConvShape cs, const float* x, const float* g, float* gw, int64_t n) {
  const int64_t t = global_index();
  if (t >= n) return;
  const int64_t s = t % cs.s, r = (t / cs.s) % cs.r, c = (t / (cs.s * cs.r)) % cs.c, k = t / (cs.s * cs.r * cs.c);
  float acc = 0.f;
  for (int64_t img = 0; img < cs.n; ++img)
    for (int64_t oh = 0; oh < cs.oh; ++oh) {
      const int64_t ih = oh * cs.stride - cs.pad + r;
      if (ih < 0 || ih >= cs.h) continue;
      for (int64_t ow = 0; ow < cs.ow; ++ow) {
        const int64_t iw = ow * cs.stride - cs.pad + s;
        if (iw < 0 || iw >= cs.w) continue;
        acc += g[((img * cs.k + k) * cs.oh + oh) * cs.ow + ow] * x[((img * cs.c + c) * cs.h + ih) * cs.w + iw];
      }
    }
  gw[t] = acc;
}
}  // namespace

void conv2d_forward(const ConvShape& cs, const float* x, const float* w, const float* b, float* y, void* stream) {
  const int64_t n = cs.n * cs.k * cs.oh * cs.ow;
  launch_1d(conv_fwd_kernel, n, stream, cs, x, w, b, y, n);
}

void conv2d_backward_input(const ConvShape& cs, const float* g, const float* w, float* gx, void* stream) {
  const int64_t n = cs.n * cs.c * cs.h * cs.w;
  launch_1d(conv_bwd_input_kernel, n, stream, cs, g, w, gx, n);
}

void conv2d_backward_weight(const ConvShape& cs, const float* x, const float* g, float* gw, void* stream) {
  const int64_t n = cs.k * cs.c * cs.r * cs.s;
  launch_1d(conv_bwd_weight_kernel, n, stream, cs, x, g, gw, n);
}

#endif

}  // namespace yoco::kernels::cuda
