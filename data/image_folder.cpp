// Image-folder reader: sorted class folders, stb_image decode, shorter-side bilinear resize + center crop.
#include "data/image_folder.h"

#include <algorithm>
#include <cmath>
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

std::vector<std::string> sorted_images(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && is_image(e.path())) out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

// Decodes one file as 3-channel RGB and writes the float CHW crop into dst.
void load_one(const std::string& path, int64_t size, float* dst) {
  int w = 0, h = 0, c = 0;
  std::unique_ptr<uint8_t, void (*)(void*)> px(stbi_load(path.c_str(), &w, &h, &c, 3), stbi_image_free);
  YOCO_CHECK(px != nullptr, path, ": cannot decode image: ", stbi_failure_reason() ? stbi_failure_reason() : "?");
  // Shorter side -> size keeps the aspect ratio (torchvision Resize(size) + CenterCrop(size)). Plain bilinear,
  // no antialias prefilter: large downscales alias slightly compared with PIL/torchvision antialias=True.
  const double s = static_cast<double>(size) / std::min(w, h);
  const int oh = std::max<int>(static_cast<int>(size), static_cast<int>(std::lround(h * s)));
  const int ow = std::max<int>(static_cast<int>(size), static_cast<int>(std::lround(w * s)));
  resize_center_crop(px.get(), h, w, 3, oh, ow, static_cast<int>(size), static_cast<int>(size), dst);
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
  YOCO_CHECK(fs::is_directory(root), root, ": not a directory (expected root/<class>/*.jpg|png)");
  std::vector<std::string> classes;
  for (const auto& e : fs::directory_iterator(root))
    if (e.is_directory()) classes.push_back(e.path().filename().string());
  std::sort(classes.begin(), classes.end());
  YOCO_CHECK(!classes.empty(), root, ": no class subdirectories");
  return classes;
}

Dataset load_image_folder(const std::string& root, int64_t size, const std::string& name, int64_t max_per_class) {
  YOCO_CHECK(size > 0, "load_image_folder: size must be positive, got ", size);
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
