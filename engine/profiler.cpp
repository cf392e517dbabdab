// Per-kernel wall-time accounting and NVTX ranges (see profiler.h).
#include "engine/profiler.h"
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <vector>
#include "engine/context.h"
#ifdef YOCO_WITH_CUDA
#include <nvtx3/nvToolsExt.h>  // header-only: without a profiler attached each call is a cheap no-op
#endif

namespace yoco {

void Profiler::set_nvtx(bool on) {
#ifdef YOCO_WITH_CUDA
  nvtx_ = on;
#else
  (void)on;  // nothing to emit ranges to
#endif
}

void Profiler::add(const char* name, double seconds) {
  Entry& e = totals_[name];
  ++e.calls;
  e.seconds += seconds;
}

std::string Profiler::report() const {
  std::vector<std::pair<std::string, Entry>> rows(totals_.begin(), totals_.end());
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second.seconds > b.second.seconds; });
  double total = 0;
  for (const auto& r : rows) total += r.second.seconds;
  std::string out = "kernel                      calls    total ms   share\n";
  char buf[160];
  for (const auto& r : rows) {
    std::snprintf(buf, sizeof buf, "%-26s %7lld %11.1f %6.1f%%\n", r.first.c_str(), static_cast<long long>(r.second.calls),
                  r.second.seconds * 1e3, total > 0 ? 100 * r.second.seconds / total : 0.0);
    out += buf;
  }
  return out;
}

static void nvtx_push(const char* name) {
#ifdef YOCO_WITH_CUDA
  nvtxRangePushA(name);
#else
  (void)name;
#endif
}

static void nvtx_pop() {
#ifdef YOCO_WITH_CUDA
  nvtxRangePop();
#endif
}

KernelTimer::KernelTimer(const char* name) : name_(name) {
  Context& ctx = Context::get();
  const Profiler& p = ctx.profiler();
  if (!p.enabled() && !p.nvtx()) return;  // the default path: nothing to do
  nvtx_ = p.nvtx();
  // Timing synchronises the device, which would invalidate a CUDA-graph capture: kernels captured into a
  // graph are not timed (they do not run now anyway).
  time_ = p.enabled() && !ctx.capturing();
  if (nvtx_) nvtx_push(name_);
  if (time_) {
    ctx.synchronize();
    t0_ = std::chrono::steady_clock::now();
  }
}

void KernelTimer::stop() {
  if (time_) {
    // Runs from a destructor, possibly while an exception unwinds: a failed synchronisation must not
    // terminate the process (CUDA errors are sticky: the next CUDA call reports it).
    try {
      Context& ctx = Context::get();
      ctx.synchronize();
      ctx.profiler().add(name_, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count());
    } catch (const std::exception&) {
    }
  }
  if (nvtx_) nvtx_pop();
}

NvtxRange::NvtxRange(const char* name) : on_(Context::get().profiler().nvtx()) {
  if (on_) nvtx_push(name);
}

void NvtxRange::pop() { nvtx_pop(); }

Profiler& profiler() { return Context::get().profiler(); }

}  // namespace yoco
