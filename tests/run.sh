#!/usr/bin/env bash
# Runs every test binary given as an argument and every tests/test_*.sh script (or, with
# --only, just the scripts named), counts the
# PASS/FAIL lines they print, and ends with "N passed, N failed". A test program that exits
# nonzero or dies without printing FAIL still counts as one failure, so a crash is never silent.
set -u
export LC_ALL=C # awk, printf and sort with a decimal point in any locale (tests/README.md, "Writing checks")
cd "$(dirname "$0")/.."
# libgomp's default busy-waiting makes 2-thread runs of tiny models crawl when the 2 cores are
# shared with other work; passive waiting changes no result, only the waiting.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
passed=0; failed=0
# The build, the OpenBLAS kernels and the thread counts first: results depend on them, and a
# failure report then carries them.
"${SCALERL_BIN:-./scalerl}" version || echo "NOTE scalerl version failed: the configuration above is incomplete"
echo
run_one() {
  local name=$1; shift
  local out rc start end
  start=$(date +%s)
  out=$("$@" 2>&1); rc=$?
  end=$(date +%s)
  local p f
  p=$(printf '%s\n' "$out" | grep -c '^PASS' || true)
  f=$(printf '%s\n' "$out" | grep -c '^FAIL' || true)
  printf '%s\n' "$out" | grep -E '^(FAIL|NOTE)' || true
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    printf '%s\n' "$out" | tail -n 5
    echo "FAIL $name: exited with status $rc"
    f=1
  fi
  printf '%-28s %4d passed %3d failed  (%ds)\n' "$name" "$p" "$f" "$((end - start))"
  passed=$((passed + p)); failed=$((failed + f))
}
if [ "${1:-}" = "--only" ]; then
  # `run.sh --only SCRIPT...`: just those shell tests (make sanitize).
  shift
  for sh in "$@"; do run_one "$(basename "$sh")" bash "$sh"; done
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
  exit
fi
for bin in "$@"; do run_one "$(basename "$bin")" "$bin"; done
for sh in tests/test_*.sh; do
  [ -e "$sh" ] || continue
  run_one "$(basename "$sh")" bash "$sh"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
