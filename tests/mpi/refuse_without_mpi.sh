#!/usr/bin/env bash
# A build without MPI started as one of several ranks (the launcher's environment says so) refuses with one line
# and exit code 1 before doing anything, instead of running the whole job once per rank over the same files.
# Usage: refuse_without_mpi.sh <condense> <prune> <evaluate>. Exit 0/1.
set -u
T=$(mktemp -d) || exit 1
trap 'rm -rf "$T"' EXIT
fail=0
for app in "$1 -o $T/c.npz --niter 1" "$2 table -o $T/table" "$3 --random-ipc 1 --epochs 1"; do
  for var in OMPI_COMM_WORLD_SIZE PMI_SIZE SLURM_NTASKS; do
    env "$var=2" $app >"$T/out" 2>"$T/err"
    rc=$?
    if [[ $rc -eq 1 && $(wc -l <"$T/err") -eq 1 ]] && grep -q "started as one of 2 ranks (mpirun/srun), but this build has no MPI" "$T/err" &&
       [[ ! -e $T/c.npz && ! -e $T/table ]]; then
      echo "ok   ${app%% *} with $var=2 refused"
    else
      echo "FAIL ${app%% *} with $var=2: rc $rc: $(head -c 300 "$T/err")"
      fail=1
    fi
  done
done
exit $fail
