// The zip container under .npz and torch.save's .pt files: STORED (uncompressed) entries only, parsed from bytes
// in memory with every offset and size checked against the bytes present, and written atomically by callers.
#pragma once
#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace yoco::data {

// One stored entry: `offset` is where its data starts in the buffer, `size` its byte count (inside the buffer).
struct ZipEntry {
  std::string name;
  uint64_t offset = 0, size = 0;
  uint32_t crc = 0;
};

// The central directory of a zip held in `data[0, size)`. Every entry is checked before it is returned: local
// header present and consistent, stored (not compressed or encrypted), data inside the buffer, CRC32 correct,
// no duplicate names. Errors name `file` (and the entry) and what was expected, on one line.
std::vector<ZipEntry> read_zip_entries(const char* data, size_t size, const std::string& file);

// Writes `entries` (name, bytes) as STORED entries, then the central directory. `align` > 1 pads each local
// header's extra field so entry data starts at a multiple of `align` (torch.save aligns to 64). Throws, naming
// `path`, if the archive would exceed 4 GiB (no zip64 writing) or the stream fails.
void write_zip(std::ostream& out, const std::string& path,
               const std::vector<std::pair<std::string, std::string_view>>& entries, size_t align = 1);

// write_zip into `path` atomically: a temporary name (path + ".tmp"), then a rename; on any error the temporary
// file is removed and this throws, so readers never see a half-written file.
void write_zip_file(const std::string& path, const std::vector<std::pair<std::string, std::string_view>>& entries,
                    size_t align = 1);

// The whole file, refusing one larger than `max_bytes` before reading it. Errors name `path`.
std::vector<char> read_file_bytes(const std::string& path, uint64_t max_bytes = uint64_t(1) << 36);

}  // namespace yoco::data
