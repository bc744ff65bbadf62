#!/usr/bin/env bash
# The repository's shell scripts run the scalerl binary through a variable holding its path (S in
# the tests, BIN in make_run.sh, S in bench/findings/run.sh). Unquoted in a command's place, that
# path splits at a space, and a clone under "/tmp/sp ace/" failed 156 checks of `make test`
# (a whole `make -j2 test` from such a clone is what found it). This checks every script of the tree
# for the variable unquoted where a command starts: at the start of a line (after any VAR=value
# prefixes), after $( { ; & |, and after the wrappers run (make_run.sh's), exec, env, time and
# nice. tests/test_make_run.sh runs make_run.sh from a directory with a space, end to end.
. "$(dirname "$0")/lib.sh"

cmd_start='(^[[:space:]]*([A-Za-z_][A-Za-z0-9_]*=[^[:space:]]*[[:space:]]+)*|\$\(|[;&|{][[:space:]]*|\<(run|exec|env|time|nice)[[:space:]]+)'
unquoted="${cmd_start}\\\$\\{?(S|BIN)\\}?([[:space:]]|\\)|$)"
# This file is left out: its samples of the bad forms below are what the pattern must catch.
mapfile -t scripts < <({ repo_scripts; echo ./.ci/run; } | grep -vx './tests/test_shell_quoting.sh')
if [ ${#scripts[@]} -lt 10 ]; then
  fail "scripts found" "found ${#scripts[@]} (expected the repository's scripts)"
  exit 0
fi
pass "scripts found (${#scripts[@]})"
hits=$(grep -nE "$unquoted" "${scripts[@]}" | grep -vE '^[^:]*:[0-9]+:[[:space:]]*#' || true)
[ -z "$hits" ] && pass "no script runs \$S or \$BIN unquoted" ||
  fail "no script runs \$S or \$BIN unquoted" "$(printf '%s' "$hits" | head -n 3 | tr '\n' ' ')"

# The pattern itself: it must catch the forms that broke and pass the quoted ones.
printf '%s\n' '$S fit x' 'out=$($S fit x)' 'OMP_NUM_THREADS=1 $S fit x' 'a && $S synth' 'run $BIN fit' \
  'get() { $BIN get "$@"; }' >"$T/bad.sh"
printf '%s\n' '"$S" fit x' 'out=$("$S" fit x)' 'case $S in' 'echo "== ($S args)"' 'X=$S' 'run "$BIN" fit' \
  >"$T/good.sh"
n_bad=$(grep -cE "$unquoted" "$T/bad.sh")
n_good=$(grep -cE "$unquoted" "$T/good.sh")
[ "$n_bad" -eq 6 ] && [ "$n_good" -eq 0 ] && pass "the pattern catches 6 of 6 unquoted forms and passes 6 quoted ones" ||
  fail "the pattern catches 6 of 6 unquoted forms and passes 6 quoted ones" "caught $n_bad of the bad, $n_good of the good"
