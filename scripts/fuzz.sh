#!/usr/bin/env bash
# Fuzzes every reader of outside bytes: builds the libFuzzer targets (tests/fuzz, clang with ASan + UBSan, in
# build-fuzz), writes their seed corpora, replays the regression inputs in tests/data/fuzz/<target>/ first, then
# runs each target for N seconds on one core each (FUZZ_JOBS targets at a time, default: the core count).
#   scripts/fuzz.sh [seconds-per-target (default 30)] [target...]    e.g. scripts/fuzz.sh 3600 set npz
# A finding is a crash, sanitizer report, leak, timeout (>10 s per input) or one allocation over 512 MB
# (-malloc_limit_mb: "absurd memory from a tiny file"); a yoco::Error is a normal outcome. Each run keeps its
# growing corpus, log and any artifact under build-fuzz/fuzz-runs/<target>/. Exit code 1 on any finding.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-30}
[[ $# -gt 0 ]] && shift
[[ "$secs" =~ ^[0-9]+$ && "$secs" -gt 0 ]] || { echo "fuzz.sh: seconds-per-target must be a positive integer, got '$secs'" >&2; exit 1; }
root=$PWD
build=${FUZZ_BUILD_DIR:-build-fuzz}
jobs=${FUZZ_JOBS:-$(nproc)}
command -v clang++ >/dev/null || { echo "fuzz.sh: clang++ not found (scripts/setup.sh --tests installs it)" >&2; exit 1; }
if command -v ccache >/dev/null; then
  export CMAKE_C_COMPILER_LAUNCHER=${CMAKE_C_COMPILER_LAUNCHER:-ccache}
  export CMAKE_CXX_COMPILER_LAUNCHER=${CMAKE_CXX_COMPILER_LAUNCHER:-ccache}
fi

t0=$SECONDS
CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DYOCO_FUZZ=ON -DYOCO_WITH_CUDA=OFF \
  -DYOCO_WITH_TORCH=OFF -DYOCO_BUILD_TESTS=OFF -DYOCO_WERROR=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" -t fuzz_all | grep -v '^\[' || true
[[ -x "$build/tests/fuzz/fuzz_make_seeds" ]] || { echo "fuzz.sh: build failed" >&2; exit 1; }
echo "fuzz.sh: build took $((SECONDS - t0)) s"

if [[ $# -gt 0 ]]; then
  targets=("$@")
else
  targets=()
  for f in "$build"/tests/fuzz/fuzz_*; do
    n=$(basename "$f")
    [[ -x "$f" && "$n" != fuzz_make_seeds ]] && targets+=("${n#fuzz_}")
  done
fi
for t in "${targets[@]}"; do
  [[ -x "$build/tests/fuzz/fuzz_$t" ]] || { echo "fuzz.sh: no target '$t' (have: $(ls "$build"/tests/fuzz | grep '^fuzz_' | grep -v make_seeds | sed 's/^fuzz_//' | tr '\n' ' '))" >&2; exit 1; }
done

rm -rf "$build/corpus"
"$build/tests/fuzz/fuzz_make_seeds" "$build/corpus"
runs="$root/$build/fuzz-runs"
mkdir -p "$runs"
opts=(-malloc_limit_mb=512 -rss_limit_mb=2048 -timeout=10 -print_final_stats=1)

# One target: replay its regression inputs, then fuzz. Writes <dir>/result: "replayed execs findings".
fuzz_one() {
  local t=$1 dir="$runs/$1" exe
  exe=$(realpath "$build/tests/fuzz/fuzz_$t")
  mkdir -p "$dir/corpus"
  rm -f "$dir"/crash-* "$dir"/leak-* "$dir"/timeout-* "$dir"/oom-* "$dir"/slow-unit-* "$dir/result"
  local replayed=0 findings=0 execs=0
  local regress=(tests/data/fuzz/"$t"/*)
  if [[ -e "${regress[0]}" ]]; then
    replayed=${#regress[@]}
    (cd "$dir" && "$exe" "${opts[@]}" "${regress[@]/#/$root/}" >replay.log 2>&1) || findings=$((findings + 1))
  fi
  (cd "$dir" && "$exe" "${opts[@]}" -max_total_time="$secs" -artifact_prefix="$dir/" corpus \
     "$root/$build/corpus/$t" >fuzz.log 2>&1) || true
  execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$dir/fuzz.log" | awk '{print $2}' | tail -1)
  findings=$((findings + $(find "$dir" -maxdepth 1 \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)))
  if grep -q -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|fuzz finding:' "$dir/fuzz.log" &&
     [[ $findings -eq 0 ]]; then
    findings=1
  fi
  echo "$replayed ${execs:-0} $findings" >"$dir/result"
}

t1=$SECONDS
running=0
for t in "${targets[@]}"; do
  fuzz_one "$t" &
  running=$((running + 1))
  if (( running >= jobs )); then wait -n || true; running=$((running - 1)); fi
done
wait || true

status=0
printf '\n%-12s %9s %12s %9s  %s\n' target replayed executions findings details
for t in "${targets[@]}"; do
  read -r replayed execs findings <"$runs/$t/result" || { replayed=?; execs=?; findings=1; }
  detail=""
  if [[ "$findings" != 0 ]]; then
    status=1
    detail=$(grep -h -m1 -E 'ERROR:|runtime error:|fuzz finding:|SUMMARY' "$runs/$t/replay.log" "$runs/$t/fuzz.log" 2>/dev/null | head -1)
    detail="$detail (see $runs/$t/)"
  fi
  printf '%-12s %9s %12s %9s  %s\n' "$t" "$replayed" "$execs" "$findings" "$detail"
done
echo "fuzz.sh: ${#targets[@]} targets x ${secs} s, $jobs at a time: $((SECONDS - t1)) s of fuzzing, $((SECONDS - t0)) s in all"
exit $status
