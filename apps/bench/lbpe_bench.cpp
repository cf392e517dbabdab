// Bandwidth benchmark of the fused per-sample statistics op (see lbpe_bench.h for what is measured).
#include "apps/bench/lbpe_bench.h"
#include "apps/bench/timing.h"
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <random>
#include <vector>
#include "engine/context.h"
#include "engine/ops.h"
#include "engine/per_sample.h"
#include "kernels/softmax_loss.h"

namespace yoco::bench {

namespace {

// Median seconds per call over `reps` rounds of `calls` back-to-back calls; the device is drained before and
// after each round, so a round's wall time covers exactly its calls' work.
double seconds_per_call(const std::function<void()>& f, int64_t reps, int calls) {
  std::vector<double> t;
  for (int64_t r = 0; r < reps; ++r) {
    Context::get().synchronize();
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < calls; ++i) f();
    Context::get().synchronize();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / calls);
  }
  return median(t);
}

// The bare kernel into preallocated outputs: the op's own cost without its argument checks and allocations
// (the op validates labels on the host, which copies them back from the device on every call).
void raw_stats(const Tensor& logits, const Tensor& labels, PerSample& out) {
  const int64_t n = logits.size(0), c = logits.size(1);
  const float* x = logits.data<float>();
  const int64_t* y = labels.data<int64_t>();
  float *el2n = out.el2n.data<float>(), *loss = out.loss.data<float>(), *correct = out.correct.data<float>(),
        *margin = out.margin.data<float>(), *entropy = out.entropy.data<float>();
#ifdef YOCO_WITH_CUDA
  if (logits.is_cuda()) {
    kernels::cuda::per_sample_stats(x, y, n, c, el2n, loss, correct, margin, entropy, Context::get().cuda_stream());
    return;
  }
#endif
  kernels::cpu::per_sample_stats(x, y, n, c, el2n, loss, correct, margin, entropy);
}

}  // namespace

nlohmann::json bench_lbpe_bandwidth(Device dev, int64_t reps) {
  YOCO_CHECK(reps > 0, "bench_lbpe_bandwidth: reps must be positive, got ", reps);
  const bool gpu = dev == Device::CUDA;
  const int64_t n = gpu ? int64_t{1} << 20 : int64_t{1} << 16;
  const int64_t copy_floats = (gpu ? int64_t{512} : int64_t{64}) << 20 >> 2;  // 512 MiB / 64 MiB of f32

  // Baseline: copy_ between two device tensors is one cudaMemcpyAsync (memcpy on the CPU).
  double copy_gbs = 0;
  {
    Tensor src = full({copy_floats}, 1.f, dev), dst = empty({copy_floats}, DType::F32, dev);
    for (int i = 0; i < 2; ++i) copy_(dst, src);
    const double t = seconds_per_call([&] { copy_(dst, src); }, reps, 5);
    copy_gbs = 2.0 * static_cast<double>(copy_floats) * 4 / t / 1e9;
  }

  nlohmann::json rows = nlohmann::json::array();
  std::printf("%5s %9s %11s %9s %11s %9s %9s %9s %9s\n", "C", "N", "op us/call", "op GB/s", "kern us", "kern GB/s",
              "copy GB/s", "op frac", "kern frac");
  for (int64_t c : {10, 100}) {
    Tensor logits = rand_uniform({n, c}, 2024, static_cast<uint64_t>(c), 0, -5.f, 5.f, dev);
    std::mt19937_64 rng(static_cast<uint64_t>(c));
    std::uniform_int_distribution<int64_t> pick(0, c - 1);
    std::vector<int64_t> lab(n);
    for (int64_t& v : lab) v = pick(rng);
    Tensor labels = from_int_vector(lab, {n}, dev);
    PerSample out = per_sample_stats(logits, labels);  // also the bare kernel's output buffers

    for (int i = 0; i < 5; ++i) per_sample_stats(logits, labels);
    const double t_op = seconds_per_call([&] { per_sample_stats(logits, labels); }, reps, 20);
    for (int i = 0; i < 5; ++i) raw_stats(logits, labels, out);
    const double t_kernel = seconds_per_call([&] { raw_stats(logits, labels, out); }, reps, 20);

    const double bytes = static_cast<double>(n) * (c * 4 + 8 + 5 * 4);
    const double op_gbs = bytes / t_op / 1e9, kernel_gbs = bytes / t_kernel / 1e9;
    std::printf("%5lld %9lld %11.1f %9.1f %11.1f %9.1f %9.1f %9.3f %9.3f\n", static_cast<long long>(c),
                static_cast<long long>(n), t_op * 1e6, op_gbs, t_kernel * 1e6, kernel_gbs, copy_gbs, op_gbs / copy_gbs,
                kernel_gbs / copy_gbs);
    std::fflush(stdout);
    rows.push_back({{"case", "lbpe"},
                    {"C", c},
                    {"N", n},
                    {"device", gpu ? "cuda" : "cpu"},
                    {"bytes", bytes},
                    {"us_per_call", t_op * 1e6},
                    {"gbs", op_gbs},
                    {"kernel_us_per_call", t_kernel * 1e6},
                    {"kernel_gbs", kernel_gbs},
                    {"copy_gbs", copy_gbs},
                    {"fraction", op_gbs / copy_gbs},
                    {"kernel_fraction", kernel_gbs / copy_gbs}});
  }
  return rows;
}

}  // namespace yoco::bench
