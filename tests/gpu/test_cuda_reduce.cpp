// CUDA sum/mean vs the CPU oracle on the shapes a ConvNet step reduces plus awkward run lengths (each
// kernel path: runs in one or several warp chunks, stage 2 over partials, serial, block), and bitwise
// reproducibility run to run. Skipped (exit 77) on machines without a CUDA device.
#include <doctest/doctest.h>
#include <cstdint>
#include <string>
#include <vector>
#include "engine/context.h"
#include "engine/ops.h"
#include "tests/unit/test_util.h"

using namespace yoco;
using test::cuda_ready;
using test::random_tensor;
using test::rel_err;

namespace {

constexpr double kTol = 1e-6;  // both sides accumulate in double: only the final float rounding may differ

struct Case {
  Shape shape;
  std::vector<int64_t> dims;  // empty: every dim
  bool keepdim = false, is_mean = false;
};

Tensor reduce(const Tensor& x, const Case& c) {
  if (c.dims.empty()) return c.is_mean ? mean(x) : sum(x);
  return c.is_mean ? mean(x, c.dims, c.keepdim) : sum(x, c.dims, c.keepdim);
}

std::string name(const Case& c) {
  std::string s = c.is_mean ? "mean" : "sum";
  s += " of [";
  for (size_t i = 0; i < c.shape.size(); ++i) s += (i ? "," : "") + std::to_string(c.shape[i]);
  s += "] over {";
  for (size_t i = 0; i < c.dims.size(); ++i) s += (i ? "," : "") + std::to_string(c.dims[i]);
  return s + (c.keepdim ? "} keepdim" : "}");
}

void check_case(const Case& c, uint64_t stream) {
  CAPTURE(name(c));
  const Tensor x = random_tensor(c.shape, stream);
  const Tensor xd = x.to(Device::CUDA);
  const Tensor want = reduce(x, c);
  const Tensor got = reduce(xd, c);
  CHECK(got.shape() == want.shape());
  CHECK(rel_err(got.to(Device::CPU), want) <= kTol);
  CHECK(reduce(xd, c).to_vector() == got.to_vector());  // same launch sequence, same bits
}

}  // namespace

TEST_CASE("ConvNet-step reductions: CUDA matches CPU and is bitwise reproducible") {
  if (!cuda_ready()) return;
  const std::vector<Case> cases = {
      {{256, 128, 32, 32}, {0, 2, 3}},  // conv-bias gradient: runs of 1024, stage 2 over [256, 128] rows
      {{256, 128, 16, 16}, {0, 2, 3}},
      {{256, 128, 8, 8}, {0, 2, 3}},
      {{64, 128, 32, 32}, {2, 3}},      // per-(n, c) statistics: one warp per output, no stage 2
      {{32, 16, 64, 64}, {2, 3}},       // runs of 4096: the chunk limit exactly
      {{256, 2048}, {0}},               // kept innermost, few outputs: block kernel
      {{512, 8192}, {0}},               // kept innermost, many outputs: serial kernel
      {{256, 10}, {1}},                 // logits: short rows, serial kernel
      {{256, 1000}, {1}},
      {{25000000}, {}},                 // full sum: one run of 25M in 6104 chunks, stage 2 over the chunks
      {{5000, 5000}, {}},
  };
  for (size_t i = 0; i < cases.size(); ++i) check_case(cases[i], 700001 + i);
}

TEST_CASE("awkward run lengths, keepdim and mean: CUDA matches CPU and is bitwise reproducible") {
  if (!cuda_ready()) return;
  const std::vector<Case> cases = {
      {{6, 1, 9}, {1}},                   // only a size-1 dim reduced: nothing to sum
      {{33, 5, 1}, {0, 2}},               // run of 1 after merging: kept innermost
      {{100, 31}, {1}},                   // runs below a warp's width: generic kernels
      {{7, 9, 31}, {0, 2}},
      {{100, 32}, {1}},                   // shortest warp runs
      {{7, 9, 32}, {0, 2}},
      {{50, 33}, {1}},                    // odd run: scalar loads, tail group
      {{3, 40, 33}, {0, 2}},
      {{20, 4097}, {1}},                  // two chunks, the second of one element
      {{3, 5, 4097}, {0, 2}},
      {{2, 3, 8193}, {0, 2}, true},       // three chunks, keepdim
      {{70000, 3, 32}, {0, 2}},           // 70000 rows per output: stage 2 splits over blocks
      {{16, 8, 4, 4}, {0, 2, 3}},         // runs of 16: generic block kernel
      {{8, 64, 12, 12}, {0, 2, 3}, true, true},  // mean over runs of 144, keepdim
      {{64, 128, 32, 32}, {2, 3}, false, true},
      {{1, 1, 40}, {}, false, true},
      {{3000, 7000}, {}, false, true},
  };
  for (size_t i = 0; i < cases.size(); ++i) check_case(cases[i], 710001 + i);
}
