// Emulated kernels/resample.cu and kernels/shape.cu vs the CPU oracle, bitwise: resizes and their gather adjoint
// (the CPU's scatter order), affine grids, grid sampling and its adjoint; block copies, gathers, index_add, strided
// copies.
#include <doctest/doctest.h>
#include <cstdint>
#include <vector>
#include "kernels/cuda_check.cuh"
#include "kernels/resample.h"
#include "kernels/shape.h"
#include "tests/emu/emu_test_util.h"

using namespace yoco::kernels;
using yoco::emu_test::bitwise_equal;
using yoco::emu_test::nans;
using yoco::emu_test::uniform;

TEST_CASE("emulated resizes and the bilinear adjoint equal the CPU bitwise") {
  emu::Stream st;
  const int64_t sizes[][4] = {{8, 8, 16, 16}, {16, 16, 8, 8}, {7, 5, 12, 9}, {9, 12, 4, 5}, {1, 3, 3, 7}, {6, 6, 6, 6}};
  const int64_t planes = 3;
  for (const auto& s : sizes) {
    const int64_t ih = s[0], iw = s[1], oh = s[2], ow = s[3];
    CAPTURE(ih);
    CAPTURE(iw);
    CAPTURE(oh);
    CAPTURE(ow);
    const size_t in = static_cast<size_t>(planes * ih * iw), out = static_cast<size_t>(planes * oh * ow);
    const std::vector<float> x = uniform(in, 9100 + static_cast<uint32_t>(in)), g = uniform(out, 9200);
    std::vector<float> want(out), got = nans(out);
    cpu::resize_bilinear(x.data(), want.data(), planes, ih, iw, oh, ow);
    cuda::resize_bilinear(x.data(), got.data(), planes, ih, iw, oh, ow, st.get());
    CHECK(bitwise_equal(got, want));
    std::vector<float> dwant(in), dgot = nans(in);
    cpu::resize_bilinear_adjoint(g.data(), dwant.data(), planes, ih, iw, oh, ow);
    cuda::resize_bilinear_adjoint(g.data(), dgot.data(), planes, ih, iw, oh, ow, st.get());
    CHECK(bitwise_equal(dgot, dwant));
    std::vector<float> nwant(out), ngot = nans(out);
    cpu::resize_nearest(x.data(), nwant.data(), planes, ih, iw, oh, ow);
    cuda::resize_nearest(x.data(), ngot.data(), planes, ih, iw, oh, ow, st.get());
    CHECK(bitwise_equal(ngot, nwant));
  }
}

TEST_CASE("emulated affine_grid, grid_sample and its adjoint equal the CPU bitwise") {
  emu::Stream st;
  const int64_t n = 2, c = 3, ih = 9, iw = 7, oh = 6, ow = 11;
  // Rotations and scalings that push part of the grid outside [-1, 1] (zero padding).
  const std::vector<float> theta = {0.9f, -0.3f, 0.1f, 0.35f, 1.1f, -0.2f, 1.3f, 0.f, 0.4f, 0.f, 0.7f, 0.05f};
  const size_t gsz = static_cast<size_t>(n * oh * ow * 2);
  std::vector<float> grid_want(gsz), grid = nans(gsz);
  cpu::affine_grid(theta.data(), grid_want.data(), n, oh, ow);
  cuda::affine_grid(theta.data(), grid.data(), n, oh, ow, st.get());
  CHECK(bitwise_equal(grid, grid_want));
  const size_t in = static_cast<size_t>(n * c * ih * iw), out = static_cast<size_t>(n * c * oh * ow);
  const std::vector<float> x = uniform(in, 9300), g = uniform(out, 9301);
  std::vector<float> want(out), got = nans(out);
  cpu::grid_sample(x.data(), grid_want.data(), want.data(), n, c, ih, iw, oh, ow);
  cuda::grid_sample(x.data(), grid_want.data(), got.data(), n, c, ih, iw, oh, ow, st.get());
  CHECK(bitwise_equal(got, want));
  std::vector<float> dwant(in), dgot = nans(in);
  cpu::grid_sample_adjoint(g.data(), grid_want.data(), dwant.data(), n, c, ih, iw, oh, ow);
  cuda::grid_sample_adjoint(g.data(), grid_want.data(), dgot.data(), n, c, ih, iw, oh, ow, st.get());
  CHECK(bitwise_equal(dgot, dwant));
}

TEST_CASE("emulated shape kernels equal the CPU bitwise") {
  emu::Stream st;
  const std::vector<float> src = uniform(4000, 9400);
  // copy_blocks: 30 rows of 37 from a stride of 50 (offset 5) into a stride of 40 (offset 2).
  std::vector<float> cb_want = nans(1300), cb_got = nans(1300);
  cpu::copy_blocks(src.data(), cb_want.data(), 30, 37, 50, 5, 40, 2);
  cuda::copy_blocks(src.data(), cb_got.data(), 30, 37, 50, 5, 40, 2, st.get());
  CHECK(bitwise_equal(cb_got, cb_want));  // untouched gaps stay NaN on both sides

  // index_select / index_add over [outer 4, dim 9, inner 13] with repeated indices.
  const std::vector<int64_t> idx = {3, 0, 8, 3, 3, 5, 1};
  const int64_t outer = 4, dim = 9, inner = 13, k = static_cast<int64_t>(idx.size());
  std::vector<float> sel_want(static_cast<size_t>(outer * k * inner)), sel_got = nans(sel_want.size());
  cpu::index_select(src.data(), sel_want.data(), outer, dim, inner, idx.data(), k);
  cuda::index_select(src.data(), sel_got.data(), outer, dim, inner, idx.data(), k, st.get());
  CHECK(bitwise_equal(sel_got, sel_want));
  std::vector<float> add_want = uniform(static_cast<size_t>(outer * dim * inner), 9401), add_got = add_want;
  cpu::index_add(sel_want.data(), add_want.data(), outer, dim, inner, idx.data(), k);
  cuda::index_add(sel_want.data(), add_got.data(), outer, dim, inner, idx.data(), k, st.get());
  CHECK(bitwise_equal(add_got, add_want));

  // Indices outside [0, dim) (reported later by the engine's device-side check) must not touch memory outside
  // the tensor (ASan would see it in the sanitised build): the gather reads 0 there, the scatter skips them.
  const std::vector<int64_t> bad = {2, -1, 9, 4};
  std::vector<float> bsel = nans(static_cast<size_t>(outer * 4 * inner));
  cuda::index_select(src.data(), bsel.data(), outer, dim, inner, bad.data(), 4, st.get());
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t e = 0; e < inner; ++e) {
      CHECK(bsel[static_cast<size_t>((o * 4 + 0) * inner + e)] == src[static_cast<size_t>((o * dim + 2) * inner + e)]);
      CHECK(bsel[static_cast<size_t>((o * 4 + 1) * inner + e)] == 0.f);
      CHECK(bsel[static_cast<size_t>((o * 4 + 2) * inner + e)] == 0.f);
      CHECK(bsel[static_cast<size_t>((o * 4 + 3) * inner + e)] == src[static_cast<size_t>((o * dim + 4) * inner + e)]);
    }
  const std::vector<int64_t> good = {2, 4};
  std::vector<float> badd = uniform(static_cast<size_t>(outer * dim * inner), 9402), gadd = badd;
  std::vector<float> part(static_cast<size_t>(outer * 2 * inner));  // bsel's good rows, in order
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t e = 0; e < inner; ++e) {
      part[static_cast<size_t>((o * 2 + 0) * inner + e)] = bsel[static_cast<size_t>((o * 4 + 0) * inner + e)];
      part[static_cast<size_t>((o * 2 + 1) * inner + e)] = bsel[static_cast<size_t>((o * 4 + 3) * inner + e)];
    }
  cuda::index_add(bsel.data(), badd.data(), outer, dim, inner, bad.data(), 4, st.get());
  cpu::index_add(part.data(), gadd.data(), outer, dim, inner, good.data(), 2);
  CHECK(bitwise_equal(badd, gadd));

  // strided_copy: a transpose with a flipped axis (negative stride) of a [6, 5, 7] block.
  StridedPlan p;
  p.ndim = 3;
  p.shape[0] = 7, p.shape[1] = 6, p.shape[2] = 5;
  p.stride[0] = 1, p.stride[1] = 35, p.stride[2] = -7;
  p.offset = 4 * 7;
  const int64_t n = 7 * 6 * 5;
  std::vector<float> sc_want(static_cast<size_t>(n)), sc_got = nans(static_cast<size_t>(n));
  cpu::strided_copy(src.data(), sc_want.data(), n, p);
  cuda::strided_copy(src.data(), sc_got.data(), n, p, st.get());
  CHECK(bitwise_equal(sc_got, sc_want));
}
