// Zip container (see zip.h): stored entries, CRC32 via zlib, zip64 extras accepted on read; every read is
// bounds-checked against the buffer with overflow-free arithmetic (sizes are compared, never added blindly).
#include "data/zip.h"

#include <zlib.h>
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include "data/printable.h"
#include "kernels/common.h"

namespace yoco::data {
namespace {

constexpr uint32_t kLocalSig = 0x04034b50, kCentralSig = 0x02014b50, kEndSig = 0x06054b50;
constexpr uint32_t kZip64EndSig = 0x06064b50, kZip64LocSig = 0x07064b50;
constexpr uint32_t kDosDate = (0u << 9) | (1u << 5) | 1u;  // 1980-01-01: fixed, so output is reproducible

// A view of the buffer whose reads throw instead of running off the end.
struct Bytes {
  const char* p;
  size_t n;
  const std::string& file;
  // True when [off, off + len) lies inside the buffer (no overflow for any off, len).
  bool has(uint64_t off, uint64_t len) const { return off <= n && len <= n - off; }
  void need(uint64_t off, uint64_t len, const char* what) const {
    YOCO_CHECK(has(off, len), file, ": truncated or corrupt zip: ", what, " at byte ", off, " needs ", len,
               " bytes, the file has ", n);
  }
  uint32_t u16(uint64_t o) const { need(o, 2, "a field"); return uint8_t(p[o]) | (uint32_t(uint8_t(p[o + 1])) << 8); }
  uint32_t u32(uint64_t o) const { need(o, 4, "a field"); return u16(o) | (u16(o + 2) << 16); }
  uint64_t u64(uint64_t o) const { need(o, 8, "a field"); return u32(o) | (uint64_t(u32(o + 4)) << 32); }
};

void put16(std::string& s, uint32_t v) { s += char(v & 0xff); s += char((v >> 8) & 0xff); }
void put32(std::string& s, uint32_t v) { put16(s, v & 0xffff); put16(s, v >> 16); }

struct CentralEntry {
  std::string name;
  uint32_t method = 0, flags = 0, crc = 0;
  uint64_t csize = 0, usize = 0, offset = 0;
};

// Locates the (zip64) end record and returns (entry count, central directory offset).
std::pair<uint64_t, uint64_t> find_directory(const Bytes& b) {
  YOCO_CHECK(b.n >= 22, b.file, ": truncated at byte ", b.n, ": too short for a zip file");
  uint64_t e = b.n - 22;
  const uint64_t stop = b.n >= 22 + 65535 ? b.n - 22 - 65535 : 0;
  while (b.u32(e) != kEndSig) {
    YOCO_CHECK(e > stop, b.file, ": not a zip file (no end-of-central-directory record)");
    --e;
  }
  uint64_t count = b.u16(e + 10), cd_off = b.u32(e + 16);
  if ((count == 0xffff || cd_off == 0xffffffff) && e >= 20 && b.u32(e - 20) == kZip64LocSig) {
    const uint64_t z = b.u64(e - 20 + 8);
    YOCO_CHECK(b.has(z, 56) && b.u32(z) == kZip64EndSig, b.file, ": bad zip64 end record at byte ", z);
    count = b.u64(z + 32);
    cd_off = b.u64(z + 48);
  }
  // Each directory entry takes at least 46 bytes: a count the file cannot hold is corrupt, not a reason to loop.
  YOCO_CHECK(cd_off <= b.n && count <= (b.n - cd_off) / 46, b.file, ": zip directory claims ", count,
             " entries at byte ", cd_off, ", more than the ", b.n, "-byte file can hold");
  return {count, cd_off};
}

// Sizes/offset saturated at 0xffffffff live in the zip64 extra field (id 1), in this fixed order.
void apply_zip64(const Bytes& b, uint64_t x, uint64_t xlen, CentralEntry& c) {
  const uint64_t end = x + xlen;  // inside the buffer: checked by the caller
  for (uint64_t p = x; end - p >= 4;) {
    const uint32_t id = b.u16(p), len = b.u16(p + 2);
    YOCO_CHECK(len <= end - p - 4, b.file, ": entry ", printable(c.name), ": zip extra field at byte ", p,
               " overruns its entry");
    uint64_t q = p + 4;
    const uint64_t qend = q + len;
    if (id == 1) {
      auto take = [&](uint64_t& v) {
        if (v != 0xffffffff) return;
        YOCO_CHECK(qend - q >= 8, b.file, ": entry ", printable(c.name), ": zip64 extra field at byte ", p,
                   " is too short");
        v = b.u64(q);
        q += 8;
      };
      take(c.usize);
      take(c.csize);
      take(c.offset);
    }
    p = qend;
  }
}

std::vector<CentralEntry> read_directory(const Bytes& b) {
  auto [count, off] = find_directory(b);
  std::vector<CentralEntry> out;
  out.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    YOCO_CHECK(b.has(off, 46) && b.u32(off) == kCentralSig, b.file, ": bad central directory entry ", i,
               " at byte ", off);
    CentralEntry c;
    c.flags = b.u16(off + 8);
    c.method = b.u16(off + 10);
    c.crc = b.u32(off + 16);
    c.csize = b.u32(off + 20);
    c.usize = b.u32(off + 24);
    const uint64_t n = b.u16(off + 28), x = b.u16(off + 30), k = b.u16(off + 32);
    c.offset = b.u32(off + 42);
    YOCO_CHECK(b.has(off + 46, n + x + k), b.file, ": central directory entry ", i, " truncated at byte ", off);
    c.name.assign(b.p + off + 46, n);
    apply_zip64(b, off + 46 + n, x, c);
    out.push_back(c);
    off += 46 + n + x + k;
  }
  return out;
}

// Checks the local header against the directory and returns where the entry's data starts.
uint64_t data_start(const Bytes& b, const CentralEntry& c, const std::string& what) {
  YOCO_CHECK(c.method == 0, what, ": compressed entry (method ", c.method,
             "): only stored entries are read; re-save with np.savez, not np.savez_compressed");
  YOCO_CHECK((c.flags & 1) == 0, what, ": encrypted entries are not supported");
  const uint64_t o = c.offset;
  YOCO_CHECK(b.has(o, 30) && b.u32(o) == kLocalSig, what, ": bad local file header at byte ", o);
  YOCO_CHECK(b.u16(o + 8) == 0, what, ": local header at byte ", o, " says compressed (method ", b.u16(o + 8),
             "); re-save with np.savez, not np.savez_compressed");
  const uint64_t start = o + 30 + b.u16(o + 26) + b.u16(o + 28);
  YOCO_CHECK(c.csize == c.usize, what, ": stored entry with compressed size ", c.csize, " != size ", c.usize);
  YOCO_CHECK(b.has(start, c.usize), what, ": truncated at byte ", b.n, ": expected ", c.usize,
             " bytes of entry data from byte ", start);
  return start;
}

uint32_t crc_of(const char* p, uint64_t n) {
  uLong crc = crc32(0L, Z_NULL, 0);
  while (n > 0) {  // zlib takes uInt lengths: feed large entries in pieces
    const uInt k = n > (1u << 30) ? (1u << 30) : static_cast<uInt>(n);
    crc = crc32(crc, reinterpret_cast<const Bytef*>(p), k);
    p += k;
    n -= k;
  }
  return static_cast<uint32_t>(crc);
}

}  // namespace

std::vector<ZipEntry> read_zip_entries(const char* data, size_t size, const std::string& file) {
  const Bytes b{data, size, file};
  std::vector<ZipEntry> out;
  std::set<std::string> seen;
  std::vector<std::pair<uint64_t, uint64_t>> spans;  // [local header, data end) of each entry
  for (const CentralEntry& c : read_directory(b)) {
    const std::string what = file + ": entry " + printable(c.name);
    YOCO_CHECK(seen.insert(c.name).second, what, ": duplicate entry");
    const uint64_t start = data_start(b, c, what);
    spans.emplace_back(c.offset, start + c.usize);
    out.push_back({c.name, start, c.usize, c.crc});
  }
  // Entries sharing bytes would let a small file stand for many copies of one large entry (every reader copies
  // each entry out): refuse overlaps, so the entries' total size never exceeds the file's. Checked before any CRC
  // pass, which would otherwise cost that many passes too.
  std::vector<size_t> order(spans.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t x, size_t y) { return spans[x] < spans[y]; });
  for (size_t i = 1; i < order.size(); ++i)
    YOCO_CHECK(spans[order[i - 1]].second <= spans[order[i]].first, file, ": entry ", printable(out[order[i]].name),
               " at byte ", spans[order[i]].first, " overlaps entry ", printable(out[order[i - 1]].name),
               " (ending at byte ", spans[order[i - 1]].second, "): corrupt or crafted zip");
  for (const ZipEntry& e : out) {
    const uint32_t crc = crc_of(data + e.offset, e.size);
    YOCO_CHECK(crc == e.crc, file, ": entry ", printable(e.name), ": CRC32 mismatch (stored ", e.crc, ", computed ",
               crc, "): file is corrupt");
  }
  return out;
}

void write_zip(std::ostream& out, const std::string& path,
               const std::vector<std::pair<std::string, std::string_view>>& entries, size_t align) {
  std::vector<CentralEntry> written;
  uint64_t pos = 0;
  for (const auto& [name, bytes] : entries) {
    CentralEntry e;
    e.name = name;
    e.usize = e.csize = bytes.size();
    e.offset = pos;
    e.crc = crc_of(bytes.data(), bytes.size());
    // Pad the local extra field so the data starts aligned (an unknown extra id that readers skip).
    size_t pad = 0;
    if (align > 1) {
      const uint64_t bare = pos + 30 + name.size();
      pad = static_cast<size_t>((align - bare % align) % align);
      if (pad > 0 && pad < 4) pad += align;  // an extra field needs its 4-byte header
    }
    YOCO_CHECK(pos + 30 + name.size() + pad + e.usize < 0xffffffffull, path, ": entry ", name,
               ": archive over 4 GiB is not supported (no zip64 writing)");
    std::string h;
    put32(h, kLocalSig); put16(h, 20); put16(h, 0); put16(h, 0); put16(h, 0); put16(h, kDosDate);
    put32(h, e.crc); put32(h, uint32_t(e.usize)); put32(h, uint32_t(e.usize));
    put16(h, uint32_t(name.size())); put16(h, uint32_t(pad));
    h += name;
    if (pad > 0) {
      put16(h, 0xCAFE); put16(h, uint32_t(pad - 4));
      h.append(pad - 4, '\0');
    }
    out.write(h.data(), std::streamsize(h.size()));
    out.write(bytes.data(), std::streamsize(bytes.size()));
    pos += h.size() + bytes.size();
    written.push_back(e);
  }
  std::string cd;
  for (const auto& e : written) {
    put32(cd, kCentralSig); put16(cd, 20); put16(cd, 20); put16(cd, 0); put16(cd, 0); put16(cd, 0);
    put16(cd, kDosDate); put32(cd, e.crc); put32(cd, uint32_t(e.usize)); put32(cd, uint32_t(e.usize));
    put16(cd, uint32_t(e.name.size())); put16(cd, 0); put16(cd, 0); put16(cd, 0); put16(cd, 0);
    put32(cd, 0644u << 16);  // external attributes: a regular rw-r--r-- file for unzip
    put32(cd, uint32_t(e.offset));
    cd += e.name;
  }
  YOCO_CHECK(written.size() < 0xffff && pos + cd.size() < 0xffffffffull, path,
             ": archive over 4 GiB or 65535 entries is not supported (no zip64 writing)");
  std::string end;
  put32(end, kEndSig); put16(end, 0); put16(end, 0);
  put16(end, uint32_t(written.size())); put16(end, uint32_t(written.size()));
  put32(end, uint32_t(cd.size())); put32(end, uint32_t(pos)); put16(end, 0);
  out.write(cd.data(), std::streamsize(cd.size()));
  out.write(end.data(), std::streamsize(end.size()));
  out.flush();
  YOCO_CHECK(out.good(), path, ": write failed (disk full?)");
}

void write_zip_file(const std::string& path, const std::vector<std::pair<std::string, std::string_view>>& entries,
                    size_t align) {
  const std::string tmp = path + ".tmp";
  try {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    YOCO_CHECK(out.is_open(), tmp, ": cannot create (does the directory exist?)");
    write_zip(out, path, entries, align);
    out.close();
    YOCO_CHECK(!out.fail(), tmp, ": close failed");
    YOCO_CHECK(std::rename(tmp.c_str(), path.c_str()) == 0, path, ": cannot rename ", tmp, " into place");
  } catch (...) {
    std::remove(tmp.c_str());
    throw;
  }
}

std::vector<char> read_file_bytes(const std::string& path, uint64_t max_bytes) {
  std::error_code ec;
  YOCO_CHECK(std::filesystem::is_regular_file(path, ec), path, ": cannot open (not a regular file)");
  const uint64_t n = std::filesystem::file_size(path, ec);
  YOCO_CHECK(!ec, path, ": cannot read its size: ", ec.message());
  YOCO_CHECK(n <= max_bytes, path, ": ", n, " bytes, more than the ", max_bytes, " this reader accepts");
  std::ifstream in(path, std::ios::binary);
  YOCO_CHECK(in.good(), path, ": cannot open");
  std::vector<char> b(static_cast<size_t>(n));
  if (n > 0) in.read(b.data(), static_cast<std::streamsize>(n));
  YOCO_CHECK(static_cast<uint64_t>(in.gcount()) == n, path, ": read ", in.gcount(), " of ", n,
             " bytes (file changed while reading?)");
  return b;
}

}  // namespace yoco::data
