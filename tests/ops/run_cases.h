// Runs one checking mode over the op table: each case under its name, an exception reported as that case's failure
// (so one refusing op does not hide the rest). Returns how many cases ran.
#pragma once
#include <doctest/doctest.h>
#include <cstdlib>
#include <exception>
#include <string>
#include "tests/ops/op_cases.h"

namespace yoco::ops_test {

template <class Check>
int run_cases(Check check) {
  // YOCO_OP_TABLE_EXCLUDE=op1,op2 leaves those ops' cases out (CTest sets it where a runner cannot take an op, with
  // the reason beside it in tests/CMakeLists.txt).
  const char* env = std::getenv("YOCO_OP_TABLE_EXCLUDE");
  const std::string excluded = std::string(",") + (env ? env : "") + ",";
  int ran = 0;
  for (const OpCase& c : op_cases()) {
    if (excluded.find("," + c.op() + ",") != std::string::npos) continue;
    INFO("case ", c.name);
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
