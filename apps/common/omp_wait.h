// OpenMP waiting for the apps: a short spin before sleeping, unless the user chose a policy (see omp_wait.cpp).
#pragma once

namespace yoco::app {

// Call first thing in main. When neither OMP_WAIT_POLICY nor GOMP_SPINCOUNT is set, re-executes the program once
// with GOMP_SPINCOUNT=30000 (libgomp reads both when it loads, before main, so they cannot be set later in the
// process). Returns normally when nothing needs changing or the re-exec is not possible.
void bound_omp_spinning(char** argv);

}  // namespace yoco::app
