// Caching allocator: freed blocks go to a size-bucketed pool and are reused; live/peak bytes are counted.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>
#include "engine/tensor.h"

namespace yoco {

struct AllocatorStats {
  size_t live_bytes = 0;    // handed out to tensors now
  size_t peak_bytes = 0;    // max of live_bytes since the last reset_peak()
  size_t cached_bytes = 0;  // held in the pool, free for reuse
  size_t system_allocs = 0; // calls that reached malloc/cudaMalloc (flat in the steady state)
  size_t reserved_bytes = 0; // free blocks kept for CUDA graphs (not reusable until the graph is destroyed)
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

  // CUDA-graph capture (engine/cuda_graph.cu). Between begin_capture() and end_capture() a request that
  // misses the pool throws (cudaMalloc/cudaFree are illegal while a stream is captured), and every block
  // handed out or released is logged: the graph's kernels read and write those addresses at each replay.
  // end_capture() reserves the logged blocks for the graph: they never go back to the pool (a tensor still
  // holding one returns it to the reserve, not the pool) until unreserve() with the same list. Blocks that
  // a tensor allocated before the capture still holds (parameters, inputs, optimizer state) are the
  // caller's to keep alive while the graph is replayed.
  void begin_capture();
  std::vector<void*> end_capture();  // the blocks now reserved (each once)
  void abort_capture();              // capture failed: nothing is reserved
  void unreserve(const std::vector<void*>& blocks);

 private:
  void* system_alloc(size_t bytes);
  void system_free(void* p);
  bool take_from_pool(void* p, size_t rounded);  // removes that block from the pool if it is there
  Device device_;
  mutable std::mutex mu_;
  std::multimap<size_t, void*> pool_;  // rounded size -> free block
  AllocatorStats stats_;
  struct Reserved {
    size_t bytes = 0;
    int graphs = 0;     // graphs holding it (a block can be logged by a later capture too)
    bool free = false;  // no tensor holds it
  };
  bool capturing_ = false;
  std::vector<std::pair<void*, size_t>> capture_log_;
  std::unordered_map<void*, Reserved> reserved_;
};

}  // namespace yoco
