#!/usr/bin/env bash
# A rank that fails ends the whole job: one rank fed a missing data directory stops a 2-rank condensation with a
# line naming that rank and the path, a non-zero exit, in well under 30 s, and nothing written.
# Usage: test_faults.sh <condense> <prune> <mpirun>. Exit 0/1/77.
set -u
source "$(dirname "$0")/mpi_util.sh"
TINY=(--ipc 1 -f 2 --inner 1 --batch-real 4 --n-data 16 --niter 50)
# Rank 1 alone gets a data directory that does not exist.
cat >"$T/rank.sh" <<EOS
if [[ \$OMPI_COMM_WORLD_RANK == 1 ]]; then dir=$T/no-such-data; else dir=$DATA; fi
exec "$CONDENSE" --data-dir "\$dir" ${TINY[*]} -o "$T/f.npz"
EOS
start=$(date +%s)
mpi 2 bash "$T/rank.sh" >"$T/out" 2>"$T/err"
rc=$?
took=$(($(date +%s) - start))
if [[ $rc -ne 0 && $took -lt 30 ]] && grep -q "^condense: error: rank 1/2: .*no-such-data" "$T/err" &&
   [[ ! -e $T/f.npz && ! -e $T/f.npz.ckpt.npz ]]; then
  ok "a rank fed a missing directory ends the job (rc $rc, ${took}s) with one line naming the rank and path"
else bad "a rank fed a missing directory ends the job" "rc $rc after ${took}s: $(head -c 600 "$T/err")"; fi
[[ $(grep -c "error:" "$T/err") -eq 1 ]] && ok "exactly one error line of ours" || bad "exactly one error line of ours" "$(grep error: "$T/err")"

# More ranks than classes is refused by every rank with the same line.
mpi 11 "$CONDENSE" --data-dir "$DATA" "${TINY[@]}" -o "$T/g.npz" >"$T/out" 2>"$T/err"
rc=$?
if [[ $rc -ne 0 ]] && grep -q "11 ranks but fashion-mnist has 10 classes" "$T/err"; then ok "11 ranks for 10 classes refused"
else bad "11 ranks for 10 classes refused" "rc $rc: $(head -c 400 "$T/err")"; fi

# One-job subcommands refuse several ranks instead of writing the same file twice.
mpi 2 "$PRUNE" score -i /nonexistent.npz -o "$T/s.npz" >"$T/out" 2>"$T/err"
rc=$?
if [[ $rc -ne 0 ]] && grep -q "prune score runs as one process" "$T/err"; then ok "prune score under 2 ranks refused"
else bad "prune score under 2 ranks refused" "rc $rc: $(head -c 400 "$T/err")"; fi
finish
