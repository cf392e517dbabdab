// cuDNN graph (backend) API convolutions: builds the one-operation graph of a ConvShape, walks cuDNN's engine
// heuristics (mode A, then the fallback list), keeps deterministic FP32 engines whose plans finalize, and runs a
// plan through a variant pack. The C API of cudnn_graph.h; attribute types as that header and cuDNN's backend
// reference document them (cudnn_frontend sets the same ones).
#include "kernels/conv_graph.h"
#ifdef YOCO_WITH_CUDNN
#include <algorithm>
#include <array>
#include <set>
#include <string>
#include <utility>
#include <vector>
#include "kernels/cuda_check.cuh"

namespace yoco::kernels::cuda {

// Everything the plans of one graph_conv_plans call share. Kept alive by each plan: an execution plan refers to
// its engine configuration, which refers to the operation graph and, through it, the operation and tensors.
struct GraphConvProblem {
  ConvDirection dir = ConvDirection::Forward;
  int64_t byte_alignment = 4;
  BackendDescriptor x, w, y, conv, op, graph;
  std::vector<BackendDescriptor> heuristics;  // the source of the engine configurations
};

namespace {

// Unique ids of the three tensors in every direction: x (or dx), w (or dw), y (or dy).
constexpr int64_t kUidX = 'x', kUidW = 'w', kUidY = 'y';

// cuDNN's own account of its last failure, which names the attribute or rule that failed ("" when none).
std::string last_error() {
  char buf[512] = {0};
  cudnnGetLastErrorString(buf, sizeof buf);
  return buf;
}

std::string status_text(cudnnStatus_t st) {
  std::string s = status_str(st);
  const std::string detail = last_error();
  if (!detail.empty()) s += " (" + detail + ")";
  return s;
}

// Attribute writes fail only on misuse (a wrong type or count), so they throw, naming the attribute's number.
void set_attr(cudnnBackendDescriptor_t d, cudnnBackendAttributeName_t name, cudnnBackendAttributeType_t type,
              int64_t count, const void* values) {
  const cudnnStatus_t st = cudnnBackendSetAttribute(d, name, type, count, values);
  YOCO_CHECK(st == CUDNN_STATUS_SUCCESS, "cudnnBackendSetAttribute(attribute ", static_cast<int>(name),
             ") failed: ", status_text(st));
}

// Reads up to `capacity` elements into `out`; returns how many cuDNN has (may exceed capacity).
int64_t get_attr(cudnnBackendDescriptor_t d, cudnnBackendAttributeName_t name, cudnnBackendAttributeType_t type,
                 int64_t capacity, void* out) {
  int64_t count = 0;
  const cudnnStatus_t st = cudnnBackendGetAttribute(d, name, type, capacity, &count, out);
  YOCO_CHECK(st == CUDNN_STATUS_SUCCESS, "cudnnBackendGetAttribute(attribute ", static_cast<int>(name),
             ") failed: ", status_text(st));
  return count;
}

// The handle attributes of operation graphs and execution plans are deprecated since cuDNN 9.8 (the handle now
// comes with execution) but required before it, so they are set, and a refusal is fatal only on older runtimes.
void set_handle(cudnnBackendDescriptor_t d, cudnnBackendAttributeName_t name, cudnnHandle_t h) {
  const cudnnStatus_t st = cudnnBackendSetAttribute(d, name, CUDNN_TYPE_HANDLE, 1, &h);
  YOCO_CHECK(st == CUDNN_STATUS_SUCCESS || cudnnGetVersion() >= 90800, "cudnnBackendSetAttribute(handle ",
             static_cast<int>(name), ") failed: ", status_text(st));
}

// Contiguous NCHW float tensor [d0, d1, d2, d3].
BackendDescriptor make_tensor(int64_t uid, const std::array<int64_t, 4>& dims, int64_t byte_alignment) {
  BackendDescriptor t(CUDNN_BACKEND_TENSOR_DESCRIPTOR);
  const std::array<int64_t, 4> strides = {dims[1] * dims[2] * dims[3], dims[2] * dims[3], dims[3], 1};
  const cudnnDataType_t type = CUDNN_DATA_FLOAT;
  set_attr(t.get(), CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &type);
  set_attr(t.get(), CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, 4, dims.data());
  set_attr(t.get(), CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, 4, strides.data());
  set_attr(t.get(), CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &uid);
  set_attr(t.get(), CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, 1, &byte_alignment);
  CUDNN_CHECK(cudnnBackendFinalize(t.get()));
  return t;
}

// Cross-correlation over 2 spatial dims, FP32 accumulation, symmetric padding, no dilation.
BackendDescriptor make_conv(const ConvShape& cs) {
  BackendDescriptor c(CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR);
  const int64_t spatial_dims = 2;
  const cudnnDataType_t comp = CUDNN_DATA_FLOAT;
  const cudnnConvolutionMode_t mode = CUDNN_CROSS_CORRELATION;
  const std::array<int64_t, 2> pad = {cs.pad, cs.pad}, dilation = {1, 1}, stride = {cs.stride, cs.stride};
  set_attr(c.get(), CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS, CUDNN_TYPE_INT64, 1, &spatial_dims);
  set_attr(c.get(), CUDNN_ATTR_CONVOLUTION_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &comp);
  set_attr(c.get(), CUDNN_ATTR_CONVOLUTION_CONV_MODE, CUDNN_TYPE_CONVOLUTION_MODE, 1, &mode);
  set_attr(c.get(), CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS, CUDNN_TYPE_INT64, 2, pad.data());
  set_attr(c.get(), CUDNN_ATTR_CONVOLUTION_POST_PADDINGS, CUDNN_TYPE_INT64, 2, pad.data());
  set_attr(c.get(), CUDNN_ATTR_CONVOLUTION_DILATIONS, CUDNN_TYPE_INT64, 2, dilation.data());
  set_attr(c.get(), CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES, CUDNN_TYPE_INT64, 2, stride.data());
  CUDNN_CHECK(cudnnBackendFinalize(c.get()));
  return c;
}

// The attribute names of one direction's operation descriptor, in the roles x, w, y (or their gradients).
struct OpAttrs {
  cudnnBackendDescriptorType_t type;
  cudnnBackendAttributeName_t x, w, y, conv, alpha, beta;
};

OpAttrs op_attrs(ConvDirection dir) {
  switch (dir) {
    case ConvDirection::Forward:
      return {CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X,
              CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W,         CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y,
              CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA,
              CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA};
    case ConvDirection::BackwardInput:
      return {CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_DATA_DESCRIPTOR,
              CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DX,        CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_W,
              CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DY,        CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_CONV_DESC,
              CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_ALPHA,     CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_BETA};
    case ConvDirection::BackwardWeight:
      break;
  }
  return {CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_FILTER_DESCRIPTOR,
          CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_X,         CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_DW,
          CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_DY,        CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_CONV_DESC,
          CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_ALPHA,     CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_BETA};
}

const char* note_name(cudnnBackendNumericalNote_t n) {
  switch (n) {
    case CUDNN_NUMERICAL_NOTE_TENSOR_CORE: return "tensor_core";
    case CUDNN_NUMERICAL_NOTE_DOWN_CONVERT_INPUTS: return "down_convert_inputs";
    case CUDNN_NUMERICAL_NOTE_REDUCED_PRECISION_REDUCTION: return "reduced_precision_reduction";
    case CUDNN_NUMERICAL_NOTE_FFT: return "fft";
    case CUDNN_NUMERICAL_NOTE_NONDETERMINISTIC: return "nondeterministic";
    case CUDNN_NUMERICAL_NOTE_WINOGRAD: return "winograd";
    case CUDNN_NUMERICAL_NOTE_WINOGRAD_TILE_4x4: return "winograd_4x4";
    case CUDNN_NUMERICAL_NOTE_WINOGRAD_TILE_6x6: return "winograd_6x6";
    case CUDNN_NUMERICAL_NOTE_WINOGRAD_TILE_13x13: return "winograd_13x13";
    case CUDNN_NUMERICAL_NOTE_STRICT_NAN_PROP: return "strict_nan_prop";
    default: return "note?";
  }
}

// What cuDNN says about one engine configuration before any plan is built from it.
struct ConfigInfo {
  BackendDescriptor engine;
  int64_t id = -1;
  std::vector<cudnnBackendNumericalNote_t> numerical;
  std::vector<cudnnBackendBehaviorNote_t> behavior;
  std::vector<std::pair<int64_t, int64_t>> knobs;  // (knob type, choice), sorted by type

  bool has(cudnnBackendNumericalNote_t n) const {
    return std::find(numerical.begin(), numerical.end(), n) != numerical.end();
  }
  bool has(cudnnBackendBehaviorNote_t n) const {
    return std::find(behavior.begin(), behavior.end(), n) != behavior.end();
  }
  // Engine and knob choices: two configurations with the same key build the same plan.
  std::string key() const {
    std::string s = "engine " + std::to_string(id);
    for (const auto& [type, value] : knobs) s += " k" + std::to_string(type) + "=" + std::to_string(value);
    return s;
  }
  std::string name() const {
    std::string s = key();
    for (size_t i = 0; i < numerical.size(); ++i) s += (i ? ", " : " [") + std::string(note_name(numerical[i]));
    return numerical.empty() ? s : s + "]";
  }
};

ConfigInfo inspect(cudnnBackendDescriptor_t config) {
  ConfigInfo info;
  info.engine = BackendDescriptor(CUDNN_BACKEND_ENGINE_DESCRIPTOR);
  // Descriptor-valued attributes are read into descriptors we created: cuDNN fills them, we own them.
  cudnnBackendDescriptor_t engine = info.engine.get();
  get_attr(config, CUDNN_ATTR_ENGINECFG_ENGINE, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &engine);
  get_attr(engine, CUDNN_ATTR_ENGINE_GLOBAL_INDEX, CUDNN_TYPE_INT64, 1, &info.id);

  // Each note appears at most once, so the note-type count bounds both arrays.
  std::array<cudnnBackendNumericalNote_t, CUDNN_NUMERICAL_NOTE_TYPE_COUNT> numerical{};
  const int64_t nn = get_attr(engine, CUDNN_ATTR_ENGINE_NUMERICAL_NOTE, CUDNN_TYPE_NUMERICAL_NOTE,
                              static_cast<int64_t>(numerical.size()), numerical.data());
  info.numerical.assign(numerical.begin(), numerical.begin() + std::min<int64_t>(nn, numerical.size()));
  std::array<cudnnBackendBehaviorNote_t, CUDNN_BEHAVIOR_NOTE_TYPE_COUNT> behavior{};
  const int64_t nb = get_attr(engine, CUDNN_ATTR_ENGINE_BEHAVIOR_NOTE, CUDNN_TYPE_BEHAVIOR_NOTE,
                              static_cast<int64_t>(behavior.size()), behavior.data());
  info.behavior.assign(behavior.begin(), behavior.begin() + std::min<int64_t>(nb, behavior.size()));

  // At most one choice per knob type.
  std::vector<BackendDescriptor> choices;
  std::vector<cudnnBackendDescriptor_t> raw;
  for (int i = 0; i < CUDNN_KNOB_TYPE_COUNTS; ++i) {
    choices.emplace_back(CUDNN_BACKEND_KNOB_CHOICE_DESCRIPTOR);
    raw.push_back(choices.back().get());
  }
  const int64_t nk = std::min<int64_t>(get_attr(config, CUDNN_ATTR_ENGINECFG_KNOB_CHOICES,
                                                CUDNN_TYPE_BACKEND_DESCRIPTOR, raw.size(), raw.data()),
                                       raw.size());
  for (int64_t i = 0; i < nk; ++i) {
    cudnnBackendKnobType_t type = CUDNN_KNOB_TYPE_COUNTS;
    int64_t value = 0;
    get_attr(raw[i], CUDNN_ATTR_KNOB_CHOICE_KNOB_TYPE, CUDNN_TYPE_KNOB_TYPE, 1, &type);
    get_attr(raw[i], CUDNN_ATTR_KNOB_CHOICE_KNOB_VALUE, CUDNN_TYPE_INT64, 1, &value);
    info.knobs.emplace_back(static_cast<int64_t>(type), value);
  }
  std::sort(info.knobs.begin(), info.knobs.end());
  return info;
}

// Why configurations were passed over, for the caller's report when nothing is left.
struct Tally {
  std::string heuristics;  // per mode: "A 9 configs" or "A refused: <status>"
  int duplicate = 0, nondeterministic = 0, reduced_precision = 0, runtime_compiled = 0, unfinalized = 0,
      over_workspace = 0, unreadable = 0;
  std::string first_unreadable;  // the first query failure's message
  std::string str(size_t kept) const {
    std::string s = "heuristics " + heuristics + "; kept " + std::to_string(kept) + ", skipped " +
                    std::to_string(duplicate) + " duplicate, " + std::to_string(nondeterministic) +
                    " nondeterministic, " + std::to_string(reduced_precision) + " tensor-core/reduced-precision, " +
                    std::to_string(runtime_compiled) + " runtime-compiled, " + std::to_string(unfinalized) +
                    " not finalizable, " + std::to_string(over_workspace) + " over the workspace cap";
    if (unreadable > 0)
      s += ", " + std::to_string(unreadable) + " unreadable (first: " + first_unreadable + ")";
    return s;
  }
};

// A finalized operation graph for cs in direction dir; null with *refusal set when cuDNN does not accept it.
std::shared_ptr<GraphConvProblem> make_problem(cudnnHandle_t h, const ConvShape& cs, ConvDirection dir,
                                               int64_t byte_alignment, std::string* refusal) {
  auto p = std::make_shared<GraphConvProblem>();
  p->dir = dir;
  p->byte_alignment = byte_alignment;
  p->x = make_tensor(kUidX, {cs.n, cs.c, cs.h, cs.w}, byte_alignment);
  p->w = make_tensor(kUidW, {cs.k, cs.c, cs.r, cs.s}, byte_alignment);
  p->y = make_tensor(kUidY, {cs.n, cs.k, cs.oh, cs.ow}, byte_alignment);
  p->conv = make_conv(cs);

  const OpAttrs a = op_attrs(dir);
  p->op = BackendDescriptor(a.type);
  set_attr(p->op.get(), a.x, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, p->x.addr());
  set_attr(p->op.get(), a.w, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, p->w.addr());
  set_attr(p->op.get(), a.y, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, p->y.addr());
  set_attr(p->op.get(), a.conv, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, p->conv.addr());
  // Scaling factors are FLOAT for every compute type but DOUBLE (cuDNN's backend reference; cudnn_frontend
  // switches to DOUBLE only for a double convolution).
  const float alpha = 1.f, beta = 0.f;
  set_attr(p->op.get(), a.alpha, CUDNN_TYPE_FLOAT, 1, &alpha);
  set_attr(p->op.get(), a.beta, CUDNN_TYPE_FLOAT, 1, &beta);
  cudnnStatus_t st = cudnnBackendFinalize(p->op.get());
  if (st != CUDNN_STATUS_SUCCESS) {
    *refusal = std::string("operation refused: ") + status_text(st);
    return nullptr;
  }

  p->graph = BackendDescriptor(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR);
  set_attr(p->graph.get(), CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, p->op.addr());
  set_handle(p->graph.get(), CUDNN_ATTR_OPERATIONGRAPH_HANDLE, h);
  st = cudnnBackendFinalize(p->graph.get());
  if (st != CUDNN_STATUS_SUCCESS) {
    *refusal = std::string("operation graph refused: ") + status_text(st);
    return nullptr;
  }
  return p;
}

// The engine configurations of one heuristics mode, best first; empty (noted in the tally) when the mode
// refuses the graph. The heuristics descriptor is kept in the problem.
std::vector<BackendDescriptor> heuristic_configs(GraphConvProblem& p, cudnnBackendHeurMode_t mode,
                                                 const char* mode_name, Tally& tally) {
  BackendDescriptor heur(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR);
  set_attr(heur.get(), CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, p.graph.addr());
  set_attr(heur.get(), CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &mode);
  if (!tally.heuristics.empty()) tally.heuristics += ", ";
  const cudnnStatus_t st = cudnnBackendFinalize(heur.get());
  if (st != CUDNN_STATUS_SUCCESS) {
    tally.heuristics += std::string(mode_name) + " refused: " + status_text(st);
    return {};
  }
  const int64_t count = get_attr(heur.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 0, nullptr);
  std::vector<BackendDescriptor> configs;
  std::vector<cudnnBackendDescriptor_t> raw;
  for (int64_t i = 0; i < count; ++i) {
    configs.emplace_back(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR);
    raw.push_back(configs.back().get());
  }
  if (count > 0) {
    const int64_t got =
        get_attr(heur.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, count, raw.data());
    configs.resize(static_cast<size_t>(std::min(got, count)));
  }
  tally.heuristics += std::string(mode_name) + " " + std::to_string(configs.size()) + " configs";
  p.heuristics.push_back(std::move(heur));
  return configs;
}

}  // namespace

// ---- BackendDescriptor ----

BackendDescriptor::BackendDescriptor(cudnnBackendDescriptorType_t type) {
  CUDNN_CHECK(cudnnBackendCreateDescriptor(type, &d_));
}

BackendDescriptor::~BackendDescriptor() {
  if (d_) cudnnBackendDestroyDescriptor(d_);  // nothing useful to do on failure in a destructor
}

BackendDescriptor& BackendDescriptor::operator=(BackendDescriptor&& o) noexcept {
  if (this != &o) {
    if (d_) cudnnBackendDestroyDescriptor(d_);
    d_ = o.d_;
    o.d_ = nullptr;
  }
  return *this;
}

// ---- GraphConvPlan ----

GraphConvPlan::GraphConvPlan(std::shared_ptr<const GraphConvProblem> problem, BackendDescriptor config,
                             BackendDescriptor engine, BackendDescriptor plan, int64_t engine_id, std::string name,
                             size_t workspace_bytes)
    : problem_(std::move(problem)),
      config_(std::move(config)),
      engine_(std::move(engine)),
      plan_(std::move(plan)),
      engine_id_(engine_id),
      name_(std::move(name)),
      workspace_bytes_(workspace_bytes) {}

// Members die in reverse order: the execution plan before the configuration and the shared graph it refers to.
GraphConvPlan::~GraphConvPlan() = default;

void GraphConvPlan::run(cudnnHandle_t h, const float* a, const float* b, float* out, void* workspace) const {
  YOCO_CHECK(workspace_bytes_ == 0 || workspace != nullptr, "graph convolution plan ", name_, " needs ",
             workspace_bytes_, " bytes of workspace, got none");
  // The variant pack binds pointers to tensor ids: a, b and out in the roles of this plan's direction.
  const void *x = nullptr, *w = nullptr, *y = nullptr;
  switch (problem_->dir) {
    case ConvDirection::Forward: x = a, w = b, y = out; break;
    case ConvDirection::BackwardInput: y = a, w = b, x = out; break;
    case ConvDirection::BackwardWeight: x = a, y = b, w = out; break;
  }
  // The plan was chosen for this alignment; a less aligned pointer could make its vector loads fault.
  const auto align = static_cast<uintptr_t>(problem_->byte_alignment);
  for (const void* p : {x, w, y})
    YOCO_CHECK(reinterpret_cast<uintptr_t>(p) % align == 0, "graph convolution plan ", name_, " was built for ",
               align, "-byte aligned tensors, got ", p);
  const std::array<const void*, 4> bound = {x, w, y, workspace};
  if (!pack_.get() || bound != pack_ptrs_) {
    const std::array<int64_t, 3> uids = {kUidX, kUidW, kUidY};
    // cuDNN takes non-const pointers for inputs too; it only reads them.
    const std::array<void*, 3> ptrs = {const_cast<void*>(x), const_cast<void*>(w), const_cast<void*>(y)};
    BackendDescriptor pack(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR);
    set_attr(pack.get(), CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, 3, uids.data());
    set_attr(pack.get(), CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, 3, ptrs.data());
    set_attr(pack.get(), CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &workspace);
    const cudnnStatus_t st = cudnnBackendFinalize(pack.get());
    YOCO_CHECK(st == CUDNN_STATUS_SUCCESS, "variant pack for graph convolution plan ", name_, " refused: ",
               status_text(st));
    pack_ = std::move(pack);
    pack_ptrs_ = bound;
  }
  // cuDNN's own explanation with the status: this is where a plan that finalized can still fail.
  const cudnnStatus_t st = cudnnBackendExecute(h, plan_.get(), pack_.get());
  YOCO_CHECK(st == CUDNN_STATUS_SUCCESS, "graph convolution plan ", name_, " (", direction_name(problem_->dir),
             ") failed to execute: ", status_text(st));
}

// ---- graph_conv_plans ----

std::vector<std::unique_ptr<GraphConvPlan>> graph_conv_plans(cudnnHandle_t h, const ConvShape& cs,
                                                             ConvDirection dir, bool tf32, int64_t byte_alignment,
                                                             size_t max_ws, int max_plans, std::string* why) {
  YOCO_CHECK(h != nullptr, "graph_conv_plans: no cuDNN handle");
  YOCO_CHECK(cs.n > 0 && cs.c > 0 && cs.h > 0 && cs.w > 0 && cs.k > 0 && cs.r > 0 && cs.s > 0 && cs.stride > 0 &&
                 cs.pad >= 0,
             "graph_conv_plans: bad convolution shape");
  YOCO_CHECK(cs.oh == conv_out_size(cs.h, cs.r, cs.stride, cs.pad) &&
                 cs.ow == conv_out_size(cs.w, cs.s, cs.stride, cs.pad) && cs.oh > 0 && cs.ow > 0,
             "graph_conv_plans: output size ", cs.oh, "x", cs.ow, " does not follow from the shape");
  YOCO_CHECK(byte_alignment > 0 && (byte_alignment & (byte_alignment - 1)) == 0,
             "graph_conv_plans: byte alignment ", byte_alignment, " is not a power of two");
  std::string unused;
  std::string& reason = why ? *why : unused;
  reason.clear();

  std::vector<std::unique_ptr<GraphConvPlan>> plans;
  if (max_plans <= 0) return plans;
  const std::shared_ptr<GraphConvProblem> problem = make_problem(h, cs, dir, byte_alignment, &reason);
  if (!problem) return plans;
  problem->heuristics.reserve(2);

  Tally tally;
  std::set<std::string> seen;
  const std::pair<cudnnBackendHeurMode_t, const char*> modes[] = {{CUDNN_HEUR_MODE_A, "A"},
                                                                  {CUDNN_HEUR_MODE_FALLBACK, "fallback"}};
  for (const auto& [mode, mode_name] : modes) {
    if (static_cast<int>(plans.size()) >= max_plans) break;
    for (BackendDescriptor& config : heuristic_configs(*problem, mode, mode_name, tally)) {
      if (static_cast<int>(plans.size()) >= max_plans) break;
      // One configuration whose notes, knobs or workspace cannot be read is skipped (and counted), so one odd
      // engine does not cost the shape every other plan.
      try {
        ConfigInfo info = inspect(config.get());
        if (!seen.insert(info.key()).second) {
          ++tally.duplicate;
          continue;
        }
        // Notes decide before any plan is built: building a runtime-compiled plan compiles it (seconds).
        if (info.has(CUDNN_NUMERICAL_NOTE_NONDETERMINISTIC)) {
          ++tally.nondeterministic;
          continue;
        }
        // Down-converting inputs or reducing in lower precision is never FP32 or TF32 arithmetic (PyTorch also
        // always drops down-converting engines); tensor cores on FP32 data mean TF32, allowed only with tf32.
        if (info.has(CUDNN_NUMERICAL_NOTE_DOWN_CONVERT_INPUTS) ||
            info.has(CUDNN_NUMERICAL_NOTE_REDUCED_PRECISION_REDUCTION) ||
            (!tf32 && info.has(CUDNN_NUMERICAL_NOTE_TENSOR_CORE))) {
          ++tally.reduced_precision;
          continue;
        }
        if (info.has(CUDNN_BEHAVIOR_NOTE_RUNTIME_COMPILATION)) {
          ++tally.runtime_compiled;
          continue;
        }
        BackendDescriptor plan(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR);
        set_handle(plan.get(), CUDNN_ATTR_EXECUTION_PLAN_HANDLE, h);
        set_attr(plan.get(), CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1,
                 config.addr());
        if (cudnnBackendFinalize(plan.get()) != CUDNN_STATUS_SUCCESS) {  // this engine cannot run this problem
          (void)last_error();  // an expected refusal: clear its message so it is not appended to a later error
          ++tally.unfinalized;
          continue;
        }
        int64_t ws = 0;
        get_attr(plan.get(), CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, CUDNN_TYPE_INT64, 1, &ws);
        if (ws < 0 || static_cast<uint64_t>(ws) > max_ws) {
          ++tally.over_workspace;
          continue;
        }
        plans.push_back(std::make_unique<GraphConvPlan>(problem, std::move(config), std::move(info.engine),
                                                        std::move(plan), info.id, info.name(),
                                                        static_cast<size_t>(ws)));
      } catch (const std::exception& e) {
        if (tally.unreadable++ == 0) tally.first_unreadable = e.what();
      }
    }
  }
  reason = tally.str(plans.size());
  return plans;
}

cudnnHandle_t cudnn_handle(void* stream) {
  void* dnn = handles(stream).dnn;
  YOCO_CHECK(dnn != nullptr, "the context has no cuDNN handle");
  return static_cast<cudnnHandle_t>(dnn);
}

const char* direction_name(ConvDirection dir) {
  switch (dir) {
    case ConvDirection::Forward: return "forward";
    case ConvDirection::BackwardInput: return "backward input";
    case ConvDirection::BackwardWeight: return "backward weight";
  }
  return "?";
}

}  // namespace yoco::kernels::cuda

#endif  // YOCO_WITH_CUDNN
