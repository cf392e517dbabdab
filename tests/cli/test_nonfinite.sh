#!/usr/bin/env bash
# The apps as a user runs them with hostile numbers: out-of-range hyper-parameters exit 1 with one stderr line
# naming the flag; a run that goes NaN exits non-zero with one error line naming where, writes nothing, and the
# last good checkpoint survives byte for byte and resumes.
# Usage: test_nonfinite.sh <condense> <prune> <evaluate>; $YOCO_SOURCE_DIR is the source tree. Exit 0/1/77.
set -u
CONDENSE=$1 EVALUATE=$3
SRC=${YOCO_SOURCE_DIR:?set YOCO_SOURCE_DIR to the source tree}
DATA=${YOCO_DATA_DIR:+$YOCO_DATA_DIR/fashion-mnist}
DATA=${DATA:-/usr/share/datasets/fashion-mnist}
if [[ ! -d $DATA ]]; then echo "skip: no Fashion-MNIST at $DATA"; exit 77; fi
T=$(mktemp -d) || exit 1
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { echo "ok   $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1${2:+: $2}"; fail=$((fail + 1)); }

# run NAME CMD...: runs CMD with stdout to $T/out, stderr to $T/err; $rc is its exit code.
run() { "$@" >"$T/out" 2>"$T/err"; rc=$?; }
# The error lines of the last run (progress lines are not errors).
errors() { grep -c 'error' "$T/err"; }

# expect_flag_error NAME FLAG CMD...: exit 1, exactly one stderr line, naming FLAG.
expect_flag_error() {
  local name=$1 flag=$2
  shift 2
  run "$@"
  local lines
  lines=$(wc -l <"$T/err")
  if [[ $rc -eq 1 && $lines -eq 1 ]] && grep -q -- "$flag" "$T/err"; then ok "$name"
  else bad "$name" "rc $rc, $lines stderr line(s): $(head -c 300 "$T/err")"; fi
}

BASE=(--ipc 1 -f 2 --inner 1 --batch-real 8 --checkpoint-every 1)
TINY=("${BASE[@]}" --niter 1)
for v in -1 0 nan inf; do
  expect_flag_error "condense --lr-img $v is refused" --lr-img "$CONDENSE" "${TINY[@]}" --lr-img "$v" -o "$T/refused.npz"
done
[[ ! -e $T/refused.npz && ! -e $T/refused.npz.ckpt.npz ]] && ok "refused runs wrote nothing" || bad "refused runs wrote nothing"
SET="$SRC/assets/fashion-mnist_ipc10_f2.npz"
for v in -1 nan inf; do
  expect_flag_error "evaluate --lr $v is refused" --lr "$EVALUATE" -i "$SET" --epochs 2 --repeat 1 --lr "$v"
done

# A good run leaves a checkpoint; a NaN run on the same output must neither replace it nor the set.
OUT="$T/set.npz" CKPT="$T/set.npz.ckpt.npz"
run "$CONDENSE" "${TINY[@]}" -o "$OUT"
if [[ $rc -eq 0 && -f $CKPT && -f $OUT ]]; then ok "a good condense run writes its set and checkpoint"
else bad "a good condense run writes its set and checkpoint" "rc $rc: $(tail -c 300 "$T/err")"; fi
cp "$CKPT" "$T/good.ckpt.npz" 2>/dev/null
cp "$OUT" "$T/good.npz" 2>/dev/null

run "$CONDENSE" "${TINY[@]}" --lr-img 3e38 -o "$OUT"  # finite, so accepted; the first image step overflows
if [[ $rc -ne 0 && $(errors) -eq 1 ]] && grep -q 'error:.*non-finite.*outer iteration 1/1, inner step 1/1' "$T/err"
then ok "a condense run that goes NaN stops with one line naming the outer and inner step"
else bad "a condense run that goes NaN stops with one line naming the outer and inner step" \
         "rc $rc: $(tail -c 400 "$T/err")"; fi
cmp -s "$CKPT" "$T/good.ckpt.npz" && ok "the last good checkpoint is byte-identical" \
  || bad "the last good checkpoint is byte-identical"
cmp -s "$OUT" "$T/good.npz" && ok "the set file is byte-identical" || bad "the set file is byte-identical"

run "$CONDENSE" "${BASE[@]}" --niter 2 --resume -o "$OUT"
if [[ $rc -eq 0 ]] && grep -q 'resuming at outer iteration 1/2' "$T/err" && grep -q 'outer 2/2' "$T/err"
then ok "the surviving checkpoint resumes"
else bad "the surviving checkpoint resumes" "rc $rc: $(tail -c 300 "$T/err")"; fi

run "$CONDENSE" "${BASE[@]}" --niter 2 --resume --seed 1 -o "$OUT"
if [[ $rc -eq 1 && $(wc -l <"$T/err") -eq 1 ]] && grep -q "$CKPT.*seed = 0, this run has 1" "$T/err"
then ok "a checkpoint made with other flags is refused in one line naming the file and the flag"
else bad "a checkpoint made with other flags is refused in one line naming the file and the flag" \
         "rc $rc: $(head -c 300 "$T/err")"; fi

run "$EVALUATE" -i "$SET" --epochs 2 --repeat 1 --lr 1e30 --json "$T/eval.json"
if [[ $rc -ne 0 && $(errors) -eq 1 && ! -e $T/eval.json ]] && grep -q 'error:.*not finite\|error:.*loss is.*nan' "$T/err" \
   && grep -q 'error:.*epoch 1/2' "$T/err"
then ok "evaluate --lr 1e30 stops at its first NaN loss instead of reporting chance accuracy"
else bad "evaluate --lr 1e30 stops at its first NaN loss instead of reporting chance accuracy" \
         "rc $rc: $(tail -c 300 "$T/err")"; fi

echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]
