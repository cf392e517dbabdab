// Emulated kernels/elementwise.cu vs the CPU oracle: every unary and binary op, plain and broadcast, and fills.
#include <doctest/doctest.h>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>
#include "kernels/cuda_check.cuh"
#include "kernels/elementwise.h"
#include "tests/emu/emu_test_util.h"

using namespace yoco::kernels;
using yoco::emu_test::nans;
using yoco::emu_test::uniform;

namespace {

// Same value, NaN matching NaN (the CPU's vector loops and the scalar emulation may set a NaN's sign differently).
bool same_values(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(a[i]) && std::isnan(b[i])) continue;
    if (std::memcmp(&a[i], &b[i], sizeof(float)) != 0) return false;
  }
  return true;
}

// Row-major broadcast of x (shape xs) and y (shape ys) to out (shape os), all of rank os.size().
Broadcast broadcast_of(const std::vector<int64_t>& os, const std::vector<int64_t>& xs, const std::vector<int64_t>& ys) {
  Broadcast bc;
  bc.ndim = static_cast<int>(os.size());
  int64_t sx = 1, sy = 1;
  for (int d = bc.ndim - 1; d >= 0; --d) {
    bc.shape[d] = os[static_cast<size_t>(d)];
    bc.stride_x[d] = xs[static_cast<size_t>(d)] == 1 ? 0 : sx;
    bc.stride_y[d] = ys[static_cast<size_t>(d)] == 1 ? 0 : sy;
    sx *= xs[static_cast<size_t>(d)];
    sy *= ys[static_cast<size_t>(d)];
  }
  return bc;
}

}  // namespace

TEST_CASE("emulated unary ops equal the CPU") {
  // Host libm on both sides (the CPU loop may take glibc's vector expf/logf/powf, which round like the scalar
  // ones on these inputs): the comparison is exact.
  const int64_t n = 1000;
  const std::vector<float> x = uniform(static_cast<size_t>(n), 8000, -3.f, 3.f);
  emu::Stream st;
  const UnaryOp ops[] = {UnaryOp::Neg,  UnaryOp::Exp,       UnaryOp::Log,       UnaryOp::Sqrt,
                         UnaryOp::Rsqrt, UnaryOp::Abs,      UnaryOp::Sign,      UnaryOp::Relu,
                         UnaryOp::AddScalar, UnaryOp::MulScalar, UnaryOp::PowScalar, UnaryOp::Clamp};
  for (UnaryOp op : ops) {
    CAPTURE(static_cast<int>(op));
    std::vector<float> want(static_cast<size_t>(n)), got = nans(static_cast<size_t>(n));
    cpu::unary(op, x.data(), want.data(), n, 0.5f, 1.25f);
    cuda::unary(op, x.data(), got.data(), n, 0.5f, 1.25f, st.get());
    CHECK(same_values(got, want));
  }
}

TEST_CASE("emulated binary ops equal the CPU, plain and broadcast") {
  emu::Stream st;
  const BinaryOp ops[] = {BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div, BinaryOp::ReluMask,
                          BinaryOp::ClampMask};
  struct Bc {
    std::vector<int64_t> out, xs, ys;
  };
  const std::vector<Bc> shapes = {
      {{700}, {700}, {700}},                 // plain (no broadcast record)
      {{4, 3, 50}, {4, 1, 50}, {1, 3, 1}},   // both broadcast, different dims
      {{6, 40}, {6, 40}, {6, 1}},            // a per-row scalar
      {{5, 2, 3, 7}, {1, 2, 1, 7}, {5, 1, 3, 1}},
  };
  for (size_t si = 0; si < shapes.size(); ++si) {
    const Bc& s = shapes[si];
    int64_t n = 1, nx = 1, ny = 1;
    for (size_t d = 0; d < s.out.size(); ++d) n *= s.out[d], nx *= s.xs[d], ny *= s.ys[d];
    const std::vector<float> x = uniform(static_cast<size_t>(nx), 8100 + static_cast<uint32_t>(si), -2.f, 2.f);
    const std::vector<float> y = uniform(static_cast<size_t>(ny), 8200 + static_cast<uint32_t>(si), -2.f, 2.f);
    const Broadcast bc = broadcast_of(s.out, s.xs, s.ys);
    const Broadcast* pbc = si == 0 ? nullptr : &bc;
    for (BinaryOp op : ops) {
      CAPTURE(si);
      CAPTURE(static_cast<int>(op));
      std::vector<float> want(static_cast<size_t>(n)), got = nans(static_cast<size_t>(n));
      cpu::binary(op, x.data(), y.data(), want.data(), n, -0.5f, 0.75f, pbc);
      cuda::binary(op, x.data(), y.data(), got.data(), n, -0.5f, 0.75f, pbc, st.get());
      CHECK(same_values(got, want));
    }
  }
}

TEST_CASE("emulated fills") {
  emu::Stream st;
  std::vector<float> f = nans(300);
  cuda::fill(f.data(), 299, 2.5f, st.get());
  CHECK(f[0] == 2.5f);
  CHECK(f[298] == 2.5f);
  CHECK(std::isnan(f[299]));  // nothing past n
  std::vector<int64_t> v(600, -7);
  cuda::fill_i64(v.data(), 599, int64_t(1) << 40, st.get());
  CHECK(v[0] == int64_t(1) << 40);
  CHECK(v[598] == int64_t(1) << 40);
  CHECK(v[599] == -7);
}
