#!/usr/bin/env bash
# prune table (tiny schedules) on 2 ranks writes the one-process table.md byte for byte, and a rerun with another
# rank count finds every cell done and rewrites the same table.
# Usage: test_prune_table.sh <condense> <prune> <mpirun>. Exit 0/1/77.
set -u
source "$(dirname "$0")/mpi_util.sh"
TINY=(table -t 1 -m yoco,random --seeds 2 --score-epochs 2 --stop-epoch 2 --eval-epochs 1 --eval-points 1)
"$PRUNE" "${TINY[@]}" -o "$T/t1" >"$T/t1.md" 2>"$T/t1.err" || bad "one-process table" "$(tail -1 "$T/t1.err")"
if mpi 2 "$PRUNE" "${TINY[@]}" -o "$T/t2" >"$T/t2.md" 2>"$T/t2.err" && cmp -s "$T/t1/table.md" "$T/t2/table.md" &&
   cmp -s "$T/t1.md" "$T/t2.md"; then
  ok "R=2 table.md and printed table byte-identical to the one-process run"
else bad "R=2 table.md byte-identical to the one-process run" "$(tail -3 "$T/t2.err")"; fi
[[ -e $T/t2/scores_seed0.npz && -e $T/t2/scores_seed1.npz ]] && ok "both scoring seeds written" || bad "both scoring seeds written"
# Resume: the 2-rank results directory, rerun with 3 ranks, computes nothing and renders the same table.
if mpi 3 "$PRUNE" "${TINY[@]}" -o "$T/t2" >"$T/t3.md" 2>"$T/t3.err" && cmp -s "$T/t1/table.md" "$T/t2/table.md" &&
   ! grep -q "cells," "$T/t3.err"; then
  ok "rerun with R=3 skips every finished cell and keeps the table"
else bad "rerun with R=3 skips every finished cell" "$(tail -3 "$T/t3.err")"; fi
finish
