// Tests for the npz container (round trip, numpy interop, corrupt input, atomic writes), float16 conversion and
// storage, and the condensed-set / scores files built on it.
#include <doctest/doctest.h>
#include "tests/unit/test_util.h"
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <iterator>
#include <string>
#include <vector>

#include "data/half.h"
#include "data/npz.h"
#include "data/set_file.h"

namespace fs = std::filesystem;
using namespace yoco;
using namespace yoco::data;

namespace {

// TempDir comes from test_util.h; each test names its directories "yoco_set_test_*".
struct TempDir : test::TempDir {
  TempDir() : test::TempDir("yoco_set_test") {}
};

using test::contains;
using test::error_of;

std::vector<char> slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<char>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void spit(const std::string& path, const std::vector<char>& b) {
  std::ofstream o(path, std::ios::binary);
  o.write(b.data(), std::streamsize(b.size()));
}

bool have_numpy() { return std::system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") == 0; }

// A valid 2-class, ipc-2, 1x2x2 set with pixels i/16.
CondensedSet toy_set() {
  CondensedSet s;
  std::vector<float> x(16);
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(i) / 16.f;
  s.images = from_vector(x, {4, 1, 2, 2});
  s.labels = from_int_vector({0, 0, 1, 1}, {4});
  s.meta.dataset = "fashion-mnist";
  s.meta.num_classes = 2;
  s.meta.ipc = 2;
  s.meta.factor = 2;
  s.meta.channels = 1;
  s.meta.height = s.meta.width = 2;
  s.meta.mean = {0.2861f};
  s.meta.std = {0.3530f};
  s.meta.method = "idc";
  s.meta.seed = 0xfedcba9876543210ull;  // above 2^63: must survive JSON as an unsigned number
  s.meta.config = {{"lr_img", 0.0001}, {"niter", 2000}};
  s.meta.source = "unit-test";
  return s;
}

}  // namespace

TEST_CASE("npz: round trip f32, i64, u8 with exact bytes and a 64-byte aligned header") {
  TempDir t;
  NpyArray f{"<f4", {2, 3}, {}}, i{"<i8", {3}, {}}, u{"|u1", {5}, {'h', 'e', 'l', 'l', 'o'}}, z{"<f4", {0, 4}, {}};
  const float fv[6] = {1.5f, -2.f, 3.25f, 0.f, 1e-8f, 7.f};
  const int64_t iv[3] = {-1, 1ll << 40, 3};
  f.bytes.assign(reinterpret_cast<const char*>(fv), reinterpret_cast<const char*>(fv) + sizeof fv);
  i.bytes.assign(reinterpret_cast<const char*>(iv), reinterpret_cast<const char*>(iv) + sizeof iv);
  write_npz(t / "a.npz", {{"f", f}, {"scores/i", i}, {"u", u}, {"empty", z}});
  CHECK(!fs::exists(t / "a.npz.tmp"));
  auto m = read_npz(t / "a.npz");
  REQUIRE(m.size() == 4);
  CHECK(m["f"].dtype == "<f4");
  CHECK(m["f"].shape == std::vector<int64_t>{2, 3});
  CHECK(m["f"].bytes == f.bytes);
  CHECK(m["scores/i"].dtype == "<i8");
  CHECK(m["scores/i"].bytes == i.bytes);
  CHECK(string_from_npy(m["u"], "u") == "hello");
  CHECK(m["empty"].shape == std::vector<int64_t>{0, 4});
  CHECK(m["empty"].bytes.empty());

  auto npy = npy_serialize(i);
  CHECK((npy.size() - 24) % 64 == 0);
  CHECK(npy.size() == 128 + 24);  // the 57-char dict does not fit in 64 bytes with the preamble
  CHECK(npy[127] == '\n');
  CHECK(npy[8] == 118);  // header length little-endian: 128 - 10
  const std::string h(npy.begin() + 10, npy.begin() + 128);
  CHECK(contains(h, "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }"));

  Tensor ti = tensor_from_npy(m["scores/i"], "x");
  CHECK(ti.to_int_vector() == std::vector<int64_t>{-1, 1ll << 40, 3});
}

TEST_CASE("npz: corrupt input is refused with the file and entry named") {
  TempDir t;
  NpyArray f{"<f4", {4}, std::vector<char>(16, 0)};
  write_npz(t / "ok.npz", {{"images", f}});
  auto b = slurp(t / "ok.npz");

  auto flipped = b;
  flipped[110] ^= 1;  // inside the data (local header 40 + npy header 64): CRC must catch it
  spit(t / "crc.npz", flipped);
  std::string e = error_of([&] { read_npz(t / "crc.npz"); });
  CHECK(contains(e, "crc.npz: entry images.npy: CRC32 mismatch"));

  spit(t / "short.npz", std::vector<char>(b.begin(), b.begin() + 40));
  e = error_of([&] { read_npz(t / "short.npz"); });
  CHECK(contains(e, "short.npz: not a zip file"));

  auto compressed = b;
  compressed[8] = 8;  // local header method = deflate
  const size_t cd = b.size() - 22 - (46 + 10);
  compressed[cd + 10] = 8;  // central directory method = deflate
  spit(t / "deflate.npz", compressed);
  e = error_of([&] { read_npz(t / "deflate.npz"); });
  CHECK(contains(e, "deflate.npz: entry images.npy: compressed entry"));
  CHECK(contains(e, "np.savez, not np.savez_compressed"));

  NpyArray bad{"<f8", {1}, std::vector<char>(8, 0)};
  CHECK(contains(error_of([&] { write_npz(t / "f8.npz", {{"x", bad}}); }), "unsupported dtype '<f8'"));
  CHECK(!fs::exists(t / "f8.npz"));
  CHECK(!fs::exists(t / "f8.npz.tmp"));
}

TEST_CASE("npz: atomic write into a missing directory throws and leaves nothing") {
  TempDir t;
  const std::string p = t / "missing/x.npz";
  NpyArray f{"<f4", {1}, std::vector<char>(4, 0)};
  CHECK(contains(error_of([&] { write_npz(p, {{"x", f}}); }), "cannot create"));
  CHECK(!fs::exists(p));
  CHECK(!fs::exists(p + ".tmp"));
  // Overwriting an existing file replaces it whole.
  write_npz(t / "x.npz", {{"x", f}});
  NpyArray g{"<f4", {2}, std::vector<char>(8, 1)};
  write_npz(t / "x.npz", {{"y", g}});
  auto m = read_npz(t / "x.npz");
  CHECK(m.size() == 1);
  CHECK(m.count("y") == 1);
}

TEST_CASE("npz: numpy interop (np.load reads ours, we read np.savez)") {
  if (!have_numpy()) {
    MESSAGE("/usr/bin/python3 with numpy not available: skipping the numpy interop case");
    return;
  }
  TempDir t;
  NpyArray f{"<f4", {2, 1, 2, 2}, {}}, i{"<i8", {2}, {}};
  std::vector<float> fv = {0.f, 0.125f, 0.25f, 0.5f, 1.f, 0.75f, 0.375f, 0.0625f};
  std::vector<int64_t> iv = {0, 123456789012ll};
  f.bytes.assign(reinterpret_cast<char*>(fv.data()), reinterpret_cast<char*>(fv.data() + fv.size()));
  i.bytes.assign(reinterpret_cast<char*>(iv.data()), reinterpret_cast<char*>(iv.data() + iv.size()));
  write_npz(t / "ours.npz", {{"images", f}, {"labels", i}, {"meta", npy_from_string("{\"a\": 1}")},
                             {"half", npy_f16_from_tensor(from_vector({0.1f, 1.f, -65504.f, 1e-7f}, {2, 2}))}});
  const std::string py = t / "check.py";
  {
    std::ofstream o(py);
    o << "import json, sys, numpy as np\n"
         "d = np.load(sys.argv[1])\n"
         "assert d['images'].dtype == np.float32 and d['images'].shape == (2, 1, 2, 2), d['images']\n"
         "assert d['images'].ravel().tolist() == [0, .125, .25, .5, 1, .75, .375, .0625]\n"
         "assert d['labels'].dtype == np.int64 and d['labels'].tolist() == [0, 123456789012]\n"
         "assert d['meta'].dtype == np.uint8 and json.loads(d['meta'].tobytes().decode()) == {'a': 1}\n"
         "h = d['half']\n"
         "assert h.dtype == np.float16 and h.shape == (2, 2), h\n"
         "assert (h == np.array([[0.1, 1], [-65504, 1e-7]], dtype=np.float32).astype(np.float16)).all(), h\n"
         "np.savez(sys.argv[2], x=np.arange(6, dtype=np.float32).reshape(2, 3) / 4,\n"
         "         y=np.array([5, -7], dtype=np.int64), z=np.frombuffer(b'ok', dtype=np.uint8),\n"
         "         h=np.array([0.1, 2**-24, -0.0, np.inf, 65504, 1/3], dtype=np.float16))\n"
         "np.savez_compressed(sys.argv[3], x=np.zeros(100, dtype=np.float32))\n";
  }
  const std::string cmd = "/usr/bin/python3 " + py + " " + (t / "ours.npz") + " " + (t / "theirs.npz") + " " +
                          (t / "comp.npz");
  REQUIRE(std::system(cmd.c_str()) == 0);
  auto m = read_npz(t / "theirs.npz");
  REQUIRE(m.size() == 4);
  CHECK(m["x"].shape == std::vector<int64_t>{2, 3});
  CHECK(m["h"].dtype == "<f2");
  const std::vector<float> h = tensor_from_npy(m["h"], "h").to_vector();  // numpy's float16 -> float, exactly
  CHECK(h == std::vector<float>{half_to_float(0x2E66), std::ldexp(1.f, -24), -0.f, INFINITY, 65504.f,
                                half_to_float(0x3555)});
  CHECK(std::signbit(h[2]));
  CHECK(tensor_from_npy(m["x"], "x").to_vector() == std::vector<float>{0.f, .25f, .5f, .75f, 1.f, 1.25f});
  CHECK(tensor_from_npy(m["y"], "y").to_int_vector() == std::vector<int64_t>{5, -7});
  CHECK(string_from_npy(m["z"], "z") == "ok");
  CHECK(contains(error_of([&] { read_npz(t / "comp.npz"); }), "not np.savez_compressed"));
}

TEST_CASE("half: known bit patterns, rounding to nearest even, overflow, subnormals, nan") {
  auto bits = [](float f) { return float_to_half(f); };
  CHECK(bits(1.f) == 0x3C00);
  CHECK(bits(-2.f) == 0xC000);
  CHECK(bits(0.f) == 0x0000);
  CHECK(bits(-0.f) == 0x8000);
  CHECK(bits(65504.f) == 0x7BFF);  // largest half
  CHECK(bits(std::ldexp(1.f, -14)) == 0x0400);  // smallest normal
  CHECK(bits(std::ldexp(1.f, -24)) == 0x0001);  // smallest subnormal
  CHECK(bits(std::ldexp(1023.f, -24)) == 0x03FF);  // largest subnormal
  CHECK(bits(0.1f) == 0x2E66);
  CHECK(bits(1.f / 3.f) == 0x3555);
  CHECK(bits(0.5f) == 0x3800);
  // Ties go to the even mantissa: 1 + 2^-11 is halfway between 0x3C00 and 0x3C01, 1 + 3·2^-11 between 0x3C01/2.
  CHECK(bits(1.f + std::ldexp(1.f, -11)) == 0x3C00);
  CHECK(bits(1.f + 3.f * std::ldexp(1.f, -11)) == 0x3C02);
  CHECK(bits(std::nextafter(1.f + std::ldexp(1.f, -11), 2.f)) == 0x3C01);  // just above the tie rounds up
  CHECK(bits(2049.f) == 0x6800);  // 2048
  CHECK(bits(2051.f) == 0x6802);  // 2052
  CHECK(bits(std::ldexp(1.f, -25)) == 0x0000);        // subnormal tie -> 0 (even)
  CHECK(bits(std::ldexp(3.f, -25)) == 0x0002);        // subnormal tie 1.5 units -> 2
  CHECK(bits(std::nextafter(std::ldexp(1.f, -25), 1.f)) == 0x0001);
  CHECK(bits(std::ldexp(2047.f, -25)) == 0x0400);     // rounds up out of the subnormals into the smallest normal
  CHECK(bits(1e-10f) == 0x0000);
  CHECK(bits(-1e-10f) == 0x8000);
  // Overflow: 65519 still rounds to 65504; 65520 is the tie with 2^16 and goes to inf (odd 0x3FF mantissa).
  CHECK(bits(65519.f) == 0x7BFF);
  CHECK(bits(65520.f) == 0x7C00);
  CHECK(bits(1e6f) == 0x7C00);
  CHECK(bits(-1e6f) == 0xFC00);
  CHECK(bits(INFINITY) == 0x7C00);
  CHECK(bits(-INFINITY) == 0xFC00);
  const uint16_t n = bits(std::numeric_limits<float>::quiet_NaN());
  CHECK((n & 0x7C00) == 0x7C00);
  CHECK((n & 0x03FF) != 0);

  CHECK(half_to_float(0x3C00) == 1.f);
  CHECK(half_to_float(0x7BFF) == 65504.f);
  CHECK(half_to_float(0x0001) == std::ldexp(1.f, -24));
  CHECK(half_to_float(0x03FF) == std::ldexp(1023.f, -24));
  CHECK(half_to_float(0x0400) == std::ldexp(1.f, -14));
  CHECK(half_to_float(0x2E66) == 0.0999755859375f);
  CHECK(half_to_float(0x7C00) == INFINITY);
  CHECK(half_to_float(0xFC00) == -INFINITY);
  CHECK(std::isnan(half_to_float(0x7E00)));
  CHECK(std::isnan(half_to_float(0x7C01)));
  CHECK(half_to_float(0x8000) == 0.f);
  CHECK(std::signbit(half_to_float(0x8000)));
  // Every finite half survives half -> float -> half; NaNs stay NaN.
  for (uint32_t h = 0; h <= 0xFFFF; ++h) {
    const float f = half_to_float(static_cast<uint16_t>(h));
    if (std::isnan(f)) {
      const uint16_t back = float_to_half(f);
      CHECK(((back & 0x7C00) == 0x7C00 && (back & 0x3FF) != 0));
    } else if (float_to_half(f) != h) {
      FAIL_CHECK("half 0x", std::hex, h, " does not round-trip");
    }
  }
}

TEST_CASE("npz: '<f2' arrays load as f32 tensors and f32 tensors store as '<f2'") {
  TempDir t;
  const std::vector<float> v = {0.1f, 1.f, 1e6f, -0.f, std::ldexp(1.f, -24), 0.25f};
  NpyArray a = npy_f16_from_tensor(from_vector(v, {2, 3}));
  CHECK(a.dtype == "<f2");
  CHECK(a.bytes.size() == 12);
  CHECK(uint8_t(a.bytes[0]) == 0x66);  // 0x2E66 little-endian
  CHECK(uint8_t(a.bytes[1]) == 0x2E);
  write_npz(t / "h.npz", {{"h", a}});
  auto m = read_npz(t / "h.npz");
  CHECK(m["h"].dtype == "<f2");
  CHECK(m["h"].shape == std::vector<int64_t>{2, 3});
  CHECK(m["h"].bytes == a.bytes);
  Tensor r = tensor_from_npy(m["h"], "h");
  CHECK(r.dtype() == DType::F32);
  CHECK(r.to_vector() == std::vector<float>{half_to_float(0x2E66), 1.f, INFINITY, -0.f, std::ldexp(1.f, -24), 0.25f});
  CHECK(contains(error_of([&] { npy_f16_from_tensor(from_int_vector({1}, {1})); }), "need an f32 tensor"));
}

TEST_CASE("set_file: round trip keeps every field") {
  TempDir t;
  CondensedSet s = toy_set();
  save_set(t / "set.npz", s);
  CondensedSet r = load_set(t / "set.npz", SetExpect{std::string("fashion-mnist"), 2, 2, 2, 1, 2, 2});
  CHECK(r.images.to_vector() == s.images.to_vector());
  CHECK(r.labels.to_int_vector() == std::vector<int64_t>{0, 0, 1, 1});
  CHECK(r.meta.format_version == 1);
  CHECK(r.meta.dataset == "fashion-mnist");
  CHECK(r.meta.num_classes == 2);
  CHECK(r.meta.ipc == 2);
  CHECK(r.meta.factor == 2);
  CHECK(r.meta.mean == std::vector<float>{0.2861f});
  CHECK(r.meta.std == std::vector<float>{0.3530f});
  CHECK(!r.meta.normalized);
  CHECK(r.meta.method == "idc");
  CHECK(r.meta.seed == 0xfedcba9876543210ull);
  CHECK(r.meta.config["niter"] == 2000);
  CHECK(r.meta.engine_version == yoco::engine_version());
  CHECK(r.meta.source == "unit-test");
}

TEST_CASE("set_file: refusals name the file and field") {
  TempDir t;
  const std::string p = t / "bad.npz";
  auto save_raw = [&](const CondensedSet& s, const nlohmann::json& meta) {  // bypasses save_set's checks
    write_npz(p, {{"images", npy_from_tensor(s.images)}, {"labels", npy_from_tensor(s.labels)},
                  {"meta", npy_from_string(meta.dump())}});
  };
  CondensedSet s = toy_set();

  SUBCASE("wrong N") {
    CondensedSet w = s;
    w.meta.ipc = 3;
    CHECK(contains(error_of([&] { save_set(p, w); }), "'images' has N=4 but the classes hold 6 (num_classes*ipc = 2*3)"));
    CHECK(!fs::exists(p));
    save_raw(s, meta_to_json(w.meta));
    CHECK(contains(error_of([&] { load_set(p); }), "bad.npz: 'images' has N=4"));
  }
  SUBCASE("labels not class-major") {
    CondensedSet w = s;
    w.labels = from_int_vector({0, 1, 0, 1}, {4});
    save_raw(w, meta_to_json(w.meta));
    CHECK(contains(error_of([&] { load_set(p); }), "bad.npz: 'labels'[1] is 1, expected 0"));
    w.labels = from_int_vector({0, 0, 1, 2}, {4});
    CHECK(contains(error_of([&] { save_set(p, w); }), "'labels'[3] is 2, expected 1"));
  }
  SUBCASE("normalized=true") {
    nlohmann::json j = meta_to_json(s.meta);
    j["normalized"] = true;
    save_raw(s, j);
    CHECK(contains(error_of([&] { load_set(p); }), "bad.npz: meta field 'normalized' is true"));
  }
  SUBCASE("images outside [0,1]") {
    CondensedSet w = s;
    w.images = from_vector(std::vector<float>(16, 1.5f), {4, 1, 2, 2});
    CHECK(contains(error_of([&] { save_set(p, w); }), "'images' value 1.5 at flat index 0"));
  }
  SUBCASE("missing meta and missing field") {
    write_npz(p, {{"images", npy_from_tensor(s.images)}, {"labels", npy_from_tensor(s.labels)}});
    CHECK(contains(error_of([&] { load_set(p); }), "bad.npz: no 'meta' entry"));
    nlohmann::json j = meta_to_json(s.meta);
    j.erase("ipc");
    save_raw(s, j);
    CHECK(contains(error_of([&] { load_set(p); }), "bad.npz: meta field 'ipc' is missing"));
    j = meta_to_json(s.meta);
    j["ipc"] = "two";
    save_raw(s, j);
    CHECK(contains(error_of([&] { load_set(p); }), "meta field 'ipc' has the wrong type"));
  }
  SUBCASE("unknown format version, image size and expectation mismatch") {
    nlohmann::json j = meta_to_json(s.meta);
    j["format_version"] = 2;
    save_raw(s, j);
    CHECK(contains(error_of([&] { load_set(p); }), "meta field 'format_version' is 2"));
    j = meta_to_json(s.meta);
    j["height"] = 4;
    save_raw(s, j);
    CHECK(contains(error_of([&] { load_set(p); }), "does not match meta channels/height/width 1/4/2"));
    save_set(p, s);
    SetExpect e;
    e.dataset = "cifar10";
    CHECK(contains(error_of([&] { load_set(p, e); }), "meta field 'dataset' is 'fashion-mnist', expected 'cifar10'"));
    SetExpect e2;
    e2.ipc = 10;
    CHECK(contains(error_of([&] { load_set(p, e2); }), "meta field 'ipc' is 2, expected 10"));
  }
}

TEST_CASE("set_file: imbalanced sets via class_counts") {
  TempDir t;
  CondensedSet s = toy_set();
  s.labels = from_int_vector({0, 1, 1, 1}, {4});
  s.meta.class_counts = {1, 3};
  save_set(t / "imb.npz", s);
  CondensedSet r = load_set(t / "imb.npz");
  CHECK(r.meta.class_counts == std::vector<int64_t>{1, 3});
  CHECK(r.labels.to_int_vector() == std::vector<int64_t>{0, 1, 1, 1});
  s.meta.class_counts = {2, 1};
  CHECK(contains(error_of([&] { save_set(t / "imb2.npz", s); }), "the classes hold 3 (class_counts)"));
  s.meta.class_counts = {2, 2};
  CHECK(contains(error_of([&] { save_set(t / "imb2.npz", s); }), "'labels'[1] is 1, expected 0"));
  CHECK(!fs::exists(t / "imb2.npz"));
}

TEST_CASE("set_file: scores container round trip") {
  TempDir t;
  std::map<std::string, Tensor> sc = {{"el2n", from_vector({0.5f, 0.25f, 1.f}, {3})},
                                      {"loss", from_vector({2.f, 3.f, 4.f}, {3})}};
  save_scores(t / "scores.npz", sc, {{"epochs", 3}, {"set", "set.npz"}});
  auto raw = read_npz(t / "scores.npz");
  CHECK(raw.count("scores/el2n") == 1);
  auto r = load_scores(t / "scores.npz");
  REQUIRE(r.arrays.size() == 2);
  CHECK(r.arrays["el2n"].to_vector() == std::vector<float>{0.5f, 0.25f, 1.f});
  CHECK(r.arrays["loss"].to_vector() == std::vector<float>{2.f, 3.f, 4.f});
  CHECK(r.meta["epochs"] == 3);
  CHECK(contains(error_of([&] { save_scores(t / "s2.npz", {{"i", from_int_vector({1}, {1})}}, {}); }),
                 "score 'i' must be f32"));
}

TEST_CASE("set_file: f16 storage round trip, meta key, old files and bad values") {
  TempDir t;
  CondensedSet s = toy_set();
  std::vector<float> x(16);
  for (size_t i = 0; i < x.size(); ++i) x[i] = std::fmod(0.1f + 0.37f * float(i), 1.f);  // not exact halves
  x[0] = 1.f;
  x[1] = 0.f;
  x[2] = 2e-8f;  // below half the smallest subnormal (2^-25 ~ 2.98e-8): stored as 0
  s.images = from_vector(x, {4, 1, 2, 2});

  SUBCASE("f16 save/load") {
    s.meta.storage = SetStorage::F16;
    save_set(t / "h.npz", s);
    auto raw = read_npz(t / "h.npz");
    CHECK(raw["images"].dtype == "<f2");
    CHECK(raw["images"].bytes.size() == 16 * 2);
    CHECK(raw["labels"].dtype == "<i8");
    const nlohmann::json j = nlohmann::json::parse(string_from_npy(raw["meta"], "meta"));
    CHECK(j["storage"] == "f16");
    CondensedSet r = load_set(t / "h.npz");
    CHECK(r.images.dtype() == DType::F32);
    CHECK(r.meta.storage == SetStorage::F16);
    std::vector<float> want(x.size());
    for (size_t i = 0; i < x.size(); ++i) want[i] = half_to_float(float_to_half(x[i]));
    CHECK(r.images.to_vector() == want);
    CHECK(r.images.to_vector() != x);  // it really was rounded
    CHECK(want[2] == 0.f);
    CHECK(r.labels.to_int_vector() == std::vector<int64_t>{0, 0, 1, 1});
    CHECK(r.meta.seed == s.meta.seed);
    CHECK(r.meta.source == "unit-test");
    // Re-saving a loaded f16 set as f16 is lossless and byte-identical.
    save_set(t / "h2.npz", r);
    CHECK(slurp(t / "h2.npz") == slurp(t / "h.npz"));
    // Converting back to f32 keeps the (already rounded) values and drops the key.
    r.meta.storage = SetStorage::F32;
    save_set(t / "f.npz", r);
    CHECK(read_npz(t / "f.npz")["images"].dtype == "<f4");
    CondensedSet r32 = load_set(t / "f.npz");
    CHECK(r32.meta.storage == SetStorage::F32);
    CHECK(r32.images.to_vector() == want);
  }
  SUBCASE("f32 files have no key and load as before") {
    save_set(t / "f.npz", s);
    auto raw = read_npz(t / "f.npz");
    CHECK(raw["images"].dtype == "<f4");
    const nlohmann::json j = nlohmann::json::parse(string_from_npy(raw["meta"], "meta"));
    CHECK(!j.contains("storage"));
    CondensedSet r = load_set(t / "f.npz");
    CHECK(r.meta.storage == SetStorage::F32);
    CHECK(r.images.to_vector() == x);
    // Explicit "storage": "f32" is accepted too.
    nlohmann::json j2 = meta_to_json(s.meta);
    j2["storage"] = "f32";
    write_npz(t / "f2.npz", {{"images", npy_from_tensor(s.images)}, {"labels", npy_from_tensor(s.labels)},
                             {"meta", npy_from_string(j2.dump())}});
    CHECK(load_set(t / "f2.npz").meta.storage == SetStorage::F32);
  }
  SUBCASE("bad storage values and dtype/meta disagreement") {
    const std::string p = t / "bad.npz";
    auto save_raw = [&](const NpyArray& images, const nlohmann::json& meta) {
      write_npz(p, {{"images", images}, {"labels", npy_from_tensor(s.labels)}, {"meta", npy_from_string(meta.dump())}});
    };
    nlohmann::json j = meta_to_json(s.meta);
    j["storage"] = "bf16";
    save_raw(npy_from_tensor(s.images), j);
    std::string e = error_of([&] { load_set(p); });
    CHECK(contains(e, "bad.npz: meta field 'storage': 'bf16' is not a storage type (expected f32 or f16)"));
    j["storage"] = 16;
    save_raw(npy_from_tensor(s.images), j);
    CHECK(contains(error_of([&] { load_set(p); }), "bad.npz: meta field 'storage' has the wrong type"));
    j["storage"] = "f16";
    save_raw(npy_from_tensor(s.images), j);
    CHECK(contains(error_of([&] { load_set(p); }),
                   "bad.npz: entry images has dtype <f4 but meta field 'storage' is f16 (expects <f2)"));
    save_raw(npy_f16_from_tensor(s.images), meta_to_json(s.meta));
    CHECK(contains(error_of([&] { load_set(p); }),
                   "bad.npz: entry images has dtype <f2 but meta field 'storage' is f32 (expects <f4)"));
    CHECK(contains(error_of([&] { parse_storage("f64", "--store"); }), "--store: 'f64' is not a storage type"));
  }
}
