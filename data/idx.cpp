// IDX reader: validates magic, dims, counts and byte lengths, naming file and offset in every error.
#include "data/idx.h"

#include <zlib.h>
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <tuple>

namespace yoco::data {
namespace {

// Largest IDX payload accepted: the real files are under 50 MB; 4 GiB leaves room without letting a crafted
// header (or a gzip bomb) size an absurd buffer.
constexpr uint64_t kMaxIdxBytes = uint64_t(1) << 32;

uint32_t be32(const uint8_t* b) {
  return (uint32_t(b[0]) << 24) | (uint32_t(b[1]) << 16) | (uint32_t(b[2]) << 8) | uint32_t(b[3]);
}

// A file read through zlib (gzip inflated, anything else passed through), refused before opening when it is not
// a regular file or its on-disk size is over `max_bytes`.
class GzFile {
 public:
  GzFile(const std::string& path, uint64_t max_bytes) : path_(path) {
    std::error_code ec;
    YOCO_CHECK(std::filesystem::is_regular_file(path, ec), path, ": cannot open (not a regular file)");
    const uint64_t n = std::filesystem::file_size(path, ec);
    YOCO_CHECK(!ec && n <= max_bytes, path, ": ", n, " bytes on disk, more than the ", max_bytes,
               " this reader accepts");
    gz_ = gzopen(path.c_str(), "rb");
    YOCO_CHECK(gz_ != nullptr, path, ": cannot open");
  }
  ~GzFile() { gzclose(gz_); }
  GzFile(const GzFile&) = delete;
  GzFile& operator=(const GzFile&) = delete;

  // Appends up to `n` more bytes to `out`; returns how many came (fewer only at the end of the data).
  size_t read(std::vector<uint8_t>& out, size_t n) {
    size_t got = 0;
    while (got < n) {
      const size_t old = out.size();
      const unsigned want = static_cast<unsigned>(std::min<size_t>(n - got, size_t(1) << 20));
      out.resize(old + want);
      const int r = gzread(gz_, out.data() + old, want);
      if (r < 0) {
        int err = 0;
        const char* msg = gzerror(gz_, &err);
        out.resize(old);
        YOCO_CHECK(false, path_, ": corrupt gzip data after byte ", old, " of output: ", msg ? msg : "?");
      }
      out.resize(old + static_cast<size_t>(r));
      got += static_cast<size_t>(r);
      if (r == 0) break;
    }
    if (got < n) {
      // A gzip stream cut short reads as EOF with Z_BUF_ERROR: that is truncation, not a short file.
      int err = Z_OK;
      const char* msg = gzerror(gz_, &err);
      YOCO_CHECK(err == Z_OK || err == Z_STREAM_END, path_, ": gzip stream truncated or corrupt after ", out.size(),
                 " bytes of output: ", msg ? msg : "?");
    }
    return got;
  }

 private:
  std::string path_;
  gzFile gz_ = nullptr;
};

// Reads an IDX file: the header first (magic, `ndim` big-endian dims), then exactly the payload those dims
// declare (`item_bytes` each, overflow-checked and capped), never inflating past it.
std::vector<uint8_t> read_idx(const std::string& path, uint32_t magic, int ndim, std::vector<int64_t>& dims,
                              const char* what, const std::function<void(const std::vector<int64_t>&)>& check_dims) {
  GzFile f(path, kMaxIdxBytes);
  std::vector<uint8_t> b;
  const size_t header = 4 + 4 * static_cast<size_t>(ndim);
  f.read(b, header);
  // Magic first: a wrong kind of file is the likelier mistake than a truncated header.
  YOCO_CHECK(b.size() >= 4, path, ": truncated at byte ", b.size(), ": expected a ", header, "-byte IDX header");
  YOCO_CHECK(be32(b.data()) == magic, path, ": bad magic number ", be32(b.data()), " at byte 0: expected ", magic,
             magic == 2051 ? " (idx3 ubyte images)" : " (idx1 ubyte labels)");
  YOCO_CHECK(b.size() == header, path, ": truncated at byte ", b.size(), ": expected a ", header, "-byte IDX header");
  uint64_t expect = 1;
  dims.clear();
  for (int i = 0; i < ndim; ++i) {
    const uint32_t d = be32(b.data() + 4 + 4 * i);
    dims.push_back(d);
    YOCO_CHECK(d == 0 || expect <= kMaxIdxBytes / d, path, ": header dims at byte 4 declare more than ",
               kMaxIdxBytes, " bytes of ", what);
    expect *= d;
  }
  check_dims(dims);
  b.clear();
  b.reserve(std::min<uint64_t>(expect, uint64_t(1) << 24));  // grows with the bytes that really come
  f.read(b, static_cast<size_t>(expect));
  YOCO_CHECK(b.size() == expect, path, ": truncated at byte ", header + b.size(), ": expected ", expect,
             " bytes of ", what, " (", header + expect, " bytes in all)");
  std::vector<uint8_t> more;
  const size_t extra = f.read(more, 1 << 16);
  YOCO_CHECK(extra == 0, path, ": ", extra, extra == (1 << 16) ? "+" : "", " trailing bytes at byte ",
             header + expect, ": the data inflates past the ", header + expect,
             " bytes its header declares (expected exactly ", expect, " bytes of ", what, ")");
  return b;
}

std::string find_file(const std::string& dir, const std::string& stem) {
  for (const std::string& p : {dir + "/" + stem + ".gz", dir + "/" + stem})
    if (std::filesystem::exists(p)) return p;
  YOCO_CHECK(false, dir, "/", stem, "[.gz]: file not found (set YOCO_DATA_DIR or pass the data directory)");
  return {};
}

}  // namespace

std::vector<uint8_t> read_file_maybe_gz(const std::string& path, uint64_t max_bytes) {
  GzFile f(path, max_bytes);
  std::vector<uint8_t> out;
  f.read(out, static_cast<size_t>(std::min<uint64_t>(max_bytes, SIZE_MAX - 1)));
  std::vector<uint8_t> more;
  YOCO_CHECK(f.read(more, 1) == 0, path, ": inflates past the ", max_bytes, " bytes this reader accepts");
  return out;
}

IdxImages read_idx_images(const std::string& path) {
  std::vector<int64_t> dims;
  IdxImages im;
  im.pixels = read_idx(path, 2051, 3, dims, "pixel data", [&](const std::vector<int64_t>& d) {
    YOCO_CHECK(d[1] > 0 && d[2] > 0 && d[1] <= 4096 && d[2] <= 4096, path, ": implausible image size ", d[1], "x",
               d[2], " at byte 8: expected 1..4096 each");
  });
  im.count = dims[0];
  im.rows = dims[1];
  im.cols = dims[2];
  return im;
}

std::vector<uint8_t> read_idx_labels(const std::string& path, int max_label) {
  std::vector<int64_t> dims;
  std::vector<uint8_t> y = read_idx(path, 2049, 1, dims, "label data", [](const std::vector<int64_t>&) {});
  for (size_t i = 0; i < y.size(); ++i)
    YOCO_CHECK(y[i] < max_label, path, ": label ", int(y[i]), " at byte ", 8 + i, ": expected < ", max_label);
  return y;
}

Dataset load_mnist_like(const std::string& dir, const std::string& name, bool train) {
  const std::string split = train ? "train" : "t10k";
  const std::string ipath = find_file(dir, split + "-images-idx3-ubyte");
  const std::string lpath = find_file(dir, split + "-labels-idx1-ubyte");
  const IdxImages im = read_idx_images(ipath);
  const auto y = read_idx_labels(lpath, 10);
  YOCO_CHECK(static_cast<int64_t>(y.size()) == im.count, dir, ": ", std::filesystem::path(ipath).filename().string(),
             " holds ", im.count, " images but ", std::filesystem::path(lpath).filename().string(), " holds ",
             y.size(), " labels");
  Dataset d;
  d.name = name;
  d.num_classes = 10;
  d.channels = 1;
  d.height = im.rows;
  d.width = im.cols;
  std::tie(d.mean, d.std) = dataset_stats(name);
  d.images = empty({im.count, 1, im.rows, im.cols}, DType::F32);
  d.labels = empty({im.count}, DType::I64);
  float* x = d.images.data<float>();
  for (size_t i = 0; i < im.pixels.size(); ++i) x[i] = static_cast<float>(im.pixels[i]) / 255.f;
  int64_t* yl = d.labels.data<int64_t>();
  for (size_t i = 0; i < y.size(); ++i) yl[i] = y[i];
  return d;
}

}  // namespace yoco::data
