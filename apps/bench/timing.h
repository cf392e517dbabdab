// Small timing helpers shared by the benchmark cases.
#pragma once
#include <algorithm>
#include <vector>

namespace yoco::bench {

// The upper median of a non-empty list of timings (what every table in apps/bench reports).
inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace yoco::bench
