// LibTorch side of the parity suite: tensor conversion and the forward / first / second-order comparison harness,
// on CPU tensors and, where both engines see a GPU, again on CUDA tensors on both sides.
#pragma once
#include <doctest/doctest.h>
#include <torch/cuda.h>
#include <torch/torch.h>
#include <cstdio>
#include <exception>
#include <functional>
#include <limits>
#include <string>
#include <vector>
#include "engine/autograd.h"
#include "engine/context.h"
#include "engine/ops.h"
#include "tests/parity/parity_util.h"

namespace yoco::parity {

// Copies a CPU yoco tensor into a new torch tensor (f32 values cast to `fdt`; i64 stays kLong).
inline torch::Tensor to_torch(const Tensor& t, torch::Dtype fdt = torch::kFloat) {
  std::vector<int64_t> sizes(t.shape().begin(), t.shape().end());
  if (t.dtype() == DType::I64) {
    std::vector<int64_t> v = t.to_int_vector();
    return torch::from_blob(v.data(), sizes, torch::kLong).clone();
  }
  std::vector<float> v = t.to_vector();
  return torch::from_blob(v.data(), sizes, torch::kFloat).clone().to(fdt);
}

// A torch tensor (any device) back as a CPU f32 yoco tensor (used to share values such as a sampling grid).
inline Tensor from_torch(const torch::Tensor& t) {
  torch::Tensor c = t.detach().to(torch::kCPU, torch::kFloat).contiguous();
  std::vector<float> v(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
  return from_vector(v, Shape(c.sizes().begin(), c.sizes().end()));
}

inline std::vector<double> values(const torch::Tensor& t) {
  torch::Tensor c = t.detach().to(torch::kCPU, torch::kDouble).contiguous();
  return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

// rel_error of ours against a torch reference; a shape mismatch fails like NaN.
inline double err(const Tensor& ours, const torch::Tensor& ref) {
  if (!ours.defined() || !ref.defined() || ours.shape() != Shape(ref.sizes().begin(), ref.sizes().end()))
    return std::numeric_limits<double>::infinity();
  return rel_error(ours.to_vector(), values(ref));
}

// rel_error of a torch float32 result against a torch float64 reference (the float32 floor of a problem).
inline double err(const torch::Tensor& f32, const torch::Tensor& ref) {
  return err(from_torch(f32), ref);
}

// Two threads at most: the build/test machine's cores are shared. On CUDA both engines compute in FP32: LibTorch's
// cuDNN convolutions would otherwise use TF32 by default (as ours do only with Context::allow_tf32).
inline void torch_setup() {
  torch::set_num_threads(2);
  at::globalContext().setAllowTF32CuDNN(false);
  at::globalContext().setAllowTF32CuBLAS(false);
}

// The CUDA pass runs when our engine and LibTorch both have a GPU (the GPU machine's check; skipped elsewhere).
inline bool cuda_parity() {
  static const bool ok = Context::get().cuda_available() && torch::cuda::is_available();
  return ok;
}

using OurFn = std::function<Tensor(const std::vector<Tensor>&)>;
using TheirFn = std::function<torch::Tensor(const std::vector<torch::Tensor>&)>;

// One op application: fixed inputs (f32 or i64), which ones are differentiated, and the op in both engines.
// The scalar objective is L = sum(r * y * (y + 1)) with random r: quadratic in y, so its gradient depends on y
// and the second-order test s = sum_i <dL/dx_i, v_i>, differentiated again, runs through the op's backward.
// (The linear term keeps L curved where y*y is linear in x, e.g. y = sqrt(x).)
struct Case {
  std::string name;
  std::vector<Tensor> inputs;
  std::vector<bool> diff;
  OurFn ours;
  TheirFn theirs;
  bool second_order = true;
  double fwd_tol = kFwdTol, grad_tol = kGradTol, grad2_tol = kGrad2Tol;
  bool cuda = true;  // also compared on CUDA tensors when a GPU is there (false: the case holds CPU-only state)
};

template <class T>
struct Derivs {
  T y;
  std::vector<T> g, gg;
};

struct Probes {  // r and v, drawn in our engine and shared with torch
  Tensor r;
  std::vector<Tensor> v;
};

// Our engine on `dev`. The probes r and v are drawn on the first (CPU) run and reused by the CUDA run, so both
// devices are compared on the same objective.
inline Derivs<Tensor> run_ours(const Case& c, Probes& p, Device dev = Device::CPU) {
  const uint64_t base = stream_of(c.name) * 64;
  const bool draw = !p.r.defined();
  std::vector<Tensor> in, wrt;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    Tensor t = c.inputs[i].to(dev).clone();
    if (c.diff[i]) wrt.push_back(t.set_requires_grad(true));
    in.push_back(t);
  }
  Derivs<Tensor> d;
  d.y = c.ours(in);
  if (wrt.empty()) return d;
  if (draw) p.r = rnd(d.y.shape(), base + 1);
  Tensor loss = sum(mul(p.r.to(dev), mul(d.y, add_scalar(d.y, 1.f))));
  if (!loss.requires_grad()) {  // an op with zero derivative (sign) records nothing
    for (const Tensor& w : wrt) d.g.push_back(zeros(w.shape()));
  } else {
    d.g = grad({loss}, wrt, {}, true, true);
  }
  if (!c.second_order) return d;
  Tensor s;
  for (size_t k = 0; k < wrt.size(); ++k) {
    if (draw) p.v.push_back(rnd(wrt[k].shape(), base + 2 + k));
    Tensor t = sum(mul(d.g[k], p.v[k].to(dev)));
    s = s.defined() ? add(s, t) : t;
  }
  if (s.requires_grad()) {
    d.gg = grad({s}, wrt, {}, false, true);
  } else {  // the gradient is constant in every input: its derivative is zero
    for (const Tensor& w : wrt) d.gg.push_back(zeros(w.shape()));
  }
  return d;
}

inline std::vector<torch::Tensor> zeros_for_undefined(std::vector<torch::Tensor> g,
                                                      const std::vector<torch::Tensor>& wrt) {
  for (size_t i = 0; i < g.size(); ++i)
    if (!g[i].defined()) g[i] = torch::zeros_like(wrt[i]);
  return g;
}

inline Derivs<torch::Tensor> run_theirs(const Case& c, const Probes& p, torch::Dtype dt,
                                        torch::Device dev = torch::kCPU) {
  auto here = [&](const Tensor& t, torch::Dtype fdt) { return to_torch(t, fdt).to(dev); };
  std::vector<torch::Tensor> in, wrt;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    torch::Tensor t = here(c.inputs[i], dt);
    if (c.diff[i]) wrt.push_back(t.requires_grad_(true));
    in.push_back(t);
  }
  Derivs<torch::Tensor> d;
  d.y = c.theirs(in);
  if (wrt.empty()) return d;
  torch::Tensor loss = (here(p.r, dt) * d.y * (d.y + 1)).sum();
  if (loss.requires_grad())
    d.g = zeros_for_undefined(torch::autograd::grad({loss}, wrt, {}, true, true, true), wrt);
  else
    d.g = zeros_for_undefined(std::vector<torch::Tensor>(wrt.size()), wrt);
  if (!c.second_order) return d;
  torch::Tensor s = torch::zeros({}, wrt[0].options());
  for (size_t k = 0; k < wrt.size(); ++k) s = s + (d.g[k] * here(p.v[k], dt)).sum();
  if (s.requires_grad())
    d.gg = zeros_for_undefined(torch::autograd::grad({s}, wrt, {}, true, false, true), wrt);
  else
    for (const auto& w : wrt) d.gg.push_back(torch::zeros_like(w));
  return d;
}

struct Errs {
  double fwd = 0, grad = 0, grad2 = 0;
};

template <class T>  // T: our Tensor, or a torch float32 result
double max_err(const std::vector<T>& a, const std::vector<torch::Tensor>& b) {
  if (a.size() != b.size()) return std::numeric_limits<double>::infinity();
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, err(a[i], b[i]));
  return m;
}

inline Errs compare(const Derivs<Tensor>& a, const Derivs<torch::Tensor>& b) {
  return {err(a.y, b.y), max_err(a.g, b.g), max_err(a.gg, b.gg)};
}

inline void check_errs(const Case& c, const Errs& e, const char* ref) {
  CHECK_MESSAGE(e.fwd <= c.fwd_tol, c.name << " forward vs " << std::string(ref) << ": " << e.fwd);
  CHECK_MESSAGE(e.grad <= c.grad_tol, c.name << " grad vs " << std::string(ref) << ": " << e.grad);
  CHECK_MESSAGE(e.grad2 <= c.grad2_tol, c.name << " grad2 vs " << std::string(ref) << ": " << e.grad2);
}

// Runs one case in our engine and in torch (float64 reference, float32 double-check), checks and prints
// "[parity] <op> fwd <e> grad <e> grad2 <e>" (vs float64; the float32 figures follow). With a GPU in both engines
// the case runs again on CUDA tensors on both sides ("[parity cuda] ..."), to the same tolerances.
inline void check_case(const Case& c) {
  torch_setup();
  Probes p;
  for (const bool on_cuda : {false, true}) {
    if (on_cuda && !(c.cuda && cuda_parity())) break;
    const char* tag = on_cuda ? "[parity cuda]" : "[parity]";
    const torch::Device tdev = on_cuda ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
    try {
      Derivs<Tensor> ours = run_ours(c, p, on_cuda ? Device::CUDA : Device::CPU);
      Errs e64 = compare(ours, run_theirs(c, p, torch::kDouble, tdev));
      Errs e32 = compare(ours, run_theirs(c, p, torch::kFloat, tdev));
      std::printf("%s %-44s fwd %.2e grad %.2e grad2 %.2e | vs torch-f32 fwd %.2e grad %.2e grad2 %.2e\n", tag,
                  c.name.c_str(), e64.fwd, e64.grad, e64.grad2, e32.fwd, e32.grad, e32.grad2);
      check_errs(c, e64, on_cuda ? "torch f64 (CUDA)" : "torch f64");
      check_errs(c, e32, on_cuda ? "torch f32 (CUDA)" : "torch f32");
    } catch (const std::exception& ex) {
      std::printf("%s %-44s THREW: %s\n", tag, c.name.c_str(), ex.what());
      FAIL_CHECK(c.name << (on_cuda ? " (CUDA)" : "") << " threw: " << std::string(ex.what()));
    }
  }
}

}  // namespace yoco::parity
