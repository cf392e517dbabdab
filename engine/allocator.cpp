// Caching allocator: size-bucketed free lists so steady-state training never touches malloc or page faults.
#include "engine/allocator.h"
#include <cstdlib>
#include <new>
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
  } else {
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
  stats_.cached_bytes += rounded;
  pool_.emplace(rounded, ptr);
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
}

}  // namespace yoco
