// Fixed inputs for the fuzz targets and their seed corpora, built by code from the project's own writers.
#include "tests/fuzz/fixtures.h"

#include <unistd.h>
#include <zlib.h>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include "apps/common/prune.h"
#include "data/pt_file.h"
#include "data/zip.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wall"
#pragma GCC diagnostic ignored "-Wextra"
#include <stb/stb_image_write.h>
#pragma GCC diagnostic pop

namespace fs = std::filesystem;

namespace yoco::fuzz {
namespace {

data::CondensedSet make_tiny_set(bool imbalanced) {
  data::CondensedSet s;
  const int64_t n = imbalanced ? 3 : 2, side = 8;
  std::vector<float> px(static_cast<size_t>(n * side * side));
  for (size_t i = 0; i < px.size(); ++i) px[i] = static_cast<float>(i % 17) / 16.f;
  s.images = from_vector(px, {n, 1, side, side});
  s.labels = from_int_vector(imbalanced ? std::vector<int64_t>{0, 0, 1} : std::vector<int64_t>{0, 1}, {n});
  data::SetMeta& m = s.meta;
  m.dataset = "fashion-mnist";
  m.num_classes = 2;
  m.ipc = imbalanced ? 2 : 1;
  m.factor = 1;
  m.channels = 1;
  m.height = m.width = side;
  m.mean = {0.2861f};
  m.std = {0.3530f};
  m.method = "idc";
  m.seed = 7;
  m.config = {{"niter", 1}};
  if (imbalanced) m.class_counts = {2, 1};
  return s;
}

void put_be32(std::vector<uint8_t>& b, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<uint8_t>(v >> s));
}

void write_file(const std::string& path, const std::vector<uint8_t>& b) { write_bytes(path, b.data(), b.size()); }

void write_gz(const std::string& path, const std::vector<uint8_t>& b) {
  gzFile g = gzopen(path.c_str(), "wb");
  if (g == nullptr || gzwrite(g, b.data(), static_cast<unsigned>(b.size())) != static_cast<int>(b.size())) std::abort();
  gzclose(g);
}

void append_bytes(void* ctx, void* data, int size) {
  auto* v = static_cast<std::vector<uint8_t>*>(ctx);
  v->insert(v->end(), static_cast<uint8_t*>(data), static_cast<uint8_t*>(data) + size);
}

}  // namespace

const data::CondensedSet& tiny_set() {
  static const data::CondensedSet s = make_tiny_set(false);
  return s;
}

const app::CondenseConfig& checkpoint_config() {
  static const app::CondenseConfig c = [] {
    app::CondenseConfig cfg = app::default_condense_config("fashion-mnist", 1, 1);
    cfg.seed = 7;
    cfg.progress = false;
    return cfg;
  }();
  return c;
}

const data::Dataset& checkpoint_dataset() {
  static const data::Dataset d = [] {
    data::Dataset t;
    t.name = "fashion-mnist";
    t.num_classes = 2;
    t.channels = 1;
    t.height = t.width = 8;
    t.mean = {0.2861f};
    t.std = {0.3530f};
    t.images = tiny_set().images;
    t.labels = tiny_set().labels;
    return t;
  }();
  return d;
}

namespace {
// The scratch directory, removed when the process exits normally (libFuzzer exits through exit()).
struct ScratchDir {
  std::string path;
  ScratchDir() {
    const fs::path base = fs::is_directory("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
    path = (base / ("yoco-fuzz-" + std::to_string(getpid()))).string();
    fs::create_directories(path);
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};
}  // namespace

std::string scratch_path(const std::string& name) {
  static const ScratchDir dir;
  return dir.path + "/" + name;
}

void write_bytes(const std::string& path, const uint8_t* data, size_t size) {
  std::ofstream o(path, std::ios::binary | std::ios::trunc);
  o.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  o.close();
  if (!o) {
    std::fprintf(stderr, "fuzz: cannot write %s\n", path.c_str());
    std::abort();
  }
}

void write_seeds(const std::string& dir) {
  auto sub = [&](const std::string& target) {
    fs::create_directories(fs::path(dir) / target);
    return (fs::path(dir) / target).string() + "/";
  };
  // Sets: f32, f16 and imbalanced (class_counts); each is also an npz seed.
  const std::string set = sub("set"), npz = sub("npz");
  data::save_set(set + "tiny_f32.npz", tiny_set());
  data::CondensedSet f16 = tiny_set();
  f16.meta.storage = data::SetStorage::F16;
  data::save_set(set + "tiny_f16.npz", f16);
  data::save_set(set + "imbalanced.npz", make_tiny_set(true));
  for (const char* f : {"tiny_f32.npz", "tiny_f16.npz", "imbalanced.npz"})
    fs::copy_file(set + f, npz + f, fs::copy_options::overwrite_existing);

  // Scores of the tiny set (two decoded sub-images), as `prune score` writes them.
  app::ScoreTable t;
  t.difficulty = {{"yoco", {0.5f, 1.5f}}, {"el2n", {0.25f, 0.75f}}};
  t.feat_dim = 3;
  t.features = {0.f, 1.f, 2.f, 3.f, 4.f, 5.f};
  t.labels = {0, 1};
  t.num_classes = 2;
  t.ipc_from = 1;
  t.factor = 1;
  t.dataset = "fashion-mnist";
  const std::string scores = sub("scores");
  app::save_score_table(scores + "tiny.npz", t,
                        {{"kind", "yoco-scores"}, {"set_fingerprint", app::set_fingerprint(tiny_set())}});
  fs::copy_file(scores + "tiny.npz", npz + "scores.npz", fs::copy_options::overwrite_existing);

  // A checkpoint of the fixed configuration: two classes of one 1x8x8 stored image, momentum for one.
  app::CondenseState st;
  st.stored = {full({1, 1, 8, 8}, 0.25f), full({1, 1, 8, 8}, 0.75f)};
  st.momentum = {full({1, 1, 8, 8}, 0.01f), Tensor()};
  st.next_outer = 3;
  st.loss_history = {1.0, 0.5, 0.25};
  const std::string ckpt = sub("checkpoint");
  app::save_checkpoint(ckpt + "tiny.ckpt.npz", checkpoint_dataset(), checkpoint_config(), st);
  fs::copy_file(ckpt + "tiny.ckpt.npz", npz + "checkpoint.npz", fs::copy_options::overwrite_existing);

  // IDX images (3 of 4x5) and labels, raw and gzip.
  std::vector<uint8_t> im, lb;
  put_be32(im, 2051);
  put_be32(im, 3);
  put_be32(im, 4);
  put_be32(im, 5);
  for (int i = 0; i < 3 * 4 * 5; ++i) im.push_back(static_cast<uint8_t>(i * 7));
  put_be32(lb, 2049);
  put_be32(lb, 3);
  for (uint8_t y : {3, 1, 4}) lb.push_back(y);
  const std::string idx = sub("idx");
  write_file(idx + "images.idx3", im);
  write_file(idx + "labels.idx1", lb);
  write_gz(idx + "images.idx3.gz", im);
  write_gz(idx + "labels.idx1.gz", lb);

  // CIFAR: one CIFAR-10 record (label + 3072 pixels) and one CIFAR-100 record (coarse, fine + pixels).
  const std::string cifar = sub("cifar");
  for (int label_bytes : {1, 2}) {
    std::vector<uint8_t> r(static_cast<size_t>(label_bytes), 3);
    for (int p = 0; p < 3072; ++p) r.push_back(static_cast<uint8_t>(p * 13));
    write_file(cifar + (label_bytes == 1 ? "cifar10.bin" : "cifar100.bin"), r);
  }

  // Images: RGB and grey PNGs, a JPEG.
  const std::string image = sub("image");
  std::vector<uint8_t> rgb(5 * 7 * 3), grey(6 * 4);
  for (size_t i = 0; i < rgb.size(); ++i) rgb[i] = static_cast<uint8_t>(i * 11);
  for (size_t i = 0; i < grey.size(); ++i) grey[i] = static_cast<uint8_t>(i * 29);
  std::vector<uint8_t> png_rgb, png_grey, jpg;
  stbi_write_png_to_func(append_bytes, &png_rgb, 5, 7, 3, rgb.data(), 5 * 3);
  stbi_write_png_to_func(append_bytes, &png_grey, 6, 4, 1, grey.data(), 6);
  stbi_write_jpg_to_func(append_bytes, &jpg, 5, 7, 3, rgb.data(), 90);
  write_file(image + "rgb.png", png_rgb);
  write_file(image + "grey.png", png_grey);
  write_file(image + "rgb.jpg", jpg);

  // PyTorch .pt: the tiny set as IDC's [images, labels] list (f32 and f16 images), and a 4x3x2x2 + 4-label file
  // whose bare data.pkl also seeds the target's pickle-only mode (its fallback archive has storages of that size).
  const std::string pt = sub("pt");
  for (const auto& [file, dtype] : {std::pair{"tiny_f32.pt", data::PtDType::F32}, {"tiny_f16.pt", data::PtDType::F16}})
    data::write_pt(pt + file, {{tiny_set().images, dtype}, {tiny_set().labels, data::PtDType::I64}});
  std::vector<float> px(48);
  for (size_t i = 0; i < px.size(); ++i) px[i] = static_cast<float>(i) / 48.f;
  data::write_pt(pt + "small.pt", {{from_vector(px, {4, 3, 2, 2}), data::PtDType::F32},
                                   {from_int_vector({0, 1, 2, 3}, {4}), data::PtDType::I64}});
  const std::vector<char> b = data::read_file_bytes(pt + "small.pt");
  for (const data::ZipEntry& e : data::read_zip_entries(b.data(), b.size(), pt + "small.pt"))
    if (e.name.size() >= 8 && e.name.compare(e.name.size() - 8, 8, "data.pkl") == 0)
      write_bytes(pt + "small.pkl", reinterpret_cast<const uint8_t*>(b.data()) + e.offset, e.size);
}

}  // namespace yoco::fuzz
