// The op-table driver's LibTorch modes: forward, first and second order against LibTorch in float64 (and float32 as
// a double-check), on the CPU and, where both engines see a GPU, on CUDA. Parity executable only.
#include <doctest/doctest.h>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>
#include "tests/ops/op_check.h"
#include "tests/parity/parity_torch.h"

namespace yoco::ops_test {
namespace {

struct TorchRun {
  torch::Tensor y;
  std::vector<torch::Tensor> g, gg;
};

std::vector<torch::Tensor> grads_or_zeros(const torch::Tensor& out, const std::vector<torch::Tensor>& wrt,
                                          bool create_graph) {
  std::vector<torch::Tensor> g(wrt.size());
  if (out.requires_grad()) g = torch::autograd::grad({out}, wrt, {}, true, create_graph, /*allow_unused=*/true);
  for (size_t i = 0; i < g.size(); ++i)
    if (!g[i].defined()) g[i] = torch::zeros_like(wrt[i]);
  return g;
}

// The same objective and probes as the engine run (op_check.cpp), in LibTorch at dtype dt on tdev.
TorchRun run_torch(const OpCase& c, const std::vector<Tensor>& in_cpu, const Probes& p, torch::Dtype dt,
                   torch::Device tdev, bool second) {
  auto here = [&](const Tensor& t) { return parity::to_torch(t, dt).to(tdev); };
  std::vector<torch::Tensor> in, wrt;
  for (size_t i = 0; i < in_cpu.size(); ++i) {
    torch::Tensor t = here(in_cpu[i]);
    if (c.inputs[i].diff) wrt.push_back(t.requires_grad_(true));
    in.push_back(t);
  }
  TorchRun r;
  r.y = c.theirs(in);
  if (wrt.empty() || !p.r.defined()) return r;
  r.g = grads_or_zeros((here(p.r) * r.y * (r.y + 1)).sum(), wrt, second);
  if (!second) return r;
  torch::Tensor s = torch::zeros({}, wrt[0].options());
  for (size_t k = 0; k < wrt.size(); ++k) s = s + (r.g[k] * here(p.v[k])).sum();
  r.gg = grads_or_zeros(s, wrt, false);
  return r;
}

}  // namespace

void check_torch(const OpCase& c, unsigned modes) {
  modes &= c.modes & kTorch;
  if (!modes) return;
  REQUIRE_MESSAGE(static_cast<bool>(c.theirs), c.name << " runs in a LibTorch mode but has no LibTorch call");
  parity::torch_setup();
  const std::vector<Tensor> in = make_inputs(c);
  const bool second = modes & kGrad2;
  const unsigned parts = (modes & (kGrad | kGrad2)) ? (kRunGrad | (second ? kRunGrad2 : 0u)) : 0u;
  Probes p;
  for (const bool on_cuda : {false, true}) {
    if (on_cuda && !((c.modes & kDevice) && parity::cuda_parity())) break;
    const char* tag = on_cuda ? "[op table cuda]" : "[op table]";
    const torch::Device tdev = on_cuda ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
    try {
      const Run ours = run_engine(c, in, on_cuda ? Device::CUDA : Device::CPU, p, parts);
      double e[2][3] = {{0, 0, 0}, {0, 0, 0}};
      const torch::Dtype dts[2] = {torch::kDouble, torch::kFloat};
      for (int k = 0; k < 2; ++k) {
        const TorchRun th = run_torch(c, in, p, dts[k], tdev, second);
        e[k][0] = parity::err(ours.y.cpu(), th.y);
        if (parts) e[k][1] = parity::max_err(ours.g, th.g);
        if (second) e[k][2] = parity::max_err(ours.gg, th.gg);
      }
      std::printf("%s %-52s fwd %.2e grad %.2e grad2 %.2e | vs torch-f32 fwd %.2e grad %.2e grad2 %.2e\n", tag,
                  c.name.c_str(), e[0][0], e[0][1], e[0][2], e[1][0], e[1][1], e[1][2]);
      for (int k = 0; k < 2; ++k) {
        const std::string ref = std::string(k ? "torch f32" : "torch f64") + (on_cuda ? " (CUDA)" : "");
        if (modes & kForward)
          CHECK_MESSAGE(e[k][0] <= c.fwd.value, c.name << " forward vs " << ref << ": " << e[k][0] << " > "
                                                       << c.fwd.value << " (" << std::string(c.fwd.why) << ")");
        if (modes & kGrad)
          CHECK_MESSAGE(e[k][1] <= c.grad.value, c.name << " grad vs " << ref << ": " << e[k][1] << " > "
                                                        << c.grad.value << " (" << std::string(c.grad.why) << ")");
        if (modes & kGrad2)
          CHECK_MESSAGE(e[k][2] <= c.grad2.value, c.name << " grad2 vs " << ref << ": " << e[k][2] << " > "
                                                         << c.grad2.value << " (" << std::string(c.grad2.why) << ")");
      }
    } catch (const std::exception& ex) {
      std::printf("%s %-52s THREW: %s\n", tag, c.name.c_str(), ex.what());
      FAIL_CHECK(c.name << std::string(on_cuda ? " (CUDA)" : "") << " threw: " << std::string(ex.what()));
    }
  }
}

}  // namespace yoco::ops_test
