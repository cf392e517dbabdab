// Fuzz target: the npz/zip container parser on arbitrary bytes (read_npz_bytes: zip directory, npy headers).
#include <cstddef>
#include <cstdint>
#include "data/npz.h"
#include "tests/fuzz/fixtures.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  yoco::fuzz::expect_clean(
      [&] { yoco::data::read_npz_bytes(reinterpret_cast<const char*>(data), size, "fuzz.npz"); }, true);
  return 0;
}
