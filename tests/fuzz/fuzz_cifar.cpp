// Fuzz target: one file read as a CIFAR-10 test batch and as a CIFAR-100 test file (load_cifar10/100).
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include "data/cifar.h"
#include "tests/fuzz/fixtures.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string dir = [] {
    const std::string d = yoco::fuzz::scratch_path("cifar");
    std::filesystem::create_directories(d);
    return d;
  }();
  yoco::fuzz::write_bytes(dir + "/test_batch.bin", data, size);
  yoco::fuzz::write_bytes(dir + "/test.bin", data, size);
  yoco::fuzz::expect_clean([&] { yoco::data::load_cifar10(dir, false); }, true);
  yoco::fuzz::expect_clean([&] { yoco::data::load_cifar100(dir, false); }, true);
  return 0;
}
