// Emulated kernels/color.cu vs the CPU oracle: every mode and part set, flips mixed per sample, planes of one
// pixel to several block strides, C = 1, 3, 5. The contrast mean's double sum runs in another order (per-thread
// strides, then block_sum's tree), so agreement is to float rounding, not bitwise.
#include <doctest/doctest.h>
#include <cstdint>
#include <vector>
#include "kernels/color.h"
#include "kernels/cuda_check.cuh"
#include "tests/emu/emu_test_util.h"

using namespace yoco::kernels;
using yoco::emu_test::bitwise_equal;
using yoco::emu_test::nans;
using yoco::emu_test::scaled_err;
using yoco::emu_test::uniform;

TEST_CASE("emulated dsa_color equals the CPU to float rounding, deterministically") {
  emu::Stream st;
  struct S {
    int64_t n, c, h, w;
  };
  // 17x23 = 391 and 40x33 = 1320 pixels: several strides of 256 threads, a partial last one; 1x1; W = 40 > H.
  for (S s : {S{4, 3, 17, 23}, S{2, 1, 1, 1}, S{3, 5, 9, 40}, S{2, 3, 40, 33}}) {
    CAPTURE(s.n);
    CAPTURE(s.c);
    CAPTURE(s.h);
    CAPTURE(s.w);
    const size_t total = static_cast<size_t>(s.n * s.c * s.h * s.w);
    const std::vector<float> x = uniform(total, 9700 + static_cast<uint32_t>(total));
    // (flip, brightness, saturation, contrast) per sample; the first s.n rows are used.
    const std::vector<float> params = {1.f, 0.3f, 1.7f, 0.6f, 0.f, -0.4f, 0.2f, 1.4f,
                                       1.f, 0.1f, 0.9f, 1.1f, 0.f, 0.45f, 1.9f, 0.55f};
    for (int ops = 0; ops <= (kColorFlip | kColorColor); ++ops)
      for (int mode : {kColorForward, kColorAdjoint, kColorLinear}) {
        CAPTURE(ops);
        CAPTURE(mode);
        std::vector<float> want = nans(total), got = nans(total), again = nans(total);
        cpu::dsa_color(x.data(), params.data(), want.data(), s.n, s.c, s.h, s.w, ops, mode);
        cuda::dsa_color(x.data(), params.data(), got.data(), s.n, s.c, s.h, s.w, ops, mode, st.get());
        cuda::dsa_color(x.data(), params.data(), again.data(), s.n, s.c, s.h, s.w, ops, mode, st.get());
        if (ops & kColorColor)
          CHECK(scaled_err(got, want) <= 1e-6);  // NaN (an element not written) fails too
        else
          CHECK(bitwise_equal(got, want));  // a gather: no arithmetic to round
        CHECK(bitwise_equal(again, got));
      }
  }
}
