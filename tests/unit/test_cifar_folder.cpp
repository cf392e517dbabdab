// CIFAR-10 as an image folder: tiny PNG folders made here (exact pixels, class order, refusals) and, when present,
// a few images of the shared JPEG copy.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <random>
#include "data/cifar_folder.h"
#include "data/registry.h"
#include "test_util.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wall"
#pragma GCC diagnostic ignored "-Wextra"
#include <stb/stb_image_write.h>
#pragma GCC diagnostic pop

using namespace yoco;
using namespace yoco::data;
using test::contains;
using test::error_of;
using test::TempDir;
namespace fs = std::filesystem;

namespace {

// Writes `per_class` random w x h PNGs (channels c) into root/<class>/ for each class; returns the RGB bytes of
// each image in load order (class-major, files sorted by name).
std::vector<std::vector<uint8_t>> make_split(const fs::path& root, const std::vector<std::string>& classes,
                                             int per_class, int w = 32, int h = 32, int c = 3) {
  std::mt19937 rng(7);
  std::vector<std::vector<uint8_t>> out;
  for (const auto& cls : classes) {
    fs::create_directories(root / cls);
    for (int k = 0; k < per_class; ++k) {
      std::vector<uint8_t> px(static_cast<size_t>(w * h * c));
      for (auto& v : px) v = static_cast<uint8_t>(rng());
      const std::string f = (root / cls / ("img" + std::to_string(k) + ".png")).string();
      REQUIRE(stbi_write_png(f.c_str(), w, h, c, px.data(), w * c) != 0);
      std::vector<uint8_t> rgb(static_cast<size_t>(w * h * 3));
      for (int p = 0; p < w * h; ++p)
        for (int ch = 0; ch < 3; ++ch) rgb[p * 3 + ch] = px[p * c + (c == 1 ? 0 : ch)];
      out.push_back(std::move(rgb));
    }
  }
  return out;
}

}  // namespace

TEST_CASE("cifar10 folder: pixels as they are, CIFAR-10's label order, test or val split") {
  TempDir t;
  const auto train = make_split(t.p / "train", cifar10_class_names(), 2);
  make_split(t.p / "val", cifar10_class_names(), 1, 32, 32, 1);  // grey files become RGB
  CHECK(is_cifar10_folder(t.p.string()));
  const Dataset d = load_dataset("cifar10", t.p.string(), true);
  REQUIRE(d.images.shape() == Shape{20, 3, 32, 32});
  CHECK(d.name == "cifar10");
  CHECK(d.num_classes == 10);
  CHECK(d.mean.size() == 3);
  std::vector<int64_t> want_labels;
  for (int64_t c = 0; c < 10; ++c) want_labels.insert(want_labels.end(), {c, c});
  CHECK(d.labels.to_int_vector() == want_labels);
  const std::vector<float> x = d.images.to_vector();
  bool exact = true;
  for (size_t i = 0; i < 20; ++i)
    for (int p = 0; p < 32 * 32; ++p)
      for (int ch = 0; ch < 3; ++ch)
        exact &= x[(i * 3 + ch) * 1024 + p] == train[i][p * 3 + ch] / 255.f;
  CHECK(exact);
  const Dataset v = load_dataset("cifar10", t.p.string(), false);  // no test/: val/
  REQUIRE(v.size() == 10);
  const std::vector<float> vx = v.images.to_vector();
  CHECK(vx[0] == vx[1024]);  // grey: R plane == G plane
}

TEST_CASE("cifar10 folder: other class names and other image sizes are refused, naming them") {
  TempDir t;
  std::vector<std::string> names = cifar10_class_names();
  names[3] = "kitty";
  make_split(t.p / "train", names, 1);
  std::string e = error_of([&] { load_dataset("cifar10", t.p.string(), true); });
  CHECK(contains(e, "class folders are not CIFAR-10's"));
  CHECK(contains(e, "missing cat; unexpected kitty"));

  TempDir u;
  make_split(u.p / "train", cifar10_class_names(), 1);
  make_split(u.p / "train", {"dog"}, 2, 31, 32);  // dog/img1.png is 31x32 (img0 is overwritten, also 31x32)
  e = error_of([&] { load_dataset("cifar10", u.p.string(), true); });
  CHECK(contains(e, "dog/img0.png: image is 31x32, expected 32x32"));
  CHECK(!is_cifar10_folder((u.p / "train").string()));  // a split itself is not the dataset folder
}

TEST_CASE("cifar10 folder: a few images of the shared JPEG copy (skipped when absent)") {
  const std::string tgz = "/work/shared/data/cifar10-jpeg/cifar10-jpeg.tar.gz";
  if (!fs::exists(tgz)) {
    MESSAGE(tgz << " not present: skipping the JPEG-copy case");
    return;
  }
  TempDir t;
  const std::string cmd = "tar xzf " + tgz + " -C " + t.p.string() + " --wildcards 'test/*/000[01].jpg' 2>/dev/null";
  REQUIRE(std::system(cmd.c_str()) == 0);
  const Dataset d = load_dataset("cifar10", t.p.string(), false);
  REQUIRE(d.images.shape() == Shape{20, 3, 32, 32});
  std::vector<int64_t> want_labels;
  for (int64_t c = 0; c < 10; ++c) want_labels.insert(want_labels.end(), {c, c});
  CHECK(d.labels.to_int_vector() == want_labels);
  double mean = 0;
  for (float v : d.images.to_vector()) mean += v;
  mean /= static_cast<double>(d.images.numel());
  CHECK(mean > 0.2);  // natural images, not a blank decode (the whole set's mean is 0.47)
  CHECK(mean < 0.8);
}
