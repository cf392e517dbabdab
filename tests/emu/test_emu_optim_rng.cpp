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
  // 37 parameters (two launches of at most kSgdSegmentsPerLaunch), of sizes around the block tile (1024) and
  // below it, an empty one; from the second step on, the odd ones restart (first step) as a new buffer would.
  const int64_t count = kSgdSegmentsPerLaunch + 5;
  std::vector<int64_t> sizes(static_cast<size_t>(count));
  for (int64_t s = 0; s < count; ++s) sizes[s] = s == 3 ? 0 : (s * 389) % 2100 + 1;
  struct Cfg {
    float lr, momentum, wd;
  };
  for (const Cfg& c : {Cfg{0.1f, 0.9f, 5e-4f}, Cfg{0.01f, 0.f, 0.f}, Cfg{0.05f, 0.5f, 0.f}}) {
    CAPTURE(c.momentum);
    std::vector<std::vector<float>> p_cpu, p_emu, b_cpu, b_emu, g;
    for (int64_t s = 0; s < count; ++s) {
      const size_t n = static_cast<size_t>(sizes[s]);
      p_cpu.push_back(uniform(n, 9002 + static_cast<uint32_t>(s)));
      p_emu.push_back(p_cpu.back());
      b_cpu.push_back(std::vector<float>(n, 0.f));
      b_emu.push_back(nans(n));  // step 1 sets it
      g.push_back(uniform(n, 9500 + static_cast<uint32_t>(s)));
    }
    for (int step = 0; step < 3; ++step) {
      std::vector<SgdSegment> sc, se;
      for (int64_t s = 0; s < count; ++s) {
        const bool first = step == 0 || (step == 2 && s % 2 == 1);
        const bool mom = c.momentum != 0.f;
        sc.push_back({p_cpu[s].data(), g[s].data(), mom ? b_cpu[s].data() : nullptr, sizes[s], first});
        se.push_back({p_emu[s].data(), g[s].data(), mom ? b_emu[s].data() : nullptr, sizes[s], first});
      }
      cpu::sgd_update(sc.data(), count, c.lr, c.momentum, c.wd);
      cuda::sgd_update(se.data(), count, c.lr, c.momentum, c.wd, st.get());
    }
    for (int64_t s = 0; s < count; ++s) {
      CAPTURE(s);
      CHECK(bitwise_equal(p_emu[s], p_cpu[s]));
      if (c.momentum != 0.f) CHECK(bitwise_equal(b_emu[s], b_cpu[s]));
    }
    CHECK_FALSE(bitwise_equal(p_cpu[5], uniform(static_cast<size_t>(sizes[5]), 9002 + 5)));  // it did move
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
