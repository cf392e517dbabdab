// Tests for the dataset readers (IDX, CIFAR, image folder), dataset helpers and the PNG grid export.
#include <doctest/doctest.h>
#include "tests/unit/test_util.h"
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <tuple>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wall"
#pragma GCC diagnostic ignored "-Wextra"
#include <stb/stb_image.h>
#include <stb/stb_image_write.h>
#pragma GCC diagnostic pop

#include "data/cifar.h"
#include "data/dataset.h"
#include "data/idx.h"
#include "data/image_folder.h"
#include "data/png_grid.h"

namespace fs = std::filesystem;
using namespace yoco;
using namespace yoco::data;

namespace {

// TempDir comes from test_util.h; each test names its directories "yoco_data_test_*".
struct TempDir : test::TempDir {
  TempDir() : test::TempDir("yoco_data_test") {}
};

void put_be32(std::vector<uint8_t>& b, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(uint8_t(v >> s));
}

std::vector<uint8_t> idx_images(uint32_t n, uint32_t rows, uint32_t cols, uint32_t magic = 2051) {
  std::vector<uint8_t> b;
  put_be32(b, magic);
  put_be32(b, n);
  put_be32(b, rows);
  put_be32(b, cols);
  for (uint32_t i = 0; i < n * rows * cols; ++i) b.push_back(uint8_t((i * 7) % 256));
  return b;
}

std::vector<uint8_t> idx_labels(const std::vector<uint8_t>& y, uint32_t magic = 2049) {
  std::vector<uint8_t> b;
  put_be32(b, magic);
  put_be32(b, uint32_t(y.size()));
  b.insert(b.end(), y.begin(), y.end());
  return b;
}

void write_raw(const std::string& path, const std::vector<uint8_t>& b) {
  std::ofstream o(path, std::ios::binary);
  o.write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
}

void write_gz(const std::string& path, const std::vector<uint8_t>& b) {
  gzFile g = gzopen(path.c_str(), "wb");
  REQUIRE(g != nullptr);
  REQUIRE(gzwrite(g, b.data(), unsigned(b.size())) == int(b.size()));
  gzclose(g);
}

using test::contains;
using test::error_of;

Dataset toy_dataset() {  // 3 classes, interleaved labels 0,1,2,0,1,2,... (12 images), pixel = index
  Dataset d;
  d.name = "toy";
  d.num_classes = 3;
  d.channels = 1;
  d.height = d.width = 2;
  std::vector<float> x;
  std::vector<int64_t> y;
  for (int i = 0; i < 12; ++i) {
    for (int k = 0; k < 4; ++k) x.push_back(float(i) / 100.f);
    y.push_back(i % 3);
  }
  d.images = from_vector(x, {12, 1, 2, 2});
  d.labels = from_int_vector(y, {12});
  return d;
}

}  // namespace

TEST_CASE("data: idx reader loads gz and raw files with correct values") {
  TempDir t;
  const std::vector<uint8_t> y = {3, 1, 4, 1, 5};
  write_gz(t / "train-images-idx3-ubyte.gz", idx_images(5, 4, 3));
  write_gz(t / "train-labels-idx1-ubyte.gz", idx_labels(y));
  write_raw(t / "t10k-images-idx3-ubyte", idx_images(2, 4, 3));
  write_raw(t / "t10k-labels-idx1-ubyte", idx_labels({9, 0}));

  Dataset tr = load_mnist_like(t.p.string(), "fashion-mnist", true);
  CHECK(tr.images.shape() == Shape{5, 1, 4, 3});
  CHECK(tr.labels.to_int_vector() == std::vector<int64_t>{3, 1, 4, 1, 5});
  auto px = tr.images.to_vector();
  CHECK(px[0] == 0.f);
  CHECK(px[1] == doctest::Approx(7.f / 255.f));
  CHECK(px[37] == doctest::Approx(float((37 * 7) % 256) / 255.f));
  CHECK(tr.mean == std::vector<float>{0.2861f});
  CHECK(tr.std == std::vector<float>{0.3530f});

  Dataset te = load_mnist_like(t.p.string(), "mnist", false);
  CHECK(te.labels.to_int_vector() == std::vector<int64_t>{9, 0});
  CHECK(te.mean == std::vector<float>{0.1307f});
}

TEST_CASE("data: idx reader errors name the file, offset and expectation") {
  TempDir t;
  auto imgs = idx_images(5, 4, 3);
  // Truncated raw pixel data.
  std::vector<uint8_t> cut(imgs.begin(), imgs.end() - 10);
  write_raw(t / "train-images-idx3-ubyte", cut);
  std::string e = error_of([&] { read_idx_images(t / "train-images-idx3-ubyte"); });
  CHECK(contains(e, "train-images-idx3-ubyte: truncated at byte 66: expected 60 bytes of pixel data"));

  // Truncated gzip stream.
  write_gz(t / "full.gz", imgs);
  std::vector<uint8_t> gz;
  {
    std::ifstream in(t / "full.gz", std::ios::binary);
    gz.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  gz.resize(gz.size() / 2);
  write_raw(t / "half-images-idx3-ubyte.gz", gz);
  e = error_of([&] { read_idx_images(t / "half-images-idx3-ubyte.gz"); });
  CHECK(contains(e, "half-images-idx3-ubyte.gz"));
  CHECK(contains(e, "truncated"));

  // Bad magic (a labels file given as images).
  write_raw(t / "swapped", idx_labels({1, 2}));
  e = error_of([&] { read_idx_images(t / "swapped"); });
  CHECK(contains(e, "swapped: bad magic number 2049 at byte 0: expected 2051"));

  // Label out of range.
  write_raw(t / "labels-bad", idx_labels({1, 2, 12}));
  e = error_of([&] { read_idx_labels(t / "labels-bad"); });
  CHECK(contains(e, "labels-bad: label 12 at byte 10: expected < 10"));

  // Trailing garbage.
  auto longer = idx_labels({1, 2});
  longer.push_back(0);
  write_raw(t / "labels-long", longer);
  e = error_of([&] { read_idx_labels(t / "labels-long"); });
  CHECK(contains(e, "labels-long: 1 trailing bytes at byte 10"));

  // Count mismatch between images and labels.
  write_raw(t / "train-images-idx3-ubyte", imgs);
  write_raw(t / "train-labels-idx1-ubyte", idx_labels({1, 2}));
  e = error_of([&] { load_mnist_like(t.p.string(), "mnist", true); });
  CHECK(contains(e, "train-images-idx3-ubyte holds 5 images but train-labels-idx1-ubyte holds 2 labels"));

  // Missing files.
  e = error_of([&] { load_mnist_like(t.p.string(), "mnist", false); });
  CHECK(contains(e, "t10k-images-idx3-ubyte[.gz]: file not found"));
}

TEST_CASE("data: real Fashion-MNIST (when installed)") {
  const std::string dir = "/usr/share/datasets/fashion-mnist";
  if (!fs::exists(dir + "/train-images-idx3-ubyte.gz")) {
    MESSAGE("Fashion-MNIST not installed at " << dir << ": skipping this case");
    return;
  }
  for (bool train : {true, false}) {
    Dataset d = load_mnist_like(dir, "fashion-mnist", train);
    const int64_t n = train ? 60000 : 10000;
    CHECK(d.images.shape() == Shape{n, 1, 28, 28});
    CHECK(d.labels.numel() == n);
    auto px = d.images.to_vector();
    auto [lo, hi] = std::minmax_element(px.begin(), px.end());
    CHECK(*lo == 0.f);
    CHECK(*hi == 1.f);
    auto per = class_indices(d);
    REQUIRE(per.size() == 10);
    for (const auto& c : per) CHECK(int64_t(c.size()) == n / 10);
  }
}

TEST_CASE("data: default_data_dir honours YOCO_DATA_DIR") {
  unsetenv("YOCO_DATA_DIR");
  CHECK(default_data_dir("fashion-mnist") == "/usr/share/datasets/fashion-mnist");
  setenv("YOCO_DATA_DIR", "/tmp/x", 1);
  CHECK(default_data_dir("cifar10") == "/tmp/x/cifar10");
  unsetenv("YOCO_DATA_DIR");
  CHECK(dataset_stats("cifar100").second == std::vector<float>{0.2023f, 0.1994f, 0.2010f});
  CHECK(dataset_stats("imagenet10").first == std::vector<float>{0.485f, 0.456f, 0.406f});
  CHECK(contains(error_of([] { dataset_stats("svhm"); }), "unknown dataset 'svhm'"));
}

namespace {
// One CIFAR record: label bytes then 3072 pixels with value (seed + p) % 256.
void cifar_record(std::vector<uint8_t>& b, std::vector<uint8_t> label_bytes, int seed) {
  b.insert(b.end(), label_bytes.begin(), label_bytes.end());
  for (int p = 0; p < 3072; ++p) b.push_back(uint8_t((seed + p) % 256));
}
}  // namespace

TEST_CASE("data: CIFAR-10 reader (with cifar-10-batches-bin subdir) and errors") {
  TempDir t;
  fs::create_directories(t.p / "cifar-10-batches-bin");
  for (int f = 1; f <= 5; ++f) {
    std::vector<uint8_t> b;
    cifar_record(b, {uint8_t(f)}, f);
    cifar_record(b, {uint8_t(9 - f)}, 100 + f);
    write_raw(t / ("cifar-10-batches-bin/data_batch_" + std::to_string(f) + ".bin"), b);
  }
  std::vector<uint8_t> tb;
  cifar_record(tb, {7}, 50);
  write_raw(t / "cifar-10-batches-bin/test_batch.bin", tb);

  Dataset d = load_cifar10(t.p.string(), true);
  CHECK(d.images.shape() == Shape{10, 3, 32, 32});
  CHECK(d.labels.to_int_vector() == std::vector<int64_t>{1, 8, 2, 7, 3, 6, 4, 5, 5, 4});
  auto px = d.images.to_vector();
  CHECK(px[0] == doctest::Approx(1.f / 255.f));               // file 1, record 0, pixel 0
  CHECK(px[3072 + 1024] == doctest::Approx(float((101 + 1024) % 256) / 255.f));  // record 1, G plane start
  CHECK(d.mean == std::vector<float>{0.4914f, 0.4822f, 0.4465f});
  Dataset te = load_cifar10((t.p / "cifar-10-batches-bin").string(), false);
  CHECK(te.labels.to_int_vector() == std::vector<int64_t>{7});

  tb.resize(3073 + 100);
  write_raw(t / "cifar-10-batches-bin/test_batch.bin", tb);
  std::string e = error_of([&] { load_cifar10(t.p.string(), false); });
  CHECK(contains(e, "test_batch.bin: truncated at byte 3073"));
  tb.resize(3073);
  tb[0] = 10;
  write_raw(t / "cifar-10-batches-bin/test_batch.bin", tb);
  e = error_of([&] { load_cifar10(t.p.string(), false); });
  CHECK(contains(e, "test_batch.bin: label 10 at byte 0: expected < 10"));
}

TEST_CASE("data: CIFAR-100 reader uses the fine label") {
  TempDir t;
  std::vector<uint8_t> b;
  cifar_record(b, {3, 77}, 0);
  cifar_record(b, {19, 99}, 5);
  write_raw(t / "train.bin", b);
  Dataset d = load_cifar100(t.p.string(), true);
  CHECK(d.num_classes == 100);
  CHECK(d.labels.to_int_vector() == std::vector<int64_t>{77, 99});
  CHECK(d.images.to_vector()[3072 + 2] == doctest::Approx(7.f / 255.f));
  b[1] = 100;
  write_raw(t / "train.bin", b);
  CHECK(contains(error_of([&] { load_cifar100(t.p.string(), true); }), "train.bin: label 100 at byte 1"));
  b.pop_back();
  write_raw(t / "train.bin", b);
  CHECK(contains(error_of([&] { load_cifar100(t.p.string(), true); }), "train.bin: truncated at byte 3074"));
}

TEST_CASE("data: image folder reader sorts classes/files and resizes") {
  TempDir t;
  // Class "b_dog" sorts after "a_cat"; each file a solid colour so resizing keeps the exact value.
  const std::vector<std::tuple<std::string, std::string, uint8_t>> files = {
      {"b_dog", "2.png", 200}, {"b_dog", "1.png", 150}, {"a_cat", "x.png", 50}, {"a_cat", "y.png", 100}};
  for (const auto& [cls, name, v] : files) {
    fs::create_directories(t.p / cls);
    std::vector<uint8_t> px(6 * 4 * 3);
    for (size_t i = 0; i < px.size(); ++i) px[i] = (i % 3 == 1) ? 255 - v : v;  // R=v, G=255-v, B=v
    REQUIRE(stbi_write_png((t.p / cls / name).c_str(), 6, 4, 3, px.data(), 6 * 3));
  }
  write_raw(t / "a_cat/notes.txt", {1, 2, 3});  // ignored: not an image
  CHECK(image_folder_classes(t.p.string()) == std::vector<std::string>{"a_cat", "b_dog"});
  Dataset d = load_image_folder(t.p.string(), 8, "imagenet10");
  CHECK(d.images.shape() == Shape{4, 3, 8, 8});
  CHECK(d.labels.to_int_vector() == std::vector<int64_t>{0, 0, 1, 1});
  auto px = d.images.to_vector();
  const int64_t img = 3 * 64;
  CHECK(px[0] == doctest::Approx(50.f / 255.f));
  CHECK(px[64] == doctest::Approx(205.f / 255.f));          // G plane of image 0
  CHECK(px[img + 5] == doctest::Approx(100.f / 255.f));     // a_cat/y.png
  CHECK(px[2 * img + 63] == doctest::Approx(150.f / 255.f));  // b_dog/1.png sorts before 2.png
  CHECK(px[3 * img] == doctest::Approx(200.f / 255.f));
  CHECK(d.mean == std::vector<float>{0.485f, 0.456f, 0.406f});

  write_raw(t / "b_dog/3.png", {1, 2, 3, 4});
  CHECK(contains(error_of([&] { load_image_folder(t.p.string(), 8); }), "3.png: cannot decode image"));
}

TEST_CASE("data: bilinear resize + center crop on a gradient") {
  // 1x4 gray ramp 0,100,200,250 upsampled to 1x8 (half-pixel centres): ends clamp, midpoints interpolate.
  const uint8_t src[4] = {0, 100, 200, 250};
  float out[8];
  resize_center_crop(src, 1, 4, 1, 1, 8, 1, 8, out);
  CHECK(out[0] == doctest::Approx(0.f));
  CHECK(out[1] == doctest::Approx(25.f / 255.f));   // x=0.25 -> 0.25*100
  CHECK(out[2] == doctest::Approx(75.f / 255.f));   // x=0.75
  CHECK(out[7] == doctest::Approx(250.f / 255.f));
  float crop[2];
  resize_center_crop(src, 1, 4, 1, 1, 8, 1, 2, crop);  // centre window = out[3..4]
  CHECK(crop[0] == doctest::Approx(out[3]));
  CHECK(crop[1] == doctest::Approx(out[4]));
}

TEST_CASE("data: class_indices, subset, first_n and random_n per class") {
  Dataset d = toy_dataset();
  auto per = class_indices(d);
  CHECK(per[1] == std::vector<int64_t>{1, 4, 7, 10});

  Dataset f = first_n_per_class(d, 2);
  CHECK(f.labels.to_int_vector() == std::vector<int64_t>{0, 0, 1, 1, 2, 2});
  auto fx = f.images.to_vector();
  CHECK(fx[4 * 1] == doctest::Approx(0.03f));  // second class-0 image is index 3
  CHECK(fx[4 * 2] == doctest::Approx(0.01f));

  Dataset r1 = random_n_per_class(d, 3, 42), r2 = random_n_per_class(d, 3, 42), r3 = random_n_per_class(d, 3, 7);
  CHECK(r1.labels.to_int_vector() == std::vector<int64_t>{0, 0, 0, 1, 1, 1, 2, 2, 2});
  CHECK(r1.images.to_vector() == r2.images.to_vector());
  // Within a class: distinct members of that class.
  auto rx = r1.images.to_vector();
  for (int c = 0; c < 3; ++c) {
    std::set<int> seen;
    for (int k = 0; k < 3; ++k) {
      const int idx = int(std::lround(rx[size_t(4 * (3 * c + k))] * 100.f));
      CHECK(idx % 3 == c);
      seen.insert(idx);
    }
    CHECK(seen.size() == 3);
  }
  // Different seeds almost surely choose differently over 50 trials.
  bool any_diff = false;
  for (uint64_t s = 0; s < 50 && !any_diff; ++s)
    any_diff = random_n_per_class(d, 3, s).images.to_vector() != rx;
  CHECK(any_diff);
  (void)r3;

  CHECK(contains(error_of([&] { first_n_per_class(d, 5); }), "class 0 has 4 images, need 5"));
  CHECK(contains(error_of([&] { subset(d, {0, 12}); }), "subset index 12"));
}

TEST_CASE("data: PNG grid writes a valid PNG with the expected size") {
  TempDir t;
  // 2 classes x 3 images, 1 channel, 4x5.
  std::vector<float> x(6 * 20);
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(i % 20) / 19.f;
  Tensor imgs = from_vector(x, {6, 1, 4, 5});
  Tensor labels = from_int_vector({0, 0, 0, 1, 1, 1}, {6});
  write_png_grid(t / "grid.png", imgs, labels, 0, 2);
  CHECK(!fs::exists(t / "grid.png.tmp"));
  int w = 0, h = 0, c = 0;
  uint8_t* px = stbi_load((t / "grid.png").c_str(), &w, &h, &c, 3);
  REQUIRE(px != nullptr);
  // Margin for 1 digit at scale 1 is 5 px; 3 cells of 5+2, +2 pad; 2 rows of 4+2, +2.
  CHECK(w == 5 + 3 * 7 + 2);
  CHECK(h == 2 * 6 + 2);
  // First image's pixel (0,0) = 0 (black), its last pixel (3,4) = 1 (white); gray so R == G == B.
  const auto at = [&](int xx, int yy, int ch) { return px[(yy * w + xx) * 3 + ch]; };
  CHECK(at(5 + 2, 2, 0) == 0);
  CHECK(at(5 + 2 + 4, 2 + 3, 0) == 255);
  CHECK(at(5 + 2 + 4, 2 + 3, 2) == 255);
  stbi_image_free(px);

  write_png_grid(t / "grid4.png", imgs, labels, 4, 1);
  REQUIRE(stbi_info((t / "grid4.png").c_str(), &w, &h, &c));
  CHECK(w == 4 * 6 + 1);
  CHECK(h == 2 * 5 + 1);

  // Atomic: a missing directory throws and leaves nothing behind.
  const std::string bad = t / "no_such_dir/grid.png";
  CHECK(contains(error_of([&] { write_png_grid(bad, imgs, labels); }), "cannot write PNG"));
  CHECK(!fs::exists(bad + ".tmp"));
  CHECK(!fs::exists(t.p / "no_such_dir"));
}
