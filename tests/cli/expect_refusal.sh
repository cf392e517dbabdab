# Shared by tests/cli/test_*.sh (sourced, not a test itself): run a tool as a user would and check how it refuses.
# refuses NAME PATTERN CMD...   passes when CMD exits 1 within $REFUSAL_TIMEOUT s (default 30; 124 = it started
#                                computing), prints exactly one line on stderr containing PATTERN (the flag or file
#                                it names), nothing on stdout, and creates none of $NO_OUTPUTS.
# succeeds NAME CMD...          passes when CMD exits 0.
# finish                        prints "N passed, M failed" and exits 0 or 1.
passed=0
failed=0
NO_OUTPUTS=""

pass() { passed=$((passed + 1)); echo "ok   $1${2:+  [$2]}"; }
fail() { failed=$((failed + 1)); echo "FAIL $1: $2"; }

refuses() {
  local name=$1 pattern=$2
  shift 2
  local out err rc lines p
  out=$(mktemp) err=$(mktemp)
  # A refusal comes before any compute: a case still running after REFUSAL_TIMEOUT seconds has started working.
  timeout "${REFUSAL_TIMEOUT:-30}" "$@" >"$out" 2>"$err"
  rc=$?
  lines=$(wc -l <"$err")
  if [ "$rc" -ne 1 ]; then
    fail "$name" "exit code $rc, expected 1 (stderr: $(head -c 300 "$err"))"
  elif [ "$lines" -ne 1 ]; then
    fail "$name" "$lines lines on stderr, expected 1: $(head -c 300 "$err")"
  elif ! grep -qF -- "$pattern" "$err"; then
    fail "$name" "stderr does not name '$pattern': $(cat "$err")"
  elif [ -s "$out" ]; then
    fail "$name" "stdout not empty: $(head -c 300 "$out")"
  else
    local made=""
    for p in $NO_OUTPUTS; do [ -e "$p" ] && made="$made $p"; done
    if [ -n "$made" ]; then fail "$name" "created$made"; else pass "$name" "$(cat "$err")"; fi
  fi
  for p in $NO_OUTPUTS; do rm -rf "$p"; done
  rm -f "$out" "$err"
}

succeeds() {
  local name=$1 log
  shift
  log=$(mktemp)
  if "$@" >"$log" 2>&1; then pass "$name"; else fail "$name" "exit code $?: $(tail -c 300 "$log")"; fi
  rm -f "$log"
}

finish() {
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
  exit $?
}

# A python3 that has numpy (Debian's, when another python3 comes first in PATH), or empty.
numpy_python() {
  local c
  for c in /usr/bin/python3 python3; do
    if "$c" -c 'import numpy' 2>/dev/null; then echo "$c"; return; fi
  done
}
