// The op table on the CUDA backend against the CPU oracle (forward, first and second order). Skipped (exit 77)
// without a CUDA device.
#include <doctest/doctest.h>
#include "tests/ops/op_check.h"
#include "tests/ops/run_cases.h"
#include "tests/unit/test_util.h"

using namespace yoco;
using namespace yoco::ops_test;

TEST_CASE("op table: CUDA matches CPU to first and second order") {
  if (!test::cuda_ready()) return;
  CHECK(run_cases([](const OpCase& c) { check_device_vs_cpu(c, Device::CUDA); }) > 0);
}
