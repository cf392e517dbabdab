// Coverage of the op table: every op declared in engine/ops.h must have at least one case (named "<op>/..."). Exits
// 1 naming each op without one. `--without OP` drops that op's cases first (the test that shows the check bites);
// `--counts` prints, per op, how many cases run in each mode.
#include <cstdio>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include "tests/ops/op_cases.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: op_table_coverage engine/ops.h [--without OP]\n");
    return 1;
  }
  const std::string without = argc >= 4 && std::string(argv[2]) == "--without" ? argv[3] : "";
  std::ifstream in(argv[1]);
  if (!in) {
    std::fprintf(stderr, "op_table_coverage: cannot read %s\n", argv[1]);
    return 1;
  }
  // Not ops: the operator inlines only forward to add/sub/mul/div/mul_scalar/add_scalar/neg, which have cases.
  const std::set<std::string> excluded = {"operator+", "operator-", "operator*", "operator/"};
  const std::regex decl(R"(\b(?:Tensor|PerSample)\s+(operator[^\s(]+|\w+)\s*\()");
  std::set<std::string> declared;
  std::string line;
  while (std::getline(in, line)) {
    line = line.substr(0, line.find("//"));  // comments mention ops too
    for (std::sregex_iterator it(line.begin(), line.end(), decl), end; it != end; ++it)
      if (!excluded.count((*it)[1].str())) declared.insert((*it)[1].str());
  }
  if (argc >= 3 && std::string(argv[2]) == "--counts") {
    using namespace yoco::ops_test;
    std::map<std::string, int[3]> n;
    for (const auto& c : op_cases()) {
      int* k = n[c.op()];
      k[0] += (c.modes & kTorch) != 0;
      k[1] += (c.modes & kFd) != 0;
      k[2] += (c.modes & kDevice) != 0;
    }
    std::printf("%-26s %6s %6s %6s\n", "op", "torch", "fd", "device");
    for (const auto& [op, k] : n) std::printf("%-26s %6d %6d %6d\n", op.c_str(), k[0], k[1], k[2]);
  }
  std::set<std::string> covered;
  for (const auto& c : yoco::ops_test::op_cases())
    if (c.op() != without) covered.insert(c.op());
  int missing = 0;
  for (const std::string& op : declared)
    if (!covered.count(op)) {
      std::printf("op_table_coverage: %s (declared in %s) has no case in tests/ops/op_cases.cpp\n", op.c_str(), argv[1]);
      ++missing;
    }
  std::printf("op_table_coverage: %zu ops declared, %d without a case, %zu cases\n", declared.size(), missing,
              yoco::ops_test::op_cases().size());
  return missing ? 1 : 0;
}
