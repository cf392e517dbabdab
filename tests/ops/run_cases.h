// Runs one checking mode over the op table: each case under its name, an exception reported as that case's failure
// (so one refusing op does not hide the rest), known defects (OpCase::expected_failure) only when asked.
#pragma once
#include <doctest/doctest.h>
#include <exception>
#include <string>
#include "tests/ops/op_cases.h"

namespace yoco::ops_test {

template <class Check>
int run_cases(bool expected_failures, Check check) {
  int ran = 0;
  for (const OpCase& c : op_cases()) {
    if (c.expected_failure != expected_failures) continue;
    INFO("case ", c.name, c.expected_failure ? std::string(" (known defect: ") + c.failure_why + ")" : std::string());
    try {
      check(c);
    } catch (const std::exception& e) {
      FAIL_CHECK(c.name << " threw: " << std::string(e.what()));
    }
    ++ran;
  }
  return ran;
}

}  // namespace yoco::ops_test
