#!/usr/bin/env bash
# `make run`: the base model (reused when present), the default RL run with the scalerl recipe
# (reused when finished with the same config), the fitted sigmoid, the half-budget forecast check,
# the same fit in the Weibull form, the plot and the HTML report. Everything is a plain scalerl
# command; each is printed before it runs. The summary reads the fits' JSON (fit.json, half_fit.json, weibull_fit.json) with `scalerl get`.
set -euo pipefail
export LC_ALL=C # awk, printf and sort with a decimal point in any locale (tests/README.md, "Writing checks")
cd "$(dirname "$0")/../.."
BIN=${SCALERL_BIN:-./scalerl}
OUT=${RUN_DIR:-runs/default}
BASE=${BASE_CKPT:-runs/base.ckpt}
mkdir -p "$(dirname "$BASE")" "$OUT"
start=$(date +%s)
say() { printf '\n== %s\n' "$*"; }
# The command on stderr (its stdout may go to a file), each word that needs it in single quotes,
# so that a line can be pasted into a shell as it is, under a path with a space too.
shell_word() {
    case $1 in
        '' | *[!A-Za-z0-9_./=:+@%,-]*) printf "'%s'" "${1//\'/\'\\\'\'}" ;;
        *) printf '%s' "$1" ;;
    esac
}
run() {
    local w line=\$
    for w in "$@"; do line+=" $(shell_word "$w")"; done
    printf '%s\n' "$line" >&2
    "$@"
}

if [ -f "$BASE" ]; then
    say "base model: reusing $BASE (delete it to make a new one)"
else
    say "base model"
    run "$BIN" pretrain out="$BASE" progress=1
fi
say "RL run with the scalerl recipe -> $OUT"
run "$BIN" train base="$BASE" out="$OUT" progress=1 ${TRAIN_KEYS:-}
say "fit on the first half of the compute, checked on the second"
run "$BIN" fit "$OUT" fit_until_frac=0.5 save=0 cutoffs=0 json=1 >"$OUT/half_fit.json"
say "fit on the whole run (writes fit.json)"
run "$BIN" fit "$OUT"
say "the same fit in the faster-saturating Weibull form (the toy's runs approach their plateau faster than a log-logistic)"
run "$BIN" fit "$OUT" form=weibull save=0 cutoffs=0 json=1 >"$OUT/weibull_fit.json"
say "plot"
run "$BIN" plot "$OUT" out="$OUT/curve.svg" title="scalerl recipe, default task"
say "report: the curve, the recipe, the training signals, what RL changed"
run "$BIN" report "$OUT" out="$OUT/report.html"

say "summary ($(( $(date +%s) - start )) s)"
get() { "$BIN" get "$@"; }
get "$OUT/fit.json" '  A     {A:.4f} [{A_lo:.4f}, {A_hi:.4f}]' '  B     {B:.4g} [{B_lo:.4g}, {B_hi:.4g}]' \
    '  Cmid  {Cmid:.4g} [{Cmid_lo:.4g}, {Cmid_hi:.4g}]' '  R0    {R0:.4f} (step-0 pass rate)' '  r2 {r2:.5f}'
get "$OUT/half_fit.json" '  half-budget forecast (fit on the first half of compute): {holdout} points held out,'\
' predicted vs observed mean |error| {holdout_mae:.4f}, max {holdout_max:.4f}, at the last point {holdout_last_error:+.4f}'
get "$OUT/weibull_fit.json" '  Weibull form: A {A:.4f} [{A_lo:.4f}, {A_hi:.4f}], r2 {r2:.5f} (when the A above is at the bound 1,'\
' this one is nearer the plateau the run reaches: ref/fit/README.md)'
# The half fit's own A: at the bound 1 it says the first half does not pin the ceiling, even
# when its curve forecasts the second half well.
get "$OUT/half_fit.json" '  half-budget fit: A {A:.4f} [{A_lo:.4f}, {A_hi:.4f}]; A at the bound 1 (no plateau in the half): {A_at_bound}'
# The project's bar for the forecast is 0.03 at the last point. The default run meets it on the
# 3 seeds measured; a run with other keys that misses it gets a pointer to what moves it.
last_err=$(get "$OUT/half_fit.json" '{holdout_last_error}')
if awk -v e="$last_err" 'BEGIN { a = e < 0 ? -e : e; exit !(e != "null" && a > 0.03) }'; then
    echo "  (more than 0.03 off at the last point: see bench/calibration.md)"
fi
echo "  files: $OUT/metrics.jsonl $OUT/fit.json $OUT/half_fit.json $OUT/weibull_fit.json $OUT/curve.svg"
echo "  report: $OUT/report.html (open it in a browser)"
