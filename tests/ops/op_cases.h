// The op-case table: one entry per op application (inputs, engine call, LibTorch call, tolerances, modes), which
// every checking mode (finite differences, LibTorch, device vs CPU) runs through one driver (op_check.h).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>
#include "engine/tensor.h"

// The LibTorch call is compiled only into the parity executable (which defines YOCO_OP_TABLE_TORCH and links
// LibTorch); elsewhere YOCO_TORCH_FN drops its argument unseen, so torch code never reaches the other builds.
#ifdef YOCO_OP_TABLE_TORCH
#include <torch/torch.h>
namespace yoco::ops_test {
using TorchFn = std::function<torch::Tensor(const std::vector<torch::Tensor>&)>;
}
#define YOCO_TORCH_FN(...) ::yoco::ops_test::TorchFn(__VA_ARGS__)
#else
namespace yoco::ops_test {
struct TorchFn {
  explicit operator bool() const { return false; }
};
}  // namespace yoco::ops_test
#define YOCO_TORCH_FN(...) ::yoco::ops_test::TorchFn()
#endif

namespace yoco::ops_test {

// Modes a case runs in. Forward/Grad/Grad2: against LibTorch in float64; Fd1/Fd2: central finite differences of
// first and second order; Device: a non-CPU backend (CUDA, or the emulated CUDA engine) against the CPU oracle.
enum Mode : unsigned {
  kForward = 1u << 0,
  kGrad = 1u << 1,
  kGrad2 = 1u << 2,
  kFd1 = 1u << 3,
  kFd2 = 1u << 4,
  kDevice = 1u << 5,
  kExact = 1u << 6,  // the case's own exact property (OpCase::exact) on the CPU engine
  kTorch = kForward | kGrad | kGrad2,
  kFd = kFd1 | kFd2,
  kAllModes = kTorch | kFd | kDevice,  // kExact is added by the cases that define the property
};

// One input: how to make it from a random stream, and whether it is differentiated. Fixed, non-differentiable
// arguments (labels, grids, shifts, boxes, colour parameters) are inputs with diff = false, so that every backend
// (and LibTorch) receives the same values on its own device.
struct Input {
  std::function<Tensor(uint64_t stream)> make;
  bool diff = true;
};

// Uniform [lo, hi) f32 values.
Input rnd(Shape shape, float lo = -1.f, float hi = 1.f);
// Uniform [lo, hi) values moved at least `gap` away from each kink (so finite differences never step across one).
Input rnd_away(Shape shape, std::vector<float> kinks, float gap = 0.05f, float lo = -1.f, float hi = 1.f);
// A fixed tensor, not differentiated.
Input fixed(Tensor t);
// A fixed tensor drawn from the stream (e.g. random labels or soft targets), not differentiated.
Input fixed_from(std::function<Tensor(uint64_t stream)> make);

// A tolerance with the reason it is what it is.
struct Tol {
  double value;
  const char* why;
};

struct OpCase {
  std::string name;  // "<op>/<variant>": <op> is the engine/ops.h function the case checks (the coverage test)
  std::vector<Input> inputs;
  // The engine call on inputs already on `device`.
  std::function<Tensor(const std::vector<Tensor>&, Device)> ours;
  TorchFn theirs;  // the LibTorch call on the same inputs (f32 inputs as float64, i64 as long)
  unsigned modes = kAllModes;
  const char* modes_why = "";  // why a mode is left out, when one is
  Tol fwd{1e-5, "forward values see only the float32 rounding of inputs and outputs"};
  Tol grad{1e-4, "first-order gradients chain several float32 ops"};
  Tol grad2{1e-4, "second-order gradients chain several float32 ops"};
  // |analytic - numeric| <= max(fd.value * |numeric|, fd_abs.value).
  Tol fd{1e-2, "Richardson-extrapolated central differences (eps 1e-2) in float32: rounding / eps is ~1e-3"};
  Tol fd_abs{1e-2, "the same bound for directional derivatives below 1 in magnitude"};
  // When above 0: |analytic| must exceed it, so the finite-difference check is not vacuous (a case that must move).
  Tol fd_nonzero{0, ""};
  Tol device{1e-5, "backends differ only by summation order and ~1 ulp of device libm: ~1e-6 norm-wise"};
  bool device_elementwise = false;  // device bound per element, |a - b| <= tol * max(1, |a|), not norm-wise
  // An exact property of the CPU result (e.g. "exactly 0 here"): given the inputs, the output and the first-order
  // gradients of the objective, returns "" or what is wrong.
  std::function<std::string(const std::vector<Tensor>& in, const Tensor& y, const std::vector<Tensor>& g)> exact;

  std::string op() const { return name.substr(0, name.find('/')); }
};

// Every case, in a fixed order.
const std::vector<OpCase>& op_cases();

// A stable stream id per case name (FNV-1a), so each case draws its own inputs.
uint64_t stream_of(const std::string& name);

}  // namespace yoco::ops_test
