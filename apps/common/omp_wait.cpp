// A short OpenMP spin by default. libgomp's default lets idle threads spin for a long while (300000 polls) at
// every barrier. Beside other busy processes (two jobs on a 2-core box) the spinning threads take the cores from
// the ones doing the work. Measured with a 2-thread scoring step (`bench --cases score28`, docs/performance.md):
// - beside a 2-thread and a 1-thread job: 2756 ms with the default, 232 ms with OMP_WAIT_POLICY=passive;
// - beside one 1-thread job: 106 ms with GOMP_SPINCOUNT=30000, the same as passive;
// - alone: 54 ms with 30000, the same as the default, where passive costs 13-16% (train28 and score28).
#include "apps/common/omp_wait.h"
#include <cstdlib>
#include <unistd.h>

namespace yoco::app {

void bound_omp_spinning(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") || std::getenv("GOMP_SPINCOUNT")) return;  // the user's choice stands
  if (setenv("GOMP_SPINCOUNT", "30000", 1) != 0) return;
  execv("/proc/self/exe", argv);  // returns only on failure: then run on with libgomp's default
  unsetenv("GOMP_SPINCOUNT");
}

}  // namespace yoco::app
