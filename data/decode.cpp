// IDC multi-formation decode (differentiable, engine ops only, so it runs on CPU and CUDA) and 'mix' init.
#include "data/decode.h"
#include <cmath>
#include <vector>
#include "engine/context.h"
#include "engine/ops.h"

namespace yoco::data {

namespace {

void check_images(const Tensor& x, const char* what) {
  YOCO_CHECK(x.defined() && x.dim() == 4 && x.dtype() == DType::F32, what, ": expected f32 [N,C,H,W], got ",
             x.defined() ? x.str() : std::string("undefined"));
}

// Constant padding on the bottom and right only, as IDC's F.pad(img, (0, pw, 0, ph), value=0.5).
Tensor pad_bottom_right(const Tensor& x, int64_t ph, int64_t pw, float value) {
  Tensor out = x;
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  if (pw > 0) out = concat({out, full({n, c, h, pw}, value, x.device())}, 3);
  if (ph > 0) out = concat({out, full({n, c, ph, w + pw}, value, x.device())}, 2);
  return out;
}

// PyTorch 'nearest' source index (upsample nearest_idx): identity, exact 2x, else floor(dst * in/out)
// with the scale computed in float.
int64_t nearest_src(int64_t dst, int64_t in, int64_t out) {
  if (in == out) return dst;
  if (out == 2 * in) return dst >> 1;
  const float scale = static_cast<float>(in) / static_cast<float>(out);
  const int64_t s = static_cast<int64_t>(std::floor(static_cast<float>(dst) * scale));
  return s < in - 1 ? s : in - 1;
}

Tensor nearest_index(int64_t in, int64_t out, Device device) {
  std::vector<int64_t> idx(out);
  for (int64_t d = 0; d < out; ++d) idx[d] = nearest_src(d, in, out);
  return from_int_vector(idx, {out}, device);
}

Tensor resize_nearest(const Tensor& x, int64_t out_h, int64_t out_w) {
  Tensor r = index_select(x, 2, nearest_index(x.size(2), out_h, x.device()));
  return index_select(r, 3, nearest_index(x.size(3), out_w, x.device()));
}

// IDC's block sizes in mix init: s = H // f, the first H % f blocks get s + 1 (they tile H exactly).
std::vector<int64_t> mix_block_sizes(int64_t size, int64_t f) {
  std::vector<int64_t> b(f, size / f);
  for (int64_t i = 0; i < size % f; ++i) b[i] += 1;
  return b;
}

}  // namespace

Tensor decode(const Tensor& stored, int64_t factor) {
  check_images(stored, "decode");
  YOCO_CHECK(factor >= 1, "decode: factor must be >= 1, got ", factor, " for ", stored.str());
  if (factor == 1) return stored;
  const int64_t h = stored.size(2), w = stored.size(3);
  YOCO_CHECK(h >= factor && w >= factor, "decode: image ", stored.str(), " smaller than factor ", factor);
  // IDC uses img.shape[-1] for both sides (square images); we treat H and W separately, same for squares.
  const int64_t sh = kernels::ceil_div(h, factor), sw = kernels::ceil_div(w, factor);
  Tensor padded = pad_bottom_right(stored, sh * factor - h, sw * factor - w, 0.5f);
  std::vector<Tensor> crops;
  crops.reserve(factor * factor);
  for (int64_t i = 0; i < factor; ++i) {
    Tensor row = slice(padded, 2, i * sh, (i + 1) * sh);
    for (int64_t j = 0; j < factor; ++j) crops.push_back(slice(row, 3, j * sw, (j + 1) * sw));
  }
  return resize_bilinear(concat(crops, 0), h, w);
}

std::pair<int64_t, int64_t> decoded_source(int64_t j, int64_t n) {
  YOCO_CHECK(n > 0 && j >= 0, "decoded_source: need n > 0 and j >= 0, got j=", j, " n=", n);
  return {j % n, j / n};
}

Tensor mix_init(const Tensor& real_first, int64_t n, int64_t factor) {
  check_images(real_first, "mix_init");
  YOCO_CHECK(n >= 1 && factor >= 1, "mix_init: need n >= 1 and factor >= 1, got n=", n, " factor=", factor);
  YOCO_CHECK(real_first.size(0) == n * factor * factor, "mix_init: expected ", n * factor * factor,
             " real images (n*f^2) for n=", n, " f=", factor, ", got ", real_first.str());
  NoGradGuard no_grad;
  if (factor == 1) return real_first.clone();
  const int64_t h = real_first.size(2), w = real_first.size(3);
  // Deliberately IDC's code rather than "s x s everywhere": blocks of size H//f (+1 for the first H%f)
  // tile the image exactly. For H % f == 0 this is s x s with s = H/f; otherwise the blocks may not
  // line up with decode's ceil-sized crops (e.g. f=3, H=28), exactly as in IDC.
  const std::vector<int64_t> bh = mix_block_sizes(h, factor), bw = mix_block_sizes(w, factor);
  std::vector<Tensor> rows;
  for (int64_t i = 0; i < factor; ++i) {
    std::vector<Tensor> parts;
    for (int64_t j = 0; j < factor; ++j) {
      const int64_t k = i * factor + j;  // chunk k fills quadrant k
      parts.push_back(resize_nearest(slice(real_first, 0, k * n, (k + 1) * n), bh[i], bw[j]));
    }
    rows.push_back(concat(parts, 3));
  }
  return concat(rows, 2);
}

}  // namespace yoco::data
