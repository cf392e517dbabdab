// Convolution family, CUDA: cuDNN (NCHW, cross-correlation, FP32 math unless the Context allows TF32, only
// deterministic algorithms, chosen per shape by heuristics or by timing, which also weighs our few-channel
// direct kernels) when YOCO_WITH_CUDNN, else the direct kernels where they apply and generic kernels (one
// thread per output element, fixed loop order: slow but exact and deterministic) elsewhere.
#include "kernels/conv.h"
#include <algorithm>
#include <array>
#include <cstdio>
#include <exception>
#include <map>
#include <memory>
#include <string>
#include <vector>
#include "kernels/cuda_check.cuh"
#ifdef YOCO_WITH_CUDNN
#include "kernels/conv_graph.h"
#endif

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

// Report names, indexed by cuDNN's enum values (cudnn_ops.h).
const char* algo_name(cudnnConvolutionFwdAlgo_t a) {
  static const char* const kNames[] = {"implicit_gemm", "implicit_precomp_gemm", "gemm", "direct",
                                       "fft", "fft_tiling", "winograd", "winograd_nonfused"};
  const int i = static_cast<int>(a);
  return i >= 0 && i < 8 ? kNames[i] : "?";
}
const char* algo_name(cudnnConvolutionBwdDataAlgo_t a) {
  static const char* const kNames[] = {"algo_0", "algo_1", "fft", "fft_tiling", "winograd", "winograd_nonfused"};
  const int i = static_cast<int>(a);
  return i >= 0 && i < 6 ? kNames[i] : "?";
}
const char* algo_name(cudnnConvolutionBwdFilterAlgo_t a) {
  static const char* const kNames[] = {"algo_0",   "algo_1", "fft", "algo_3", "winograd", "winograd_nonfused",
                                       "fft_tiling"};
  const int i = static_cast<int>(a);
  return i >= 0 && i < 7 ? kNames[i] : "?";
}

bool tensor_op(cudnnMathType_t m) { return m == CUDNN_TENSOR_OP_MATH || m == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION; }

// Whether a candidate may be used: it runs, is deterministic, fits the workspace cap and, without TF32, uses
// no tensor-core math.
template <class Perf>
bool eligible(const Perf& p, bool tf32) {
  return p.status == CUDNN_STATUS_SUCCESS && p.determinism == CUDNN_DETERMINISTIC && p.memory <= kMaxWorkspace &&
         (tf32 || !tensor_op(p.mathType));
}

// Index of the first eligible candidate (heuristics list them best first, measurements fastest first); -1 when
// none qualifies (the caller then uses a fixed FP32 algorithm).
template <class Perf>
int pick_algo(const Perf* perf, int count, bool tf32) {
  for (int i = 0; i < count; ++i)
    if (eligible(perf[i], tf32)) return i;
  return -1;
}

// The measured candidates for a report: "winograd 0.110 ms, implicit_gemm 0.160 ms, algo_0 0.090 ms (not
// eligible)", at most five, fastest first as cuDNN returns them.
template <class Perf>
std::string timings(const Perf* perf, int count, bool tf32) {
  std::string out;
  for (int i = 0, shown = 0; i < count && shown < 5; ++i) {
    if (perf[i].status != CUDNN_STATUS_SUCCESS) continue;
    char buf[96];
    std::snprintf(buf, sizeof buf, "%s%s %.3f ms%s", shown ? ", " : "", algo_name(perf[i].algo), perf[i].time,
                  eligible(perf[i], tf32) ? "" : " (not eligible)");
    out += buf;
    ++shown;
  }
  return out;
}

cudnnHandle_t dnn(void* s) { return static_cast<cudnnHandle_t>(handles(s).dnn); }

bool capturing(void* s) {
  cudaStreamCaptureStatus st = cudaStreamCaptureStatusNone;
  CUDA_CHECK(cudaStreamIsCapturing(stream_of(s), &st));
  return st != cudaStreamCaptureStatusNone;
}

// Best of three timed runs of `run` on the stream, after one untimed run; milliseconds.
template <class Run>
float time_on_stream(Run run, void* s) {
  struct Events {
    cudaEvent_t a = nullptr, b = nullptr;
    ~Events() {
      if (a) cudaEventDestroy(a);
      if (b) cudaEventDestroy(b);
    }
  } ev;
  CUDA_CHECK(cudaEventCreate(&ev.a));
  CUDA_CHECK(cudaEventCreate(&ev.b));
  run();
  float best = 1e30f;
  for (int rep = 0; rep < 3; ++rep) {
    CUDA_CHECK(cudaEventRecord(ev.a, stream_of(s)));
    run();
    CUDA_CHECK(cudaEventRecord(ev.b, stream_of(s)));
    CUDA_CHECK(cudaEventSynchronize(ev.b));
    float ms = 0.f;
    CUDA_CHECK(cudaEventElapsedTime(&ms, ev.a, ev.b));
    best = std::min(best, ms);
  }
  return best;
}

// cuDNN rejects zero-sized dims; an empty problem writes zeros to its (possibly non-empty) result.
bool empty_problem(const ConvShape& cs, float* out, int64_t out_elems, void* s) {
  if (cs.n > 0 && cs.c > 0 && cs.k > 0 && cs.oh > 0 && cs.ow > 0) return false;
  if (out_elems > 0) CUDA_CHECK(cudaMemsetAsync(out, 0, static_cast<size_t>(out_elems) * sizeof(float), stream_of(s)));
  return true;
}

// Which implementation runs one direction of a shape.
enum class Impl { Legacy, Graph, Direct };

// One direction's implementation, chosen once per shape: a legacy cuDNN algorithm with its math type and
// workspace size, a cuDNN graph-API execution plan (kernels/conv_graph.h), or our direct kernel
// (kernels/conv_direct.cu).
template <class Algo>
struct DirPlan {
  bool ready = false;
  Impl impl = Impl::Legacy;
  Algo algo{};
  cudnnMathType_t math = CUDNN_FMA_MATH;
  size_t ws = 0;
  std::unique_ptr<GraphConvPlan> graph;
  std::string how;  // how it was chosen, for conv_plan_report
};

// One convolution problem's descriptors and its three directions' choices. Looked up by shape on every call
// instead of re-deriving them.
struct ConvPlan {
  ConvPlan(const ConvShape& cs, bool tf32, ConvSearch search, bool graph_api, int64_t align)
      : d(cs, tf32), shape(cs), tf32(tf32), search(search), graph_api(graph_api), align(align) {}
  ConvDescs d;
  ConvShape shape;
  bool tf32;
  ConvSearch search;
  bool graph_api;  // cuDNN's graph API may be used (Context::cudnn_graph_api)
  int64_t align;  // bytes every data pointer of this plan's calls is aligned to (graph-API plans rely on it)
  DirPlan<cudnnConvolutionFwdAlgo_t> fwd;
  DirPlan<cudnnConvolutionBwdDataAlgo_t> bwd_data;
  DirPlan<cudnnConvolutionBwdFilterAlgo_t> bwd_filter;
  cudnnTensorDescriptor_t bias = nullptr;  // 1 x k x 1 x 1, made on first biased forward
  ~ConvPlan() {
    if (bias) cudnnDestroyTensorDescriptor(bias);
  }
};

using PlanKey = std::array<int64_t, 13>;
using PlanMap = std::map<PlanKey, std::unique_ptr<ConvPlan>>;

// 16 when all three pointers are 16-byte aligned (the allocator's blocks are; views at odd offsets are not),
// else 4: graph-API plans are built for, and keyed on, the alignment they may assume.
int64_t alignment_of(const void* a, const void* b, const void* c) {
  const auto bits = reinterpret_cast<uintptr_t>(a) | reinterpret_cast<uintptr_t>(b) | reinterpret_cast<uintptr_t>(c);
  return bits % 16 == 0 ? 16 : 4;
}

// The plan for this shape, numeric settings and alignment, created on first use.
ConvPlan& plan_for(const ConvShape& cs, int64_t align, void* s) {
  CudaHandles& h = handles(s);
  if (!h.conv_plans) h.conv_plans = std::make_shared<PlanMap>();
  PlanMap& plans = *static_cast<PlanMap*>(h.conv_plans.get());
  const bool tf32 = tf32_allowed(s);
  const ConvSearch search = conv_search(s);
  const bool graph_api = cudnn_graph_api(s);
  const PlanKey key{cs.n,         cs.c, cs.h, cs.w, cs.k, cs.r, cs.s, cs.pad, cs.stride, tf32 ? 1 : 0,
                    static_cast<int64_t>(search), graph_api ? 1 : 0, align};
  auto it = plans.find(key);
  if (it == plans.end()) it = plans.emplace(key, std::make_unique<ConvPlan>(cs, tf32, search, graph_api, align)).first;
  return *it->second;
}

std::string fmt_ms(const char* what, float ms) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "%s %.3f ms", what, ms);
  return buf;
}

// A direction's operands in the graph-API convention (GraphConvPlan::run), for trial runs while choosing.
struct Operands {
  const float* a;
  const float* b;
  float* out;
};

// On first use of a direction, chooses its implementation.
// - Heuristic search: the first eligible graph-API plan in cuDNN's heuristic order (what PyTorch 2's cuDNN path
//   takes), checked by one trial run; when the graph API offers none or the trial throws, the first eligible
//   candidate of the legacy heuristics (`query(count, &got, perf)`).
// - Measured search: cuDNN times its legacy candidates (`find`, same signature; fastest first), and we time up to
//   eight graph-API plans and, where `direct_ok`, our direct kernel (`run_direct`); the fastest wins. A shape
//   first seen while a CUDA graph is being captured takes the heuristic path without trial runs (no host syncs
//   are allowed then).
// For the legacy choice: its math type (FMA_MATH unless TF32 is allowed and the candidate needs it) and
// workspace size (`ws_of(algo, &bytes)`). On every use: the shared descriptor gets the legacy math type (the three
// directions may differ under TF32) and the workspace is grown to fit. Returns the workspace (null for direct).
template <int kCount, class Perf, class Algo, class Query, class Find, class WsOf, class RunDirect>
void* prepare(DirPlan<Algo>& dp, ConvPlan& p, ConvDirection dir, Operands io, Algo fallback, Query query, Find find,
              WsOf ws_of, bool direct_ok, RunDirect run_direct, void* stream) {
  if (!dp.ready) {
    const bool live = !capturing(stream);
    const bool measure = p.search == ConvSearch::Measured && live;
    cudnnHandle_t h = dnn(stream);
    std::string why_no_graph;
    std::vector<std::unique_ptr<GraphConvPlan>> graphs;
    if (!p.graph_api) {
      why_no_graph = "off (YOCO_CUDNN_API=legacy)";
    } else {
      try {
        graphs = graph_conv_plans(h, p.shape, dir, p.tf32, p.align, kMaxWorkspace, measure ? 8 : 1, &why_no_graph);
      } catch (const std::exception& e) {
        // A cuDNN that rejects how we build the graph must not take convolutions down: the legacy API still works.
        why_no_graph = std::string("failed: ") + e.what();
      }
    }
    auto run_graph = [&](const GraphConvPlan& g) {
      g.run(h, io.a, io.b, io.out, workspace(stream, g.workspace_bytes()));
    };
    // Candidates are listed under the widest math the settings allow; pick_algo filters per candidate.
    CUDNN_CHECK(cudnnSetConvolutionMathType(p.d.conv, p.tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH));
    Perf perf[kCount];
    int got = 0;
    CUDNN_CHECK(measure ? find(kCount, &got, perf) : query(kCount, &got, perf));
    const int i = pick_algo(perf, got, p.tf32);
    dp.algo = i < 0 ? fallback : perf[i].algo;
    dp.math = (i >= 0 && p.tf32) ? perf[i].mathType : (p.tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH);
    const std::string legacy_note = i < 0 ? "no eligible legacy candidate, fixed fallback" : "";
    if (!measure) {
      dp.how = p.search == ConvSearch::Measured ? "heuristic, first seen during graph capture" : "heuristic";
      if (!graphs.empty()) {
        try {
          if (live) run_graph(*graphs[0]);  // a plan that cannot run is found here, not mid-training
          dp.impl = Impl::Graph;
          dp.graph = std::move(graphs[0]);
        } catch (const std::exception& e) {
          dp.how += std::string(", graph-API plan failed (") + e.what() + "), legacy";
        }
      } else {
        dp.how += ", legacy (graph API: " + why_no_graph + ")";
      }
      if (dp.impl == Impl::Legacy && !legacy_note.empty()) dp.how += ", " + legacy_note;
    } else {
      // Fastest of: the best legacy candidate (cuDNN's own timing), each graph-API plan, our direct kernel.
      float best = i < 0 ? 1e30f : perf[i].time;
      dp.how = "measured: legacy " + (got > 0 ? timings(perf, got, p.tf32) : std::string("none"));
      if (!legacy_note.empty()) dp.how += " (" + legacy_note + ")";
      dp.how += graphs.empty() ? "; graph API: " + why_no_graph : std::string("; graph API");
      for (size_t g = 0; g < graphs.size(); ++g) {
        try {
          const float ms = time_on_stream([&] { run_graph(*graphs[g]); }, stream);
          dp.how += (g ? ", " : " ") + fmt_ms(graphs[g]->name().c_str(), ms);
          if (ms < best) {
            best = ms;
            dp.impl = Impl::Graph;
            dp.graph = std::move(graphs[g]);
          }
        } catch (const std::exception& e) {
          dp.how += (g ? ", " : " ") + graphs[g]->name() + " failed (" + e.what() + ")";
        }
      }
      if (direct_ok) {
        const float ms = time_on_stream(run_direct, stream);
        dp.how += "; " + fmt_ms("yoco direct", ms);
        if (ms < best) {
          dp.impl = Impl::Direct;
          dp.graph.reset();
        }
      }
    }
    if (dp.impl == Impl::Legacy) {
      CUDNN_CHECK(cudnnSetConvolutionMathType(p.d.conv, dp.math));
      CUDNN_CHECK(ws_of(dp.algo, &dp.ws));
    } else if (dp.impl == Impl::Graph) {
      dp.ws = dp.graph->workspace_bytes();
    }
    dp.ready = true;
  }
  if (dp.impl == Impl::Direct) return nullptr;
  if (dp.impl == Impl::Legacy && p.tf32) CUDNN_CHECK(cudnnSetConvolutionMathType(p.d.conv, dp.math));
  return workspace(stream, dp.ws);
}

template <class Algo>
std::string describe(const DirPlan<Algo>& dp) {
  if (!dp.ready) return "not used yet";
  std::string name = dp.impl == Impl::Direct  ? std::string("yoco direct")
                     : dp.impl == Impl::Graph ? "graph API " + dp.graph->name()
                                              : std::string("legacy ") + algo_name(dp.algo);
  if (dp.impl == Impl::Legacy && tensor_op(dp.math)) name += " [TF32 tensor cores]";
  return name + " (" + dp.how + ")";
}

// Adds the bias to y after a cuDNN forward (the direct kernel adds it itself).
void add_bias(ConvPlan& p, const float* b, float* y, void* stream) {
  if (!b) return;
  if (!p.bias) {
    CUDNN_CHECK(cudnnCreateTensorDescriptor(&p.bias));
    CUDNN_CHECK(cudnnSetTensor4dDescriptor(p.bias, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1,
                                           to_int(p.shape.k, "conv k"), 1, 1));
  }
  const float one = 1.f;
  CUDNN_CHECK(cudnnAddTensor(dnn(stream), &one, p.bias, b, &one, p.d.y, y));
}
}  // namespace

void conv2d_forward(const ConvShape& cs, const float* x, const float* w, const float* b, float* y, void* stream) {
  if (empty_problem(cs, y, cs.n * cs.k * cs.oh * cs.ow, stream)) return;
  ConvPlan& p = plan_for(cs, alignment_of(x, w, y), stream);
  ConvDescs& d = p.d;
  cudnnHandle_t h = dnn(stream);
  auto direct = [&] { conv2d_forward_direct(cs, x, w, b, y, stream); };
  void* wsp = prepare<CUDNN_CONVOLUTION_FWD_ALGO_COUNT, cudnnConvolutionFwdAlgoPerf_t>(
      p.fwd, p, ConvDirection::Forward, Operands{x, w, y}, CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM,
      [&](int n, int* got, cudnnConvolutionFwdAlgoPerf_t* perf) {
        return cudnnGetConvolutionForwardAlgorithm_v7(h, d.x, d.w, d.conv, d.y, n, got, perf);
      },
      [&](int n, int* got, cudnnConvolutionFwdAlgoPerf_t* perf) {
        return cudnnFindConvolutionForwardAlgorithm(h, d.x, d.w, d.conv, d.y, n, got, perf);
      },
      [&](cudnnConvolutionFwdAlgo_t a, size_t* ws) {
        return cudnnGetConvolutionForwardWorkspaceSize(h, d.x, d.w, d.conv, d.y, a, ws);
      },
      conv2d_direct_supported(cs), direct, stream);
  if (p.fwd.impl == Impl::Direct) return direct();
  if (p.fwd.impl == Impl::Graph) {
    p.fwd.graph->run(h, x, w, y, wsp);
  } else {
    const float one = 1.f, zero = 0.f;
    CUDNN_CHECK(cudnnConvolutionForward(h, &one, d.x, x, d.w, w, d.conv, p.fwd.algo, wsp, p.fwd.ws, &zero, d.y, y));
  }
  add_bias(p, b, y, stream);
}

void conv2d_backward_input(const ConvShape& cs, const float* g, const float* w, float* gx, void* stream) {
  if (empty_problem(cs, gx, cs.n * cs.c * cs.h * cs.w, stream)) return;
  ConvPlan& p = plan_for(cs, alignment_of(g, w, gx), stream);
  ConvDescs& d = p.d;
  cudnnHandle_t h = dnn(stream);
  auto direct = [&] { conv2d_backward_input_direct(cs, g, w, gx, stream); };
  void* wsp = prepare<CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, cudnnConvolutionBwdDataAlgoPerf_t>(
      p.bwd_data, p, ConvDirection::BackwardInput, Operands{g, w, gx}, CUDNN_CONVOLUTION_BWD_DATA_ALGO_1,
      [&](int n, int* got, cudnnConvolutionBwdDataAlgoPerf_t* perf) {
        return cudnnGetConvolutionBackwardDataAlgorithm_v7(h, d.w, d.y, d.conv, d.x, n, got, perf);
      },
      [&](int n, int* got, cudnnConvolutionBwdDataAlgoPerf_t* perf) {
        return cudnnFindConvolutionBackwardDataAlgorithm(h, d.w, d.y, d.conv, d.x, n, got, perf);
      },
      [&](cudnnConvolutionBwdDataAlgo_t a, size_t* ws) {
        return cudnnGetConvolutionBackwardDataWorkspaceSize(h, d.w, d.y, d.conv, d.x, a, ws);
      },
      conv2d_direct_supported(cs), direct, stream);
  if (p.bwd_data.impl == Impl::Direct) return direct();
  if (p.bwd_data.impl == Impl::Graph) return p.bwd_data.graph->run(h, g, w, gx, wsp);
  const float one = 1.f, zero = 0.f;
  CUDNN_CHECK(cudnnConvolutionBackwardData(h, &one, d.w, w, d.y, g, d.conv, p.bwd_data.algo, wsp, p.bwd_data.ws,
                                           &zero, d.x, gx));
}

void conv2d_backward_weight(const ConvShape& cs, const float* x, const float* g, float* gw, void* stream) {
  if (empty_problem(cs, gw, cs.k * cs.c * cs.r * cs.s, stream)) return;
  ConvPlan& p = plan_for(cs, alignment_of(x, g, gw), stream);
  ConvDescs& d = p.d;
  cudnnHandle_t h = dnn(stream);
  auto direct = [&] { conv2d_backward_weight_direct(cs, x, g, gw, stream); };
  void* wsp = prepare<CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, cudnnConvolutionBwdFilterAlgoPerf_t>(
      p.bwd_filter, p, ConvDirection::BackwardWeight, Operands{x, g, gw}, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1,
      [&](int n, int* got, cudnnConvolutionBwdFilterAlgoPerf_t* perf) {
        return cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, d.x, d.y, d.conv, d.w, n, got, perf);
      },
      [&](int n, int* got, cudnnConvolutionBwdFilterAlgoPerf_t* perf) {
        return cudnnFindConvolutionBackwardFilterAlgorithm(h, d.x, d.y, d.conv, d.w, n, got, perf);
      },
      [&](cudnnConvolutionBwdFilterAlgo_t a, size_t* ws) {
        return cudnnGetConvolutionBackwardFilterWorkspaceSize(h, d.x, d.y, d.conv, d.w, a, ws);
      },
      conv2d_direct_supported(cs), direct, stream);
  if (p.bwd_filter.impl == Impl::Direct) return direct();
  if (p.bwd_filter.impl == Impl::Graph) return p.bwd_filter.graph->run(h, x, g, gw, wsp);
  const float one = 1.f, zero = 0.f;
  CUDNN_CHECK(cudnnConvolutionBackwardFilter(h, &one, d.x, x, d.y, g, d.conv, p.bwd_filter.algo, wsp,
                                             p.bwd_filter.ws, &zero, d.w, gw));
}

std::string conv_plan_report(void* stream) {
  const CudaHandles& h = handles(stream);
  if (!h.conv_plans) return {};
  std::string out;
  for (const auto& [key, p] : *static_cast<const PlanMap*>(h.conv_plans.get())) {
    const ConvShape& cs = p->shape;
    char head[192];
    std::snprintf(head, sizeof head, "conv %lldx%lldx%lldx%lld -> %lld ch, %lldx%lld, pad %lld, stride %lld (%s%s%s):\n",
                  static_cast<long long>(cs.n), static_cast<long long>(cs.c), static_cast<long long>(cs.h),
                  static_cast<long long>(cs.w), static_cast<long long>(cs.k), static_cast<long long>(cs.r),
                  static_cast<long long>(cs.s), static_cast<long long>(cs.pad), static_cast<long long>(cs.stride),
                  p->search == ConvSearch::Measured ? "measured search" : "heuristic search",
                  p->tf32 ? ", TF32 allowed" : "", p->graph_api ? "" : ", legacy API only");
    out += head;
    out += "  forward:         " + describe(p->fwd) + "\n";
    out += "  backward input:  " + describe(p->bwd_data) + "\n";
    out += "  backward weight: " + describe(p->bwd_filter) + "\n";
  }
  return out;
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

// The few-channel direct kernels (kernels/conv_direct.cu) where they apply, else the generic ones above.
void conv2d_forward(const ConvShape& cs, const float* x, const float* w, const float* b, float* y, void* stream) {
  if (conv2d_direct_supported(cs)) return conv2d_forward_direct(cs, x, w, b, y, stream);
  const int64_t n = cs.n * cs.k * cs.oh * cs.ow;
  launch_1d(conv_fwd_kernel, n, stream, cs, x, w, b, y, n);
}

void conv2d_backward_input(const ConvShape& cs, const float* g, const float* w, float* gx, void* stream) {
  if (conv2d_direct_supported(cs)) return conv2d_backward_input_direct(cs, g, w, gx, stream);
  const int64_t n = cs.n * cs.c * cs.h * cs.w;
  launch_1d(conv_bwd_input_kernel, n, stream, cs, g, w, gx, n);
}

void conv2d_backward_weight(const ConvShape& cs, const float* x, const float* g, float* gw, void* stream) {
  if (conv2d_direct_supported(cs)) return conv2d_backward_weight_direct(cs, x, g, gw, stream);
  const int64_t n = cs.k * cs.c * cs.r * cs.s;
  launch_1d(conv_bwd_weight_kernel, n, stream, cs, x, g, gw, n);
}

std::string conv_plan_report(void*) {
  return "convolutions: built without cuDNN; few-channel direct kernels where they apply, generic kernels elsewhere\n";
}

#endif

}  // namespace yoco::kernels::cuda
