// .npz writer/reader: zip (STORED entries, CRC32 via zlib) of .npy files; zip64 extras accepted on read.
#include "data/npz.h"
#include "data/half.h"

#include <zlib.h>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>

namespace yoco::data {
namespace {

size_t dtype_itemsize(const std::string& d, const std::string& what) {
  if (d == "<f4") return 4;
  if (d == "<f2") return 2;
  if (d == "<i8") return 8;
  if (d == "|u1") return 1;
  YOCO_CHECK(false, what, ": unsupported dtype '", d, "' (supported: <f4, <f2, <i8, |u1)");
  return 0;
}

// ---- little-endian byte helpers ----
void put16(std::string& s, uint32_t v) { s += char(v & 0xff); s += char((v >> 8) & 0xff); }
void put32(std::string& s, uint32_t v) { put16(s, v & 0xffff); put16(s, v >> 16); }
uint32_t get16(const std::vector<char>& b, size_t o) { return uint8_t(b[o]) | (uint32_t(uint8_t(b[o + 1])) << 8); }
uint32_t get32(const std::vector<char>& b, size_t o) { return get16(b, o) | (get16(b, o + 2) << 16); }
uint64_t get64(const std::vector<char>& b, size_t o) { return get32(b, o) | (uint64_t(get32(b, o + 4)) << 32); }

constexpr uint32_t kLocalSig = 0x04034b50, kCentralSig = 0x02014b50, kEndSig = 0x06054b50;
constexpr uint32_t kZip64EndSig = 0x06064b50, kZip64LocSig = 0x07064b50;
constexpr uint32_t kDosDate = (0u << 9) | (1u << 5) | 1u;  // 1980-01-01: fixed, so output is reproducible

std::string shape_tuple(const std::vector<int64_t>& s) {
  std::string t = "(";
  for (size_t i = 0; i < s.size(); ++i) t += std::to_string(s[i]) + (s.size() == 1 ? "," : i + 1 < s.size() ? ", " : "");
  return t + ")";
}

struct Entry {
  std::string name;
  uint32_t crc = 0;
  uint64_t size = 0, offset = 0;
};

// Writes all entries + central directory to an open stream; throws if the stream fails.
void write_zip(std::ofstream& out, const std::string& path,
               const std::vector<std::pair<std::string, NpyArray>>& arrays) {
  std::vector<Entry> entries;
  uint64_t pos = 0;
  for (const auto& [key, arr] : arrays) {
    const std::vector<char> npy = npy_serialize(arr);
    Entry e{key + ".npy", 0, npy.size(), pos};
    YOCO_CHECK(e.size < 0xffffffffull && pos + e.size < 0xffffffffull, path, ": entry ", key,
               ": archive over 4 GiB is not supported (no zip64 writing)");
    e.crc = static_cast<uint32_t>(crc32(0L, reinterpret_cast<const Bytef*>(npy.data()), static_cast<uInt>(npy.size())));
    std::string h;
    put32(h, kLocalSig); put16(h, 20); put16(h, 0); put16(h, 0); put16(h, 0); put16(h, kDosDate);
    put32(h, e.crc); put32(h, uint32_t(e.size)); put32(h, uint32_t(e.size));
    put16(h, uint32_t(e.name.size())); put16(h, 0);
    h += e.name;
    out.write(h.data(), std::streamsize(h.size()));
    out.write(npy.data(), std::streamsize(npy.size()));
    pos += h.size() + npy.size();
    entries.push_back(e);
  }
  std::string cd;
  for (const auto& e : entries) {
    put32(cd, kCentralSig); put16(cd, 20); put16(cd, 20); put16(cd, 0); put16(cd, 0); put16(cd, 0);
    put16(cd, kDosDate); put32(cd, e.crc); put32(cd, uint32_t(e.size)); put32(cd, uint32_t(e.size));
    put16(cd, uint32_t(e.name.size())); put16(cd, 0); put16(cd, 0); put16(cd, 0); put16(cd, 0);
    put32(cd, 0644u << 16);  // external attributes: a regular rw-r--r-- file for unzip
    put32(cd, uint32_t(e.offset));
    cd += e.name;
  }
  std::string end;
  put32(end, kEndSig); put16(end, 0); put16(end, 0);
  put16(end, uint32_t(entries.size())); put16(end, uint32_t(entries.size()));
  put32(end, uint32_t(cd.size())); put32(end, uint32_t(pos)); put16(end, 0);
  out.write(cd.data(), std::streamsize(cd.size()));
  out.write(end.data(), std::streamsize(end.size()));
  out.flush();
  YOCO_CHECK(out.good(), path, ": write failed (disk full?)");
}

// ---- npy header dict parsing: only the three keys numpy writes ----
std::string dict_value(const std::string& h, const std::string& key, const std::string& what) {
  const size_t k = h.find("'" + key + "'");
  YOCO_CHECK(k != std::string::npos, what, ": npy header has no '", key, "': ", h);
  size_t v = h.find(':', k);
  YOCO_CHECK(v != std::string::npos, what, ": npy header malformed near '", key, "': ", h);
  ++v;
  while (v < h.size() && h[v] == ' ') ++v;
  size_t e = v;
  if (h[v] == '\'') e = h.find('\'', v + 1) + 1;
  else if (h[v] == '(') e = h.find(')', v) + 1;
  else e = h.find_first_of(",}", v);
  YOCO_CHECK(e != std::string::npos && e > v, what, ": npy header malformed near '", key, "': ", h);
  return h.substr(v, e - v);
}

std::vector<int64_t> parse_shape(const std::string& t, const std::string& what) {
  std::vector<int64_t> s;
  size_t i = 1;
  while (i < t.size()) {
    while (i < t.size() && (t[i] == ' ' || t[i] == ',' || t[i] == ')')) ++i;
    if (i >= t.size()) break;
    size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(t.substr(i), &used);
    } catch (...) {
      YOCO_CHECK(false, what, ": npy shape '", t, "' is not a tuple of integers");
    }
    YOCO_CHECK(v >= 0, what, ": negative dimension in npy shape ", t);
    s.push_back(v);
    i += used;
  }
  return s;
}

}  // namespace

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
  YOCO_CHECK(pre + hlen <= size, what, ": npy header of ", hlen, " bytes runs past the entry end (", size, " bytes)");
  const std::string h(p + pre, hlen);
  NpyArray a;
  std::string descr = dict_value(h, "descr", what);
  YOCO_CHECK(descr.size() >= 2 && descr.front() == '\'', what, ": npy descr is not a string: ", descr);
  a.dtype = descr.substr(1, descr.size() - 2);
  if (a.dtype == "<u1") a.dtype = "|u1";
  const size_t item = dtype_itemsize(a.dtype, what);
  YOCO_CHECK(dict_value(h, "fortran_order", what) == "False", what, ": fortran_order arrays are not supported");
  a.shape = parse_shape(dict_value(h, "shape", what), what);
  const size_t expect = size_t(a.numel()) * item, got = size - pre - hlen;
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
  // Readers never see a half-written file: build the temp file, then rename (atomic on POSIX).
  const std::string tmp = path + ".tmp";
  try {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    YOCO_CHECK(out.is_open(), tmp, ": cannot create (does the directory exist?)");
    write_zip(out, path, arrays);
    out.close();
    YOCO_CHECK(!out.fail(), tmp, ": close failed");
    YOCO_CHECK(std::rename(tmp.c_str(), path.c_str()) == 0, path, ": cannot rename ", tmp, " into place");
  } catch (...) {
    std::remove(tmp.c_str());
    throw;
  }
}

namespace {

struct CentralEntry {
  std::string name;
  uint32_t method = 0, flags = 0, crc = 0;
  uint64_t csize = 0, usize = 0, offset = 0;
};

// Locates the (zip64) end record and returns (entry count, central directory offset).
std::pair<uint64_t, uint64_t> find_directory(const std::vector<char>& b, const std::string& f) {
  YOCO_CHECK(b.size() >= 22, f, ": truncated at byte ", b.size(), ": too short for a zip file");
  size_t e = b.size() - 22;
  const size_t stop = b.size() >= 22 + 65535 ? b.size() - 22 - 65535 : 0;
  while (get32(b, e) != kEndSig) {
    YOCO_CHECK(e > stop, f, ": not a zip file (no end-of-central-directory record)");
    --e;
  }
  uint64_t count = get16(b, e + 10), cd_off = get32(b, e + 16);
  if ((count == 0xffff || cd_off == 0xffffffff) && e >= 20 && get32(b, e - 20) == kZip64LocSig) {
    const uint64_t z = get64(b, e - 20 + 8);
    YOCO_CHECK(z + 56 <= b.size() && get32(b, z) == kZip64EndSig, f, ": bad zip64 end record at byte ", z);
    count = get64(b, z + 32);
    cd_off = get64(b, z + 48);
  }
  return {count, cd_off};
}

// Sizes/offset saturated at 0xffffffff live in the zip64 extra field (id 1), in this fixed order.
void apply_zip64(const std::vector<char>& b, size_t x, size_t xlen, CentralEntry& c) {
  for (size_t p = x; p + 4 <= x + xlen;) {
    const uint32_t id = get16(b, p), len = get16(b, p + 2);
    size_t q = p + 4;
    if (id == 1) {
      if (c.usize == 0xffffffff && q + 8 <= p + 4 + len) { c.usize = get64(b, q); q += 8; }
      if (c.csize == 0xffffffff && q + 8 <= p + 4 + len) { c.csize = get64(b, q); q += 8; }
      if (c.offset == 0xffffffff && q + 8 <= p + 4 + len) { c.offset = get64(b, q); }
    }
    p += 4 + len;
  }
}

std::vector<CentralEntry> read_directory(const std::vector<char>& b, const std::string& f) {
  auto [count, off] = find_directory(b, f);
  std::vector<CentralEntry> out;
  for (uint64_t i = 0; i < count; ++i) {
    YOCO_CHECK(off + 46 <= b.size() && get32(b, off) == kCentralSig, f, ": bad central directory entry ", i,
               " at byte ", off);
    CentralEntry c;
    c.flags = get16(b, off + 8);
    c.method = get16(b, off + 10);
    c.crc = get32(b, off + 16);
    c.csize = get32(b, off + 20);
    c.usize = get32(b, off + 24);
    const size_t n = get16(b, off + 28), x = get16(b, off + 30), k = get16(b, off + 32);
    c.offset = get32(b, off + 42);
    YOCO_CHECK(off + 46 + n + x + k <= b.size(), f, ": central directory entry ", i, " truncated at byte ", off);
    c.name.assign(b.begin() + long(off + 46), b.begin() + long(off + 46 + n));
    apply_zip64(b, off + 46 + n, x, c);
    out.push_back(c);
    off += 46 + n + x + k;
  }
  return out;
}

// Checks the local header against the directory and returns where the entry's data starts.
size_t data_start(const std::vector<char>& b, const CentralEntry& c, const std::string& what) {
  YOCO_CHECK(c.method == 0, what, ": compressed entry (method ", c.method,
             "): only stored entries are read; re-save with np.savez, not np.savez_compressed");
  YOCO_CHECK((c.flags & 1) == 0, what, ": encrypted entries are not supported");
  const uint64_t o = c.offset;
  YOCO_CHECK(o + 30 <= b.size() && get32(b, o) == kLocalSig, what, ": bad local file header at byte ", o);
  YOCO_CHECK(get16(b, o + 8) == 0, what, ": local header at byte ", o, " says compressed (method ", get16(b, o + 8),
             "); re-save with np.savez, not np.savez_compressed");
  const size_t start = o + 30 + get16(b, o + 26) + get16(b, o + 28);
  YOCO_CHECK(c.csize == c.usize, what, ": stored entry with compressed size ", c.csize, " != size ", c.usize);
  YOCO_CHECK(start + c.usize <= b.size(), what, ": truncated at byte ", b.size(), ": expected ", c.usize,
             " bytes of entry data from byte ", start);
  return start;
}

}  // namespace

std::map<std::string, NpyArray> read_npz(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  YOCO_CHECK(in.good(), path, ": cannot open");
  const std::vector<char> b((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::map<std::string, NpyArray> out;
  for (const CentralEntry& c : read_directory(b, path)) {
    const std::string what = path + ": entry " + c.name;
    const size_t start = data_start(b, c, what);
    const uint32_t crc = uint32_t(crc32(0L, reinterpret_cast<const Bytef*>(b.data() + start), uInt(c.usize)));
    YOCO_CHECK(crc == c.crc, what, ": CRC32 mismatch (stored ", c.crc, ", computed ", crc, "): file is corrupt");
    std::string key = c.name;
    if (key.size() > 4 && key.compare(key.size() - 4, 4, ".npy") == 0) key.resize(key.size() - 4);
    YOCO_CHECK(!out.count(key), what, ": duplicate entry");
    out[key] = npy_parse(b.data() + start, c.usize, what);
  }
  return out;
}

}  // namespace yoco::data
