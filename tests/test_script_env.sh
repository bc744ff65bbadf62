#!/usr/bin/env bash
# What the repository's scripts assume of the machine they run on, checked from a machine unlike the
# developers'. (1) The locale: under one with a decimal comma, Debian's awk (mawk) reads "1.5" as 1
# and prints 0.25 as "0,25", and bash's printf refuses "1.5". Under de_DE.UTF-8, `make findings
# print=plan` estimated 3,7 h for 5.0 h and 35 checks of `make test` failed, so every script
# exports LC_ALL=C, or sources tests/lib.sh, which does. (2) python3: a minimal Debian (a container,
# debootstrap's minbase) has none, and the checks that read our outputs with it failed there, or
# passed only when an earlier test had installed PyTorch; they run "$PY3" (tests/lib.sh's
# need_python3 installs Debian's python3 when missing), never a bare python3.
. "$(dirname "$0")/lib.sh"

# .ci/run is left out: it only calls make.
mapfile -t scripts < <(repo_scripts)
if [ ${#scripts[@]} -lt 10 ]; then
  fail "scripts found" "found ${#scripts[@]} (expected the repository's scripts)"
  exit 0
fi
pass "scripts found (${#scripts[@]})"

# ---- (1) the C locale, in every script
no_locale=()
for f in "${scripts[@]}"; do
  grep -qE '^export LC_ALL=C( |$)' "$f" || grep -qF '. "$(dirname "$0")/lib.sh"' "$f" || no_locale+=("$f")
done
[ ${#no_locale[@]} -eq 0 ] && pass "every script runs in the C locale (its own export LC_ALL=C, or lib.sh's)" ||
  fail "every script runs in the C locale (its own export LC_ALL=C, or lib.sh's)" "not: ${no_locale[*]}"

# The same, run: a locale with a decimal comma, compiled into $T (the `locales` package has the
# sources; installed when missing, the system's own locales untouched).
LOC=""
if [ -f /usr/share/i18n/locales/de_DE ] || debian_install "script env: the locales package" locales "/usr/share/i18n/locales/de_DE"; then
  mkdir -p "$T/loc"
  if localedef -i de_DE -f UTF-8 "$T/loc/de_DE.UTF-8" >"$T/localedef.log" 2>&1 ||
     [ -d "$T/loc/de_DE.UTF-8" ]; then # localedef warns, exit 1, on some harmless charmap notes
    LOC=de_DE.UTF-8
  else
    fail "a de_DE.UTF-8 locale compiled into the scratch directory" "$(head -c 300 "$T/localedef.log")"
  fi
fi
comma() { LOCPATH="$T/loc" LC_ALL=$LOC "$@"; }
if [ -n "$LOC" ]; then
  # The control: this locale has the decimal comma that broke the scripts.
  got=$(echo 1.5 | comma awk '{ printf "%.2f", $1 + 0.25 }')
  [ "$got" = 1,25 ] && pass "under de_DE.UTF-8 awk reads 1.5 as 1 and prints 1,25 (the locale of the checks below)" ||
    fail "under de_DE.UTF-8 awk reads 1.5 as 1 and prints 1,25 (the locale of the checks below)" "printed '$got'"
  # A test under it: lib.sh puts it back to C.
  printf '%s\n' '. tests/lib.sh' 'echo 1.5 | awk '"'"'{ printf "%.2f", $1 + 0.25 }'"'" >"$T/lib_probe.sh"
  got=$(comma bash "$T/lib_probe.sh" 2>&1)
  [ "$got" = 1.75 ] && pass "a test that sources lib.sh, under de_DE.UTF-8: awk reads 1.5 and prints 1.75" ||
    fail "a test that sources lib.sh, under de_DE.UTF-8: awk reads 1.5 and prints 1.75" "printed '$got'"
  # make findings' plan does arithmetic on decimals in awk and bash (times, FLOPs, hours).
  bench/findings/run.sh print=plan default_s=250.5 >"$T/plan.c" 2>&1
  comma bench/findings/run.sh print=plan default_s=250.5 >"$T/plan.de" 2>&1
  check "make findings print=plan under de_DE.UTF-8 is the plan under C, byte for byte" \
    bash -c "grep -q ' h on 2 cores' '$T/plan.c' && cmp '$T/plan.c' '$T/plan.de'"
fi

# ---- (2) python3 through need_python3's "$PY3" (or need_python's "$PY"), never bare
# A command position: a line's start, after $( ; & | { or a check's name, or a fitter= value. This
# file is left out: its samples below are what the pattern must catch.
bare='(^[[:space:]]*|\$\(|[;&|{][[:space:]]*|^[[:space:]]*check "[^"]*"[[:space:]]+|fitter=")(/usr/bin/)?python3([[:space:]]|$)'
mapfile -t tests_sh < <(printf '%s\n' "${scripts[@]}" | grep -E '^\./tests/' | grep -vx './tests/test_script_env.sh')
hits=$(grep -nE "$bare" "${tests_sh[@]}" | grep -vE '^[^:]*:[0-9]+:[[:space:]]*#' || true)
[ -z "$hits" ] && pass "no test runs a bare python3 (only \"\$PY3\" or \"\$PY\")" ||
  fail "no test runs a bare python3 (only \"\$PY3\" or \"\$PY\")" "$(printf '%s' "$hits" | head -n 3 | tr '\n' ' ')"
printf '%s\n' 'python3 -c "import json"' 'x=$(python3 - a <<EOF' 'check "n" python3 -c "1"' 'a && /usr/bin/python3 x.py' \
  '"$S" fitbench fitter="python3 f.py"' 'pyjson() { python3 -c "$1"; }' '  check "n" /usr/bin/python3 -c "1"' >"$T/bad.sh"
printf '%s\n' '"$PY3" -c "import json"' 'check "python3 json reads it" "$PY3" -c "1"' '# python3 -c in a comment' \
  'need_python "n" numpy python3-numpy' 'fitter="$PY3 f.py"' >"$T/good.sh"
n_bad=$(grep -cE "$bare" "$T/bad.sh")
n_good=$(grep -vE '^[[:space:]]*#' "$T/good.sh" | grep -cE "$bare")
[ "$n_bad" -eq 7 ] && [ "$n_good" -eq 0 ] && pass "the pattern catches 7 of 7 bare forms and passes 4 others and a comment" ||
  fail "the pattern catches 7 of 7 bare forms and passes 4 others and a comment" "caught $n_bad of the bad, $n_good of the good"

# need_python3 itself: PY3 is a python3 that imports json.
need_python3 "script env: python3"
check "need_python3 sets PY3 to a python3 with its standard library" "$PY3" -c "import json, xml.dom.minidom, gzip"
