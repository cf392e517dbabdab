// The one driver of the op-case table: one function per checking mode, each taking a case (op_cases.h).
#pragma once
#include <vector>
#include "engine/tensor.h"
#include "tests/ops/op_cases.h"

namespace yoco::ops_test {

// The case's inputs on the CPU, drawn from the run's seed and the case's stream.
std::vector<Tensor> make_inputs(const OpCase& c);

// Random probes of a case, drawn once (on the CPU) and shared by every backend it is compared on: r weighs the
// output in the objective, v[k] contracts the first-order gradient of differentiated input k.
struct Probes {
  Tensor r;
  std::vector<Tensor> v;
};
// One engine evaluation: the output, gradients of the objective (recorded, and plain) and the second order.
struct Run {
  Tensor y;
  std::vector<Tensor> g, g_plain, gg;
};
enum RunParts : unsigned { kRunGrad = 1, kRunPlain = 2, kRunGrad2 = 4 };
// Runs the case on `device` (inputs moved there); draws the probes on the first call.
Run run_engine(const OpCase& c, const std::vector<Tensor>& cpu_inputs, Device device, Probes& p, unsigned parts);

// Central finite differences (Richardson-extrapolated, objective summed in double) along random directions on the
// CPU: first order, <grad L, v>; second order, <grad <grad L, w>, u>. L = sum(r * y * (y + 1)) with random r: its
// gradient depends on y, so even for an op linear in its inputs the second order runs through the op's backward.
void check_fd1(const OpCase& c);
void check_fd2(const OpCase& c);

// The case's exact property (OpCase::exact) on the CPU engine.
void check_exact(const OpCase& c);

// Another backend against the CPU oracle on the same inputs and probes: forward, first order (recorded, and plain:
// fused backward kernels are taken only when the backward is not recorded) and second order. Written against the
// public engine API only (tensors on `device`, to(), grad()), so it runs on CUDA and on the emulated CUDA engine.
void check_device_vs_cpu(const OpCase& c, Device device);

#ifdef YOCO_OP_TABLE_TORCH
// Against LibTorch with inputs converted to float64 (the reference) and float32 (a double-check of the float32 floor),
// on the CPU and, where both engines see a GPU, again on CUDA on both sides. check_torch runs the modes given
// (intersected with the case's) from one evaluation; the three below are it for one mode each.
void check_torch(const OpCase& c, unsigned modes);
inline void check_forward_torch(const OpCase& c) { check_torch(c, kForward); }
inline void check_grad_torch(const OpCase& c) { check_torch(c, kGrad); }
inline void check_grad2_torch(const OpCase& c) { check_torch(c, kGrad2); }
#endif

}  // namespace yoco::ops_test
