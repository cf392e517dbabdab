#!/usr/bin/env bash
# Class-sharded condensation is the one-process run, byte for byte, for R = 1, 2, 3 ranks; a 2-rank run with one
# rank SIGKILLed after a checkpoint ends (non-zero, in seconds), and resuming it with 3 ranks gives the same bytes.
# Usage: test_condense_ranks.sh <condense> <prune> <mpirun>. Exit 0/1/77.
set -u
source "$(dirname "$0")/mpi_util.sh"
TINY=(--data-dir "$DATA" --ipc 1 -f 2 --inner 1 --batch-real 4 --n-data 16 --checkpoint-every 1 --seed 3)

"$CONDENSE" "${TINY[@]}" --niter 2 -o "$T/serial.npz" >/dev/null 2>"$T/serial.err" || bad "one-process run" "$(tail -1 "$T/serial.err")"
for r in 1 2 3; do
  if mpi "$r" "$CONDENSE" "${TINY[@]}" --niter 2 -o "$T/r$r.npz" >"$T/r$r.out" 2>"$T/r$r.err" &&
     cmp -s "$T/serial.npz" "$T/r$r.npz" && cmp -s "$T/serial.npz.ckpt.npz" "$T/r$r.npz.ckpt.npz"; then
    ok "R=$r: set and checkpoint byte-identical to the one-process run"
  else bad "R=$r: set and checkpoint byte-identical to the one-process run" "$(tail -2 "$T/r$r.err")"; fi
done
if [[ $(grep -c '^condense: outer' "$T/r3.err") -eq 2 ]] && grep -q '3 ranks: class steps' "$T/r3.err"; then
  ok "R=3: one progress line per outer iteration (rank 0), with per-rank step times"
else bad "R=3: one progress line per outer iteration (rank 0), with per-rank step times" "$(cat "$T/r3.err")"; fi

# Kill one rank of a 2-rank run once its first checkpoint exists; mpirun must end the job.
"$CONDENSE" "${TINY[@]}" --niter 6 -o "$T/long.npz" >/dev/null 2>&1 || bad "one-process 6-iteration run"
mpi 2 "$CONDENSE" "${TINY[@]}" --niter 6 -o "$T/k.npz" >"$T/k.out" 2>"$T/k.err" &
job=$!
for _ in $(seq 600); do [[ -e $T/k.npz.ckpt.npz ]] && break; sleep 0.1; done
victim=$(pgrep -P "$job" -f "$(basename "$CONDENSE")" | tail -1)
killed_at=$(date +%s)
if [[ -n $victim ]] && kill -9 "$victim" 2>/dev/null; then
  wait "$job"; rc=$?
  took=$(($(date +%s) - killed_at))
  if [[ $rc -ne 0 && $took -lt 30 && ! -e $T/k.npz ]]; then ok "SIGKILL of one rank ends the job (rc $rc, ${took}s), no set written"
  else bad "SIGKILL of one rank ends the job" "rc $rc after ${took}s"; fi
else
  wait "$job"
  bad "SIGKILL of one rank ends the job" "no rank process to kill (the run ended before its first checkpoint?)"
fi
if mpi 3 "$CONDENSE" "${TINY[@]}" --niter 6 --resume -o "$T/k.npz" >"$T/k3.out" 2>"$T/k3.err" &&
   grep -q 'resuming at outer iteration [1-5]/6' "$T/k3.err" && cmp -s "$T/long.npz" "$T/k.npz"; then
  ok "the checkpoint of the killed 2-rank run resumes with 3 ranks to the one-process bytes"
else bad "the checkpoint of the killed 2-rank run resumes with 3 ranks" "$(grep -v '^condense: outer' "$T/k3.err" | tail -3)"; fi
finish
