// .npz writer/reader: .npy files in the stored-entry zip container of data/zip.h.
#include "data/npz.h"
#include "data/half.h"
#include "data/printable.h"
#include "data/zip.h"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>

namespace yoco::data {
namespace {

// Caps for shapes read from files: no real array needs more (numpy allows 64 dims, we use at most 4).
constexpr size_t kMaxNdim = 8;
constexpr int64_t kMaxDim = int64_t(1) << 40;
constexpr uint64_t kMaxBytes = uint64_t(1) << 46;

size_t dtype_itemsize(const std::string& d, const std::string& what) {
  if (d == "<f4") return 4;
  if (d == "<f2") return 2;
  if (d == "<i8") return 8;
  if (d == "|u1") return 1;
  YOCO_CHECK(false, what, ": unsupported dtype '", printable(d), "' (supported: <f4, <f2, <i8, |u1)");
  return 0;
}

std::string shape_tuple(const std::vector<int64_t>& s) {
  std::string t = "(";
  for (size_t i = 0; i < s.size(); ++i) t += std::to_string(s[i]) + (s.size() == 1 ? "," : i + 1 < s.size() ? ", " : "");
  return t + ")";
}

// ---- npy header dict parsing: only the three keys numpy writes; every index is checked against the header ----
std::string dict_value(const std::string& h, const std::string& key, const std::string& what) {
  const size_t k = h.find("'" + key + "'");
  YOCO_CHECK(k != std::string::npos, what, ": npy header has no '", key, "' key");
  size_t v = h.find(':', k);
  YOCO_CHECK(v != std::string::npos, what, ": npy header malformed near '", key, "' (no ':')");
  ++v;
  while (v < h.size() && h[v] == ' ') ++v;
  YOCO_CHECK(v < h.size(), what, ": npy header ends after '", key, "':");
  size_t e = std::string::npos;
  if (h[v] == '\'') {
    e = h.find('\'', v + 1);
  } else if (h[v] == '(') {
    e = h.find(')', v);
  } else {
    e = h.find_first_of(",}", v);
    if (e != std::string::npos) --e;  // the value ends before the delimiter
  }
  YOCO_CHECK(e != std::string::npos && e >= v, what, ": npy header malformed near '", key, "' (unterminated value)");
  return h.substr(v, e - v + 1);
}

std::vector<int64_t> parse_shape(const std::string& t, const std::string& what) {
  YOCO_CHECK(t.size() >= 2 && t.front() == '(' && t.back() == ')', what, ": npy shape is not a tuple");
  std::vector<int64_t> s;
  size_t i = 1;
  while (i + 1 < t.size()) {
    while (i + 1 < t.size() && (t[i] == ' ' || t[i] == ',')) ++i;
    if (i + 1 >= t.size()) break;
    YOCO_CHECK(t[i] >= '0' && t[i] <= '9', what, ": npy shape ", t, " is not a tuple of non-negative integers");
    int64_t v = 0;
    for (; i + 1 < t.size() && t[i] >= '0' && t[i] <= '9'; ++i) {
      YOCO_CHECK(v <= (kMaxDim - (t[i] - '0')) / 10, what, ": npy shape ", t, " has a dimension over ", kMaxDim);
      v = v * 10 + (t[i] - '0');
    }
    // Trailing 'L' is how Python 2 numpy wrote longs.
    if (i + 1 < t.size() && t[i] == 'L') ++i;
    YOCO_CHECK(s.size() < kMaxNdim, what, ": npy shape ", t, " has more than ", kMaxNdim, " dimensions");
    s.push_back(v);
  }
  return s;
}

}  // namespace

uint64_t checked_nbytes(const std::vector<int64_t>& shape, size_t itemsize, const std::string& what) {
  // Zero dims are multiplied as 1 too: strides computed later from the other dims must not overflow either.
  uint64_t strided = itemsize, n = itemsize;
  for (int64_t d : shape) {
    YOCO_CHECK(d >= 0 && d <= kMaxDim, what, ": dimension ", d, " out of range [0, ", kMaxDim, "]");
    const uint64_t m = d == 0 ? 1 : static_cast<uint64_t>(d);
    YOCO_CHECK(strided <= kMaxBytes / m, what, ": shape ", shape_tuple(shape), " of ", itemsize,
               "-byte items exceeds ", kMaxBytes, " bytes");
    strided *= m;
    n *= static_cast<uint64_t>(d);
  }
  return n;
}

int64_t NpyArray::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::vector<char> npy_serialize(const NpyArray& a) {
  const size_t item = dtype_itemsize(a.dtype, "npy_serialize");
  YOCO_CHECK(a.bytes.size() == size_t(a.numel()) * item, "npy_serialize: ", a.bytes.size(), " bytes for shape ",
             shape_tuple(a.shape), " of ", a.dtype);
  std::string dict = "{'descr': '" + a.dtype + "', 'fortran_order': False, 'shape': " + shape_tuple(a.shape) + ", }";
  // Preamble (magic 6 + version 2 + length 2) + dict + spaces + '\n' is a multiple of 64 (numpy aligns data).
  const size_t total = ((10 + dict.size() + 1 + 63) / 64) * 64;
  dict.append(total - 10 - dict.size() - 1, ' ');
  dict += '\n';
  const std::string pre = std::string("\x93NUMPY\x01\x00", 8) + char(dict.size() & 0xff) + char(dict.size() >> 8);
  std::vector<char> out(pre.size() + dict.size() + a.bytes.size());
  std::memcpy(out.data(), pre.data(), pre.size());
  std::memcpy(out.data() + pre.size(), dict.data(), dict.size());
  if (!a.bytes.empty()) std::memcpy(out.data() + pre.size() + dict.size(), a.bytes.data(), a.bytes.size());
  return out;
}

NpyArray npy_parse(const char* p, size_t size, const std::string& what) {
  YOCO_CHECK(size >= 10 && std::memcmp(p, "\x93NUMPY", 6) == 0, what, ": not a .npy entry (bad magic at byte 0)");
  const int major = uint8_t(p[6]);
  YOCO_CHECK(major == 1 || major == 2, what, ": unsupported .npy version ", major, ".", int(uint8_t(p[7])));
  size_t hlen = uint8_t(p[8]) | (size_t(uint8_t(p[9])) << 8), pre = 10;
  if (major == 2) {  // version 2 has a 4-byte header length
    YOCO_CHECK(size >= 12, what, ": truncated .npy v2 preamble");
    hlen |= (size_t(uint8_t(p[10])) << 16) | (size_t(uint8_t(p[11])) << 24);
    pre = 12;
  }
  YOCO_CHECK(hlen <= size - pre, what, ": npy header of ", hlen, " bytes at byte ", pre, " runs past the entry end (",
             size, " bytes)");
  const std::string h(p + pre, hlen);
  NpyArray a;
  std::string descr = dict_value(h, "descr", what);
  YOCO_CHECK(descr.size() >= 2 && descr.front() == '\'' && descr.back() == '\'', what,
             ": npy descr is not a string");
  a.dtype = descr.substr(1, descr.size() - 2);
  if (a.dtype == "<u1") a.dtype = "|u1";
  const size_t item = dtype_itemsize(a.dtype, what);
  YOCO_CHECK(dict_value(h, "fortran_order", what) == "False", what, ": fortran_order arrays are not supported");
  a.shape = parse_shape(dict_value(h, "shape", what), what);
  const uint64_t expect = checked_nbytes(a.shape, item, what), got = size - pre - hlen;
  YOCO_CHECK(got == expect, what, ": ", got, " data bytes at byte ", pre + hlen, ": expected ", expect, " for shape ",
             shape_tuple(a.shape), " of ", a.dtype);
  a.bytes.assign(p + pre + hlen, p + size);
  return a;
}

NpyArray npy_from_tensor(const Tensor& t) {
  Tensor c = t.cpu();
  NpyArray a;
  a.dtype = c.dtype() == DType::F32 ? "<f4" : "<i8";
  a.shape = c.shape();
  const char* src = static_cast<const char*>(c.raw());
  a.bytes.assign(src, src + size_t(c.numel()) * dtype_size(c.dtype()));
  return a;
}

NpyArray npy_f16_from_tensor(const Tensor& t) {
  YOCO_CHECK(t.dtype() == DType::F32, "npy_f16_from_tensor: need an f32 tensor, got ", t.str());
  const Tensor c = t.cpu();
  NpyArray a{"<f2", c.shape(), std::vector<char>(size_t(c.numel()) * 2)};
  std::vector<uint16_t> h(size_t(c.numel()));
  floats_to_halves(c.data<float>(), h.data(), h.size());
  if (!h.empty()) std::memcpy(a.bytes.data(), h.data(), a.bytes.size());
  return a;
}

Tensor tensor_from_npy(const NpyArray& a, const std::string& what) {
  YOCO_CHECK(a.dtype == "<f4" || a.dtype == "<f2" || a.dtype == "<i8", what, ": dtype ", a.dtype,
             " cannot become a tensor (need <f4, <f2 or <i8)");
  YOCO_CHECK(a.bytes.size() == size_t(a.numel()) * dtype_itemsize(a.dtype, what), what, ": ", a.bytes.size(),
             " bytes for ", a.numel(), " elements of ", a.dtype);
  Tensor t = empty(a.shape, a.dtype == "<i8" ? DType::I64 : DType::F32);
  if (a.bytes.empty()) return t;
  if (a.dtype == "<f2") {  // widen to f32: the engine has no half tensors, and every half is exactly a float
    std::vector<uint16_t> h(a.bytes.size() / 2);
    std::memcpy(h.data(), a.bytes.data(), a.bytes.size());
    halves_to_floats(h.data(), t.data<float>(), h.size());
  } else {
    std::memcpy(t.raw(), a.bytes.data(), a.bytes.size());
  }
  return t;
}

NpyArray npy_from_string(const std::string& s) {
  return NpyArray{"|u1", {int64_t(s.size())}, std::vector<char>(s.begin(), s.end())};
}

std::string string_from_npy(const NpyArray& a, const std::string& what) {
  YOCO_CHECK(a.dtype == "|u1" && a.shape.size() == 1, what, ": expected a 1-D uint8 array, got ", a.dtype, " ",
             shape_tuple(a.shape));
  return std::string(a.bytes.begin(), a.bytes.end());
}

void write_npz(const std::string& path, const std::vector<std::pair<std::string, NpyArray>>& arrays) {
  std::vector<std::vector<char>> npys;
  std::vector<std::pair<std::string, std::string_view>> entries;
  npys.reserve(arrays.size());
  for (const auto& [key, arr] : arrays) {
    npys.push_back(npy_serialize(arr));
    entries.emplace_back(key + ".npy", std::string_view(npys.back().data(), npys.back().size()));
  }
  write_zip_file(path, entries);
}

std::map<std::string, NpyArray> read_npz(const std::string& path) {
  const std::vector<char> b = read_file_bytes(path);
  return read_npz_bytes(b.data(), b.size(), path);
}

std::map<std::string, NpyArray> read_npz_bytes(const char* data, size_t size, const std::string& path) {
  std::map<std::string, NpyArray> out;
  for (const ZipEntry& e : read_zip_entries(data, size, path)) {
    const std::string what = path + ": entry " + printable(e.name);
    std::string key = e.name;
    if (key.size() > 4 && key.compare(key.size() - 4, 4, ".npy") == 0) key.resize(key.size() - 4);
    YOCO_CHECK(!out.count(key), what, ": duplicate entry");
    out[key] = npy_parse(data + e.offset, e.size, what);
  }
  return out;
}

}  // namespace yoco::data
