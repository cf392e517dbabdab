// Shared kernel-layer definitions: the host/device qualifier and the one check-macro family.
#pragma once
#include <cstdint>
#include <cstring>
#include <sstream>
#include <stdexcept>
#include <string>

#if defined(__CUDACC__)
#define YOCO_HD __host__ __device__ __forceinline__
#else
#define YOCO_HD inline
#endif

namespace yoco {

// v where keep holds, else +0, without a branch. GCC will not turn a float select such as `y > 0 ? v : 0` into
// a blend (under the default -ftrapping-math), so hot loops kept a branch that mispredicts on random signs; an
// integer mask vectorises. NaN v passes through where keep holds, as the ternary would.
YOCO_HD float keep_or_zero(bool keep, float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  bits &= keep ? 0xffffffffu : 0u;
  std::memcpy(&v, &bits, sizeof v);
  return v;
}

// Every failed precondition or library call throws this, with file:line and a message naming shapes.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

[[noreturn]] inline void throw_error(const char* file, int line, const std::string& what) {
  std::ostringstream os;
  os << file << ":" << line << ": " << what;
  throw Error(os.str());
}

namespace detail {
inline void stream_all(std::ostringstream&) {}
template <class T, class... R>
void stream_all(std::ostringstream& os, const T& v, const R&... rest) {
  os << v;
  stream_all(os, rest...);
}
}  // namespace detail

template <class... A>
std::string cat(const A&... a) {
  std::ostringstream os;
  detail::stream_all(os, a...);
  return os.str();
}

}  // namespace yoco

// YOCO_CHECK(cond, msg parts...): throws yoco::Error("file:line: check `cond` failed: msg").
#define YOCO_CHECK(cond, ...)                                                                   \
  do {                                                                                          \
    if (!(cond))                                                                                \
      ::yoco::throw_error(__FILE__, __LINE__,                                                   \
                          ::yoco::cat("check `" #cond "` failed: ", ##__VA_ARGS__));            \
  } while (0)

// YOCO_CHECK_GEN(expr, ok, to_str): library status check (CUDA, cuBLAS, cuDNN wrap this).
#define YOCO_CHECK_GEN(expr, ok, to_str)                                                        \
  do {                                                                                          \
    auto yoco_status_ = (expr);                                                                 \
    if (yoco_status_ != (ok))                                                                   \
      ::yoco::throw_error(__FILE__, __LINE__,                                                   \
                          ::yoco::cat(#expr " failed: ", to_str(yoco_status_)));                \
  } while (0)

namespace yoco::kernels {
inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
// Library and launch arguments that are int (cuBLAS, cuDNN, grid sizes): refuse silently truncating casts.
inline int to_int(int64_t v, const char* what) {
  YOCO_CHECK(v >= 0 && v <= 2147483647, what, " = ", v, " does not fit a 32-bit library argument");
  return static_cast<int>(v);
}
}  // namespace yoco::kernels
