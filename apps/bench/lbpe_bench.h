// Bandwidth benchmark of the fused per-sample statistics op (the LBPE scoring pass) against the device's copy.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include "engine/tensor.h"

namespace yoco::bench {

// For C in {10, 100}: per_sample_stats on N = 2^20 rows (2^16 on the CPU) of logits in [-5, 5] with random
// labels; median time per call over `reps` rounds of 20 back-to-back calls, for the engine op and for the bare
// kernel; bytes moved = N*C*4 (logits) + N*8 (labels) + 5*N*4 (scores); bandwidth as a fraction of the measured
// copy bandwidth (2 * bytes / time of one copy of a 512 MiB f32 tensor, 64 MiB on the CPU). Prints a table and
// returns one JSON object per C.
nlohmann::json bench_lbpe_bandwidth(Device dev, int64_t reps);

}  // namespace yoco::bench
