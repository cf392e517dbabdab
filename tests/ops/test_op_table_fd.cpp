// The op table under finite differences (first and second order) and its cases' exact properties, on the CPU.
#include <doctest/doctest.h>
#include "tests/ops/op_check.h"
#include "tests/ops/run_cases.h"

using namespace yoco::ops_test;

TEST_CASE("op table: first- and second-order finite differences of every case") {
  const int ran = run_cases(false, [](const OpCase& c) {
    check_fd1(c);
    check_fd2(c);
  });
  CHECK(ran > 0);
}

TEST_CASE("op table: exact properties") {
  run_cases(false, check_exact);
}

// Known engine defects whose fixes are in progress (issue 16's numerics: group norm of a constant plane, 2x2 average
// pooling of odd sizes). Allowed to fail until they land; then drop expected_failure from those cases.
TEST_CASE("op table: known defects (finite differences, exact properties)" * doctest::may_fail()) {
  run_cases(true, [](const OpCase& c) {
    check_fd1(c);
    check_fd2(c);
    check_exact(c);
  });
}
