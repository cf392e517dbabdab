// doctest entry point shared by every test executable; exits 77 (CTest "skipped") when a suite asks to skip.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>
#include <cstdlib>

int main(int argc, char** argv) {
  doctest::Context ctx;
  ctx.applyCommandLine(argc, argv);
  int rc = ctx.run();
  if (rc == 0 && std::getenv("YOCO_TEST_SKIPPED_ALL")) return 77;
  return rc;
}
