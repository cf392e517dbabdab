// Fuzz target: one image file through the image-folder decode path (header check, stb decode, resize and crop).
#include <cstddef>
#include <cstdint>
#include <vector>
#include "data/image_folder.h"
#include "tests/fuzz/fixtures.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr int64_t kSize = 16;
  static std::vector<float> out(3 * kSize * kSize);
  yoco::fuzz::expect_clean(
      [&] { yoco::data::decode_image(reinterpret_cast<const char*>(data), size, "fuzz.png", kSize, out.data()); },
      true);
  return 0;
}
