// The op-table driver's engine-only modes: finite differences (first and second order) and device vs CPU.
#include "tests/ops/op_check.h"
#include <doctest/doctest.h>
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>
#include "engine/autograd.h"
#include "engine/context.h"
#include "engine/ops.h"
#include "tests/unit/test_util.h"

namespace yoco::ops_test {
namespace {

uint64_t base_stream(const OpCase& c) { return stream_of(c.name) * 64; }

std::vector<size_t> diff_indices(const OpCase& c) {
  std::vector<size_t> k;
  for (size_t i = 0; i < c.inputs.size(); ++i)
    if (c.inputs[i].diff) k.push_back(i);
  return k;
}

// Zeros in place of gradients that do not exist (an op with zero derivative records nothing).
std::vector<Tensor> grads_or_zeros(const Tensor& out, const std::vector<Tensor>& wrt, bool create_graph) {
  if (out.requires_grad()) return grad({out}, wrt, {}, create_graph, /*allow_unused=*/true);
  std::vector<Tensor> z;
  for (const Tensor& w : wrt) z.push_back(zeros(w.shape(), DType::F32, w.device()));
  return z;
}

Tensor objective(const Tensor& y, const Tensor& r) { return sum(mul(r, mul(y, add_scalar(y, 1.f)))); }

// The objective summed in double on the host from the float32 output (finite differences divide its rounding by eps).
double objective_host(const Tensor& y, const Tensor& r) {
  const std::vector<float> yv = y.to_vector(), rv = r.to_vector();
  double s = 0;
  for (size_t i = 0; i < yv.size(); ++i) s += static_cast<double>(rv[i]) * yv[i] * (static_cast<double>(yv[i]) + 1);
  return s;
}

double dots(const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
  double s = 0;
  for (size_t k = 0; k < a.size(); ++k) s += test::dot(a[k], b[k]);
  return s;
}

// The inputs with differentiated input k moved by t * dir[k].
std::vector<Tensor> moved(const OpCase& c, const std::vector<Tensor>& in, const std::vector<Tensor>& dir, double t) {
  NoGradGuard ng;
  std::vector<Tensor> out = in;
  const std::vector<size_t> idx = diff_indices(c);
  for (size_t k = 0; k < idx.size(); ++k)
    out[idx[k]] = add(in[idx[k]], mul_scalar(dir[k], static_cast<float>(t)));
  return out;
}

// Richardson extrapolation of central differences with steps eps and eps / 2: cancels the eps² truncation term (along
// a direction the objective of a polynomial op is a polynomial of degree at most 4, where that leaves no truncation
// error at all; a plain central difference was 1.2 % off on a convolution for seed 855797056). The rounding of the
// float sums divided by eps then dominates, around 1e-3 relative.
template <class F>
double richardson(F f) {
  constexpr double eps = 1e-2;
  auto central = [&](double e) { return (f(e) - f(-e)) / (2 * e); };
  return (4 * central(eps / 2) - central(eps)) / 3;
}

void check_fd(const OpCase& c, double analytic, double numeric, const char* order) {
  const std::string what =
      c.name + " " + order + ": analytic " + std::to_string(analytic) + " numeric " + std::to_string(numeric);
  INFO(what);
  if (c.fd_nonzero.value > 0)
    CHECK_MESSAGE(std::abs(analytic) > c.fd_nonzero.value, c.name << " " << std::string(order) << " is vacuous ("
                                                                  << std::string(c.fd_nonzero.why) << ")");
  const double bound = std::max(c.fd.value * std::abs(numeric), c.fd_abs.value);
  CHECK_MESSAGE(std::abs(analytic - numeric) <= bound, c.name << " " << std::string(order) << " finite differences ("
                                                              << std::string(c.fd.why) << ")");
}

}  // namespace

std::vector<Tensor> make_inputs(const OpCase& c) {
  std::vector<Tensor> in;
  const uint64_t base = base_stream(c) + 1000;
  for (size_t i = 0; i < c.inputs.size(); ++i) in.push_back(c.inputs[i].make(base + 7 * i));
  return in;
}

Run run_engine(const OpCase& c, const std::vector<Tensor>& cpu_inputs, Device d, Probes& p, unsigned parts) {
  const uint64_t base = base_stream(c);
  std::vector<Tensor> in, wrt;
  for (size_t i = 0; i < cpu_inputs.size(); ++i) {
    Tensor t = cpu_inputs[i].to(d).detach().clone();
    if (c.inputs[i].diff) wrt.push_back(t.set_requires_grad(true));
    in.push_back(t);
  }
  Run run;
  run.y = c.ours(in, d);
  if (wrt.empty() || parts == 0) return run;
  if (!p.r.defined()) {
    p.r = test::random_tensor(run.y.shape(), base + 1);
    for (size_t k = 0; k < wrt.size(); ++k) p.v.push_back(test::random_tensor(wrt[k].shape(), base + 2 + k));
  }
  const Tensor r = p.r.to(d);
  run.g = grads_or_zeros(objective(run.y, r), wrt, /*create_graph=*/(parts & kRunGrad2) != 0);
  if (parts & kRunPlain) run.g_plain = grads_or_zeros(objective(c.ours(in, d), r), wrt, false);
  if (!(parts & kRunGrad2)) return run;
  Tensor s;
  for (size_t k = 0; k < wrt.size(); ++k) {
    Tensor t = sum(mul(run.g[k], p.v[k].to(d)));
    s = s.defined() ? add(s, t) : t;
  }
  run.gg = grads_or_zeros(s, wrt, false);  // zeros where the gradient is constant in every input
  return run;
}

void check_fd1(const OpCase& c) {
  if (!(c.modes & kFd1) || diff_indices(c).empty()) return;
  const std::vector<Tensor> in = make_inputs(c);
  Probes p;
  const Run a = run_engine(c, in, Device::CPU, p, kRunGrad);
  const double analytic = dots(a.g, p.v);
  const double numeric =
      richardson([&](double t) { return objective_host(c.ours(moved(c, in, p.v, t), Device::CPU), p.r); });
  check_fd(c, analytic, numeric, "first order");
}

void check_fd2(const OpCase& c) {
  if (!(c.modes & kFd2) || diff_indices(c).empty()) return;
  const std::vector<Tensor> in = make_inputs(c);
  Probes p;
  const Run a = run_engine(c, in, Device::CPU, p, kRunGrad | kRunGrad2);
  std::vector<Tensor> u;
  const std::vector<size_t> idx = diff_indices(c);
  for (size_t k = 0; k < idx.size(); ++k) u.push_back(test::random_tensor(in[idx[k]].shape(), base_stream(c) + 40 + k));
  const double analytic = dots(a.gg, u);
  // s(x) = <grad L(x), v>, each gradient evaluated without recording.
  auto s_of = [&](double t) {
    const std::vector<Tensor> at = moved(c, in, u, t);
    Probes same = p;
    return dots(run_engine(c, at, Device::CPU, same, kRunGrad).g, p.v);
  };
  check_fd(c, analytic, richardson(s_of), "second order");
}

void check_exact(const OpCase& c) {
  if (!(c.modes & kExact) || !c.exact) return;
  const std::vector<Tensor> in = make_inputs(c);
  Probes p;
  const Run a = run_engine(c, in, Device::CPU, p, kRunGrad);
  const std::string bad = c.exact(in, a.y, a.g);
  CHECK_MESSAGE(bad.empty(), c.name << ": " << bad);
}

namespace {

void check_close(const OpCase& c, const Tensor& got, const Tensor& want, const std::string& what) {
  INFO(c.name, " ", what);
  REQUIRE(got.defined() == want.defined());
  if (!want.defined()) return;
  if (c.device.value == 0) {  // bit-identical backends (integer arithmetic, or the same float ops in one order)
    CHECK_MESSAGE(test::same_bits(got.cpu(), want), c.name << " " << what << " not bit-identical (" << c.device.why
                                                           << ")");
    return;
  }
  if (c.device_elementwise) {
    const std::vector<float> a = want.to_vector(), b = got.to_vector();
    REQUIRE(a.size() == b.size());
    size_t bad = 0;
    for (size_t i = 0; i < a.size(); ++i)
      if (!(std::fabs(a[i] - b[i]) <= c.device.value * std::max(1.f, std::fabs(a[i])))) ++bad;
    CHECK_MESSAGE(bad == 0, c.name << " " << what << ": " << bad << " elements beyond " << c.device.value << " ("
                                   << std::string(c.device.why) << ")");
    return;
  }
  const double e = test::rel_err(got.cpu(), want);
  CHECK_MESSAGE(e <= c.device.value, c.name << " " << what << ": " << e << " > " << c.device.value << " ("
                                            << std::string(c.device.why) << ")");
}

}  // namespace

void check_device_vs_cpu(const OpCase& c, Device device) {
  if (!(c.modes & kDevice)) return;
  const std::vector<Tensor> in = make_inputs(c);
  Probes p;
  const unsigned parts = kRunGrad | kRunPlain | kRunGrad2;
  const Run a = run_engine(c, in, Device::CPU, p, parts);
  const Run b = run_engine(c, in, device, p, parts);
  CHECK(b.y.device() == device);
  check_close(c, b.y, a.y, "forward");
  REQUIRE(a.g.size() == b.g.size());
  REQUIRE(a.gg.size() == b.gg.size());
  for (size_t k = 0; k < a.g.size(); ++k) {
    const std::string which = " of differentiated input " + std::to_string(k);
    check_close(c, b.g[k], a.g[k], "first order (recorded)" + which);
    check_close(c, b.g_plain[k], a.g_plain[k], "first order (not recorded)" + which);
    check_close(c, b.gg[k], a.gg[k], "second order" + which);
  }
}

}  // namespace yoco::ops_test
