// Fuzz target: a scores file loaded against a fixed valid set (yoco::app::load_score_table), via a scratch file.
// Any exception other than a clean yoco::Error is a finding: the validation checks every field first.
#include <cstddef>
#include <cstdint>
#include "apps/common/prune.h"
#include "tests/fuzz/fixtures.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = yoco::fuzz::scratch_path("scores.npz");
  yoco::fuzz::write_bytes(path, data, size);
  yoco::fuzz::expect_clean([&] { yoco::app::load_score_table(path, yoco::fuzz::tiny_set()); }, /*strict=*/true);
  return 0;
}
