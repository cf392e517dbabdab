// Fuzz target: one file read as IDX images and as IDX labels (raw or gzip: zlib passes raw bytes through).
#include <cstddef>
#include <cstdint>
#include "data/idx.h"
#include "tests/fuzz/fixtures.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = yoco::fuzz::scratch_path("fuzz-ubyte");
  yoco::fuzz::write_bytes(path, data, size);
  yoco::fuzz::expect_clean([&] { yoco::data::read_idx_images(path); }, true);
  yoco::fuzz::expect_clean([&] { yoco::data::read_idx_labels(path); }, true);
  return 0;
}
