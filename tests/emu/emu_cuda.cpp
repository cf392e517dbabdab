// The CPU emulator's runtime: launches as one std::thread per CUDA thread, barriers, warp exchange, shared memory.
//
// A launch starts `threads` std::threads and keeps them for all its blocks, which run one after another; within a
// block the threads run concurrently. Before each block every byte of shared memory (the emu_shared section: the
// kernels' static __shared__ arrays and the dynamic buffer) is set to 0xff, NaN as float or double. A thread
// whose kernel returns leaves the block's barriers (arrive_and_drop), as an exited GPU thread no longer holds up
// __syncthreads. Barrier completions check that all live threads met at the same call site.
//
// Races are provoked, not left to the OS scheduler (which on few cores tends to run warps in one order): in each
// block one warp, the "last" warp (rotating with the block and launch index), runs each stretch between two
// __syncthreads only after every other thread has reached the end of that stretch (or exited). A missing barrier
// between a write by the last warp and a read by another warp then reads stale data or the NaN poison, in every
// block whose last warp is the writer.
//
// Serial launches: a block whose threads never meet (no __syncthreads, __syncwarp or shuffle) may run its threads
// one after another on a GPU too, and one OS thread doing so costs microseconds where a block of std::threads on a
// few cores costs milliseconds (a context switch per thread and block). So a kernel's first launch runs threaded
// and records whether any thread met another; later launches of a kernel that never did run serially, in the
// calling thread, in the same order as the threaded schedule (the last warp after the others) and with the same
// shared-memory poisoning. Should such a kernel meet another thread after all (a path its earlier launches did not
// take, e.g. dsa_color's contrast sum, skipped when only flipping), the launch fails with an error saying so
// instead of running on wrongly. As that can fail a correct kernel, serial launches are opt-in: EMU_SERIAL=1 (the
// emulated-engine tests set it; the kernel tests run every launch threaded).
//
// EMU_TRACE=1 prints each launch's grid and wall time (emulation costs about a microsecond per thread and barrier
// or shuffle round: size test shapes with it).
#include <atomic>
#include <barrier>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>
#include "kernels/common.h"
#include "tests/emu/emu_cuda.h"
#include "tests/emu/shadow/cuda_pipeline_primitives.h"
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

// Bounds of the emu_shared section (GNU ld defines them for sections whose names are C identifiers).
extern "C" unsigned char __start_emu_shared[], __stop_emu_shared[];

namespace emu {

alignas(128) __attribute__((section("emu_shared"))) unsigned char dynamic_smem[kDynamicSmemCapacity];

namespace {

constexpr size_t kDefaultDynamicSmem = 48 * 1024;  // without cudaFuncSetAttribute
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAsan = true;
#else
constexpr bool kAsan = false;
#endif

// Per-kernel opt-in limits (cudaFuncAttributeMaxDynamicSharedMemorySize). Test-process state.
std::mutex g_attr_mu;
std::map<const void*, size_t> g_max_dynamic_smem;
// Per kernel, whether any completed threaded launch had threads meet (a barrier or warp operation); kernels
// listed as false run serially from then on. Test-process state, like the limits above.
std::map<const void*, bool> g_cooperates;

enum class Kind { None, Sync, Shuffle, SyncWarp };

struct Site {
  Kind kind = Kind::None;
  const char* file = nullptr;
  int line = 0;
  bool operator==(const Site& o) const { return kind == o.kind && line == o.line && file == o.file; }
};

std::string where(const Site& s) { return yoco::cat(s.file ? s.file : "?", ":", s.line); }

struct Launch;

struct BlockDone {
  Launch* l;
  void operator()() noexcept;
};

struct WarpDone {
  Launch* l;
  int warp;
  void operator()() noexcept;
};

// A warp operation posts into slots of parity (its index in the lane's sequence of warp operations) % 2 and then
// takes one barrier phase: a lane can post operation i + 1 while slower lanes still read the slots of i, but not
// i + 2, which needs every lane past phase i + 1 and so done reading i. One phase per shuffle, not two.
struct Warp {
  int lanes = 0;  // threads of the block in this warp (32 but for a short last warp)
  std::optional<std::barrier<WarpDone>> bar;
  uint64_t value[2][32] = {};
  unsigned mask[2][32] = {};
  int width[2][32] = {};
  Site site[2][32];
  bool exited[32] = {};
  int phase = 0;  // parity of the operation being completed (the completion reads it, then flips it)
  unsigned lane_mask() const { return lanes == 32 ? 0xffffffffu : (1u << lanes) - 1u; }
};

struct Launch {
  int threads = 0;
  int64_t blocks = 0, block = 0;
  size_t shmem = 0;
  std::optional<std::barrier<BlockDone>> block_bar;
  std::vector<Site> site;
  std::vector<char> exited;
  std::vector<std::unique_ptr<Warp>> warps;
  std::mutex err_mu;
  std::string error;
  bool serial = false;                  // threads run one after another in the launching thread
  std::atomic<bool> cooperated{false};  // some thread met another (threaded launches)
  // The last-warp schedule: others_arrived[p] counts the other warps' threads at their s-th __syncthreads of the
  // block, s % 2 == p (reset when that barrier completes); other_exits counts those that have returned.
  int last_warp = -1, others = 0;
  uint64_t launch_seq = 0;
  int64_t sync_round = 0;
  std::atomic<int> others_arrived[2] = {0, 0}, other_exits{0};
  std::mutex gate_mu;
  std::condition_variable gate_cv;

  bool others_done(int parity) const { return others_arrived[parity].load() + other_exits.load() >= others; }
  void wake_gate() {
    std::lock_guard<std::mutex> lock(gate_mu);
    gate_cv.notify_all();
  }
  // The last warp's lanes wait here at kernel start (parity 1) and after their s-th __syncthreads (parity
  // (s + 1) % 2) until the others are through. A bound guards against an emulator bug turning into a hang.
  void gate(int parity) {
    std::unique_lock<std::mutex> lock(gate_mu);
    if (!gate_cv.wait_for(lock, std::chrono::seconds(60), [&] { return others_done(parity); }))
      fail("emulator: the last warp waited 60 s for the others (a kernel spinning on memory?)");
  }

  void fail(const std::string& what) {
    std::lock_guard<std::mutex> lock(err_mu);
    if (error.empty()) error = yoco::cat("block ", block, ": ", what);
  }

  // Fresh barriers and flags for the next block, and shared memory back to NaN bytes. Only one thread runs this,
  // while all others wait between blocks.
  void start_block() {
    block_bar.emplace(threads, BlockDone{this});
    const int n_warps = static_cast<int>(warps.size());
    last_warp = n_warps > 1 ? static_cast<int>((static_cast<uint64_t>(block) + launch_seq) % n_warps) : -1;
    others = last_warp >= 0 ? threads - warps[static_cast<size_t>(last_warp)]->lanes : 0;
    others_arrived[0] = others_arrived[1] = 0;
    other_exits = 0;
    sync_round = 0;
    std::fill(exited.begin(), exited.end(), 0);
    for (size_t w = 0; w < warps.size(); ++w) {
      Warp& wp = *warps[w];
      wp.bar.emplace(wp.lanes, WarpDone{this, static_cast<int>(w)});
      wp.phase = 0;
      std::fill(std::begin(wp.exited), std::end(wp.exited), false);
    }
    poison_shared();
  }

  // The dynamic buffer past the launch's request is ASan-poisoned in sanitizer builds (any access reports);
  // otherwise it is filled like the rest, so reads there see NaN, and checked after the block for writes.
  void poison_shared() const {
    unsigned char* dyn = dynamic_smem;
    std::memset(__start_emu_shared, 0xff, static_cast<size_t>(dyn - __start_emu_shared));
    std::memset(dyn, 0xff, kAsan ? used_dynamic() : kDynamicSmemCapacity);
    unsigned char* after = dyn + kDynamicSmemCapacity;
    std::memset(after, 0xff, static_cast<size_t>(__stop_emu_shared - after));
  }
  void end_block() {
    if (kAsan) return;
    for (size_t i = used_dynamic(); i < kDynamicSmemCapacity; ++i)
      if (dynamic_smem[i] != 0xff) {
        fail(yoco::cat("wrote dynamic shared memory at byte ", i, ", past the launch's ", shmem, " bytes"));
        return;
      }
  }
  size_t used_dynamic() const { return (shmem + 7) / 8 * 8; }
};

void BlockDone::operator()() noexcept {
  l->others_arrived[++l->sync_round & 1] = 0;  // every thread is here: that count is not read again before reuse
  const Site* first = nullptr;
  for (int t = 0; t < l->threads; ++t) {
    if (l->exited[t]) continue;
    if (!first) {
      first = &l->site[t];
    } else if (!(l->site[t] == *first)) {
      l->fail(yoco::cat("__syncthreads reached at different call sites (", where(*first), " and ",
                        where(l->site[t]), "): undefined on a GPU"));
      return;
    }
  }
}

// Checks one round of a warp's exchange: every live lane at the same call site, and for shuffles a mask naming
// exactly this warp's lanes, all live (partial-mask shuffles are not emulated), and one valid width.
void WarpDone::operator()() noexcept {
  Warp& w = *l->warps[warp];
  const int p = w.phase;
  w.phase ^= 1;
  int first = -1;
  for (int i = 0; i < w.lanes; ++i) {
    if (w.exited[i]) continue;
    if (first < 0) {
      first = i;
      continue;
    }
    if (!(w.site[p][i] == w.site[p][first])) {
      l->fail(yoco::cat("warp ", warp, ": lanes ", first, " and ", i, " at different warp operations (",
                        where(w.site[p][first]), " and ", where(w.site[p][i]), ")"));
      return;
    }
  }
  if (first < 0) return;
  const Kind k = w.site[p][first].kind;
  for (int i = 0; i < w.lanes; ++i) {
    if (w.exited[i]) continue;
    if (w.mask[p][i] != w.lane_mask()) {
      l->fail(yoco::cat("warp ", warp, " lane ", i, " at ", where(w.site[p][i]), ": mask 0x", std::hex, w.mask[p][i],
                        " is not the warp's lanes 0x", w.lane_mask(), std::dec,
                        " (partial masks are not emulated; lanes past the block are undefined on a GPU)"));
      return;
    }
    const int wd = w.width[p][i];
    if (k == Kind::Shuffle && (wd < 1 || wd > 32 || (wd & (wd - 1)) != 0 || wd != w.width[p][first])) {
      l->fail(yoco::cat("warp ", warp, " lane ", i, " at ", where(w.site[p][i]), ": shuffle width ", wd));
      return;
    }
  }
  for (int i = 0; i < w.lanes; ++i)
    if (w.exited[i]) {
      l->fail(yoco::cat("warp ", warp, " at ", where(w.site[p][first]), ": lane ", i,
                        " has exited but is named in the mask (undefined on a GPU)"));
      return;
    }
}

thread_local Launch* t_launch = nullptr;
thread_local int t_tid = 0;
thread_local int t_warp_ops = 0;  // warp operations this thread has posted in the current block
thread_local int t_syncs = 0;     // __syncthreads this thread has passed in the current block
std::atomic<uint64_t> g_launch_seq{0};

bool in_last_warp(const Launch& l) { return t_tid / 32 == l.last_warp; }

// A thread's async copies: committed groups (oldest first) and the open one.
struct Copy {
  void* dst;
  const void* src;
  size_t bytes, zfill;
};
thread_local std::vector<std::vector<Copy>> t_groups;
thread_local std::vector<Copy> t_open;

Launch& current(const char* what) {
  if (!t_launch) throw yoco::Error(yoco::cat("emu: ", what, " called outside an emulated kernel"));
  return *t_launch;
}

// A barrier or warp operation: threads meet. Impossible in a serial launch, whose other threads have not started
// or have finished; it ends the thread with an error naming the call site.
Launch& meeting(const char* what, const char* file, int line) {
  Launch& l = current(what);
  if (l.serial)
    throw yoco::Error(yoco::cat("emulator: ", what, " at ", file, ":", line, " in a serial launch (no earlier ",
                                "launch of this kernel had threads meet); rerun without EMU_SERIAL=1"));
  l.cooperated.store(true, std::memory_order_relaxed);
  return l;
}

// Between two blocks of a threaded launch: the completion of the barrier every thread reaches after its kernel
// body, so one barrier round (not two) separates the blocks; it runs once, while all threads wait.
struct NextBlock {
  Launch* l;
  void operator()() noexcept {
    l->end_block();
    if (++l->block < l->blocks) l->start_block();
  }
};

void run_thread(Launch& l, int tid, const std::function<void()>& body, std::barrier<NextBlock>& between) {
  t_launch = &l;
  t_tid = tid;
  threadIdx = {static_cast<unsigned>(tid), 0, 0};
  blockDim = {static_cast<unsigned>(l.threads), 1, 1};
  gridDim = {static_cast<unsigned>(l.blocks), 1, 1};
  for (int64_t b = 0; b < l.blocks; ++b) {
    blockIdx = {static_cast<unsigned>(b), 0, 0};
    t_warp_ops = 0;
    t_syncs = 0;
    const bool last = in_last_warp(l);
    if (last) l.gate(1);
    try {
      body();
    } catch (const std::exception& e) {
      l.fail(yoco::cat("thread ", tid, " threw: ", e.what()));
    }
    if (!last && l.last_warp >= 0) {
      ++l.other_exits;
      l.wake_gate();
    }
    t_groups.clear();  // copies never waited for are never read
    t_open.clear();
    Warp& w = *l.warps[tid / 32];
    l.exited[tid] = 1;
    w.exited[tid % 32] = true;
    l.block_bar->arrive_and_drop();
    w.bar->arrive_and_drop();
    between.arrive_and_wait();  // the whole block is done, and the next one set up (NextBlock)
  }
  t_launch = nullptr;
}

// All blocks of a serial launch in the calling thread: per block, the threads in the threaded schedule's order
// (the last warp after the others) on freshly poisoned shared memory; the first error ends the launch.
void run_serial(Launch& l, const std::function<void()>& body) {
  t_launch = &l;
  blockDim = {static_cast<unsigned>(l.threads), 1, 1};
  gridDim = {static_cast<unsigned>(l.blocks), 1, 1};
  const int n_warps = static_cast<int>(l.warps.size());
  for (int64_t b = 0; b < l.blocks && l.error.empty(); ++b) {
    l.block = b;
    blockIdx = {static_cast<unsigned>(b), 0, 0};
    l.last_warp = n_warps > 1 ? static_cast<int>((static_cast<uint64_t>(b) + l.launch_seq) % n_warps) : -1;
    l.poison_shared();
    for (int k = 0; k < l.threads && l.error.empty(); ++k) {
      // Threads of the other warps first, in order, then the last warp's.
      const int others = l.last_warp >= 0 ? l.threads - l.warps[static_cast<size_t>(l.last_warp)]->lanes : 0;
      const int first_last = 32 * std::max(l.last_warp, 0);
      const int tid = l.last_warp < 0 ? k : k < others ? (k < first_last ? k : k + 32) : first_last + (k - others);
      t_tid = tid;
      threadIdx = {static_cast<unsigned>(tid), 0, 0};
      t_warp_ops = 0;
      t_syncs = 0;
      try {
        body();
      } catch (const std::exception& e) {
        l.fail(yoco::cat("thread ", tid, " threw: ", e.what()));
      }
      t_groups.clear();
      t_open.clear();
    }
    l.end_block();
  }
  t_launch = nullptr;
}

bool serial_allowed() {
  const char* v = std::getenv("EMU_SERIAL");
  return v && std::string(v) == "1";
}

}  // namespace

cudaError_t set_max_dynamic_smem(const void* kernel, int bytes) {
  if (bytes < 0 || static_cast<size_t>(bytes) > kDynamicSmemCapacity) return cudaErrorInvalidValue;
  std::lock_guard<std::mutex> lock(g_attr_mu);
  g_max_dynamic_smem[kernel] = static_cast<size_t>(bytes);
  return cudaSuccess;
}

void launch(const void* kernel, int64_t blocks, int threads, size_t shmem, const std::function<void()>& body) {
  YOCO_CHECK(threads >= 1 && threads <= 1024, "emu::launch: ", threads, " threads per block");
  YOCO_CHECK(blocks >= 1 && blocks <= INT32_MAX, "emu::launch: ", blocks, " blocks");
  size_t limit = kDefaultDynamicSmem;
  {
    std::lock_guard<std::mutex> lock(g_attr_mu);
    const auto it = g_max_dynamic_smem.find(kernel);
    if (it != g_max_dynamic_smem.end()) limit = std::max(limit, it->second);
  }
  YOCO_CHECK(shmem <= limit, "emu::launch: ", shmem, " bytes of dynamic shared memory exceed the kernel's limit of ",
             limit, " (raise it with cudaFuncSetAttribute)");
  const auto t0 = std::chrono::steady_clock::now();
  Launch l;
  l.launch_seq = g_launch_seq++;
  l.threads = threads;
  l.blocks = blocks;
  l.shmem = shmem;
  l.site.resize(static_cast<size_t>(threads));
  l.exited.resize(static_cast<size_t>(threads));
  for (int w = 0; w * 32 < threads; ++w) {
    l.warps.push_back(std::make_unique<Warp>());
    l.warps.back()->lanes = std::min(32, threads - 32 * w);
  }
  if (serial_allowed()) {
    std::lock_guard<std::mutex> lock(g_attr_mu);
    const auto it = g_cooperates.find(kernel);
    l.serial = it != g_cooperates.end() && !it->second;
  }
#if defined(__SANITIZE_ADDRESS__)
  ASAN_POISON_MEMORY_REGION(dynamic_smem + l.used_dynamic(), kDynamicSmemCapacity - l.used_dynamic());
#endif
  if (l.serial) {
    run_serial(l, body);
  } else {
    l.start_block();
    std::barrier<NextBlock> between(threads, NextBlock{&l});
    std::vector<std::thread> pool;
    pool.reserve(static_cast<size_t>(threads));
    for (int t = 0; t < threads; ++t)
      pool.emplace_back(run_thread, std::ref(l), t, std::cref(body), std::ref(between));
    for (auto& t : pool) t.join();
    if (l.error.empty()) {
      std::lock_guard<std::mutex> lock(g_attr_mu);
      g_cooperates[kernel] = g_cooperates[kernel] || l.cooperated.load();
    }
  }
#if defined(__SANITIZE_ADDRESS__)
  ASAN_UNPOISON_MEMORY_REGION(dynamic_smem, kDynamicSmemCapacity);
#endif
  if (std::getenv("EMU_TRACE"))
    std::fprintf(stderr, "emu launch %lld x %d%s: %.1f ms\n", static_cast<long long>(blocks), threads,
                 l.serial ? " (serial)" : "",
                 std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  if (!l.error.empty()) throw yoco::Error("emulated launch: " + l.error);
}

void syncthreads(const char* file, int line) {
  Launch& l = meeting("__syncthreads", file, line);
  l.site[static_cast<size_t>(t_tid)] = Site{Kind::Sync, file, line};
  const int parity = ++t_syncs & 1;
  const bool last = in_last_warp(l);
  if (!last && l.last_warp >= 0 && (++l.others_arrived[parity], l.others_done(parity))) l.wake_gate();
  l.block_bar->arrive_and_wait();
  if (last) l.gate(parity ^ 1);
}

void syncwarp(unsigned mask, const char* file, int line) {
  Launch& l = meeting("__syncwarp", file, line);
  Warp& w = *l.warps[t_tid / 32];
  const int lane = t_tid % 32, p = t_warp_ops++ & 1;
  w.site[p][lane] = Site{Kind::SyncWarp, file, line};
  w.mask[p][lane] = mask;
  w.bar->arrive_and_wait();
}

// PTX shfl.sync: c = ((32 - width) << 8) | clamp, clamp = 0 for up and 31 otherwise; segmask = c[12:8];
// maxLane = (lane & segmask) | (clamp & ~segmask), minLane = lane & segmask; a source out of range reads the
// lane's own value.
void shuffle(Shfl mode, unsigned mask, void* value, size_t bytes, int b, int width, const char* file, int line) {
  Launch& l = meeting("a warp shuffle", file, line);
  Warp& w = *l.warps[t_tid / 32];
  const int lane = t_tid % 32, p = t_warp_ops++ & 1;
  std::memcpy(&w.value[p][lane], value, bytes);
  w.mask[p][lane] = mask;
  w.width[p][lane] = width;
  w.site[p][lane] = Site{Kind::Shuffle, file, line};
  w.bar->arrive_and_wait();  // all values posted; the completion has checked sites, mask and width
  const int seg = (32 - width) & 31, clamp = mode == Shfl::Up ? 0 : 31, bval = b & 31;
  const int max_lane = (lane & seg) | (clamp & ~seg), min_lane = lane & seg;
  int j = lane;
  bool in = false;
  switch (mode) {
    case Shfl::Up: j = lane - bval; in = j >= max_lane; break;
    case Shfl::Down: j = lane + bval; in = j <= max_lane; break;
    case Shfl::Bfly: j = lane ^ bval; in = j <= max_lane; break;
    case Shfl::Idx: j = min_lane | (bval & ~seg); in = j <= max_lane; break;
  }
  if (!in) j = lane;
  if (j >= w.lanes) {
    l.fail(yoco::cat("warp shuffle at ", file, ":", line, ": lane ", lane, " reads lane ", j, " past the block"));
    j = lane;
  }
  std::memcpy(value, &w.value[p][j], bytes);
}

void pipeline_copy(void* dst, const void* src, size_t bytes, size_t zfill) {
  Launch& l = current("__pipeline_memcpy_async");
  const auto addr = [](const void* p) { return reinterpret_cast<uintptr_t>(p); };
  if ((bytes != 4 && bytes != 8 && bytes != 16) || addr(dst) % bytes || addr(src) % bytes || zfill > bytes) {
    l.fail(yoco::cat("__pipeline_memcpy_async of ", bytes, " bytes (zfill ", zfill,
                     ") needs a size of 4, 8 or 16 and both addresses aligned to it"));
    return;
  }
  const auto* d = static_cast<const unsigned char*>(dst);
  if (d < __start_emu_shared || d + bytes > __stop_emu_shared)
    l.fail("__pipeline_memcpy_async: the destination is not shared memory");
  t_open.push_back(Copy{dst, src, bytes, zfill});
}

void pipeline_commit() {
  current("__pipeline_commit");
  t_groups.push_back(std::move(t_open));
  t_open.clear();
}

void pipeline_wait_prior(size_t prior) {
  current("__pipeline_wait_prior");
  while (t_groups.size() > prior) {
    for (const Copy& c : t_groups.front()) {
      std::memcpy(c.dst, c.src, c.bytes - c.zfill);
      std::memset(static_cast<unsigned char*>(c.dst) + (c.bytes - c.zfill), 0, c.zfill);
    }
    t_groups.erase(t_groups.begin());
  }
}

void* device_alloc(size_t bytes) {
  const size_t n = (std::max<size_t>(bytes, 1) + 255) / 256 * 256;
  void* p = std::aligned_alloc(256, n);
  YOCO_CHECK(p != nullptr, "emu::device_alloc: out of memory for ", bytes, " bytes");
  std::memset(p, 0xff, n);
  return p;
}

void device_free(void* p) { std::free(p); }

}  // namespace emu
