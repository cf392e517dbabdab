// Fuzz target: a scores file loaded against a fixed valid set (yoco::app::load_score_table), via a scratch file.
// Non-yoco exceptions are tolerated here until the scores validation in apps/common/prune.cpp checks every field;
// YOCO_FUZZ_STRICT=1 makes them findings.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include "apps/common/prune.h"
#include "tests/fuzz/fixtures.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = yoco::fuzz::scratch_path("scores.npz");
  static const bool strict = std::getenv("YOCO_FUZZ_STRICT") != nullptr;
  yoco::fuzz::write_bytes(path, data, size);
  yoco::fuzz::expect_clean([&] { yoco::app::load_score_table(path, yoco::fuzz::tiny_set()); }, strict);
  return 0;
}
