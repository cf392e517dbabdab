// Per-kernel wall-time accounting (YOCO_PROFILE=1): every dispatched kernel is timed by name, and
// report() prints the totals sorted by time. Off by default; one branch per launch when off.
#pragma once
#include <chrono>
#include <cstdint>
#include <map>
#include <string>

namespace yoco {

class Profiler {
 public:
  bool enabled() const { return enabled_; }
  void set_enabled(bool on) { enabled_ = on; }
  void add(const char* name, double seconds);
  void reset() { totals_.clear(); }
  std::string report() const;  // table of kernel, calls, total ms, share

 private:
  struct Entry {
    int64_t calls = 0;
    double seconds = 0;
  };
  bool enabled_ = false;
  std::map<std::string, Entry> totals_;
};

Profiler& profiler();  // owned by the Context

// Times one kernel launch when profiling is on (CUDA launches are synchronised first so time is real).
class KernelTimer {
 public:
  explicit KernelTimer(const char* name);
  ~KernelTimer();
  KernelTimer(const KernelTimer&) = delete;
  KernelTimer& operator=(const KernelTimer&) = delete;

 private:
  const char* name_;
  bool on_;
  std::chrono::steady_clock::time_point t0_;
};

}  // namespace yoco
