// PNG grid export: lays images out in cells, draws a 3x5 digit label per class row, writes via stb_image_write.
#include "data/png_grid.h"

#include <algorithm>
#include <cstdio>
#include <vector>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wall"
#pragma GCC diagnostic ignored "-Wextra"
#include <stb/stb_image_write.h>
#pragma GCC diagnostic pop

namespace yoco::data {
namespace {

// 3x5 digit glyphs, one row per 3-bit value (bit 2 = left column).
constexpr uint8_t kDigits[10][5] = {{7, 5, 5, 5, 7}, {2, 6, 2, 2, 7}, {7, 1, 7, 4, 7}, {7, 1, 7, 1, 7},
                                    {5, 5, 7, 1, 1}, {7, 4, 7, 1, 7}, {7, 4, 7, 5, 7}, {7, 1, 1, 1, 1},
                                    {7, 5, 7, 5, 7}, {7, 5, 7, 1, 7}};

struct Canvas {
  int64_t w, h;
  std::vector<uint8_t> px;  // RGB
  void set(int64_t x, int64_t y, uint8_t r, uint8_t g, uint8_t b) {
    if (x < 0 || y < 0 || x >= w || y >= h) return;
    uint8_t* p = &px[static_cast<size_t>((y * w + x) * 3)];
    p[0] = r; p[1] = g; p[2] = b;
  }
  void rect(int64_t x, int64_t y, int64_t rw, int64_t rh, uint8_t r, uint8_t g, uint8_t b) {
    for (int64_t j = 0; j < rh; ++j)
      for (int64_t i = 0; i < rw; ++i) set(x + i, y + j, r, g, b);
  }
};

void draw_number(Canvas& c, int64_t x, int64_t y, int64_t value, int64_t scale) {
  const std::string s = std::to_string(value);
  for (size_t k = 0; k < s.size(); ++k)
    for (int row = 0; row < 5; ++row)
      for (int col = 0; col < 3; ++col)
        if (kDigits[s[k] - '0'][row] & (4 >> col))
          c.rect(x + (static_cast<int64_t>(k) * 4 + col) * scale, y + row * scale, scale, scale, 255, 255, 255);
}

void draw_image(Canvas& c, const float* img, int64_t ch, int64_t h, int64_t w, int64_t x0, int64_t y0) {
  auto q = [](float v) { return static_cast<uint8_t>(std::clamp(v, 0.f, 1.f) * 255.f + 0.5f); };
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) {
      const uint8_t r = q(img[y * w + x]);
      const uint8_t g = ch >= 3 ? q(img[(h + y) * w + x]) : r;
      const uint8_t b = ch >= 3 ? q(img[(2 * h + y) * w + x]) : r;
      c.set(x0 + x, y0 + y, r, g, b);
    }
}

// Rows of image indices: runs of equal labels (cols == 0) or fixed-width chunks.
std::vector<std::vector<int64_t>> layout(const int64_t* y, int64_t n, int64_t cols) {
  std::vector<std::vector<int64_t>> rows;
  for (int64_t i = 0; i < n; ++i) {
    const bool new_row = rows.empty() || (cols > 0 ? static_cast<int64_t>(rows.back().size()) == cols
                                                   : y[i] != y[rows.back().front()]);
    if (new_row) rows.emplace_back();
    rows.back().push_back(i);
  }
  return rows;
}

}  // namespace

void write_png_grid(const std::string& path, const Tensor& images, const Tensor& labels, int64_t cols, int pad) {
  YOCO_CHECK(images.defined() && images.dtype() == DType::F32 && images.dim() == 4, path,
             ": write_png_grid needs f32 [N,C,H,W] images");
  YOCO_CHECK(labels.defined() && labels.dtype() == DType::I64 && labels.dim() == 1 &&
                 labels.size(0) == images.size(0), path, ": write_png_grid needs i64 [N] labels matching ",
             images.str());
  YOCO_CHECK(images.size(0) > 0 && cols >= 0 && pad >= 0, path, ": write_png_grid: empty set or bad cols/pad");
  const Tensor x = images.cpu(), yl = labels.cpu();
  const int64_t n = x.size(0), ch = x.size(1), h = x.size(2), w = x.size(3);
  const int64_t* y = yl.data<int64_t>();
  const auto rows = layout(y, n, cols);
  int64_t ncols = 0, max_label = 0;
  for (const auto& r : rows) ncols = std::max<int64_t>(ncols, static_cast<int64_t>(r.size()));
  for (int64_t i = 0; i < n; ++i) max_label = std::max(max_label, y[i]);
  // Label margin only in per-class mode; glyphs scale with the image so they stay legible at 224 px.
  const int64_t scale = std::max<int64_t>(1, h / 16);
  const int64_t margin = cols == 0 ? (static_cast<int64_t>(std::to_string(max_label).size()) * 4 + 1) * scale : 0;
  Canvas c{margin + ncols * (w + pad) + pad, static_cast<int64_t>(rows.size()) * (h + pad) + pad, {}};
  c.px.assign(static_cast<size_t>(c.w * c.h * 3), 32);  // dark background shows the padding
  for (size_t r = 0; r < rows.size(); ++r) {
    const int64_t y0 = pad + static_cast<int64_t>(r) * (h + pad);
    if (cols == 0 && r > 0) c.rect(0, y0 - pad, c.w, std::max(1, pad / 2), 220, 60, 60);  // class separator
    if (cols == 0) draw_number(c, scale, y0 + (h - 5 * scale) / 2, y[rows[r].front()], scale);
    for (size_t k = 0; k < rows[r].size(); ++k)
      draw_image(c, x.data<float>() + rows[r][k] * ch * h * w, ch, h, w,
                 margin + pad + static_cast<int64_t>(k) * (w + pad), y0);
  }
  const std::string tmp = path + ".tmp";
  const int ok = stbi_write_png(tmp.c_str(), static_cast<int>(c.w), static_cast<int>(c.h), 3, c.px.data(),
                                static_cast<int>(c.w * 3));
  if (!ok) std::remove(tmp.c_str());
  YOCO_CHECK(ok, path, ": cannot write PNG (does the directory exist?)");
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    YOCO_CHECK(false, path, ": cannot rename ", tmp, " into place");
  }
}

}  // namespace yoco::data
