// Emulator shadow of NVTX (engine/profiler.cpp's ranges): no-ops, so the emulated engine needs no CUDA toolkit.
#pragma once

inline int nvtxRangePushA(const char*) { return 0; }
inline int nvtxRangePop() { return 0; }
