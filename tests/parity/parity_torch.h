// LibTorch side of the parity suites: tensor conversion, the relative error against a torch reference, setup. The
// op-by-op comparisons live in the op table (tests/ops); parity_pipeline.cpp compares whole training steps.
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

template <class T>  // T: our Tensor, or a torch float32 result
double max_err(const std::vector<T>& a, const std::vector<torch::Tensor>& b) {
  if (a.size() != b.size()) return std::numeric_limits<double>::infinity();
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, err(a[i], b[i]));
  return m;
}

}  // namespace yoco::parity
