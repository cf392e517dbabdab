// Index logic of the CUDA run path, checked on the CPU: summing contiguous runs in chunks, then finishing
// with partial_plan, must give exactly the engine's sums (integer-valued data makes every order exact).
#include <doctest/doctest.h>
#include <cstdint>
#include <vector>
#include "engine/ops.h"
#include "engine/tensor.h"
#include "kernels/reduce.h"

using namespace yoco;
using kernels::ReducePlan;

namespace {

// The plan the engine builds for sum(x, dims) (kernels::make_reduce_plan, called by engine/ops_reduce.cpp).
ReducePlan make_plan(const Shape& shape, const std::vector<bool>& red) {
  bool flags[kernels::kMaxReduceDims] = {};
  for (size_t d = 0; d < red.size(); ++d) flags[d] = red[d];
  return kernels::make_reduce_plan(shape.data(), static_cast<int>(shape.size()), flags);
}

// The CUDA run path's arithmetic on the CPU: stage 1 sums chunks of `chunk` elements of every run into a
// dense [rows, chunks] array; stage 2 reduces it with partial_plan.
std::vector<float> run_path(const std::vector<float>& x, const ReducePlan& p, int64_t chunk) {
  const int64_t run = kernels::contiguous_run(p);
  const int64_t rows = p.n_out * (p.n_reduce / run), chunks = (run + chunk - 1) / chunk;
  std::vector<double> part(static_cast<size_t>(rows * chunks), 0.0);
  for (int64_t w = 0; w < rows * chunks; ++w) {
    const int64_t row = w / chunks, lo = (w % chunks) * chunk, hi = lo + chunk < run ? lo + chunk : run;
    for (int64_t j = lo; j < hi; ++j) part[static_cast<size_t>(w)] += x[static_cast<size_t>(row * run + j)];
  }
  std::vector<float> out(static_cast<size_t>(p.n_out));
  if (p.n_red == 1 && chunks == 1) {  // rows are the outputs
    for (int64_t o = 0; o < p.n_out; ++o) out[static_cast<size_t>(o)] = static_cast<float>(part[static_cast<size_t>(o)]);
    return out;
  }
  const ReducePlan q = kernels::partial_plan(p, chunks);
  CHECK(q.n_out * q.n_reduce == rows * chunks);
  for (int64_t o = 0; o < q.n_out; ++o) {
    const int64_t base = kernels::plan_offset(q.kept_shape, q.kept_stride, q.n_kept, o);
    double acc = 0.0;
    for (int64_t r = 0; r < q.n_reduce; ++r)
      acc += part[static_cast<size_t>(base + kernels::plan_offset(q.red_shape, q.red_stride, q.n_red, r))];
    out[static_cast<size_t>(o)] = static_cast<float>(acc);
  }
  return out;
}

}  // namespace

TEST_CASE("partial_plan of the conv-bias gradient sum over {0,2,3} of [256,128,32,32]") {
  const ReducePlan p = make_plan({256, 128, 32, 32}, {true, false, true, true});
  REQUIRE(p.n_kept == 1);
  REQUIRE(p.n_red == 2);
  CHECK(kernels::contiguous_run(p) == 1024);
  const ReducePlan q = kernels::partial_plan(p, 1);  // rows [256, 128]: kept innermost, one reduced dim
  CHECK(q.n_kept == 1);
  CHECK(q.kept_shape[0] == 128);
  CHECK(q.kept_stride[0] == 1);
  CHECK(q.n_red == 1);
  CHECK(q.red_shape[0] == 256);
  CHECK(q.red_stride[0] == 128);
  CHECK(q.n_out == 128);
  CHECK(q.n_reduce == 256);
  const ReducePlan q3 = kernels::partial_plan(p, 3);  // partials [256, 128, 3]
  CHECK(q3.n_red == 2);
  CHECK(q3.kept_stride[0] == 3);
  CHECK(q3.red_stride[0] == 384);
  CHECK(q3.red_shape[1] == 3);
  CHECK(q3.red_stride[1] == 1);
  CHECK(q3.n_reduce == 768);
  // A kept innermost dim (sum over {0} of [N, F]) has no contiguous run.
  CHECK(kernels::contiguous_run(make_plan({64, 10}, {true, false})) == 0);
}

TEST_CASE("run path (chunked runs + partial_plan) equals the engine's sum for every dim subset") {
  const std::vector<Shape> shapes = {{7},          {3, 5},       {4, 3, 5, 7}, {2, 1, 6, 9},
                                     {5, 4, 1, 3}, {3, 2, 4, 2, 5}, {1, 13},   {6, 33}};
  int checked = 0;
  for (const Shape& s : shapes) {
    const int nd = static_cast<int>(s.size());
    int64_t n = 1;
    for (int64_t d : s) n *= d;
    std::vector<float> x(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) x[static_cast<size_t>(i)] = static_cast<float>((i * 37) % 23 - 11);
    const Tensor t = from_vector(x, s);
    for (int mask = 1; mask < (1 << nd); ++mask) {
      std::vector<bool> red(nd);
      std::vector<int64_t> dims;
      for (int d = 0; d < nd; ++d) {
        red[d] = ((mask >> d) & 1) != 0;
        if (red[d]) dims.push_back(d);
      }
      const ReducePlan p = make_plan(s, red);
      if (kernels::contiguous_run(p) == 0) continue;
      const std::vector<float> want = sum(t, dims).to_vector();
      for (int64_t chunk : {1, 2, 4, 5, 4096}) {
        CAPTURE(mask);
        CAPTURE(chunk);
        CHECK(run_path(x, p, chunk) == want);
        ++checked;
      }
    }
  }
  CHECK(checked > 100);
}
