// Caching allocator: freed blocks go to a size-bucketed pool and are reused; live/peak bytes are counted.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include "engine/tensor.h"

namespace yoco {

struct AllocatorStats {
  size_t live_bytes = 0;    // handed out to tensors now
  size_t peak_bytes = 0;    // max of live_bytes since the last reset_peak()
  size_t cached_bytes = 0;  // held in the pool, free for reuse
  size_t system_allocs = 0; // calls that reached malloc/cudaMalloc (flat in the steady state)
};

class CachingAllocator {
 public:
  explicit CachingAllocator(Device device) : device_(device) {}
  ~CachingAllocator();
  CachingAllocator(const CachingAllocator&) = delete;
  CachingAllocator& operator=(const CachingAllocator&) = delete;

  // Returns a block of at least `bytes`; *rounded receives the size that must be passed to release().
  void* allocate(size_t bytes, size_t* rounded);
  void release(void* ptr, size_t rounded);
  void empty_cache();  // gives cached blocks back to the system
  AllocatorStats stats() const;
  void reset_peak();
  static size_t round_size(size_t bytes);

 private:
  void* system_alloc(size_t bytes);
  void system_free(void* p);
  Device device_;
  mutable std::mutex mu_;
  std::multimap<size_t, void*> pool_;  // rounded size -> free block
  AllocatorStats stats_;
};

}  // namespace yoco
