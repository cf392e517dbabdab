// IDX reader: validates magic, dims, counts and byte lengths, naming file and offset in every error.
#include "data/idx.h"

#include <zlib.h>
#include <filesystem>
#include <tuple>

namespace yoco::data {
namespace {

std::string base_name(const std::string& path) { return std::filesystem::path(path).filename().string(); }

uint32_t be32(const std::vector<uint8_t>& b, size_t off) {
  return (uint32_t(b[off]) << 24) | (uint32_t(b[off + 1]) << 16) | (uint32_t(b[off + 2]) << 8) | uint32_t(b[off + 3]);
}

// Reads the magic and `ndim` big-endian dims; checks the header fits in the file.
std::vector<int64_t> idx_header(const std::vector<uint8_t>& b, const std::string& path, uint32_t magic, int ndim) {
  const std::string f = base_name(path);
  const size_t need = 4 + 4 * static_cast<size_t>(ndim);
  // Magic first: a wrong kind of file is the likelier mistake than a truncated header.
  YOCO_CHECK(b.size() >= 4, f, ": truncated at byte ", b.size(), ": expected a ", need, "-byte IDX header");
  YOCO_CHECK(be32(b, 0) == magic, f, ": bad magic number ", be32(b, 0), " at byte 0: expected ", magic,
             magic == 2051 ? " (idx3 ubyte images)" : " (idx1 ubyte labels)");
  YOCO_CHECK(b.size() >= need, f, ": truncated at byte ", b.size(), ": expected a ", need, "-byte IDX header");
  std::vector<int64_t> dims;
  for (int i = 0; i < ndim; ++i) dims.push_back(be32(b, 4 + 4 * static_cast<size_t>(i)));
  return dims;
}

// Payload must be exactly `expect` bytes after the header: shorter is truncation, longer is a corrupt file.
void check_payload(const std::vector<uint8_t>& b, const std::string& path, size_t header, size_t expect,
                   const char* what) {
  const std::string f = base_name(path);
  YOCO_CHECK(b.size() >= header + expect, f, ": truncated at byte ", b.size(), ": expected ", expect, " bytes of ",
             what, " (", header + expect, " bytes in all)");
  YOCO_CHECK(b.size() == header + expect, f, ": ", b.size() - header - expect, " trailing bytes at byte ",
             header + expect, ": expected exactly ", expect, " bytes of ", what);
}

std::string find_file(const std::string& dir, const std::string& stem) {
  for (const std::string& p : {dir + "/" + stem + ".gz", dir + "/" + stem})
    if (std::filesystem::exists(p)) return p;
  YOCO_CHECK(false, dir, "/", stem, "[.gz]: file not found (set YOCO_DATA_DIR or pass the data directory)");
  return {};
}

}  // namespace

std::vector<uint8_t> read_file_maybe_gz(const std::string& path) {
  gzFile gz = gzopen(path.c_str(), "rb");
  YOCO_CHECK(gz != nullptr, path, ": cannot open");
  std::vector<uint8_t> out;
  std::vector<uint8_t> buf(1 << 20);
  for (;;) {
    const int n = gzread(gz, buf.data(), static_cast<unsigned>(buf.size()));
    if (n < 0) {
      int err = 0;
      const std::string msg = gzerror(gz, &err);
      gzclose(gz);
      YOCO_CHECK(false, base_name(path), ": corrupt gzip data after byte ", out.size(), " of output: ", msg);
    }
    if (n == 0) break;
    out.insert(out.end(), buf.begin(), buf.begin() + n);
  }
  // A gzip stream cut short reads as EOF with Z_BUF_ERROR: that is truncation, not a short file.
  int err = Z_OK;
  const char* msg = gzerror(gz, &err);
  const std::string emsg = msg ? msg : "";
  gzclose(gz);
  YOCO_CHECK(err == Z_OK || err == Z_STREAM_END, base_name(path), ": gzip stream truncated or corrupt after ",
             out.size(), " bytes of output: ", emsg);
  return out;
}

IdxImages read_idx_images(const std::string& path) {
  const auto b = read_file_maybe_gz(path);
  const auto dims = idx_header(b, path, 2051, 3);
  IdxImages im{dims[0], dims[1], dims[2], {}};
  YOCO_CHECK(im.rows > 0 && im.cols > 0 && im.rows <= 4096 && im.cols <= 4096, base_name(path),
             ": implausible image size ", im.rows, "x", im.cols, " at byte 8");
  check_payload(b, path, 16, static_cast<size_t>(im.count * im.rows * im.cols), "pixel data");
  im.pixels.assign(b.begin() + 16, b.end());
  return im;
}

std::vector<uint8_t> read_idx_labels(const std::string& path, int max_label) {
  const auto b = read_file_maybe_gz(path);
  const auto dims = idx_header(b, path, 2049, 1);
  check_payload(b, path, 8, static_cast<size_t>(dims[0]), "label data");
  std::vector<uint8_t> y(b.begin() + 8, b.end());
  for (size_t i = 0; i < y.size(); ++i)
    YOCO_CHECK(y[i] < max_label, base_name(path), ": label ", int(y[i]), " at byte ", 8 + i, ": expected < ",
               max_label);
  return y;
}

Dataset load_mnist_like(const std::string& dir, const std::string& name, bool train) {
  const std::string split = train ? "train" : "t10k";
  const std::string ipath = find_file(dir, split + "-images-idx3-ubyte");
  const std::string lpath = find_file(dir, split + "-labels-idx1-ubyte");
  const IdxImages im = read_idx_images(ipath);
  const auto y = read_idx_labels(lpath, 10);
  YOCO_CHECK(static_cast<int64_t>(y.size()) == im.count, base_name(ipath), " holds ", im.count, " images but ",
             base_name(lpath), " holds ", y.size(), " labels");
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
