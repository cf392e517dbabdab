// Fuzz target: a condensation checkpoint resumed with a fixed configuration (yoco::app::load_checkpoint), via a
// scratch file. Non-yoco exceptions are tolerated until checkpoint validation checks every field;
// YOCO_FUZZ_STRICT=1 makes them findings.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include "apps/common/condense.h"
#include "tests/fuzz/fixtures.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = yoco::fuzz::scratch_path("resume.ckpt.npz");
  static const bool strict = std::getenv("YOCO_FUZZ_STRICT") != nullptr;
  yoco::fuzz::write_bytes(path, data, size);
  yoco::fuzz::expect_clean([&] { yoco::app::load_checkpoint(path, yoco::fuzz::checkpoint_config()); }, strict);
  return 0;
}
