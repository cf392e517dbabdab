#!/usr/bin/env bash
# Scale-out figures for docs/scaling.md on this machine: condense inner steps with 1 rank × 2 threads against
# 2 ranks × 1 thread, and a tiny prune-table sweep with 1 and 2 ranks. The two sides use different thread counts,
# so their bits may differ (they do here, even with YOCO_CONV=im2col); tests/mpi checks byte identity at equal ones.
# Usage: bench/scaling.sh [build dir]   (a build with YOCO_WITH_MPI=ON; Fashion-MNIST installed)
set -euo pipefail
B=${1:-build}
CONDENSE=$B/apps/condense/condense PRUNE=$B/apps/prune/prune
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 YOCO_CONV=im2col
mpi() { local np=$1; shift; mpirun --allow-run-as-root --oversubscribe --bind-to none -np "$np" "$@"; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
secs() { local s=$(date +%s.%N); "$@" >/dev/null 2>>"$T/log"; echo "$(date +%s.%N) - $s" | bc; }

echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
# Condensation: 10 classes, IPC 1, 2 outer × 3 inner steps; the progress lines carry per-rank class/net seconds.
C=(--ipc 1 -f 2 --niter 2 --inner 3 --batch-real 32 --n-data 128 --checkpoint-every 0 --seed 1)
t1=$(OMP_NUM_THREADS=2 secs "$CONDENSE" "${C[@]}" -o "$T/c1.npz")
t2=$(OMP_NUM_THREADS=1 secs mpi 2 "$CONDENSE" "${C[@]}" -o "$T/c2.npz")
steps=6
printf "condense (6 inner steps): R=1 x 2 threads %.1f s (%.2f s/inner step), R=2 x 1 thread %.1f s (%.2f s/inner step)\n" \
  "$t1" "$(echo "$t1 / $steps" | bc -l)" "$t2" "$(echo "$t2 / $steps" | bc -l)"
cmp -s "$T/c1.npz" "$T/c2.npz" && echo "  sets byte-identical" || echo "  sets differ (2 threads vs 1 thread per process)"
grep 'ranks: class steps' "$T/log" | sed 's/.*| 2 ranks/  2 ranks/'
# Table sweep: 2 seeds × (yoco, random_balance) × IPC 1 = 4 cells + 2 scoring runs.
P=(table -t 1 --seeds 2 --score-epochs 2 --stop-epoch 2 --eval-epochs 1 --eval-points 1)
p1=$(OMP_NUM_THREADS=2 secs "$PRUNE" "${P[@]}" -o "$T/p1")
p2=$(OMP_NUM_THREADS=1 secs mpi 2 "$PRUNE" "${P[@]}" -o "$T/p2")
printf "prune table (2 scorings + 4 cells): R=1 x 2 threads %.1f s, R=2 x 1 thread %.1f s\n" "$p1" "$p2"
cmp -s "$T/p1/table.md" "$T/p2/table.md" && echo "  table.md byte-identical" || echo "  table.md differs (2 threads vs 1 thread per process)"
