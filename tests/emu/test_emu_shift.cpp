// Emulated kernels/shift.cu vs the CPU oracle, bitwise: translate (both signs, shifts beyond the image and at the
// int64 extremes) and cutout (partial, empty, whole-image boxes), on shapes larger than one block.
#include <doctest/doctest.h>
#include <cstdint>
#include <limits>
#include <vector>
#include "kernels/cuda_check.cuh"
#include "kernels/shift.h"
#include "tests/emu/emu_test_util.h"

using namespace yoco::kernels;
using yoco::emu_test::bitwise_equal;
using yoco::emu_test::nans;
using yoco::emu_test::uniform;

TEST_CASE("emulated translate and cutout equal the CPU bitwise") {
  emu::Stream st;
  const int64_t big = std::numeric_limits<int64_t>::max(), small = std::numeric_limits<int64_t>::min();
  struct S {
    int64_t n, c, h, w;
  };
  // 4x3x17x23 = 4692 elements: many blocks of 256, a partial last one; 1x1x1x1; H != W both ways.
  for (S s : {S{4, 3, 17, 23}, S{1, 1, 1, 1}, S{4, 2, 9, 5}, S{4, 1, 32, 32}}) {
    CAPTURE(s.n);
    CAPTURE(s.h);
    CAPTURE(s.w);
    const size_t total = static_cast<size_t>(s.n * s.c * s.h * s.w);
    const std::vector<float> x = uniform(total, 9500 + static_cast<uint32_t>(total));
    // Per sample: inside, beyond the image, exactly the image size, int64 extremes (first s.n pairs are used).
    const std::vector<int64_t> shifts = {3, -2, -s.h - 4, s.w + 1, s.h, -s.w, big, small};
    for (int64_t sign : {int64_t{1}, int64_t{-1}}) {
      CAPTURE(sign);
      std::vector<float> want = nans(total), got = nans(total);
      cpu::translate(x.data(), shifts.data(), want.data(), s.n, s.c, s.h, s.w, sign);
      cuda::translate(x.data(), shifts.data(), got.data(), s.n, s.c, s.h, s.w, sign, st.get());
      CHECK(bitwise_equal(got, want));
    }
    const std::vector<int64_t> boxes = {1, 4, 2, 9, 3, 3, 0, s.w, 0, s.h, 0, s.w, s.h - 1, s.h, 0, 1};
    std::vector<float> want = nans(total), got = nans(total);
    cpu::cutout(x.data(), boxes.data(), want.data(), s.n, s.c, s.h, s.w);
    cuda::cutout(x.data(), boxes.data(), got.data(), s.n, s.c, s.h, s.w, st.get());
    CHECK(bitwise_equal(got, want));
  }
}
