// OpenMP wait policy for the apps: passive unless the user chose one (see omp_wait.cpp for why).
#pragma once

namespace yoco::app {

// Call first thing in main. When neither OMP_WAIT_POLICY nor GOMP_SPINCOUNT is set, re-executes the program once
// with OMP_WAIT_POLICY=passive (libgomp reads both when it loads, before main, so they cannot be set later in
// the process). Returns normally when nothing needs changing or the re-exec is not possible.
void use_passive_omp_wait(char** argv);

}  // namespace yoco::app
