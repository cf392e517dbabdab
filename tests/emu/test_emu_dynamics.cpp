// Emulated kernels/dynamics.cu vs the CPU oracle: several batches folded over epochs leave bit-identical states,
// including the per-epoch correct counts the kernel adds with integer atomics from many blocks.
#include <doctest/doctest.h>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <random>
#include <vector>
#include "kernels/cuda_check.cuh"
#include "kernels/dynamics.h"
#include "tests/emu/emu_test_util.h"

using namespace yoco::kernels;
using yoco::emu_test::bitwise_equal;
using yoco::emu_test::uniform;

namespace {

struct State {
  std::vector<float> el2n, forgetting, aum;
  std::vector<int64_t> correct_num, prev_correct;
  State(int64_t n, int64_t epochs, int64_t logged)
      : el2n(static_cast<size_t>(n * logged), 0.f),
        forgetting(static_cast<size_t>(n), 0.f),
        aum(static_cast<size_t>(n), 0.f),
        correct_num(static_cast<size_t>(epochs), 0),
        prev_correct(static_cast<size_t>(n), -1) {}
  DynamicsState view(int64_t n, int64_t logged) {
    return {el2n.data(), correct_num.data(), prev_correct.data(), forgetting.data(), aum.data(), n, logged};
  }
};

}  // namespace

TEST_CASE("emulated fold_dynamics leaves the CPU's state bit for bit") {
  const int64_t n = 900, epochs = 4, logged = 3, b = 600;  // three blocks per launch
  State cpu_st(n, epochs, logged), emu_st(n, epochs, logged);
  emu::Stream st;
  std::mt19937 rng(6000);
  std::vector<int64_t> perm(static_cast<size_t>(n));
  std::iota(perm.begin(), perm.end(), 0);
  for (int64_t epoch = 0; epoch < epochs; ++epoch) {
    std::shuffle(perm.begin(), perm.end(), rng);
    for (int64_t start = 0; start < n; start += b) {  // batches of 600 and 300
      const int64_t rows = std::min(b, n - start);
      const uint32_t seed = 6100 + static_cast<uint32_t>(epoch * 10 + start);
      const std::vector<float> el2n = uniform(static_cast<size_t>(rows), seed, 0.f, 1.4f);
      const std::vector<float> margin = uniform(static_cast<size_t>(rows), seed + 1);
      std::vector<float> correct = uniform(static_cast<size_t>(rows), seed + 2, 0.f, 1.f);
      for (size_t j = 0; j < correct.size(); ++j)
        correct[j] = j % 13 == 5 ? NAN : (correct[j] > 0.4f ? 1.f : 0.f);  // NaN: a bad CUDA label, incorrect
      const std::vector<int64_t> idx(perm.begin() + start, perm.begin() + start + rows);
      const DynamicsBatch in{el2n.data(), correct.data(), margin.data(), idx.data(), rows};
      cpu::fold_dynamics(in, epoch, cpu_st.view(n, logged));
      cuda::fold_dynamics(in, epoch, emu_st.view(n, logged), st.get());
    }
  }
  CHECK(emu_st.correct_num == cpu_st.correct_num);
  CHECK(emu_st.prev_correct == cpu_st.prev_correct);
  CHECK(bitwise_equal(emu_st.el2n, cpu_st.el2n));
  CHECK(bitwise_equal(emu_st.forgetting, cpu_st.forgetting));
  CHECK(bitwise_equal(emu_st.aum, cpu_st.aum));
  CHECK(cpu_st.correct_num[0] > 0);  // the comparison covers real counts
}
