// Hostile inputs for every byte reader: each case is a file a careless or malicious user could hand the tools,
// and each must end in one clean, one-line yoco::Error naming the file (never a crash, a huge allocation or a
// silent success). Also replays the fuzzers' regression inputs (tests/data/fuzz/<target>/*).
#include <doctest/doctest.h>
#include "tests/unit/test_util.h"
#include <zlib.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wall"
#pragma GCC diagnostic ignored "-Wextra"
#include <stb/stb_image_write.h>
#pragma GCC diagnostic pop

#include "apps/common/condense.h"
#include "apps/common/prune.h"
#include "data/cifar.h"
#include "data/idx.h"
#include "data/image_folder.h"
#include "data/npz.h"
#include "data/set_file.h"
#include "data/zip.h"

namespace fs = std::filesystem;
using namespace yoco;
using namespace yoco::data;
using test::contains;
using test::error_of;

namespace {

struct TempDir : test::TempDir {
  TempDir() : test::TempDir("yoco_hostile_test") {}
};

std::vector<char> slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<char>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void spit(const std::string& path, const void* data, size_t n) {
  std::ofstream o(path, std::ios::binary | std::ios::trunc);
  o.write(static_cast<const char*>(data), static_cast<std::streamsize>(n));
}
void spit(const std::string& path, const std::vector<char>& b) { spit(path, b.data(), b.size()); }
void spit(const std::string& path, const std::string& s) { spit(path, s.data(), s.size()); }

// A clean refusal: one line that names the file.
void check_refusal(const std::string& err, const std::string& file, const std::string& part) {
  INFO(err);
  CHECK(err != "<no error>");
  CHECK(err.find('\n') == std::string::npos);
  CHECK(contains(err, file));
  CHECK(contains(err, part));
}

// One .npy entry with a hand-written header dict and `data_bytes` bytes of data.
std::vector<char> npy_with_header(const std::string& dict, size_t data_bytes = 0) {
  std::string h = dict;
  while ((10 + h.size() + 1) % 64 != 0) h += ' ';
  h += '\n';
  std::string out = std::string("\x93NUMPY\x01\x00", 8) + char(h.size() & 0xff) + char(h.size() >> 8) + h;
  out.append(data_bytes, '\0');
  return std::vector<char>(out.begin(), out.end());
}

// A one-entry zip holding `npy` as entry "x.npy".
std::vector<char> zip_of(const std::vector<char>& npy) {
  std::ostringstream out;
  write_zip(out, "mem", {{"x.npy", std::string_view(npy.data(), npy.size())}});
  const std::string s = out.str();
  return std::vector<char>(s.begin(), s.end());
}

CondensedSet two_class_set() {
  CondensedSet s;
  s.images = full({2, 1, 4, 4}, 0.5f);
  s.labels = from_int_vector({0, 1}, {2});
  SetMeta& m = s.meta;
  m.dataset = "fashion-mnist";
  m.num_classes = 2;
  m.ipc = 1;
  m.factor = 1;
  m.channels = 1;
  m.height = m.width = 4;
  m.mean = {0.5f};
  m.std = {0.25f};
  m.method = "idc";
  return s;
}

// A set file with the images/labels given and `meta` as raw JSON text (nothing validated on the way out).
void write_set_raw(const std::string& path, const Tensor& images, const Tensor& labels, const std::string& meta) {
  write_npz(path, {{"images", npy_from_tensor(images)}, {"labels", npy_from_tensor(labels)},
                   {"meta", npy_from_string(meta)}});
}

// two_class_set's meta as JSON with one field replaced by raw JSON text.
std::string meta_with(const std::string& key, const std::string& raw_value) {
  std::string j = meta_to_json(two_class_set().meta).dump();
  const std::string k = "\"" + key + "\":";
  size_t p = j.find(k);
  if (p == std::string::npos) return j.substr(0, j.size() - 1) + ",\"" + key + "\":" + raw_value + "}";
  p += k.size();
  // The old value ends at the next top-level ',' or '}' (test metas hold no nested commas in replaced fields).
  size_t e = p;
  int depth = 0;
  for (; e < j.size(); ++e) {
    if (j[e] == '[' || j[e] == '{') ++depth;
    if (j[e] == ']' || j[e] == '}') {
      if (depth == 0) break;
      --depth;
    }
    if (j[e] == ',' && depth == 0) break;
  }
  return j.substr(0, p) + raw_value + j.substr(e);
}

std::string load_error_with(const TempDir& t, const std::string& key, const std::string& raw_value) {
  const CondensedSet s = two_class_set();
  write_set_raw(t / "s.npz", s.images, s.labels, meta_with(key, raw_value));
  return error_of([&] { load_set(t / "s.npz"); });
}

void put_be32(std::vector<uint8_t>& b, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(uint8_t(v >> s));
}

void append_bytes(void* ctx, void* data, int size) {
  auto* v = static_cast<std::vector<char>*>(ctx);
  v->insert(v->end(), static_cast<char*>(data), static_cast<char*>(data) + size);
}

}  // namespace

TEST_CASE("hostile npy: a huge shape with no data is refused, not wrapped to zero bytes") {
  TempDir t;
  // (2^62,1,1,1) of <f4: numel*4 wraps to 0 in 64-bit arithmetic, which matched the 0 data bytes present.
  spit(t / "huge.npz", zip_of(npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': "
                                               "(4611686018427387904, 1, 1, 1), }")));
  check_refusal(error_of([&] { read_npz(t / "huge.npz"); }), "huge.npz: entry x.npy", "dimension");
  // Two dims whose product wraps: 2^32 * 2^32 * 4 bytes.
  spit(t / "wrap.npz", zip_of(npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': "
                                               "(4294967296, 4294967296), }")));
  check_refusal(error_of([&] { read_npz(t / "wrap.npz"); }), "wrap.npz: entry x.npy", "exceeds");
  // A zero dimension does not excuse the others from the overflow check.
  spit(t / "zero.npz", zip_of(npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': "
                                               "(0, 1099511627776, 1099511627776), }")));
  check_refusal(error_of([&] { read_npz(t / "zero.npz"); }), "zero.npz", "exceeds");
}

TEST_CASE("hostile npy: more than 8 dimensions and malformed header dicts are refused") {
  TempDir t;
  spit(t / "ndim.npz", zip_of(npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': "
                                               "(1, 1, 1, 1, 1, 1, 1, 1, 1), }", 4)));
  check_refusal(error_of([&] { read_npz(t / "ndim.npz"); }), "ndim.npz: entry x.npy", "more than 8 dimensions");
  for (const char* dict : {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,", "{'descr': '<f4",
                           "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }",
                           "{'descr': '<f4', 'fortran_order': False, 'shape': (1x,), }", "{'descr':",
                           "{'descr': '\x01\n', 'fortran_order': False, 'shape': (1,), }"}) {
    spit(t / "bad.npz", zip_of(npy_with_header(dict, 4)));
    check_refusal(error_of([&] { read_npz(t / "bad.npz"); }), "bad.npz: entry x.npy", "npy");
  }
}

TEST_CASE("hostile zip: entries sharing bytes are refused (one data block cannot be claimed many times)") {
  TempDir t;
  // Two identical entries, then b's directory record pointed at a's local header: the CRC and sizes still match,
  // so only the overlap betrays it. Many such records would make a small file read as gigabytes of arrays.
  const std::vector<char> npy = npy_serialize(npy_from_string(std::string(1000, 'x')));
  std::ostringstream out;
  write_zip(out, "mem", {{"a.npy", std::string_view(npy.data(), npy.size())},
                         {"b.npy", std::string_view(npy.data(), npy.size())}});
  std::string z = out.str();
  const size_t cd = z.rfind(std::string("PK\x01\x02", 4));  // b's central directory record (the last one)
  REQUIRE(cd != std::string::npos);
  std::memset(&z[cd + 42], 0, 4);  // its local header offset -> 0, a's
  spit(t / "overlap.npz", z);
  check_refusal(error_of([&] { read_npz(t / "overlap.npz"); }), "overlap.npz: entry", "overlaps entry");
  // An entry name with control characters is quoted printably, keeping the message on one line.
  std::ostringstream out2;
  write_zip(out2, "mem", {{"bad\nname", std::string_view("zz", 2)}});
  spit(t / "name.npz", out2.str());
  check_refusal(error_of([&] { read_npz(t / "name.npz"); }), "name.npz: entry bad\\x0aname", "bad magic");
}

TEST_CASE("hostile set meta: deep nesting is refused before the recursive parser sees it") {
  TempDir t;
  const CondensedSet s = two_class_set();
  std::string deep = meta_to_json(s.meta).dump();
  deep = deep.substr(0, deep.size() - 1) + ",\"x\":" + std::string(200000, '[') + std::string(200000, ']') + "}";
  write_set_raw(t / "deep.npz", s.images, s.labels, deep);
  check_refusal(error_of([&] { load_set(t / "deep.npz"); }), "deep.npz: entry meta", "nested more than 64 deep");
  // Brackets inside strings do not count; 64 levels are fine.
  std::string ok = meta_to_json(s.meta).dump();
  ok = ok.substr(0, ok.size() - 1) + ",\"s\":\"" + std::string(1000, '[') + "\",\"x\":" + std::string(62, '[') +
       std::string(62, ']') + "}";
  write_set_raw(t / "ok.npz", s.images, s.labels, ok);
  CHECK(error_of([&] { load_set(t / "ok.npz"); }) == "<no error>");
}

TEST_CASE("hostile set meta: numbers out of range, non-integers and bad mean/std are refused before allocating") {
  TempDir t;
  // num_classes sized a per-class count vector before N was compared: 1e9 classes asked for 8 GB.
  check_refusal(load_error_with(t, "num_classes", "1e9"), "s.npz", "meta field 'num_classes' has the wrong type");
  check_refusal(load_error_with(t, "num_classes", "1000000000"), "s.npz", "'num_classes' is 1000000000, out of range");
  check_refusal(load_error_with(t, "num_classes", "18446744073709551615"), "s.npz", "out of range");
  check_refusal(load_error_with(t, "ipc", "1.5"), "s.npz", "meta field 'ipc' has the wrong type");
  check_refusal(load_error_with(t, "ipc", "-3"), "s.npz", "out of range");
  check_refusal(load_error_with(t, "height", "1e300"), "s.npz", "meta field 'height' has the wrong type");
  check_refusal(load_error_with(t, "seed", "-1"), "s.npz", "meta field 'seed'");
  check_refusal(load_error_with(t, "std", "[0]"), "s.npz", "std > 0");
  check_refusal(load_error_with(t, "std", "[-0.5]"), "s.npz", "std > 0");
  check_refusal(load_error_with(t, "mean", "[1e39]"), "s.npz", "meta field 'mean'[0]");
  check_refusal(load_error_with(t, "mean", "[\"a\"]"), "s.npz", "meta field 'mean'[0]");
  check_refusal(load_error_with(t, "config", "[" + std::string(100, '[') + std::string(101, ']')), "s.npz",
                "nested more than 64");
  // The balanced total is checked against N before num_classes*ipc is trusted.
  check_refusal(load_error_with(t, "num_classes", "1000"), "s.npz", "'images' has N=2 but the classes hold 1000");
  check_refusal(load_error_with(t, "ipc", "1099511627776"), "s.npz", "num_classes*ipc");
}

TEST_CASE("hostile set meta: negative class_counts cannot walk the label check past the array") {
  TempDir t;
  CondensedSet s = two_class_set();
  // Counts {-1, 3} sum to N = 2; labels {1, 1} satisfied class 1's first two, then label[2] was read past the end.
  const Tensor labels = from_int_vector({1, 1}, {2});
  write_set_raw(t / "neg.npz", s.images, labels, meta_with("class_counts", "[-1, 3]"));
  check_refusal(error_of([&] { load_set(t / "neg.npz"); }), "neg.npz", "class_counts[0]");
  write_set_raw(t / "short.npz", s.images, s.labels, meta_with("class_counts", "[1]"));
  check_refusal(error_of([&] { load_set(t / "short.npz"); }), "short.npz", "one per class");
  write_set_raw(t / "big.npz", s.images, s.labels, meta_with("class_counts", "[1099511627776, 1099511627776]"));
  check_refusal(error_of([&] { load_set(t / "big.npz"); }), "big.npz", "sums to more");
}

TEST_CASE("hostile containers: scores must be equal-length f32 vectors; meta must be an object") {
  TempDir t;
  save_arrays_with_meta(t / "sc.npz", {{"scores/a", full({2, 2}, 1.f)}}, nlohmann::json::object());
  check_refusal(error_of([&] { load_scores(t / "sc.npz"); }), "sc.npz: entry scores/a", "expected an f32 vector");
  save_arrays_with_meta(t / "sc2.npz", {{"scores/a", full({2}, 1.f)}, {"scores/b", full({3}, 1.f)}},
                        nlohmann::json::object());
  check_refusal(error_of([&] { load_scores(t / "sc2.npz"); }), "sc2.npz: entry scores/", "as many entries");
  save_arrays_with_meta(t / "sc3.npz", {{"scores/a", from_int_vector({1, 2}, {2})}}, nlohmann::json::object());
  check_refusal(error_of([&] { load_scores(t / "sc3.npz"); }), "sc3.npz", "expected an f32 vector");
  save_arrays_with_meta(t / "m.npz", {{"x", full({2}, 1.f)}}, nlohmann::json::array());
  check_refusal(error_of([&] { load_arrays_with_meta(t / "m.npz"); }), "m.npz: entry meta", "not a JSON object");
}

TEST_CASE("hostile idx: a gzip bomb stops at the size its header declares") {
  TempDir t;
  // Header: 1 image of 4x4 (16 bytes of pixels), then 64 MiB of zeros: inflating it all first cost 64 MiB (2.2 GB
  // in the reported case) before the trailing bytes were noticed.
  std::vector<uint8_t> head;
  put_be32(head, 2051);
  put_be32(head, 1);
  put_be32(head, 4);
  put_be32(head, 4);
  gzFile g = gzopen((t / "bomb-idx3-ubyte.gz").c_str(), "wb9");
  REQUIRE(g != nullptr);
  gzwrite(g, head.data(), unsigned(head.size()));
  const std::vector<char> zeros(1 << 20, 0);
  for (int i = 0; i < 64; ++i) gzwrite(g, zeros.data(), unsigned(zeros.size()));
  gzclose(g);
  check_refusal(error_of([&] { read_idx_images(t / "bomb-idx3-ubyte.gz"); }), "bomb-idx3-ubyte.gz",
                "inflates past the 32 bytes its header declares");
  // A header whose dims multiply past the cap is refused from the header alone.
  std::vector<uint8_t> big;
  put_be32(big, 2051);
  put_be32(big, 0xffffffffu);
  put_be32(big, 4096);
  put_be32(big, 4096);
  spit(t / "big-idx3-ubyte", big.data(), big.size());
  check_refusal(error_of([&] { read_idx_images(t / "big-idx3-ubyte"); }), "big-idx3-ubyte",
                "header dims at byte 4 declare more than");
  // read_file_maybe_gz stops at its cap instead of inflating everything.
  check_refusal(error_of([&] { read_file_maybe_gz(t / "bomb-idx3-ubyte.gz", 1 << 20); }), "bomb-idx3-ubyte.gz",
                "inflates past the 1048576 bytes");
}

TEST_CASE("hostile cifar: a batch file over the cap is refused from its size, before reading") {
  TempDir t;
  // Sparse: 1 GiB + 3073*k bytes (a whole number of records) costs no disk; the old reader read it all.
  const uint64_t size = (uint64_t(1) << 30) + 3073 * 8;
  {
    std::ofstream o(t / "test_batch.bin", std::ios::binary);
  }
  fs::resize_file(t / "test_batch.bin", size - size % 3073);
  check_refusal(error_of([&] { load_cifar10(t.p.string(), false); }), "test_batch.bin",
                "a CIFAR batch file may have");
  fs::remove(t / "test_batch.bin");
  fs::create_directory(t / "test_batch.bin");  // a directory where the file should be
  check_refusal(error_of([&] { load_cifar10(t.p.string(), false); }), "test_batch.bin", "not a regular file");
}

TEST_CASE("hostile images: dimensions are checked from the header; only PNG and JPEG decode") {
  TempDir t;
  std::vector<char> png;
  const uint8_t px[3] = {1, 2, 3};
  stbi_write_png_to_func(append_bytes, &png, 1, 1, 3, px, 3);
  REQUIRE(png.size() > 24);
  // IHDR width/height (big-endian at bytes 16 and 20) patched: a 70-byte file declaring 10000 x 10000 made stb
  // allocate its 300 MB inflate buffer (17000 x 17000: 867 MB) before finding the data missing.
  auto patched = [&](uint32_t w, uint32_t h) {
    std::vector<char> p = png;
    for (int k = 0; k < 4; ++k) {
      p[16 + k] = char(w >> (24 - 8 * k));
      p[20 + k] = char(h >> (24 - 8 * k));
    }
    return p;
  };
  std::vector<float> out(3 * 8 * 8);
  const std::vector<char> wide = patched(17000, 1), big = patched(10000, 10000);
  check_refusal(error_of([&] { decode_image(wide.data(), wide.size(), "wide.png", 8, out.data()); }), "wide.png",
                "image of 17000x1 pixels");
  check_refusal(error_of([&] { decode_image(big.data(), big.size(), "big.png", 8, out.data()); }), "big.png",
                "image of 10000x10000 pixels");
  // A BMP named .png decoded before (stb tries every format it knows); the folder reader promises PNG/JPEG only.
  std::vector<char> bmp;
  stbi_write_bmp_to_func(append_bytes, &bmp, 1, 1, 3, px);
  check_refusal(error_of([&] { decode_image(bmp.data(), bmp.size(), "really.bmp.png", 8, out.data()); }),
                "really.bmp.png", "cannot decode image");
  check_refusal(error_of([&] { decode_image(bmp.data(), 0, "empty.png", 8, out.data()); }), "empty.png",
                "expected a PNG or JPEG");
}

TEST_CASE("hostile image folder: a symlink loop and an empty file are named, not thrown as filesystem errors") {
  TempDir t;
  fs::create_directories(t.p / "root" / "cls");
  fs::create_symlink("loop.png", t.p / "root" / "cls" / "loop.png");  // loop.png -> itself
  check_refusal(error_of([&] { load_image_folder((t.p / "root").string(), 8); }), "loop.png",
                "cannot read the file type");
  fs::remove(t.p / "root" / "cls" / "loop.png");
  spit((t.p / "root" / "cls" / "empty.png").string(), std::string());
  check_refusal(error_of([&] { load_image_folder((t.p / "root").string(), 8); }), "empty.png",
                "expected a PNG or JPEG");
}

TEST_CASE("fuzz regression inputs: each is refused cleanly by its reader") {
  const char* root = std::getenv("YOCO_TEST_DATA");
  if (root == nullptr || !fs::is_directory(fs::path(root) / "fuzz")) return;
  TempDir t;
  int replayed = 0;
  for (const auto& target : fs::directory_iterator(fs::path(root) / "fuzz")) {
    if (!target.is_directory()) continue;
    const std::string name = target.path().filename().string();
    for (const auto& f : fs::directory_iterator(target.path())) {
      const std::string path = f.path().string();
      const std::vector<char> b = slurp(path);
      INFO(path);
      auto refused = [&](const std::function<void()>& fn) {
        const std::string e = error_of(fn);
        CHECK(e != "<no error>");
        CHECK(e.find('\n') == std::string::npos);
      };
      if (name == "npz") refused([&] { read_npz_bytes(b.data(), b.size(), path); });
      else if (name == "set") refused([&] { load_set_bytes(b.data(), b.size(), path); });
      else if (name == "idx") {
        refused([&] { read_idx_images(path); });
        refused([&] { read_idx_labels(path); });
      } else if (name == "cifar") {
        spit(t / "test_batch.bin", b);
        refused([&] { load_cifar10(t.p.string(), false); });
      } else if (name == "image") {
        std::vector<float> out(3 * 16 * 16);
        refused([&] { decode_image(b.data(), b.size(), path, 16, out.data()); });
      } else {
        continue;  // targets whose loaders live in other test files (scores, checkpoint, pt)
      }
      ++replayed;
    }
  }
  MESSAGE("replayed ", replayed, " fuzz regression inputs");
}

TEST_CASE("hostile images: a JPEG Huffman table of more than 256 codes is refused before stb builds it") {
  // Found by fuzz_image: one changed count byte in a DHT segment; stb_image 2.27 wrote past stbi__huffman::size.
  const char* root = std::getenv("YOCO_TEST_DATA");
  REQUIRE(root != nullptr);
  const std::string path = std::string(root) + "/fuzz/image/jpeg-dht-over-256-codes.jpg";
  const std::vector<char> b = slurp(path);
  REQUIRE(!b.empty());
  std::vector<float> out(3 * 16 * 16);
  check_refusal(error_of([&] { decode_image(b.data(), b.size(), path, 16, out.data()); }), path,
                "expected at most 256, inside its segment");
}

TEST_CASE("hostile images: PNG chunks must fit in the file and the image data must be able to fill the image") {
  // Found by fuzz_image: an IDAT chunk declaring 1.8 GB in a 116-byte file; stb grew its buffer to that first.
  const char* root = std::getenv("YOCO_TEST_DATA");
  REQUIRE(root != nullptr);
  const std::string path = std::string(root) + "/fuzz/image/png-idat-length-past-end.png";
  const std::vector<char> b = slurp(path);
  REQUIRE(!b.empty());
  std::vector<float> out(3 * 16 * 16);
  check_refusal(error_of([&] { decode_image(b.data(), b.size(), path, 16, out.data()); }), path,
                "declares 1845493760 data bytes");
  // A valid 1000x1000 grey PNG compresses to a few kB; its header patched to 16000x1000 asks for 16 MB of pixels
  // from the same few kB, which no deflate stream can inflate to.
  std::vector<uint8_t> grey(1000 * 1000, 7);
  std::vector<char> png;
  stbi_write_png_to_func(append_bytes, &png, 1000, 1000, 1, grey.data(), 1000);
  REQUIRE(png.size() * 1032 < 16000 * 1000);
  CHECK(error_of([&] { decode_image(png.data(), png.size(), "ok.png", 16, out.data()); }) == "<no error>");
  png[16] = 0;
  png[17] = 0;
  png[18] = char(16000 >> 8);
  png[19] = char(16000 & 0xff);
  check_refusal(error_of([&] { decode_image(png.data(), png.size(), "wide.png", 16, out.data()); }), "wide.png",
                "too little to inflate to that");
}
