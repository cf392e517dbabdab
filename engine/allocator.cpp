// Caching allocator: size-bucketed free lists so steady-state training never touches malloc or page faults.
#include "engine/allocator.h"
#include <cstdlib>
#include <new>
#include <unordered_set>
#include "engine/cuda_runtime.h"

namespace yoco {

size_t CachingAllocator::round_size(size_t bytes) {
  // Small blocks to 512 B, medium to 64 KiB, large to 1 MiB: bounded waste, many reuse hits.
  if (bytes == 0) bytes = 1;
  size_t q = bytes < (1u << 20) ? 512 : bytes < (64u << 20) ? (64u << 10) : (1u << 20);
  return (bytes + q - 1) / q * q;
}

void* CachingAllocator::system_alloc(size_t bytes) {
  if (device_ == Device::CUDA) return cudart::malloc_device(bytes);
  void* p = std::aligned_alloc(64, bytes);
  if (!p) throw Error(cat("out of host memory allocating ", bytes, " bytes"));
  return p;
}

void CachingAllocator::system_free(void* p) {
  if (device_ == Device::CUDA)
    cudart::free_device(p);
  else
    std::free(p);
}

void* CachingAllocator::allocate(size_t bytes, size_t* rounded) {
  size_t r = round_size(bytes);
  std::lock_guard<std::mutex> lock(mu_);
  void* p = nullptr;
  auto it = pool_.lower_bound(r);
  // Accept a cached block up to 2x the request (exact bucket first thanks to lower_bound).
  if (it != pool_.end() && it->first <= 2 * r) {
    r = it->first;
    p = it->second;
    pool_.erase(it);
    stats_.cached_bytes -= r;
    if (capturing_) capture_log_.emplace_back(p, r);
  } else {
    // cudaMalloc is illegal in a captured stream, and a fresh block would not be part of the graph's memory.
    if (capturing_)
      throw Error(cat("allocation of ", bytes, " bytes during CUDA-graph capture: warm up the step first (run it "
                      "eagerly until the caching allocator holds every block it needs)"));
    try {
      p = system_alloc(r);
    } catch (const Error&) {
      // Out of memory: give the cache back and try once more.
      for (auto& kv : pool_) system_free(kv.second);
      pool_.clear();
      stats_.cached_bytes = 0;
      p = system_alloc(r);
    }
    ++stats_.system_allocs;
  }
  stats_.live_bytes += r;
  if (stats_.live_bytes > stats_.peak_bytes) stats_.peak_bytes = stats_.live_bytes;
  *rounded = r;
  return p;
}

void CachingAllocator::release(void* ptr, size_t rounded) {
  std::lock_guard<std::mutex> lock(mu_);
  stats_.live_bytes -= rounded;
  // A block freed during a capture may have been read by captured kernels: the graph keeps it too. It
  // still goes to the pool for now, because the rest of the captured step may reuse it (stream order makes
  // that safe inside one graph, as it does eagerly).
  if (capturing_) capture_log_.emplace_back(ptr, rounded);
  auto res = reserved_.find(ptr);
  if (res != reserved_.end()) {  // a graph still replays into it: keep it out of the pool
    res->second.free = true;
    stats_.reserved_bytes += rounded;
    return;
  }
  stats_.cached_bytes += rounded;
  pool_.emplace(rounded, ptr);
}

bool CachingAllocator::take_from_pool(void* p, size_t rounded) {
  auto range = pool_.equal_range(rounded);
  for (auto it = range.first; it != range.second; ++it) {
    if (it->second == p) {
      pool_.erase(it);
      return true;
    }
  }
  return false;
}

void CachingAllocator::begin_capture() {
  std::lock_guard<std::mutex> lock(mu_);
  YOCO_CHECK(!capturing_, "CUDA-graph capture: another capture is already in progress");
  capturing_ = true;
  capture_log_.clear();
}

std::vector<void*> CachingAllocator::end_capture() {
  std::lock_guard<std::mutex> lock(mu_);
  capturing_ = false;
  std::vector<void*> blocks;
  std::unordered_set<void*> seen;
  for (const auto& [p, bytes] : capture_log_) {
    if (!seen.insert(p).second) continue;
    blocks.push_back(p);
    auto it = reserved_.find(p);
    if (it != reserved_.end()) {  // already kept for an earlier graph: this one holds it as well
      ++it->second.graphs;
      continue;
    }
    Reserved r;
    r.bytes = bytes;
    r.graphs = 1;
    // Free now (back in the pool) or held by a tensor that will return it to the reserve later.
    r.free = take_from_pool(p, bytes);
    if (r.free) {
      stats_.cached_bytes -= bytes;
      stats_.reserved_bytes += bytes;
    }
    reserved_.emplace(p, r);
  }
  capture_log_.clear();
  return blocks;
}

void CachingAllocator::abort_capture() {
  std::lock_guard<std::mutex> lock(mu_);
  capturing_ = false;
  capture_log_.clear();
}

void CachingAllocator::unreserve(const std::vector<void*>& blocks) {
  std::lock_guard<std::mutex> lock(mu_);
  for (void* p : blocks) {
    auto it = reserved_.find(p);
    if (it == reserved_.end() || --it->second.graphs > 0) continue;
    if (it->second.free) {
      stats_.reserved_bytes -= it->second.bytes;
      stats_.cached_bytes += it->second.bytes;
      pool_.emplace(it->second.bytes, p);
    }
    reserved_.erase(it);
  }
}

void CachingAllocator::empty_cache() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& kv : pool_) system_free(kv.second);
  pool_.clear();
  stats_.cached_bytes = 0;
}

AllocatorStats CachingAllocator::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

void CachingAllocator::reset_peak() {
  std::lock_guard<std::mutex> lock(mu_);
  stats_.peak_bytes = stats_.live_bytes;
}

CachingAllocator::~CachingAllocator() {
  for (auto& kv : pool_) system_free(kv.second);
  for (auto& kv : reserved_)
    if (kv.second.free) system_free(kv.first);
}

}  // namespace yoco
