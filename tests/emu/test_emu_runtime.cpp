// The emulator itself (tests/emu/emu_cuda.*), on small kernels of its own: shuffle semantics with widths, atomics,
// exited threads, NaN-poisoned shared memory, deferred async copies, the provoked race, and the misuse it reports.
#include <doctest/doctest.h>
#include <cmath>
#include <functional>
#include <string>
#include <vector>
#include "kernels/cuda_check.cuh"
#include "tests/emu/shadow/cuda_pipeline_primitives.h"

using yoco::kernels::cuda::launch_grid;

namespace {

constexpr unsigned kFull = 0xffffffffu;

// Lane l of warp w holds 100 w + l; each op's result goes to out[op * n + thread].
__global__ void shuffle_kernel(int* out, int n) {
  const int t = static_cast<int>(threadIdx.x), v = 100 * (t / 32) + t % 32;
  out[0 * n + t] = __shfl_down_sync(kFull, v, 3, 8);
  out[1 * n + t] = __shfl_up_sync(kFull, v, 2, 16);
  out[2 * n + t] = __shfl_xor_sync(kFull, v, 9, 8);  // bit 3 reaches into the neighbouring group of 8
  out[3 * n + t] = __shfl_sync(kFull, v, 7, 4);      // source 7 % 4 of each group of 4
  out[4 * n + t] = static_cast<int>(__shfl_xor_sync(kFull, static_cast<double>(v) + 0.5, 16));
}

// CUDA's documented results: out-of-group sources (later groups) give the lane its own value.
int expected_shuffle(int op, int t) {
  const int lane = t % 32, v = t / 32 * 100;
  auto at = [&](int src) { return v + src; };
  switch (op) {
    case 0: return lane % 8 + 3 < 8 ? at(lane + 3) : at(lane);
    case 1: return lane % 16 >= 2 ? at(lane - 2) : at(lane);
    case 2: return (lane ^ 9) < (lane / 8 + 1) * 8 ? at(lane ^ 9) : at(lane);
    case 3: return at(lane / 4 * 4 + 3);
    default: return at(lane ^ 16);
  }
}

__global__ void atomic_kernel(unsigned long long* sum, unsigned long long* lo, float* fsum) {
  const unsigned long long g = blockIdx.x * blockDim.x + threadIdx.x;
  atomicAdd(sum, g);
  atomicMin(lo, 1000 - g);
  atomicAdd(fsum, 1.f);
}

// Threads past `live` return at once; the others pass two barriers and count themselves through shared memory.
__global__ void exit_kernel(int live, int* out) {
  __shared__ int count[1];
  if (static_cast<int>(threadIdx.x) >= live) return;
  if (threadIdx.x == 0) count[0] = 0;
  __syncthreads();
  atomicAdd(count, 1);
  __syncthreads();
  out[blockIdx.x * blockDim.x + threadIdx.x] = count[0];
}

// Reads shared memory no thread wrote in this block (block 0 writes it afterwards, block 1 must not see that).
__global__ void poison_kernel(float* out) {
  __shared__ float sh[64];
  out[blockIdx.x * blockDim.x + threadIdx.x] = sh[threadIdx.x];
  sh[threadIdx.x] = 1.f;
}

// Each thread stages its element with an async copy and reads it before and after waiting.
__global__ void pipeline_kernel(const float* in, float* before, float* after) {
  __shared__ float buf[64];
  const int t = static_cast<int>(threadIdx.x);
  __pipeline_memcpy_async(buf + t, in + t, sizeof(float));
  __pipeline_commit();
  before[t] = buf[t];
  __pipeline_wait_prior(0);
  after[t] = buf[t];
}

// Lane 0 of each warp writes its slot, then (no barrier: the bug) every thread adds all the slots.
__global__ void race_kernel(float* out) {
  __shared__ float slot[8];
  const int t = static_cast<int>(threadIdx.x);
  if (t % 32 == 0) slot[t / 32] = 1.f;
  float s = 0.f;
  for (int w = 0; w < 8; ++w) s += slot[w];
  out[blockIdx.x * blockDim.x + t] = s;
}

__global__ void divergent_barrier_kernel() {
  if (threadIdx.x < 32)
    __syncthreads();
  else
    __syncthreads();
}

__global__ void exited_lane_shuffle_kernel(float* out) {
  if (threadIdx.x % 32 == 5) return;
  out[threadIdx.x] = __shfl_down_sync(kFull, 1.f, 1);
}

__global__ void partial_mask_kernel(float* out) {
  if (threadIdx.x % 32 >= 16) return;
  out[threadIdx.x] = __shfl_sync(0x0000ffffu, 1.f, 0);
}

__global__ void dynamic_smem_kernel(float* out) {
  EMU_EXTERN_SHARED(float, dyn);  // what tests/emu/emulate_cu.cmake makes of `extern __shared__ float dyn[];`
  dyn[threadIdx.x] = static_cast<float>(threadIdx.x);
  __syncthreads();
  out[threadIdx.x] = dyn[blockDim.x - 1 - threadIdx.x];
}

std::string launch_error(const std::function<void()>& run) {
  try {
    run();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "<no error>";
}

bool has(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("emulated shuffles follow CUDA's width and out-of-range rules") {
  emu::Stream st;
  const int n = 64;
  std::vector<int> out(5 * n, -1);
  launch_grid(shuffle_kernel, 1, n, 0, st.get(), out.data(), n);
  for (int op = 0; op < 5; ++op)
    for (int t = 0; t < n; ++t) {
      CAPTURE(op);
      CAPTURE(t);
      CHECK(out[static_cast<size_t>(op * n + t)] == expected_shuffle(op, t));
    }
}

TEST_CASE("emulated atomics and exited threads") {
  emu::Stream st;
  unsigned long long sum = 0, lo = ~0ull;
  float fsum = 0.f;
  launch_grid(atomic_kernel, 3, 96, 0, st.get(), &sum, &lo, &fsum);
  CHECK(sum == 287ull * 288 / 2);
  CHECK(lo == 1000 - 287);
  CHECK(fsum == 288.f);
  // Threads that return early no longer hold up __syncthreads (as on a GPU), in every block.
  std::vector<int> out(2 * 128, -1);
  launch_grid(exit_kernel, 2, 128, 0, st.get(), 70, out.data());
  for (int b = 0; b < 2; ++b)
    for (int t = 0; t < 128; ++t) CHECK(out[static_cast<size_t>(b * 128 + t)] == (t < 70 ? 70 : -1));
}

TEST_CASE("emulated shared memory is NaN in every block until written; async copies land at the wait") {
  emu::Stream st;
  std::vector<float> out(2 * 64, 0.f);
  launch_grid(poison_kernel, 2, 64, 0, st.get(), out.data());
  for (float v : out) CHECK(std::isnan(v));
  const std::vector<float> in(64, 3.f);
  std::vector<float> before(64, 0.f), after(64, 0.f);
  launch_grid(pipeline_kernel, 1, 64, 0, st.get(), in.data(), before.data(), after.data());
  for (int t = 0; t < 64; ++t) {
    CHECK(std::isnan(before[static_cast<size_t>(t)]));
    CHECK(after[static_cast<size_t>(t)] == 3.f);
  }
}

TEST_CASE("a missing barrier shows: the last warp runs each stretch after the others") {
  emu::Stream st;
  std::vector<float> out(4 * 256, 0.f);
  launch_grid(race_kernel, 4, 256, 0, st.get(), out.data());
  // In every block the 7 other warps read before the last warp wrote its slot, so they all see NaN; lane 0 of the
  // last warp writes, then reads all 8 slots (its lanes race with it, as on a GPU). The last warp advances by one
  // per block: exactly so, not by the luck of the OS scheduler.
  int prev = -1;
  for (int b = 0; b < 4; ++b) {
    int last = -1;
    bool others_stale = true;
    for (int t = 0; t < 256; ++t) {
      const float v = out[static_cast<size_t>(b * 256 + t)];
      if (t % 32 == 0 && v == 8.f) last = t / 32;
    }
    REQUIRE(last >= 0);
    for (int t = 0; t < 256; ++t)
      if (t / 32 != last) others_stale = others_stale && std::isnan(out[static_cast<size_t>(b * 256 + t)]);
    CHECK(others_stale);
    if (prev >= 0) CHECK(last == (prev + 1) % 8);
    prev = last;
  }
}

TEST_CASE("emulated dynamic shared memory: the 48 KiB default and the opt-in attribute") {
  emu::Stream st;
  std::vector<float> out(64, -1.f);
  launch_grid(dynamic_smem_kernel, 1, 64, 64 * sizeof(float), st.get(), out.data());
  CHECK(out[0] == 63.f);
  CHECK(out[63] == 0.f);
  const auto big = [&] { launch_grid(dynamic_smem_kernel, 1, 64, 64 * 1024, st.get(), out.data()); };
  CHECK(has(launch_error(big), "exceed the kernel's limit of 49152"));
  CHECK(cudaFuncSetAttribute(dynamic_smem_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, 64 * 1024) ==
        cudaSuccess);
  CHECK(launch_error(big) == "<no error>");
  CHECK(cudaFuncSetAttribute(dynamic_smem_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, 300 * 1024) ==
        cudaErrorInvalidValue);
}

TEST_CASE("misuse undefined on a GPU is reported") {
  emu::Stream st;
  std::vector<float> out(64);
  CHECK(has(launch_error([&] { launch_grid(divergent_barrier_kernel, 1, 64, 0, st.get()); }),
            "__syncthreads reached at different call sites"));
  CHECK(has(launch_error([&] { launch_grid(exited_lane_shuffle_kernel, 1, 64, 0, st.get(), out.data()); }),
            "has exited but is named in the mask"));
  CHECK(has(launch_error([&] { launch_grid(partial_mask_kernel, 1, 32, 0, st.get(), out.data()); }),
            "partial masks are not emulated"));
}
