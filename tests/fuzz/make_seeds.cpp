// Writes the seed corpora of every fuzz target: fuzz_make_seeds <dir> fills <dir>/<target>/ with valid inputs.
#include <cstdio>
#include <exception>
#include "tests/fuzz/fixtures.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus-dir>\n", argv[0]);
    return 2;
  }
  try {
    yoco::fuzz::write_seeds(argv[1]);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz_make_seeds: %s\n", e.what());
    return 1;
  }
  return 0;
}
