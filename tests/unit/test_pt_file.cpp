// .pt files: torch-written files read back, our files read by torch, round trips, hostile files refused, IDC import.
#include <doctest/doctest.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include "data/pickle.h"
#include "data/pt_file.h"
#include "data/set_import.h"
#include "data/zip.h"
#include "test_util.h"

using namespace yoco;
using namespace yoco::data;
using test::contains;
using test::error_of;
using test::TempDir;

namespace {

bool have_torch() { return std::system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") == 0; }

std::string file_bytes(const std::string& path) {
  const std::vector<char> b = read_file_bytes(path);
  return std::string(b.begin(), b.end());
}

// A torch.save-style archive with the given pickle and storage entries (name under "archive/").
std::string make_archive(const std::string& pkl, const std::vector<std::pair<std::string, std::string>>& extra) {
  std::vector<std::pair<std::string, std::string_view>> e = {{"archive/data.pkl", pkl}};
  std::vector<std::string> names;
  names.reserve(extra.size());
  for (const auto& [n, b] : extra) names.push_back("archive/" + n);
  for (size_t k = 0; k < extra.size(); ++k) e.emplace_back(names[k], extra[k].second);
  std::ostringstream o;
  write_zip(o, "test", e, 64);
  return o.str();
}

// The pickle of one _rebuild_tensor_v2 call on storage "0" (of `numel` elements of `type`), as torch writes it.
std::string tensor_pickle(const std::string& type, int64_t numel, int64_t offset, const std::vector<int64_t>& size,
                          const std::vector<int64_t>& stride) {
  PickleWriter w;
  w.global("torch._utils", "_rebuild_tensor_v2");
  w.mark();
  w.mark();
  w.string("storage");
  w.global("torch", type);
  w.string("0");
  w.string("cpu");
  w.integer(numel);
  w.tuple_from_mark();
  w.binpersid();
  w.integer(offset);
  w.mark();
  for (int64_t s : size) w.integer(s);
  w.tuple_from_mark();
  w.mark();
  for (int64_t s : stride) w.integer(s);
  w.tuple_from_mark();
  w.boolean(false);
  w.global("collections", "OrderedDict");
  w.empty_tuple();
  w.reduce();
  w.tuple_from_mark();
  w.reduce();
  return w.finish();
}

// With YOCO_FUZZ_SEEDS=<dir>, the files a case reads are kept as seeds of tests/fuzz/fuzz_pt in <dir>/fuzz_pt/:
// the whole file, and its data.pkl alone (the target wraps non-zip inputs into an archive).
void keep_seed(const std::string& name, const std::string& bytes) {
  const char* dir = std::getenv("YOCO_FUZZ_SEEDS");
  if (!dir || !*dir) return;
  const std::filesystem::path d = std::filesystem::path(dir) / "fuzz_pt";
  std::filesystem::create_directories(d);
  std::ofstream((d / name).string(), std::ios::binary) << bytes;
  const std::vector<char> b(bytes.begin(), bytes.end());
  for (const ZipEntry& e : read_zip_entries(b.data(), b.size(), name))
    if (e.name.size() > 9 && e.name.compare(e.name.size() - 9, 9, "/data.pkl") == 0)
      std::ofstream((d / (name + ".pkl")).string(), std::ios::binary) << bytes.substr(e.offset, e.size);
}

std::string read_error(const std::string& bytes) {
  return error_of([&] { read_pt_bytes(std::vector<char>(bytes.begin(), bytes.end()), "bad.pt"); });
}

// A small valid set: 2 classes x ipc 2 of 1x28x28 ("fashion-mnist"), values in [0,1].
CondensedSet small_set() {
  CondensedSet s;
  s.images = test::random_tensor({4, 1, 28, 28}, 5, 0.f, 1.f);
  s.labels = from_int_vector({0, 0, 1, 1}, {4});
  s.meta.dataset = "fashion-mnist";
  s.meta.num_classes = 2;
  s.meta.ipc = 2;
  s.meta.factor = 2;
  s.meta.channels = 1;
  s.meta.height = s.meta.width = 28;
  s.meta.mean = {0.2861f};
  s.meta.std = {0.3530f};
  s.meta.method = "test";
  return s;
}

std::vector<float> raw_floats(const std::string& path) {
  const std::string b = file_bytes(path);
  std::vector<float> v(b.size() / 4);
  std::memcpy(v.data(), b.data(), v.size() * 4);
  return v;
}

}  // namespace

TEST_CASE("pt: our files round-trip through our reader (f32, f16 images, i64 labels)") {
  TempDir t;
  const Tensor x = test::random_tensor({3, 2, 4, 5}, 1, -2.f, 2.f);
  const Tensor y = from_int_vector({0, -1, 1ll << 40}, {3});
  write_pt(t / "a.pt", {{x, PtDType::F32}, {y, PtDType::I64}, {x, PtDType::F16}});
  const PtFile f = read_pt(t / "a.pt");
  REQUIRE(f.root->kind == PickleValue::Kind::List);
  REQUIRE(f.root->items.size() == 3);
  CHECK(test::same_bits(pt_to_f32(pt_tensor(*f.root->items[0], "x"), "x"), x));
  CHECK(pt_to_i64(pt_tensor(*f.root->items[1], "y"), "y").to_int_vector() == y.to_int_vector());
  const std::vector<float> h = pt_to_f32(pt_tensor(*f.root->items[2], "h"), "h").to_vector(), xv = x.to_vector();
  for (size_t i = 0; i < h.size(); ++i) CHECK(std::abs(h[i] - xv[i]) <= std::abs(xv[i]) * 1e-3f);
  CHECK(contains(error_of([&] { pt_to_i64(pt_tensor(*f.root->items[0], "x"), "x"); }), "expected integers"));
  // No temporary file is left behind, and an unwritable place is refused.
  CHECK(!std::filesystem::exists(t / "a.pt.tmp"));
  CHECK(contains(error_of([&] { write_pt(t / "no/such/dir.pt", {{x, PtDType::F32}}); }), "cannot create"));
}

TEST_CASE("pt: torch 2.x's archive entries (byteorder, .format_version, .data/...) are accepted") {
  std::vector<float> v = {0.5f, 0.25f, 1.f, 0.f};
  const std::string floats(reinterpret_cast<const char*>(v.data()), 16);
  const std::string pkl = tensor_pickle("FloatStorage", 4, 0, {2, 2}, {1, 2});  // a transposed view
  const std::string file = make_archive(pkl, {{"byteorder", "little"},
                                              {"data/0", floats},
                                              {".format_version", "1"},
                                              {".storage_alignment", "64"},
                                              {"version", "3\n"},
                                              {".data/serialization_id", "1234567890123456789012345678901234567890"},
                                              {".data/version", "3\n"}});
  const PtFile f = read_pt_bytes(std::vector<char>(file.begin(), file.end()), "new.pt");
  CHECK(pt_to_f32(pt_tensor(*f.root, "t"), "t").to_vector() == std::vector<float>{0.5f, 1.f, 0.25f, 0.f});
}

TEST_CASE("pt: files written by torch.save (dtypes, views, containers, protocols) and ours read by torch.load") {
  if (!have_torch()) {
    MESSAGE("/usr/bin/python3 with torch not available: skipping the PyTorch interop case");
    return;
  }
  TempDir t;
  save_pt_set(t / "ours.pt", small_set());
  CondensedSet half = small_set();
  half.meta.storage = SetStorage::F16;
  save_pt_set(t / "ours16.pt", half);
  const std::string py = t / "make.py";
  {
    std::ofstream o(py);
    o << "import sys, torch\n"
         "d = sys.argv[1]\n"
         "torch.manual_seed(0)\n"
         "x = torch.rand(6, 3, 4, 5) * 1.2 - 0.1\n"
         "y = torch.arange(3).repeat_interleave(2)\n"
         "def raw(t, name): t.contiguous().float().numpy().tofile(d + '/' + name)\n"
         "raw(x, 'x.bin')\n"
         "torch.save([x, y], d + '/list.pt')\n"
         "torch.save((x.half(), y), d + '/tuple16.pt')\n"
         "raw(x.half(), 'x16.bin')\n"
         "xt = x.transpose(2, 3)\n"  // non-contiguous view of a contiguous storage
         "torch.save({'images': xt, 'labels': y}, d + '/dict_t.pt')\n"
         "raw(xt, 'xt.bin')\n"
         "xs = x[1:, :, :, 1:4]\n"  // storage offset and a partial row
         "torch.save([xs, y[1:].int()], d + '/slice_p4.pt', pickle_protocol=4)\n"
         "raw(xs, 'xs.bin')\n"
         "torch.save([torch.nn.Parameter(x), y], d + '/param.pt')\n"
         "torch.save([x.double(), y], d + '/double.pt', pickle_protocol=5)\n"
         "torch.save([x, y], d + '/legacy.pt', _use_new_zipfile_serialization=False)\n"
         "for f in ['ours.pt', 'ours16.pt']:\n"
         "  a = torch.load(d + '/' + f, weights_only=True)\n"
         "  assert isinstance(a, list) and len(a) == 2, a\n"
         "  assert a[0].shape == (4, 1, 28, 28) and a[1].tolist() == [0, 0, 1, 1], a\n"
         "  assert a[0].dtype == (torch.float16 if '16' in f else torch.float32) and a[1].dtype == torch.int64\n"
         "  raw(a[0], f + '.bin')\n";
  }
  REQUIRE(std::system(("/usr/bin/python3 " + py + " " + t.p.string()).c_str()) == 0);

  // torch.load read our files: the same values (f16: as rounded by our writer).
  const CondensedSet s = small_set();
  CHECK(raw_floats(t / "ours.pt.bin") == s.images.to_vector());
  const PtFile o16 = read_pt(t / "ours16.pt");
  CHECK(raw_floats(t / "ours16.pt.bin") == pt_to_f32(pt_tensor(*o16.root->items[0], "x"), "x").to_vector());

  auto images_of = [&](const std::string& name, size_t item) {
    const PtFile f = read_pt(t / name);
    const PickleValue& r = *f.root;
    const PickleValue& v = r.kind == PickleValue::Kind::Dict ? *r.items[1] : *r.items[item];
    return pt_to_f32(pt_tensor(v, name), name).to_vector();
  };
  for (const char* f : {"list.pt", "tuple16.pt", "dict_t.pt", "slice_p4.pt", "param.pt", "double.pt", "ours.pt"})
    keep_seed(f, file_bytes(t / f));
  CHECK(images_of("list.pt", 0) == raw_floats(t / "x.bin"));
  CHECK(images_of("tuple16.pt", 0) == raw_floats(t / "x16.bin"));
  CHECK(images_of("dict_t.pt", 0) == raw_floats(t / "xt.bin"));
  CHECK(images_of("slice_p4.pt", 0) == raw_floats(t / "xs.bin"));
  CHECK(images_of("param.pt", 0) == raw_floats(t / "x.bin"));
  CHECK(images_of("double.pt", 0) == raw_floats(t / "x.bin"));  // x is float32 data: exact through float64
  const PtFile sl = read_pt(t / "slice_p4.pt");
  CHECK(pt_to_i64(pt_tensor(*sl.root->items[1], "y"), "y").to_int_vector() == std::vector<int64_t>{0, 1, 1, 2, 2});
  CHECK(contains(error_of([&] { read_pt(t / "legacy.pt"); }), "legacy (pre-1.6) torch.save format"));

  // Import: values outside [0,1] are clamped and counted; the meta comes from the options and the registry.
  PtImportOptions opt;
  opt.dataset = "cifar10";
  opt.factor = 2;
  CHECK(contains(error_of([&] { import_pt_set(t / "list.pt", opt); }), "do not match cifar10 (3 channels, 32x32)"));
  write_pt(t / "c.pt", {{test::random_tensor({6, 3, 32, 32}, 3, -0.05f, 1.05f), PtDType::F32},
                        {from_int_vector({0, 0, 1, 1, 2, 2}, {6}), PtDType::I64}});
  // (cifar10 has 10 classes: 3 classes of 2 is imbalanced, so it must be declared)
  CHECK(contains(error_of([&] { import_pt_set(t / "c.pt", opt); }), "declare it with --class-counts"));
}

TEST_CASE("pt import: IDC's [images, labels] becomes a valid set; bad labels and flags are refused") {
  TempDir t;
  // Ten classes x ipc 2 of 3x32x32, slightly outside [0,1] as IDC saves them.
  std::vector<int64_t> y;
  for (int64_t c = 0; c < 10; ++c) y.insert(y.end(), {c, c});
  Tensor x = test::random_tensor({20, 3, 32, 32}, 7, 0.f, 1.f);
  float* px = x.data<float>();
  px[0] = -0.25f, px[5] = 1.5f, px[9] = 1.0001f;
  write_pt(t / "data.pt", {{x, PtDType::F32}, {from_int_vector(y, {20}), PtDType::I64}});
  PtImportOptions o;
  o.dataset = "cifar-10";
  o.factor = 2;
  CondensedSet s = import_pt_set(t / "data.pt", o);
  CHECK(s.meta.dataset == "cifar10");
  CHECK(s.meta.num_classes == 10);
  CHECK(s.meta.ipc == 2);
  CHECK(s.meta.factor == 2);
  CHECK(s.meta.mean.size() == 3);
  CHECK(s.meta.config["import"]["clamped_values"] == 3);
  CHECK(s.meta.config["import"]["clamped_below_0"] == 1);
  const std::vector<float> v = s.images.to_vector();
  CHECK(v[0] == 0.f);
  CHECK(v[5] == 1.f);
  CHECK(v[1] == px[1]);
  // The set converts to .npz and back, and to .pt and back, unchanged.
  save_set_any(t / "set.npz", s);
  CHECK(test::same_bits(load_set_any(t / "set.npz", o).images, s.images));
  save_set_any(t / "again.pt", s);
  CHECK(test::same_bits(load_set_any(t / "again.pt", o).images, s.images));
  // A .npz with conflicting flags is refused.
  PtImportOptions wrong = o;
  wrong.ipc = 3;
  CHECK(contains(error_of([&] { load_set_any(t / "set.npz", wrong); }), "meta field 'ipc' is 2, expected 3"));

  // Flags a .pt cannot do without, and a wrong --ipc.
  PtImportOptions nod = o;
  nod.dataset.clear();
  CHECK(contains(error_of([&] { import_pt_set(t / "data.pt", nod); }), "give --dataset"));
  PtImportOptions nof = o;
  nof.factor = 0;
  CHECK(contains(error_of([&] { import_pt_set(t / "data.pt", nof); }), "give --factor"));
  CHECK(contains(error_of([&] { import_pt_set(t / "data.pt", wrong); }), "2 images per class, but --ipc is 3"));

  // Labels not class-major; imbalanced without, then with, declared counts; labels out of range; NaN.
  auto with_labels = [&](std::vector<int64_t> lab, const std::string& name) {
    write_pt(t / name, {{x, PtDType::F32}, {from_int_vector(lab, {20}), PtDType::I64}});
    return t / name;
  };
  std::vector<int64_t> swapped = y;
  std::swap(swapped[1], swapped[2]);
  CHECK(contains(error_of([&] { import_pt_set(with_labels(swapped, "s.pt"), o); }), "must be class-major"));
  std::vector<int64_t> imb = y;
  imb[2] = 0;  // class 0 has 3, class 1 has 1
  const std::string ip = with_labels(imb, "imb.pt");
  CHECK(contains(error_of([&] { import_pt_set(ip, o); }), "class 1 has 1 images but class 0 has 3"));
  PtImportOptions decl = o;
  decl.class_counts = {3, 1, 2, 2, 2, 2, 2, 2, 2, 2};
  const CondensedSet si = import_pt_set(ip, decl);
  CHECK(si.meta.class_counts == decl.class_counts);
  CHECK(si.meta.ipc == 3);
  decl.class_counts[0] = 2;
  CHECK(contains(error_of([&] { import_pt_set(ip, decl); }), "but --class-counts declares"));
  std::vector<int64_t> big = y;
  big[19] = 10;
  CHECK(contains(error_of([&] { import_pt_set(with_labels(big, "big.pt"), o); }), "label 10 at index 19"));
  px[7] = NAN;
  write_pt(t / "nan.pt", {{x, PtDType::F32}, {from_int_vector(y, {20}), PtDType::I64}});
  CHECK(contains(error_of([&] { import_pt_set(t / "nan.pt", o); }), "is not finite"));
  // Containers other than [images, labels].
  write_pt(t / "three.pt", {{x, PtDType::F32}, {x, PtDType::F32}, {x, PtDType::F32}});
  CHECK(contains(error_of([&] { import_pt_set(t / "three.pt", o); }), "list of 3 items, expected [images, labels]"));
}

TEST_CASE("pt: hostile files are refused with one line naming the file and the offence") {
  // Code execution: os.system through GLOBAL + REDUCE (protocol 2) and STACK_GLOBAL (protocol 4).
  const std::string os_system = std::string("\x80\x02", 2) + "cos\nsystem\n(X\x05\0\0\0touchtR.";
  std::string e = read_error(make_archive(os_system, {}));
  CHECK(contains(e, "bad.pt: archive/data.pkl: pickle offset 2: global 'os.system' is not allowed"));
  CHECK(e.find('\n') == std::string::npos);
  const std::string stack_global = std::string("\x80\x04\x8c\x08" "builtins" "\x8c\x04" "eval" "\x93.");
  CHECK(contains(read_error(make_archive(stack_global, {})), "global 'builtins.eval' is not allowed"));
  // Names from the file are escaped: the error stays on one line.
  const std::string newline_global = std::string("\x80\x04\x8c\x02" "o\n" "\x8c\x01" "s" "\x93.");
  e = read_error(make_archive(newline_global, {}));
  CHECK(contains(e, "global 'o\\x0a.s' is not allowed"));
  CHECK(e.find('\n') == std::string::npos);
  // REDUCE on an allowed global that is not a function, BUILD on something that is not a dict, other opcodes.
  CHECK(contains(read_error(make_archive(std::string("\x80\x02", 2) + "ctorch\nFloatStorage\n)R.", {})),
                 "torch.FloatStorage: cannot be called"));
  CHECK(contains(read_error(make_archive(std::string("\x80\x02", 2) + "ccollections\nOrderedDict\n}b.", {})),
                 "BUILD on a 'collections.OrderedDict' with a dict state"));
  CHECK(contains(read_error(make_archive(std::string("\x80\x02", 2) + "(i__main__\nX\n.", {})),
                 "opcode 0x69 ('i') is not allowed"));
  CHECK(contains(read_error(make_archive(std::string("\x80\x02", 2) + "ccollections\nOrderedDict\n(K\x01tR.", {})),
                 "OrderedDict() with arguments"));

  // Views that reach outside their storage, huge sizes, storages larger than their entry.
  const std::string four_floats(16, '\0');
  auto view = [&](int64_t numel, int64_t offset, std::vector<int64_t> size, std::vector<int64_t> stride) {
    const std::string pkl = tensor_pickle("FloatStorage", numel, offset, size, stride);
    return read_error(make_archive(pkl, {{"data/0", four_floats}}));
  };
  CHECK(view(4, 0, {2, 2}, {2, 1}) == "<no error>");
  CHECK(contains(view(4, 1, {2, 2}, {2, 1}), "does not fit storage '0' of 4 elements"));
  CHECK(contains(view(4, 0, {2, 2}, {3, 1}), "does not fit storage"));
  CHECK(contains(view(4, 5, {0}, {1}), "storage_offset 5 outside storage"));
  CHECK(contains(view(4, 0, {1ll << 40, 1ll << 40}, {0, 0}), "does not fit storage"));
  CHECK(contains(view(4, 0, {2, 1ll << 62}, {1ll << 62, 1}), "does not fit storage"));
  CHECK(contains(view(4, 0, {8}, {0}), "does not fit storage"));  // an expanded view: 8 elements from 4
  CHECK(contains(view(1ll << 60, 0, {4}, {1}), "holds 16 bytes, expected 1152921504606846976 x 4"));
  CHECK(contains(view(3, 0, {3}, {1}), "holds 16 bytes, expected 3 x 4"));
  CHECK(contains(read_error(make_archive(tensor_pickle("FloatStorage", 4, 0, {4}, {1}), {})),
                 "no entry 'archive/data/0'"));
  CHECK(contains(read_error(make_archive(tensor_pickle("FloatStorage", 4, 0, {4}, {1}),
                                         {{"data/0", four_floats}, {"byteorder", "big"}})),
                 "only little-endian"));

  // Deep nesting, self-reference, and lengths past the end of the pickle.
  std::string deep = std::string("\x80\x02", 2) + ")";
  for (int k = 0; k < 100; ++k) deep += '\x85';
  CHECK(contains(read_error(make_archive(deep + ".", {})), "nesting deeper than 64"));
  std::string many = std::string("\x80\x02", 2) + "]";  // a list of 2^20 + 1 Nones, appended in batches
  for (size_t k = 0; k <= kPickleMaxValues / 1024; ++k) many += "(" + std::string(1024, 'N') + "e";
  CHECK(contains(read_error(make_archive(many + ".", {})), "more than 1048576 values"));
  CHECK(contains(read_error(make_archive(std::string("\x80\x02]q\x00h\x00\x61.", 9), {})), "into itself"));
  CHECK(contains(read_error(make_archive(std::string("\x80\x02X\xff\xff\xff\x7f", 7) + "ab.", {})),
                 "BINUNICODE needs 2147483647 bytes but only 3 remain"));
  CHECK(contains(read_error(make_archive(std::string("\x80\x02h\x07.", 5), {})), "memo index 7 was never stored"));
  CHECK(contains(read_error(make_archive(std::string("\x80\x02", 2) + "K\x01", {})), "pickle ends without STOP"));
  CHECK(contains(read_error("not a zip at all"), "legacy (pre-1.6)"));
  CHECK(contains(read_error(make_archive("", {})), "empty pickle"));
}

TEST_CASE("pt: every truncation and random corruption of a valid file is refused or read, never a crash") {
  TempDir t;
  write_pt(t / "v.pt", {{test::random_tensor({2, 1, 4, 4}, 2, 0.f, 1.f), PtDType::F32},
                        {from_int_vector({0, 1}, {2}), PtDType::I64}});
  const std::string good = file_bytes(t / "v.pt");
  REQUIRE(read_error(good) == "<no error>");
  for (size_t n = 0; n < good.size(); ++n) {
    const std::string e = read_error(good.substr(0, n));
    CHECK_MESSAGE(contains(e, "bad.pt"), "truncated at ", n, ": ", e);
  }
  std::mt19937 rng(1234);
  for (int trial = 0; trial < 3000; ++trial) {
    std::string b = good;
    for (int k = 0; k < 1 + trial % 4; ++k) b[rng() % b.size()] = static_cast<char>(rng());
    const std::string e = read_error(b);  // any yoco::Error is fine; anything else fails error_of's caller
    CHECK((e == "<no error>" || contains(e, "bad.pt")));
  }
}
