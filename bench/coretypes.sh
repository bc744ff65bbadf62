#!/usr/bin/env bash
# Developer tool, never run by `make test` or CI (where OpenBLAS must pick its kernels by itself):
# the whole test suite under each OpenBLAS kernel set, forced with OPENBLAS_CORETYPE, and then,
# for every MEASURED line the tests print (tests/test.h, tests/lib.sh), the worst value under each
# kernel set beside its bound. That is the spread the tolerances of tests/rounding.h are derived
# from; tests/README.md, "Tolerances", keeps the last table.
#
#   bench/coretypes.sh [--binaries] [CORETYPE ...]
#
# Default kernel sets: unset Haswell Zen SkylakeX Sandybridge Prescott ("unset": OpenBLAS's own
# choice). --binaries runs the C test programs only (about 30 s a kernel set instead of 2 min). A
# kernel set this processor cannot run (SkylakeX needs AVX-512) dies of SIGILL (exit 132): reported
# as such, its column left empty. Logs stay in $OUT (default a new directory under /tmp).
set -u
export LC_ALL=C # awk, printf and sort with a decimal point in any locale (tests/README.md, "Writing checks")
cd "$(dirname "$0")/.."
scripts=1
if [ "${1:-}" = "--binaries" ]; then scripts=0; shift; fi
cores=("$@")
[ ${#cores[@]} -gt 0 ] || cores=(unset Haswell Zen SkylakeX Sandybridge Prescott)
OUT=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/scalerl-coretypes-XXXXXX")} || exit 2
mkdir -p "$OUT" || exit 2
# Everything `make test` builds: tests/test_bench.sh runs the bench programs too.
make -s -j2 scalerl $(ls tests/test_*.c | sed 's|^tests/\(.*\)\.c$|build/tests/\1|') \
  $(ls bench/*.c | sed 's|^bench/\(.*\)\.c$|build/bench/\1|') || exit 1
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE} # as tests/run.sh

# run_with CORE CMD...: CMD with OPENBLAS_CORETYPE=CORE (or without it for "unset").
run_with() {
  local core=$1; shift
  if [ "$core" = unset ]; then env -u OPENBLAS_CORETYPE "$@"; else OPENBLAS_CORETYPE=$core "$@"; fi
}

for core in "${cores[@]}"; do
  log="$OUT/$core.log"
  : >"$log"
  kernels=$(run_with "$core" ./scalerl version 2>/dev/null | sed -n 's/^openblas kernels: \([^ ]*\).*/\1/p')
  printf '%-12s OpenBLAS kernels %-12s ' "$core" "${kernels:-(none)}"
  sigill=0
  progs=(build/tests/test_*)
  [ "$scripts" -eq 1 ] && progs+=(tests/test_*.sh)
  for prog in "${progs[@]}"; do
    case $prog in *.o | *.d) continue ;; esac
    name=$(basename "$prog" .sh)
    if [ "${prog%.sh}" != "$prog" ]; then run_with "$core" bash "$prog" >"$OUT/$core.$name.out" 2>&1
    else run_with "$core" "$prog" >"$OUT/$core.$name.out" 2>&1; fi
    rc=$?
    [ $rc -eq 132 ] && sigill=$((sigill + 1))
    # Every line tagged with its test, the MEASURED ones for the table below.
    sed "s|^|$name |" "$OUT/$core.$name.out" >>"$log"
    [ $rc -ne 0 ] && ! grep -q '^FAIL' "$OUT/$core.$name.out" && echo "$name FAIL $name: exited with status $rc" >>"$log"
  done
  p=$(grep -c '^[^ ]* PASS' "$log"); f=$(grep -c '^[^ ]* FAIL' "$log")
  printf '%5d passed %4d failed' "$p" "$f"
  [ $sigill -gt 0 ] && printf '  (%d programs died of SIGILL: this cpu lacks these kernels'"'"' instructions)' $sigill
  echo
  grep '^[^ ]* FAIL' "$log" | sed 's/^/    /' | cut -c1-220
done

echo
echo "Worst value of each measured quantity per kernel set (max for a '<=' bound, min for '>='); the"
echo "bound shown is the tightest over the kernel sets (bounds scale with values the run computes)."
awk -v cores="${cores[*]}" -v dir="$OUT" '
  BEGIN {
    nc = split(cores, core, " ")
    for (c = 1; c <= nc; c++) {
      file = dir "/" core[c] ".log"
      while ((getline line < file) > 0) {
        n = split(line, f, " ")
        if (f[2] != "MEASURED") continue
        name = f[1] ":"; for (i = 6; i <= n; i++) name = name " " f[i]
        v = f[3] + 0; op = f[4]; b = f[5] + 0
        if (!(name in seen)) { seen[name] = 1; order[++nq] = name; opof[name] = op; bound[name] = b }
        if (op == "<=" && b < bound[name]) bound[name] = b
        if (op == ">=" && b > bound[name]) bound[name] = b
        k = name SUBSEP c
        if (f[3] == "nan" || f[3] == "-nan") { worst[k] = "nan"; continue }
        if (!(k in worst) || (op == "<=" ? v > worst[k] : v < worst[k])) worst[k] = v
      }
      close(file)
    }
    printf "%-14s", "bound"
    for (c = 1; c <= nc; c++) printf " %11s", core[c]
    printf "  quantity\n"
    for (q = 1; q <= nq; q++) {
      name = order[q]
      printf "%2s %-11.3g", opof[name], bound[name]
      for (c = 1; c <= nc; c++) {
        k = name SUBSEP c
        if (k in worst) printf " %11.3g", worst[k]; else printf " %11s", "-"
      }
      printf "  %s\n", name
    }
  }'
echo
echo "logs: $OUT"
