#!/usr/bin/env bash
# `make fuzz`: tests/fuzz/run.sh BUILD SECONDS TARGET...: runs BUILD/fuzz_TARGET (libFuzzer) for
# SECONDS on each target, starting from its seeds (tests/fuzz/seeds/TARGET/) and the corpus kept in
# BUILD/corpus/TARGET/ by earlier runs; prints one line per target (runs, coverage, corpus, speed)
# and, for a finding, the input's path and what broke. Exits 1 when anything was found. A finding
# is fixed, then its input is kept as tests/data/fuzz/TARGET/NAME, which `make test` replays.
set -u
export LC_ALL=C # awk, printf and sort with a decimal point in any locale (tests/README.md, "Writing checks")
cd "$(dirname "$0")/../.."
build=$1 seconds=$2
shift 2
found=0
mkdir -p "$build/tmp"
for t in "$@"; do
  corpus=$build/corpus/$t art=$build/artifacts/$t/ log=$build/$t.log
  mkdir -p "$corpus" "$art"
  start=$(date +%s)
  # TMPDIR: the metrics target's scratch directory stays inside the build tree.
  TMPDIR=$PWD/$build/tmp ASAN_OPTIONS=detect_leaks=1 "$build/fuzz_$t" -max_total_time="$seconds" -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$art" "$corpus" "tests/fuzz/seeds/$t" >"$log" 2>&1
  rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -n 1)
  units=$(ls "$corpus" | wc -l)
  printf 'fuzz %-10s %3ds  %8s runs  %s  corpus %d\n' "$t" "$(( $(date +%s) - start ))" "${runs:-?}" "${cov:-cov: ?}" "$units"
  if [ "$rc" -ne 0 ]; then
    found=1
    echo "fuzz $t: FOUND (exit $rc); input: $(ls -t "$art" | head -n 1 | sed "s|^|$art|"); log: $log"
    grep -E 'ERROR|runtime error|property broken|SUMMARY' "$log" | head -n 5 | sed 's/^/  /'
  fi
done
[ "$found" -eq 0 ] || { echo "fuzz: findings above; fix them, then keep each input under tests/data/fuzz/TARGET/"; exit 1; }
echo "fuzz: nothing found"
