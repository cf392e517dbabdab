// Emulated kernels/optim.cu and kernels/rng.cu vs the CPU: the fused SGD step, and Philox streams bit for bit.
#include <doctest/doctest.h>
#include <cstdint>
#include <vector>
#include "kernels/cuda_check.cuh"
#include "kernels/optim.h"
#include "kernels/rng.h"
#include "tests/emu/emu_test_util.h"

using namespace yoco::kernels;
using yoco::emu_test::bitwise_equal;
using yoco::emu_test::nans;
using yoco::emu_test::uniform;

TEST_CASE("emulated sgd_update equals the CPU bitwise over steps") {
  emu::Stream st;
  const int64_t n = 777;
  const std::vector<float> g1 = uniform(static_cast<size_t>(n), 9000), g2 = uniform(static_cast<size_t>(n), 9001);
  struct Cfg {
    float lr, momentum, wd;
  };
  for (const Cfg& c : {Cfg{0.1f, 0.9f, 5e-4f}, Cfg{0.01f, 0.f, 0.f}, Cfg{0.05f, 0.5f, 0.f}}) {
    CAPTURE(c.momentum);
    std::vector<float> p_cpu = uniform(static_cast<size_t>(n), 9002), p_emu = p_cpu;
    std::vector<float> b_cpu(static_cast<size_t>(n), 0.f), b_emu = nans(static_cast<size_t>(n));  // step 1 sets it
    float* bc = c.momentum != 0.f ? b_cpu.data() : nullptr;
    float* be = c.momentum != 0.f ? b_emu.data() : nullptr;
    for (int step = 0; step < 2; ++step) {
      const std::vector<float>& g = step == 0 ? g1 : g2;
      cpu::sgd_update(p_cpu.data(), g.data(), bc, n, c.lr, c.momentum, c.wd, step == 0);
      cuda::sgd_update(p_emu.data(), g.data(), be, n, c.lr, c.momentum, c.wd, step == 0, st.get());
    }
    CHECK(bitwise_equal(p_emu, p_cpu));
    if (bc) CHECK(bitwise_equal(b_emu, b_cpu));
  }
}

TEST_CASE("emulated Philox uniform and normal streams equal the CPU's bit for bit") {
  emu::Stream st;
  struct Key {
    uint64_t seed, stream, offset;
  };
  // Offsets off the 4-word block boundary, and keys using the high 32 bits of seed, stream and offset.
  const Key keys[] = {{1, 0, 0}, {42, 11, 3}, {0x123456789abcdefull, 0xfedcba9876543210ull, (1ull << 33) + 5}};
  for (const Key& k : keys) {
    CAPTURE(k.seed);
    const int64_t n = 1030;
    std::vector<float> want(static_cast<size_t>(n)), got = nans(static_cast<size_t>(n));
    cpu::rng_uniform(want.data(), n, k.seed, k.stream, k.offset, -0.5f, 2.f);
    cuda::rng_uniform(got.data(), n, k.seed, k.stream, k.offset, -0.5f, 2.f, st.get());
    CHECK(bitwise_equal(got, want));
    // The normal stream uses host logf/cosf on both sides here (the device's differ by a few ulp).
    std::vector<float> nwant(static_cast<size_t>(n)), ngot = nans(static_cast<size_t>(n));
    cpu::rng_normal(nwant.data(), n, k.seed, k.stream, k.offset, 0.25f, 1.5f);
    cuda::rng_normal(ngot.data(), n, k.seed, k.stream, k.offset, 0.25f, 1.5f, st.get());
    CHECK(bitwise_equal(ngot, nwant));
  }
}
