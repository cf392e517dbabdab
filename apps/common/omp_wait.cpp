// Passive OpenMP waiting by default. libgomp's default lets idle threads spin for a long while at every barrier.
// On a machine with other busy processes (two jobs on a 2-core box), the spinning threads take the cores from the
// ones doing the work: a 2-thread scoring step measured 2756 ms beside one other 1-thread job, against 232 ms
// with passive waiting. Alone on the machine the two policies cost the same within noise (docs/performance.md).
#include "apps/common/omp_wait.h"
#include <cstdlib>
#include <unistd.h>

namespace yoco::app {

void use_passive_omp_wait(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") || std::getenv("GOMP_SPINCOUNT")) return;  // the user's choice stands
  if (setenv("OMP_WAIT_POLICY", "passive", 1) != 0) return;
  execv("/proc/self/exe", argv);  // returns only on failure: then run on with libgomp's default
  unsetenv("OMP_WAIT_POLICY");
}

}  // namespace yoco::app
