// Fuzz target: a condensation checkpoint resumed with a fixed configuration (yoco::app::load_checkpoint), via a
// scratch file. Any exception other than a clean yoco::Error is a finding: the validation checks every field first.
#include <cstddef>
#include <cstdint>
#include "apps/common/condense.h"
#include "tests/fuzz/fixtures.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = yoco::fuzz::scratch_path("resume.ckpt.npz");
  yoco::fuzz::write_bytes(path, data, size);
  yoco::fuzz::expect_clean(
      [&] { yoco::app::load_checkpoint(path, yoco::fuzz::checkpoint_dataset(), yoco::fuzz::checkpoint_config()); },
      /*strict=*/true);
  return 0;
}
