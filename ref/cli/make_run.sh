#!/usr/bin/env bash
# `make run`: the base model (reused when present), the default RL run with the scalerl recipe
# (reused when finished with the same config), the fitted sigmoid, the half-budget forecast check
# and the plot. Everything is a plain scalerl command; each is printed before it runs.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${SCALERL_BIN:-./scalerl}
OUT=${RUN_DIR:-runs/default}
BASE=${BASE_CKPT:-runs/base.ckpt}
mkdir -p "$(dirname "$BASE")" "$OUT"
start=$(date +%s)
say() { printf '\n== %s\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

if [ -f "$BASE" ]; then
    say "base model: reusing $BASE (delete it to make a new one)"
else
    say "base model"
    run $BIN pretrain out="$BASE" progress=1
fi
say "RL run with the scalerl recipe -> $OUT"
run $BIN train base="$BASE" out="$OUT" progress=1 ${TRAIN_KEYS:-}
say "fit on the first half of the compute, checked on the second"
run $BIN fit "$OUT" fit_until_frac=0.5 save=0 cutoffs=0 | tee "$OUT/half_check.txt"
say "fit on the whole run"
run $BIN fit "$OUT" | tee "$OUT/fit.txt"
say "plot"
run $BIN plot "$OUT" out="$OUT/curve.svg" title="scalerl recipe, default task"

say "summary ($(( $(date +%s) - start )) s)"
grep -E '^  (A|B|Cmid|R0) +[0-9]' "$OUT/fit.txt"
grep -E '^  r2 ' "$OUT/fit.txt" | sed 's/,.*//'
grep -E 'held out beyond' "$OUT/half_check.txt" | sed 's/^  held out beyond the fitted window/  half-budget forecast (fit on the first half of compute)/'
# The half fit's own A: at the bound 1 it says the first half does not pin the ceiling, even
# when its curve forecasts the second half well.
grep -E '^  A +[0-9]' "$OUT/half_check.txt" | sed 's/^  A  */  half-budget fit: A /'
# The project's bar for the forecast is 0.03 at the last point. The default run meets it on the
# 3 seeds measured; a run with other keys that misses it gets a pointer to what moves it.
last_err=$(grep -oE 'at the last point [-+0-9.]+' "$OUT/half_check.txt" | awk '{print $NF}')
if [ -n "$last_err" ] && awk -v e="$last_err" 'BEGIN { a = e < 0 ? -e : e; exit !(a > 0.03) }'; then
    echo "  (more than 0.03 off at the last point: see README.md, \"How the default was calibrated\")"
fi
echo "  files: $OUT/metrics.jsonl $OUT/fit.json $OUT/curve.svg"
