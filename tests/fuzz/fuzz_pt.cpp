// Fuzz target: the torch.save reader on arbitrary bytes (zip entries, restricted unpickler, storage/view checks),
// then every top-level tensor copied out, which walks each view's strides through its storage. Inputs that do not
// start like a zip are taken as the data.pkl of an archive with storages "0" (192 bytes: 48 floats, as in a torch
// [images, labels] seed of 4x3x2x2 images) and "1" (32 bytes: 4 longs), so the fuzzer
// reaches the unpickler without having to forge the zip CRC; seed those with the data.pkl entries of real files.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <sstream>
#include <string>
#include <vector>
#include "data/pt_file.h"
#include "data/zip.h"
#include "kernels/common.h"

namespace {

void copy_tensors(const yoco::data::PickleValue& root) {
  using yoco::data::PickleValue;
  // Only the top level and its direct items: a pickle may share items (a DAG), so a full walk could be huge.
  std::vector<const PickleValue*> values = {&root};
  for (const auto& item : root.items) values.push_back(item.get());
  for (const PickleValue* v : values) {
    if (v->kind != PickleValue::Kind::Object || !std::any_cast<yoco::data::PtTensor>(&v->object)) continue;
    const yoco::data::PtTensor& t = yoco::data::pt_tensor(*v, "fuzz");
    const yoco::data::PtDType dt = t.storage->dtype;
    if (dt == yoco::data::PtDType::Bool) continue;
    const bool floating = dt == yoco::data::PtDType::F32 || dt == yoco::data::PtDType::F16 ||
                          dt == yoco::data::PtDType::BF16 || dt == yoco::data::PtDType::F64;
    if (floating) yoco::data::pt_to_f32(t, "fuzz");
    else yoco::data::pt_to_i64(t, "fuzz");
  }
}

std::vector<char> as_archive(const uint8_t* data, size_t size) {
  static const std::string s0(192, '\x3c'), s1(32, '\x01');
  std::ostringstream o;
  yoco::data::write_zip(o, "fuzz.pt",
                        {{"archive/data.pkl", std::string_view(reinterpret_cast<const char*>(data), size)},
                         {"archive/data/0", s0},
                         {"archive/data/1", s1},
                         {"archive/version", "3\n"}},
                        64);
  const std::string s = o.str();
  return std::vector<char>(s.begin(), s.end());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const bool zip = size >= 2 && data[0] == 'P' && data[1] == 'K';
    const yoco::data::PtFile f = yoco::data::read_pt_bytes(
        zip ? std::vector<char>(data, data + size) : as_archive(data, size), "fuzz.pt");
    copy_tensors(*f.root);
  } catch (const yoco::Error& e) {
    // A clean refusal is the expected outcome, but only as one line (the house rule for every error).
    if (std::string(e.what()).find('\n') != std::string::npos) {
      std::fprintf(stderr, "fuzz finding: multi-line error message:\n%s\n", e.what());
      std::abort();
    }
  } catch (const std::exception& e) {
    // Anything else (bad_alloc, out_of_range, ...) means a size was trusted before it was checked.
    std::fprintf(stderr, "fuzz finding: exception other than yoco::Error escaped the reader: %s\n", e.what());
    std::abort();
  }
  return 0;
}
