// Emulated kernels/softmax_loss.cu vs the CPU oracle: log_softmax, one_hot, the device label check and its error
// record, and the fused per-sample statistics (the shared-memory tile kernel and every lane-group instantiation).
#include <doctest/doctest.h>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>
#include "kernels/cuda_check.cuh"
#include "kernels/softmax_loss.h"
#include "tests/emu/emu_test_util.h"

using namespace yoco::kernels;
using yoco::emu_test::bitwise_equal;
using yoco::emu_test::nans;
using yoco::emu_test::scaled_err;
using yoco::emu_test::uniform;

namespace {

// Labels (i * 7 + 3) % c, with the given rows made bad (-1 or c) for the checks that expect them.
std::vector<int64_t> labels_for(int64_t n, int64_t c, const std::vector<int64_t>& bad = {}) {
  std::vector<int64_t> y(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) y[static_cast<size_t>(i)] = (i * 7 + 3) % c;
  for (size_t k = 0; k < bad.size(); ++k) y[static_cast<size_t>(bad[k])] = k % 2 ? c : -1;
  return y;
}

// Logits in [-4, 4) with awkward rows mixed in: exact ties for the maximum (the first one wins), a -inf entry,
// a row where the label is the argmax with p ~ 1.
std::vector<float> logits_for(int64_t n, int64_t c, uint32_t seed, const std::vector<int64_t>& y) {
  std::vector<float> x = uniform(static_cast<size_t>(n * c), seed, -4.f, 4.f);
  for (int64_t i = 0; i < n; ++i) {
    float* r = x.data() + i * c;
    if (i % 5 == 1 && c > 2) r[c - 1] = r[c / 2] = 5.f;  // tie, first maximum in the middle
    if (i % 7 == 2 && c > 1) r[0] = -INFINITY;
    const int64_t yi = y[static_cast<size_t>(i)];
    if (i % 11 == 4 && yi >= 0 && yi < c) r[yi] = 30.f;  // p_y rounds to 1 in float
  }
  return x;
}

struct Stats {
  std::vector<float> el2n, loss, correct, margin, entropy;
  explicit Stats(int64_t n)
      : el2n(nans(static_cast<size_t>(n))), loss(el2n), correct(el2n), margin(el2n), entropy(el2n) {}
};

// tol < 0: bitwise.
void check_stats(int64_t n, int64_t c, double tol, uint32_t seed) {
  CAPTURE(n);
  CAPTURE(c);
  const std::vector<int64_t> bad = {n / 3, n - 1};
  const std::vector<int64_t> y_bad = labels_for(n, c, bad);
  const std::vector<float> x = logits_for(n, c, seed, y_bad);
  // The CPU oracle needs valid labels: give the bad rows any label there and skip them in the comparison.
  std::vector<int64_t> y_ok = y_bad;
  for (int64_t r : bad) y_ok[static_cast<size_t>(r)] = 0;
  Stats want(n), got(n);
  cpu::per_sample_stats(x.data(), y_ok.data(), n, c, want.el2n.data(), want.loss.data(), want.correct.data(),
                        want.margin.data(), want.entropy.data());
  emu::Stream st;
  cuda::per_sample_stats(x.data(), y_bad.data(), n, c, got.el2n.data(), got.loss.data(), got.correct.data(),
                         got.margin.data(), got.entropy.data(), st.get());
  for (std::vector<float>* v : {&got.el2n, &got.loss, &got.correct, &got.margin, &got.entropy}) {
    for (int64_t r : bad) {
      CHECK(std::isnan((*v)[static_cast<size_t>(r)]));  // a bad label gives NaN statistics
      (*v)[static_cast<size_t>(r)] = 0.f;
    }
  }
  for (std::vector<float>* v : {&want.el2n, &want.loss, &want.correct, &want.margin, &want.entropy})
    for (int64_t r : bad) (*v)[static_cast<size_t>(r)] = 0.f;
  CHECK(bitwise_equal(got.correct, want.correct));  // argmax ties resolve alike
  if (tol < 0) {
    CHECK(bitwise_equal(got.el2n, want.el2n));
    CHECK(bitwise_equal(got.loss, want.loss));
    CHECK(bitwise_equal(got.margin, want.margin));
    CHECK(bitwise_equal(got.entropy, want.entropy));
  } else {
    CHECK(scaled_err(got.el2n, want.el2n) <= tol);
    CHECK(scaled_err(got.loss, want.loss) <= tol);
    CHECK(scaled_err(got.margin, want.margin) <= tol);
    CHECK(scaled_err(got.entropy, want.entropy) <= tol);
  }

  // Null outputs are skipped, the others unchanged.
  std::vector<float> loss_only = nans(static_cast<size_t>(n));
  cuda::per_sample_stats(x.data(), y_bad.data(), n, c, nullptr, loss_only.data(), nullptr, nullptr, nullptr, st.get());
  for (int64_t r : bad) loss_only[static_cast<size_t>(r)] = 0.f;
  CHECK(bitwise_equal(loss_only, got.loss));
}

}  // namespace

TEST_CASE("emulated log_softmax and one_hot equal the CPU bitwise") {
  emu::Stream st;
  const int64_t shapes[][2] = {{1, 1}, {5, 10}, {300, 7}, {3, 200}};
  for (const auto& s : shapes) {
    const int64_t n = s[0], c = s[1];
    CAPTURE(n);
    CAPTURE(c);
    const std::vector<int64_t> y = labels_for(n, c);
    const std::vector<float> x = logits_for(n, c, 5000 + static_cast<uint32_t>(n), y);
    const size_t total = static_cast<size_t>(n * c);
    std::vector<float> want(total), got = nans(total);
    cpu::log_softmax(x.data(), want.data(), n, c);
    cuda::log_softmax(x.data(), got.data(), n, c, st.get());
    CHECK(bitwise_equal(got, want));
    std::vector<float> oh_want(total), oh_got = nans(total);
    cpu::one_hot(y.data(), n, c, oh_want.data());
    cuda::one_hot(y.data(), n, c, oh_got.data(), st.get());
    CHECK(bitwise_equal(oh_got, oh_want));
  }
  // A bad label gives a row of zeros, never a write outside the row.
  const std::vector<int64_t> y = {1, -1, 3, 2};
  std::vector<float> oh = nans(4 * 3 + 1);
  cuda::one_hot(y.data(), 4, 3, oh.data(), st.get());
  CHECK(std::isnan(oh[12]));
  const std::vector<float> want = {0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  CHECK(bitwise_equal(std::vector<float>(oh.begin(), oh.begin() + 12), want));
}

TEST_CASE("emulated label check records the first bad sample of the first failing op") {
  emu::Stream st;
  LabelErrorRecord rec;
  std::memset(&rec, 0xff, sizeof rec);  // the cleared state
  const int64_t n = 700, c = 10;        // three blocks bid for the candidate
  const std::vector<int64_t> good = labels_for(n, c);
  cuda::check_labels(good.data(), n, c, &rec, 5, st.get());
  CHECK(rec.sample == kNoLabelError);
  CHECK(rec.candidate == kNoLabelError);

  const std::vector<int64_t> bad = labels_for(n, c, {650, 300, 301});  // labels -1, c, -1
  cuda::check_labels(bad.data(), n, c, &rec, 7, st.get());
  CHECK(rec.sample == 300);
  CHECK(rec.value == bad[300]);
  CHECK(rec.classes == c);
  CHECK(rec.op == 7);
  CHECK(rec.candidate == kNoLabelError);  // reset for the next check

  // A later failing op does not overwrite the first report.
  const std::vector<int64_t> bad2 = labels_for(n, c, {3});
  cuda::check_labels(bad2.data(), n, c, &rec, 9, st.get());
  CHECK(rec.sample == 300);
  CHECK(rec.op == 7);
  CHECK(rec.candidate == kNoLabelError);
}

TEST_CASE("emulated per_sample_stats: shared-memory tile kernel (C <= 32)") {
  // Tile kernel rows run the CPU's sequential row math (per_sample_stats_row): the same bits.
  constexpr double kTol = -1;
  check_stats(300, 1, kTol, 5100);    // 2 tiles, one block; c == 1: every margin is p_y = 1
  check_stats(1263, 10, kTol, 5101);  // 5 tiles over 2 blocks: blocks stream 3 and 2 tiles, the last one partial
  check_stats(700, 32, kTol, 5102);   // 66 KiB of shared memory: needs the opt-in attribute
}

TEST_CASE("emulated per_sample_stats: lane-group kernels (C > 32)") {
  // Lanes sum their columns and combine by a butterfly: another order than the CPU's row loop (measured: <= 2e-7).
  constexpr double kTol = 1e-6;
  check_stats(130, 33, kTol, 5200);   // 4 lanes x 16 registers; the last block's rows partly past n
  check_stats(70, 100, kTol, 5201);   // 4 x 25
  check_stats(65, 128, kTol, 5202);   // 4 x 32
  check_stats(20, 300, kTol, 5203);   // a warp per row, 256 columns in registers, the rest read twice
}
