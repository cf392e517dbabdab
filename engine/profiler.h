// Per-kernel wall-time accounting (YOCO_PROFILE=1) and NVTX ranges for Nsight (YOCO_NVTX=1, CUDA builds):
// every dispatched kernel is timed and/or marked by name; report() prints the totals sorted by time.
// Both are off by default; one branch per launch when off.
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
  // NVTX ranges around kernels and training phases; stays off in builds without CUDA.
  bool nvtx() const { return nvtx_; }
  void set_nvtx(bool on);
  void add(const char* name, double seconds);
  void reset() { totals_.clear(); }
  std::string report() const;  // table of kernel, calls, total ms, share

 private:
  struct Entry {
    int64_t calls = 0;
    double seconds = 0;
  };
  bool enabled_ = false;
  bool nvtx_ = false;
  std::map<std::string, Entry> totals_;
};

Profiler& profiler();  // owned by the Context

// Times one kernel launch when profiling is on (CUDA launches are synchronised first so time is real; not
// while a CUDA graph is being captured, where a synchronisation is illegal), and wraps it in an NVTX range
// named after the kernel when NVTX is on. `name` must outlive the timer (the dispatch macro passes a literal).
class KernelTimer {
 public:
  explicit KernelTimer(const char* name);
  ~KernelTimer() {
    if (time_ || nvtx_) stop();
  }
  KernelTimer(const KernelTimer&) = delete;
  KernelTimer& operator=(const KernelTimer&) = delete;

 private:
  void stop();
  const char* name_;
  bool time_ = false, nvtx_ = false;
  std::chrono::steady_clock::time_point t0_;
};

// An NVTX range for a scope (a training phase: epoch, batch, matching step); a no-op unless YOCO_NVTX=1 in
// a CUDA build. `name` must outlive the range.
class NvtxRange {
 public:
  explicit NvtxRange(const char* name);
  ~NvtxRange() {
    if (on_) pop();
  }
  NvtxRange(const NvtxRange&) = delete;
  NvtxRange& operator=(const NvtxRange&) = delete;

 private:
  static void pop();
  bool on_;
};

}  // namespace yoco
