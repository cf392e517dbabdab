// The op table under finite differences (first and second order) and its cases' exact properties, on the CPU.
#include <doctest/doctest.h>
#include "tests/ops/op_check.h"
#include "tests/ops/run_cases.h"

using namespace yoco::ops_test;

TEST_CASE("op table: first- and second-order finite differences of every case") {
  const int ran = run_cases([](const OpCase& c) {
    check_fd1(c);
    check_fd2(c);
  });
  CHECK(ran > 0);
}

TEST_CASE("op table: exact properties") {
  run_cases(check_exact);
}
