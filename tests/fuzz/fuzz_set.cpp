// Fuzz target: a condensed-set file as load_set reads it (npz, meta JSON, check_set), from bytes in memory.
#include <cstddef>
#include <cstdint>
#include "data/set_file.h"
#include "tests/fuzz/fixtures.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  yoco::fuzz::expect_clean(
      [&] { yoco::data::load_set_bytes(reinterpret_cast<const char*>(data), size, "fuzz-set.npz"); }, true);
  return 0;
}
