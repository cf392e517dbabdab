// Image-folder reader: sorted class folders, stb_image decode, shorter-side bilinear resize + center crop.
#include "data/image_folder.h"
#include "data/printable.h"
#include "data/zip.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <cctype>
#include <tuple>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wall"
#pragma GCC diagnostic ignored "-Wextra"
#include <stb/stb_image.h>
#pragma GCC diagnostic pop

namespace fs = std::filesystem;

namespace yoco::data {
namespace {

bool is_image(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png";
}

// Caps on one input image, checked from its header before decoding: 16384 px a side, 64 Mpx in all (192 MB of
// RGB), 256 MiB of file.
constexpr int kMaxSide = 1 << 14;
constexpr int64_t kMaxPixels = int64_t(1) << 26;
constexpr uint64_t kMaxImageFileBytes = uint64_t(1) << 28;

// Files of one class folder, sorted; the folder is listed without recursion, so symlink loops cannot trap it,
// and an entry whose type cannot be read (a dangling or looping link) is named in a one-line error.
std::vector<std::string> sorted_images(const fs::path& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  YOCO_CHECK(!ec, dir.string(), ": cannot list: ", ec.message());
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    YOCO_CHECK(!ec, dir.string(), ": cannot list: ", ec.message());
    if (!is_image(it->path())) continue;
    const bool regular = it->is_regular_file(ec);
    YOCO_CHECK(!ec, it->path().string(), ": cannot read the file type: ", ec.message());
    if (regular) out.push_back(it->path().string());
  }
  YOCO_CHECK(!ec, dir.string(), ": cannot list: ", ec.message());
  std::sort(out.begin(), out.end());
  return out;
}

// Debian's stb_image (2.27) builds a Huffman table from 16 code-length counts without checking that they sum to at
// most 256: a crafted DHT segment writes past stbi__huffman::size[257] into the decoder state (fixed upstream in
// 2.28). This walks the markers as stb does (junk between segments skipped byte by byte, entropy-coded data up to
// the next FF not followed by 00, FF or a restart marker) and refuses any DHT segment whose tables do not tile it
// exactly or hold more than 256 codes; stb then only ever parses tables this has checked.
void check_jpeg_huffman_tables(const uint8_t* b, size_t n, const std::string& what) {
  size_t i = 0;
  while (i < n && b[i] == 0xFF) ++i;  // stb takes FF FF ... D8 as the start-of-image marker too
  if (i >= n || b[i] != 0xD8) return;  // not a JPEG to stb either
  ++i;
  bool in_scan = false;
  while (i + 1 < n) {
    if (in_scan) {
      const uint8_t next = b[i + 1];
      if (b[i] != 0xFF || next == 0x00 || next == 0xFF || (next >= 0xD0 && next <= 0xD7)) {
        ++i;
        continue;
      }
      in_scan = false;
    }
    if (b[i] != 0xFF) {
      ++i;
      continue;
    }
    while (i < n && b[i] == 0xFF) ++i;  // fill bytes
    if (i >= n) return;
    const uint8_t m = b[i++];
    if (m == 0xD9) return;                                            // EOI
    if (m == 0xD8 || m == 0x01 || (m >= 0xD0 && m <= 0xD7)) continue;  // no length field
    if (n - i < 2) return;
    const size_t len = (size_t(b[i]) << 8) | b[i + 1];
    if (len < 2) return;  // stb refuses a segment shorter than its own length field before reading a table
    if (m == 0xC4) {
      // stb reads zeros past the end of the data, so a DHT segment cut off by the end of file still builds tables.
      auto at = [&](size_t k) -> size_t { return k < n ? b[k] : 0; };
      for (size_t p = i + 2, end = i + len; p < end;) {
        YOCO_CHECK(end - p >= 17, what, ": JPEG Huffman table at byte ", p, " is cut short by its segment");
        size_t codes = 0;
        for (size_t k = 1; k <= 16; ++k) codes += at(p + k);
        YOCO_CHECK(codes <= 256 && codes <= end - p - 17, what, ": JPEG Huffman table at byte ", p, " declares ",
                   codes, " codes: expected at most 256, inside its segment");
        p += 17 + codes;
      }
    }
    if (len > n - i) return;  // the rest of the file is this segment: no later marker to check
    i += len;
    if (m == 0xDA) in_scan = true;  // SOS: entropy-coded data follows its header
  }
}

uint32_t be32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

// stb_image grows its IDAT buffer to each chunk's declared length before reading the chunk (a 116-byte file
// declaring a 1.8 GB IDAT allocated 1.8 GB), and sizes its inflate output from the header's dimensions. So: every
// chunk up to IEND must lie inside the file, and the IDAT bytes must be able to inflate to the pixel bytes the
// header declares (deflate expands at most 1032:1), before stb sees the file.
void check_png_chunks(const uint8_t* b, size_t n, const std::string& what) {
  if (n < 33 || be32(b + 12) != 0x49484452u) return;  // no IHDR first: stb refuses the file itself
  const uint64_t w = be32(b + 16), h = be32(b + 20), depth = b[24], color = b[25];
  const uint64_t channels = color == 2 ? 3 : color == 4 ? 2 : color == 6 ? 4 : 1;
  uint64_t idat = 0;
  for (size_t p = 8; n - p >= 8;) {
    const uint32_t len = be32(b + p), type = be32(b + p + 4);
    YOCO_CHECK(len <= n - p - 8, what, ": PNG chunk at byte ", p, " declares ", len, " data bytes, the file has ",
               n - p - 8, " after its header");
    if (type == 0x49444154u) idat += len;  // IDAT
    if (type == 0x49454e44u) break;        // IEND
    p += 8 + static_cast<size_t>(len);
    if (n - p < 4) break;
    p += 4;  // CRC
  }
  // w, h < 2^32 and depth * channels <= 64 (stb refuses more): no overflow below 2^70 needs care, so cap first.
  const uint64_t pixels_bits = (w > 0 && h > (uint64_t(1) << 40) / w) ? ~uint64_t(0) : w * h * depth * channels;
  YOCO_CHECK(pixels_bits / 8 <= 1032 * idat + 1032, what, ": PNG declares ", w, "x", h, " pixels (",
             pixels_bits / 8, " bytes) but holds ", idat, " bytes of image data: too little to inflate to that");
}

}  // namespace

std::pair<int, int> image_dimensions(const char* data, size_t n, const std::string& what) {
  YOCO_CHECK(n > 0 && n <= static_cast<size_t>(INT32_MAX), what, ": ", n, " bytes: expected a PNG or JPEG file");
  const auto* p = reinterpret_cast<const stbi_uc*>(data);
  if (uint8_t(data[0]) == 0xFF) check_jpeg_huffman_tables(p, n, what);
  int w = 0, h = 0, c = 0;
  // The header's dimensions first: a tiny file declaring a huge image is refused before anything is allocated.
  YOCO_CHECK(stbi_info_from_memory(p, static_cast<int>(n), &w, &h, &c), what, ": cannot decode image: ",
             printable(stbi_failure_reason() ? stbi_failure_reason() : "?"), " (expected a PNG or JPEG file)");
  YOCO_CHECK(w > 0 && h > 0 && w <= kMaxSide && h <= kMaxSide && int64_t(w) * h <= kMaxPixels, what, ": image of ",
             w, "x", h, " pixels: expected 1..", kMaxSide, " a side and at most ", kMaxPixels, " pixels");
  if (n >= 8 && std::memcmp(data, "\x89PNG\r\n\x1a\n", 8) == 0) check_png_chunks(p, n, what);
  return {w, h};
}

void decode_image(const char* data, size_t n, const std::string& what, int64_t size, float* dst) {
  YOCO_CHECK(size > 0 && size <= kMaxSide, what, ": output size ", size, " out of range [1, ", kMaxSide, "]");
  const auto [w, h] = image_dimensions(data, n, what);
  const auto* p = reinterpret_cast<const stbi_uc*>(data);
  const int len = static_cast<int>(n);
  int dw = 0, dh = 0, c = 0;
  std::unique_ptr<stbi_uc, void (*)(void*)> px(stbi_load_from_memory(p, len, &dw, &dh, &c, 3), stbi_image_free);
  YOCO_CHECK(px != nullptr, what, ": cannot decode image: ",
             printable(stbi_failure_reason() ? stbi_failure_reason() : "?"));
  YOCO_CHECK(dw == w && dh == h, what, ": decoded ", dw, "x", dh, " pixels but the header says ", w, "x", h);
  // Shorter side -> size keeps the aspect ratio (torchvision Resize(size) + CenterCrop(size)). Plain bilinear,
  // no antialias prefilter: large downscales alias slightly compared with PIL/torchvision antialias=True.
  const double s = static_cast<double>(size) / std::min(w, h);
  const int oh = std::max<int>(static_cast<int>(size), static_cast<int>(std::lround(h * s)));
  const int ow = std::max<int>(static_cast<int>(size), static_cast<int>(std::lround(w * s)));
  resize_center_crop(px.get(), h, w, 3, oh, ow, static_cast<int>(size), static_cast<int>(size), dst);
}

std::vector<char> read_image_file(const std::string& path) { return read_file_bytes(path, kMaxImageFileBytes); }

std::vector<std::string> image_files(const std::string& dir) { return sorted_images(dir); }

namespace {
// Reads one file (size capped) and writes its float CHW crop into dst.
void load_one(const std::string& path, int64_t size, float* dst) {
  const std::vector<char> b = read_image_file(path);
  decode_image(b.data(), b.size(), path, size, dst);
}
}  // namespace

void resize_center_crop(const uint8_t* src, int h, int w, int c, int oh, int ow, int out_h, int out_w, float* dst) {
  const int y0 = (oh - out_h) / 2, x0 = (ow - out_w) / 2;
  const float sy = static_cast<float>(h) / oh, sx = static_cast<float>(w) / ow;
  for (int oy = 0; oy < out_h; ++oy) {
    // Half-pixel centres (align_corners=False), clamped at the borders.
    const float fy = std::clamp((oy + y0 + 0.5f) * sy - 0.5f, 0.f, static_cast<float>(h - 1));
    const int ya = static_cast<int>(fy), yb = std::min(ya + 1, h - 1);
    const float wy = fy - ya;
    for (int ox = 0; ox < out_w; ++ox) {
      const float fx = std::clamp((ox + x0 + 0.5f) * sx - 0.5f, 0.f, static_cast<float>(w - 1));
      const int xa = static_cast<int>(fx), xb = std::min(xa + 1, w - 1);
      const float wx = fx - xa;
      for (int ch = 0; ch < c; ++ch) {
        auto at = [&](int y, int x) { return static_cast<float>(src[(static_cast<size_t>(y) * w + x) * c + ch]); };
        const float top = at(ya, xa) * (1 - wx) + at(ya, xb) * wx;
        const float bot = at(yb, xa) * (1 - wx) + at(yb, xb) * wx;
        dst[(static_cast<size_t>(ch) * out_h + oy) * out_w + ox] = (top * (1 - wy) + bot * wy) / 255.f;
      }
    }
  }
}

std::vector<std::string> image_folder_classes(const std::string& root) {
  std::error_code ec;
  YOCO_CHECK(fs::is_directory(root, ec), root, ": not a directory (expected root/<class>/*.jpg|png)");
  std::vector<std::string> classes;
  fs::directory_iterator it(root, ec);
  YOCO_CHECK(!ec, root, ": cannot list: ", ec.message());
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    YOCO_CHECK(!ec, root, ": cannot list: ", ec.message());
    const bool dir = it->is_directory(ec);
    YOCO_CHECK(!ec, it->path().string(), ": cannot read the file type: ", ec.message());
    if (dir) classes.push_back(it->path().filename().string());
  }
  YOCO_CHECK(!ec, root, ": cannot list: ", ec.message());
  std::sort(classes.begin(), classes.end());
  YOCO_CHECK(!classes.empty(), root, ": no class subdirectories");
  return classes;
}

Dataset load_image_folder(const std::string& root, int64_t size, const std::string& name, int64_t max_per_class) {
  YOCO_CHECK(size > 0 && size <= kMaxSide, root, ": image size ", size, " out of range [1, ", kMaxSide, "]");
  const auto classes = image_folder_classes(root);
  std::vector<std::string> files;
  std::vector<int64_t> labels;
  for (size_t k = 0; k < classes.size(); ++k) {
    auto imgs = sorted_images(fs::path(root) / classes[k]);
    YOCO_CHECK(!imgs.empty(), root, "/", classes[k], ": no .jpg/.jpeg/.png files");
    if (max_per_class > 0 && static_cast<int64_t>(imgs.size()) > max_per_class) imgs.resize(max_per_class);
    for (auto& f : imgs) {
      files.push_back(std::move(f));
      labels.push_back(static_cast<int64_t>(k));
    }
  }
  Dataset d;
  d.name = name;
  d.num_classes = static_cast<int64_t>(classes.size());
  d.channels = 3;
  d.height = d.width = size;
  try {
    std::tie(d.mean, d.std) = dataset_stats(name);
  } catch (const Error&) {
    std::tie(d.mean, d.std) = dataset_stats("imagenet");  // natural photos: ImageNet statistics are the norm
  }
  const int64_t n = static_cast<int64_t>(files.size());
  d.images = empty({n, 3, size, size}, DType::F32);
  d.labels = from_int_vector(labels, {n});
  float* x = d.images.data<float>();
  for (int64_t i = 0; i < n; ++i) load_one(files[static_cast<size_t>(i)], size, x + i * 3 * size * size);
  return d;
}

}  // namespace yoco::data
