// IDX reader for MNIST / Fashion-MNIST (gzip-compressed or raw idx3/idx1 ubyte files).
#pragma once
#include <cstdint>
#include <string>
#include <vector>
#include "data/dataset.h"

namespace yoco::data {

// Whole file contents; gzip files are inflated (zlib's gzread passes raw files through unchanged). Refuses a file
// over `max_bytes` on disk before reading and stops inflating once the output would exceed `max_bytes`.
std::vector<uint8_t> read_file_maybe_gz(const std::string& path, uint64_t max_bytes = uint64_t(1) << 32);

struct IdxImages {
  int64_t count = 0, rows = 0, cols = 0;
  std::vector<uint8_t> pixels;  // count*rows*cols, row-major
};
// Magic 2051, dims (count, rows, cols), then exactly count*rows*cols pixel bytes. The header is read and checked
// first; a gzip file is never inflated past the payload its header declares.
IdxImages read_idx_images(const std::string& path);
// Magic 2049, dim (count), then exactly count label bytes, each < max_label.
std::vector<uint8_t> read_idx_labels(const std::string& path, int max_label = 10);

// <dir>/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]; `name` is the Dataset name and picks the stats
// ("fashion-mnist" or "mnist"). Images become f32 [N,1,28,28] in [0,1].
Dataset load_mnist_like(const std::string& dir, const std::string& name, bool train);

}  // namespace yoco::data
