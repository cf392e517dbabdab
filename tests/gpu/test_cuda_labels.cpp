// CUDA labels stay on the device: one_hot equals the CPU mask, and a bad label is reported at the next host wait
// (item, to_vector, synchronize, any download) with the CPU's message, exactly once, first op and first sample
// first. Gather/scatter indices are checked the same way. Skipped (exit 77) on machines without a CUDA device.
#include <doctest/doctest.h>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>
#include "engine/context.h"
#include "engine/ops.h"
#include "engine/per_sample.h"
#include "tests/unit/test_util.h"

using namespace yoco;
using test::contains;
using test::error_of;
using test::random_tensor;

namespace {

constexpr Device kCuda = Device::CUDA;
using test::cuda_ready;

// The message after "failed: " (drops file:line and the checked expression, which differ by backend).
std::string what_of(const std::string& err) {
  const size_t p = err.find("failed: ");
  return p == std::string::npos ? err : err.substr(p + 8);
}

std::string sync_error() {
  return error_of([] { Context::get().synchronize(); });
}

}  // namespace

TEST_CASE("CUDA one_hot equals the CPU mask") {
  if (!cuda_ready()) return;
  const int64_t shapes[][2] = {{0, 3}, {1, 1}, {5, 10}, {1000, 7}, {70001, 37}};
  for (const auto& s : shapes) {
    const int64_t n = s[0], c = s[1];
    CAPTURE(n);
    CAPTURE(c);
    std::vector<int64_t> lab(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) lab[i] = (i * 13 + 5) % c;
    Tensor cpu = one_hot(from_int_vector(lab, {n}), c);
    Tensor dev = one_hot(from_int_vector(lab, {n}, kCuda), c);
    CHECK(dev.is_cuda());
    CHECK(dev.shape() == cpu.shape());
    CHECK(dev.to_vector() == cpu.to_vector());
  }
  CHECK(sync_error() == "<no error>");
}

TEST_CASE("good CUDA labels never throw, and cross_entropy matches the CPU") {
  if (!cuda_ready()) return;
  Tensor logits = random_tensor({64, 10}, 720001, -3.f, 3.f);
  std::vector<int64_t> lab(64);
  for (int64_t i = 0; i < 64; ++i) lab[i] = (i * 7) % 10;
  Tensor labels = from_int_vector(lab, {64});
  Tensor dl = logits.to(kCuda), dy = labels.to(kCuda);
  for (int i = 0; i < 3; ++i) {
    (void)one_hot(dy, 10);
    (void)per_sample_stats(dl, dy);
  }
  const float a = cross_entropy(logits, labels).item();
  float b = 0.f;
  CHECK(error_of([&] { b = cross_entropy(dl, dy).item(); }) == "<no error>");
  CHECK(b == doctest::Approx(a).epsilon(1e-5));
  CHECK(sync_error() == "<no error>");
}

TEST_CASE("a bad CUDA label throws the CPU message at the next host wait, once") {
  if (!cuda_ready()) return;
  const std::vector<int64_t> bad = {1, 2, 9, 12, 10, -1, 0, 3};  // first bad: sample 3, label 12
  Tensor cl = from_int_vector(bad, {8}), dy = cl.to(kCuda);
  Tensor cx = random_tensor({8, 10}, 720011), dx = cx.to(kCuda);
  const std::string ce_cpu = what_of(error_of([&] { (void)cross_entropy(cx, cl); }));
  REQUIRE(ce_cpu == "cross_entropy: label 12 of sample 3 is outside [0, 10)");

  SUBCASE("cross_entropy, then item()") {
    Tensor loss;
    CHECK(error_of([&] { loss = cross_entropy(dx, dy); }) == "<no error>");  // no sync: nothing thrown yet
    CHECK(what_of(error_of([&] { (void)loss.item(); })) == ce_cpu);
    CHECK(sync_error() == "<no error>");  // reported once
    CHECK(std::isfinite(loss.item()));    // the bad row's mask row is zeros: the loss is still a number
  }
  SUBCASE("one_hot, then to_vector(): the bad row is all zeros") {
    Tensor oh;
    CHECK(error_of([&] { oh = one_hot(dy, 10); }) == "<no error>");
    CHECK(what_of(error_of([&] { (void)oh.to_vector(); })) ==
          what_of(error_of([&] { (void)one_hot(cl, 10); })));
    const std::vector<float> v = oh.to_vector();
    float row3 = 0.f;
    for (int k = 0; k < 10; ++k) row3 += v[3 * 10 + k];
    CHECK(row3 == 0.f);
    CHECK(v[2 * 10 + 9] == 1.f);
  }
  SUBCASE("per_sample_stats, then synchronize(): bad rows are NaN, good rows match, both kernel paths") {
    for (int64_t c : {10, 100, 300}) {  // tile kernel, 4-lane groups, warp groups
      CAPTURE(c);
      std::vector<int64_t> lab(40);
      for (int64_t i = 0; i < 40; ++i) lab[i] = (i * 3) % c;
      lab[17] = c;
      lab[29] = -2;
      Tensor x = random_tensor({40, c}, 720021 + static_cast<uint64_t>(c));
      Tensor y = from_int_vector(lab, {40});
      const std::string expect = what_of(error_of([&] { (void)per_sample_stats(x, y); }));
      CHECK(expect == "per_sample_stats: label " + std::to_string(c) + " of sample 17 is outside [0, " +
                          std::to_string(c) + ")");
      PerSample ps;
      CHECK(error_of([&] { ps = per_sample_stats(x.to(kCuda), y.to(kCuda)); }) == "<no error>");
      CHECK(what_of(sync_error()) == expect);
      CHECK(sync_error() == "<no error>");
      lab[17] = 0;
      lab[29] = 0;
      PerSample ref = per_sample_stats(x, from_int_vector(lab, {40}));
      const std::vector<float> got = ps.loss.to_vector(), want = ref.loss.to_vector();
      CHECK(std::isnan(got[17]));
      CHECK(std::isnan(got[29]));
      CHECK(got[0] == doctest::Approx(want[0]).epsilon(1e-5));
      CHECK(got[39] == doctest::Approx(want[39]).epsilon(1e-5));
    }
  }
  SUBCASE("any download reports it, even of an unrelated tensor") {
    (void)cross_entropy(dx, dy);
    Tensor other = full({4}, 2.f, kCuda);
    CHECK(what_of(error_of([&] { (void)other.to(Device::CPU); })) == ce_cpu);
    CHECK(other.to_vector() == std::vector<float>(4, 2.f));
  }
  SUBCASE("the first failing op is reported, not a later one") {
    (void)one_hot(from_int_vector({0, 1, 2, 3, 4, 11}, {6}, kCuda), 10);  // sample 5, label 11
    (void)cross_entropy(dx, dy);                                          // sample 3, label 12
    CHECK(what_of(sync_error()) == "one_hot: label 11 of sample 5 is outside [0, 10)");
    CHECK(sync_error() == "<no error>");
    // A new error after the report is recorded afresh.
    (void)cross_entropy(dx, dy);
    CHECK(what_of(sync_error()) == ce_cpu);
  }
  SUBCASE("the first bad sample wins across many blocks") {
    const int64_t n = int64_t(1) << 20;
    std::vector<int64_t> lab(n);
    for (int64_t i = 0; i < n; ++i) lab[i] = i % 10;
    lab[999999] = 10;
    lab[700000] = 99;
    lab[300001] = -5;
    Tensor y = from_int_vector(lab, {n}, kCuda);
    Tensor x = zeros({n, 10}, DType::F32, kCuda);
    for (int rep = 0; rep < 3; ++rep) {  // deterministic: the same report every time
      (void)cross_entropy(x, y);
      CHECK(what_of(sync_error()) == "cross_entropy: label -5 of sample 300001 is outside [0, 10)");
    }
  }
  // Whatever the subcase, the context is clean and usable afterwards.
  CHECK(sync_error() == "<no error>");
  CHECK(error_of([&] { (void)cross_entropy(dx, from_int_vector({0, 1, 2, 3, 4, 5, 6, 7}, {8}, kCuda)).item(); }) ==
        "<no error>");
}

TEST_CASE("a bad CUDA gather index throws the CPU message at the next host wait; the gather reads 0 there") {
  if (!cuda_ready()) return;
  Tensor a = random_tensor({5, 3}, 720041);
  const std::vector<int64_t> iv = {1, 4, 7, 0};
  const std::string cpu = what_of(error_of([&] { (void)index_select(a, 0, from_int_vector(iv, {4})); }));
  REQUIRE(cpu == "index_select: index 7 at position 2 is outside [0, 5)");
  Tensor out;
  CHECK(error_of([&] { out = index_select(a.to(kCuda), 0, from_int_vector(iv, {4}, kCuda)); }) == "<no error>");
  CHECK(what_of(sync_error()) == cpu);
  CHECK(sync_error() == "<no error>");  // reported once
  const std::vector<float> got = out.to_vector(), src = a.to_vector();
  for (int e = 0; e < 3; ++e) {
    CHECK(got[0 * 3 + e] == src[1 * 3 + e]);
    CHECK(got[1 * 3 + e] == src[4 * 3 + e]);
    CHECK(got[2 * 3 + e] == 0.f);
    CHECK(got[3 * 3 + e] == src[0 * 3 + e]);
  }
  // The scatter (index_select's backward) skips the bad position and reports it too.
  Tensor g;
  CHECK(error_of([&] { g = index_add({5, 3}, 0, from_int_vector(iv, {4}, kCuda), full({4, 3}, 1.f, kCuda)); }) ==
        "<no error>");
  CHECK(what_of(sync_error()) == "index_add: index 7 at position 2 is outside [0, 5)");
  const std::vector<float> gv = g.to_vector();
  CHECK(gv[1 * 3] == 1.f);
  CHECK(gv[2 * 3] == 0.f);
  // Good indices: no error, and the same rows as the CPU.
  const std::vector<int64_t> ok = {4, 0, 4, 2};
  CHECK(index_select(a.to(kCuda), 0, from_int_vector(ok, {4}, kCuda)).to_vector() ==
        index_select(a, 0, from_int_vector(ok, {4})).to_vector());
  CHECK(sync_error() == "<no error>");
}
