// Emulator shadow of CUDA's <cuda_pipeline_primitives.h>: async copies queued per thread, landing at the wait.
//
// A thread's copies are held back until __pipeline_wait_prior releases their commit group, so a kernel that reads
// staged data before waiting (or before the barrier that covers other threads' copies) reads the NaN poison.
#pragma once
#include <cstddef>
#include "tests/emu/emu_cuda.h"

namespace emu {
void pipeline_copy(void* dst, const void* src, size_t bytes, size_t zfill);
void pipeline_commit();
void pipeline_wait_prior(size_t prior);
}  // namespace emu

inline void __pipeline_memcpy_async(void* __restrict__ dst_shared, const void* __restrict__ src_global,
                                    size_t size_and_align, size_t zfill = 0) {
  emu::pipeline_copy(dst_shared, src_global, size_and_align, zfill);
}
inline void __pipeline_commit() { emu::pipeline_commit(); }
inline void __pipeline_wait_prior(size_t prior) { emu::pipeline_wait_prior(prior); }
