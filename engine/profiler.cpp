// Per-kernel wall-time accounting (see profiler.h).
#include "engine/profiler.h"
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>
#include "engine/context.h"

namespace yoco {

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

KernelTimer::KernelTimer(const char* name) : name_(name), on_(Context::get().profiler().enabled()) {
  if (on_) {
    Context::get().synchronize();
    t0_ = std::chrono::steady_clock::now();
  }
}

KernelTimer::~KernelTimer() {
  if (!on_) return;
  Context::get().synchronize();
  Context::get().profiler().add(name_, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count());
}

Profiler& profiler() { return Context::get().profiler(); }

}  // namespace yoco
