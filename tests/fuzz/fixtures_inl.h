// expect_clean's body (a template, so it lives in a header).
#pragma once
#include <cstdio>
#include <cstdlib>
#include <exception>
#include "kernels/common.h"

namespace yoco::fuzz {

template <class F>
void expect_clean(F&& f, bool strict) {
  try {
    f();
  } catch (const yoco::Error& e) {
    // The house rule: one line. A newline inside is a finding as much as a crash.
    const std::string m = e.what();
    if (m.find('\n') != std::string::npos) {
      std::fprintf(stderr, "fuzz finding: multi-line error message:\n%s\n", m.c_str());
      std::abort();
    }
  } catch (const std::exception& e) {
    if (strict) {
      std::fprintf(stderr, "fuzz finding: exception other than yoco::Error escaped the reader: %s\n", e.what());
      std::abort();
    }
  }
}

}  // namespace yoco::fuzz
