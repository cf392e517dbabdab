// CPU emulation of the CUDA built-ins our kernels use: indices, barriers, shuffles, atomics, vector types, async copies.
//
// The kernels/*.cu files compile against this as plain C++17 (through tests/emu/shadow): every CUDA thread of a
// launch is one std::thread, the blocks of a launch run one after another, __syncthreads is a block barrier and
// each warp shuffle a two-phase exchange on a per-warp barrier (tests/emu/emu_cuda.cpp). What this checks is the
// kernels' logic: indexing, guards, barriers, shuffle patterns, shared-memory use and summation order; device
// math (expf, logf, ...) comes from the host's libm, and timing or memory-model subtleties are not modelled.
// Misuse that is undefined on a GPU is reported as a launch error (a yoco::Error) where the emulator can see it:
// __syncthreads reached at different call sites, shuffles whose mask is not the warp's lanes or names an exited
// lane, more dynamic shared memory than the launch may have, malformed async copies.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <type_traits>

// ---- qualifiers ----
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
// Static shared arrays become function statics (one block runs at a time, so one instance per kernel is right)
// in a section of their own, which the emulator fills with NaN bytes (0xff) before every block: a read of shared
// memory the block has not written shows up in its results.
#define __shared__ static __attribute__((section("emu_shared")))
// `extern __shared__ T name[];` (dynamic shared memory) cannot be a static: tests/emu/emulate_cu.cmake rewrites it
// to this, a pointer to the emulator's one dynamic buffer (every such array aliases its start, as on the GPU).
#define EMU_EXTERN_SHARED(T, name) T* const name = reinterpret_cast<T*>(::emu::dynamic_smem)

namespace emu {
constexpr size_t kDynamicSmemCapacity = 227 * 1024;  // the largest opt-in dynamic shared memory (H100/H200)
extern unsigned char dynamic_smem[kDynamicSmemCapacity];
}  // namespace emu

// ---- built-in variables and vector types ----
struct uint3 {
  unsigned x, y, z;
};
struct dim3 {
  unsigned x, y, z;
};
inline thread_local uint3 threadIdx, blockIdx;
inline thread_local dim3 blockDim, gridDim;
constexpr int warpSize = 32;

struct alignas(8) float2 {
  float x, y;
};
struct alignas(16) float4 {
  float x, y, z, w;
};
struct alignas(16) int4 {
  int x, y, z, w;
};
inline float2 make_float2(float x, float y) { return {x, y}; }
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
inline int4 make_int4(int x, int y, int z, int w) { return {x, y, z, w}; }

// ---- arithmetic intrinsics (host libm: the emulator checks logic, not device rounding of transcendental math) ----
using std::max;
using std::min;
inline float __int_as_float(int i) {
  float f;
  std::memcpy(&f, &i, sizeof f);
  return f;
}
inline int __float_as_int(float f) {
  int i;
  std::memcpy(&i, &f, sizeof i);
  return i;
}
inline float __fmaf_rn(float a, float b, float c) { return std::fmaf(a, b, c); }
inline double __fma_rn(double a, double b, double c) { return std::fma(a, b, c); }
template <class T>
T __ldg(const T* p) {
  return *p;
}

// ---- synchronisation and warp exchange (tests/emu/emu_cuda.cpp); call sites identify matching barriers ----
namespace emu {
enum class Shfl { Idx, Up, Down, Bfly };
void syncthreads(const char* file, int line);
void syncwarp(unsigned mask, const char* file, int line);
// Replaces *value (bytes <= 8) by the value of the source lane that PTX shfl.sync.<mode> selects.
void shuffle(Shfl mode, unsigned mask, void* value, size_t bytes, int b, int width, const char* file, int line);

template <class T>
T shuffle_as(Shfl mode, unsigned mask, T v, int b, int width, const char* file, int line) {
  static_assert(std::is_arithmetic_v<T> && sizeof(T) <= 8, "shuffles move one arithmetic value of <= 8 bytes");
  shuffle(mode, mask, &v, sizeof v, b, width, file, line);
  return v;
}
}  // namespace emu

inline void __syncthreads(const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  emu::syncthreads(file, line);
}
inline void __syncwarp(unsigned mask = 0xffffffffu, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  emu::syncwarp(mask, file, line);
}
template <class T>
T __shfl_sync(unsigned mask, T v, int src, int width = warpSize, const char* file = __builtin_FILE(),
              int line = __builtin_LINE()) {
  return emu::shuffle_as(emu::Shfl::Idx, mask, v, src, width, file, line);
}
template <class T>
T __shfl_up_sync(unsigned mask, T v, unsigned delta, int width = warpSize, const char* file = __builtin_FILE(),
                 int line = __builtin_LINE()) {
  return emu::shuffle_as(emu::Shfl::Up, mask, v, static_cast<int>(delta), width, file, line);
}
template <class T>
T __shfl_down_sync(unsigned mask, T v, unsigned delta, int width = warpSize, const char* file = __builtin_FILE(),
                   int line = __builtin_LINE()) {
  return emu::shuffle_as(emu::Shfl::Down, mask, v, static_cast<int>(delta), width, file, line);
}
template <class T>
T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width = warpSize, const char* file = __builtin_FILE(),
                  int line = __builtin_LINE()) {
  return emu::shuffle_as(emu::Shfl::Bfly, mask, v, lane_mask, width, file, line);
}

// ---- atomics on global or shared memory (GCC builtins: sequentially consistent, which is stronger than CUDA's
// relaxed atomics, so orderings that a kernel fails to enforce are not detected) ----
namespace emu {
template <class T>
T atomic_add_float(T* p, T v) {
  T old;
  __atomic_load(p, &old, __ATOMIC_SEQ_CST);
  for (;;) {
    T sum = old + v;
    if (__atomic_compare_exchange(p, &old, &sum, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) return old;
  }
}
template <class T>
T atomic_min(T* p, T v) {
  T old = __atomic_load_n(p, __ATOMIC_SEQ_CST);
  while (v < old && !__atomic_compare_exchange_n(p, &old, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
  }
  return old;
}
template <class T>
T atomic_max(T* p, T v) {
  T old = __atomic_load_n(p, __ATOMIC_SEQ_CST);
  while (v > old && !__atomic_compare_exchange_n(p, &old, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
  }
  return old;
}
}  // namespace emu

#define EMU_INT_ATOMICS(T)                                                                                 \
  inline T atomicAdd(T* p, T v) { return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST); }                    \
  inline T atomicSub(T* p, T v) { return __atomic_fetch_sub(p, v, __ATOMIC_SEQ_CST); }                    \
  inline T atomicExch(T* p, T v) { return __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST); }                  \
  inline T atomicMin(T* p, T v) { return emu::atomic_min(p, v); }                                          \
  inline T atomicMax(T* p, T v) { return emu::atomic_max(p, v); }                                          \
  inline T atomicCAS(T* p, T cmp, T v) {                                                                   \
    __atomic_compare_exchange_n(p, &cmp, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);                    \
    return cmp;                                                                                            \
  }
EMU_INT_ATOMICS(int)
EMU_INT_ATOMICS(unsigned)
EMU_INT_ATOMICS(unsigned long long)
#undef EMU_INT_ATOMICS
inline long long atomicMin(long long* p, long long v) { return emu::atomic_min(p, v); }
inline long long atomicMax(long long* p, long long v) { return emu::atomic_max(p, v); }
inline float atomicAdd(float* p, float v) { return emu::atomic_add_float(p, v); }
inline double atomicAdd(double* p, double v) { return emu::atomic_add_float(p, v); }

// ---- the runtime API calls the emulated files make (host equivalents; the stream is ignored: launches run to
// completion before they return, so everything is stream-ordered). engine/cuda_runtime.cu compiles against these
// too, so the emulated engine probes, allocates, copies and creates its stream through them. ----
enum cudaError_t {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorCudartUnloading = 4,
  cudaErrorStubLibrary = 34,
  cudaErrorInsufficientDriver = 35,
  cudaErrorNoDevice = 100
};
using cudaError = cudaError_t;
struct CUstream_st {};  // a stream is only a distinct handle here
using cudaStream_t = CUstream_st*;
constexpr unsigned cudaStreamNonBlocking = 1;
enum cudaFuncAttribute { cudaFuncAttributeMaxDynamicSharedMemorySize = 8 };
enum cudaMemcpyKind {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
  cudaMemcpyDefault = 4
};
enum cudaStreamCaptureStatus { cudaStreamCaptureStatusNone = 0 };

namespace emu {
cudaError_t set_max_dynamic_smem(const void* kernel, int bytes);
// Runs `body` (one call = one CUDA thread's kernel) over blocks x threads; throws yoco::Error on a bad launch or
// on misuse seen while it ran.
void launch(const void* kernel, int64_t blocks, int threads, size_t shmem, const std::function<void()>& body);
// "Device" memory is host memory: 256-byte aligned like cudaMalloc, filled with 0xff (NaN floats).
void* device_alloc(size_t bytes);
void device_free(void* p);
}  // namespace emu

inline const char* cudaGetErrorString(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    default: return "emulator: unexpected error";  // the emulated calls return no other code
  }
}
// The emulator is one device: Context::cuda_available() (and so test::cuda_ready()) sees a GPU, and CUDA tensors
// live in host memory.
inline cudaError_t cudaGetDeviceCount(int* n) {
  *n = 1;
  return cudaSuccess;
}
inline cudaError_t cudaSetDevice(int d) { return d == 0 ? cudaSuccess : cudaErrorInvalidValue; }  // its one device
inline cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned) {
  *s = new CUstream_st();
  return cudaSuccess;
}
inline cudaError_t cudaStreamDestroy(cudaStream_t s) {
  delete s;
  return cudaSuccess;
}
inline cudaError_t cudaGetLastError() { return cudaSuccess; }  // launch errors throw from emu::launch itself
inline cudaError_t cudaPeekAtLastError() { return cudaSuccess; }
template <class F>
cudaError_t cudaFuncSetAttribute(F* kernel, cudaFuncAttribute attr, int value) {
  if (attr != cudaFuncAttributeMaxDynamicSharedMemorySize) return cudaErrorInvalidValue;
  return emu::set_max_dynamic_smem(reinterpret_cast<const void*>(kernel), value);
}
inline cudaError_t cudaMemsetAsync(void* p, int v, size_t bytes, cudaStream_t = nullptr) {
  std::memset(p, v, bytes);
  return cudaSuccess;
}
inline cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind, cudaStream_t = nullptr) {
  std::memmove(dst, src, bytes);
  return cudaSuccess;
}
inline cudaError_t cudaStreamIsCapturing(cudaStream_t, cudaStreamCaptureStatus* st) {
  *st = cudaStreamCaptureStatusNone;
  return cudaSuccess;
}
inline cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
inline cudaError_t cudaMalloc(void** p, size_t bytes) {
  *p = emu::device_alloc(bytes);
  return cudaSuccess;
}
template <class T>  // the runtime's typed overload
cudaError_t cudaMalloc(T** p, size_t bytes) {
  return cudaMalloc(reinterpret_cast<void**>(p), bytes);
}
inline cudaError_t cudaFree(void* p) {
  emu::device_free(p);
  return cudaSuccess;
}
