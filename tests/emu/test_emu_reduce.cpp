// Emulated kernels/reduce.cu vs the CPU oracle: every plan path of sum_reduce (warp runs with and without float4
// loads and stage 2, serial and block kernels, chunked blocks with their partials pass) on small shapes.
#include <doctest/doctest.h>
#include <cstdint>
#include <string>
#include <vector>
#include "kernels/cuda_check.cuh"
#include "kernels/reduce.h"
#include "tests/emu/emu_test_util.h"

using namespace yoco::kernels;
using yoco::emu_test::nans;
using yoco::emu_test::scaled_err;
using yoco::emu_test::uniform;

namespace {

// Both sides accumulate in double, in different orders: only the final float rounding may differ.
constexpr double kTol = 1e-6;

struct Case {
  std::vector<int64_t> shape;
  std::vector<int> dims;  // reduced dims; empty: all
  bool mean = false;
  bool misaligned = false;  // x one float past a 16-byte boundary: the warp runs take scalar loads
};

std::string name(const Case& c) {
  std::string s = c.mean ? "mean of [" : "sum of [";
  for (size_t i = 0; i < c.shape.size(); ++i) s += (i ? "," : "") + std::to_string(c.shape[i]);
  s += "] over {";
  for (size_t i = 0; i < c.dims.size(); ++i) s += (i ? "," : "") + std::to_string(c.dims[i]);
  return s + (c.misaligned ? "}, misaligned" : "}");
}

void check(const Case& c, uint32_t seed) {
  CAPTURE(name(c));
  bool reduced[kMaxReduceDims] = {};
  for (size_t d = 0; d < c.shape.size(); ++d) reduced[d] = c.dims.empty();
  for (int d : c.dims) reduced[d] = true;
  const ReducePlan p = make_reduce_plan(c.shape.data(), static_cast<int>(c.shape.size()), reduced);
  int64_t total = 1;
  for (int64_t s : c.shape) total *= s;
  std::vector<float> buf = uniform(static_cast<size_t>(total) + 4, seed);
  const float* x = buf.data() + (c.misaligned ? 1 : 0);
  const float scale = c.mean ? 1.f / static_cast<float>(p.n_reduce) : 1.f;
  std::vector<float> want(static_cast<size_t>(p.n_out)), got = nans(static_cast<size_t>(p.n_out));
  cpu::sum_reduce(x, want.data(), p, scale);
  emu::Stream st;
  cuda::sum_reduce(x, got.data(), p, scale, st.get());
  CHECK(scaled_err(got, want) <= kTol);
}

}  // namespace

TEST_CASE("emulated sum_reduce: ConvNet-step shapes") {
  const std::vector<Case> cases = {
      {{4, 8, 32, 32}, {0, 2, 3}},     // conv-bias gradient: runs of 1024, stage 2 (serial) over [4, 8] partials
      {{4, 8, 16, 16}, {2, 3}},        // per-(n, c) sums: one warp per output, no stage 2
      {{4, 8, 8, 8}, {2, 3}, true},    // mean over runs of 64
      {{64, 10}, {1}},                 // logits: short rows, serial kernel
      {{8, 100}, {1}, true},           // odd rows of 100: float4 groups and a tail lane
  };
  for (size_t i = 0; i < cases.size(); ++i) check(cases[i], 3000 + static_cast<uint32_t>(i));
}

TEST_CASE("emulated sum_reduce: every plan path") {
  const std::vector<Case> cases = {
      {{6, 1, 9}, {1}},              // only a size-1 dim reduced: n_red = 0, serial copy
      {{33, 5, 1}, {0, 2}},          // run of 1 after merging: kept innermost, serial
      {{100, 31}, {1}},              // runs below a warp's width: serial (n_reduce <= 32)
      {{16, 8, 4, 4}, {0, 2, 3}},    // runs of 16, n_reduce 256: block kernel, one chunk
      {{70000, 2}, {0}},             // kept innermost, n_reduce 70000 > 65536: two chunks + partials pass
      {{40, 4096}, {0}},             // kept innermost, 4096 outputs: serial kernel by the inner-kept rule
      {{100, 32}, {1}},              // shortest warp runs
      {{50, 33}, {1}},               // odd run: scalar loads, tail group of one
      {{20, 64}, {1}, false, true},  // run % 4 == 0 but x misaligned: scalar loads
      {{7, 9, 32}, {0, 2}},          // stage 2 serial (n_reduce 7)
      {{40, 3, 32}, {0, 2}},         // stage 2 block kernel (n_reduce 40)
      {{3, 4097}, {1}},              // two warp chunks, the second of one element, stage 2 over the chunks
      {{2, 3, 8193}, {0, 2}, true},  // three chunks, stage 2 over samples and chunks, mean
      {{1, 1, 40}, {}, true},        // a full mean of one run
      {{5000}, {}},                  // a full sum in two chunks
      {{3, 70, 5}, {}},              // a full sum whose run (merged) is 1050
  };
  for (size_t i = 0; i < cases.size(); ++i) check(cases[i], 3100 + static_cast<uint32_t>(i));
}
