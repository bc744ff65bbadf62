#!/usr/bin/env bash
# `make run`'s script (ref/cli/make_run.sh) end to end on a small model and a short run, through the
# knobs it reads (RUN_DIR, BASE_CKPT, TRAIN_KEYS): it leaves metrics.jsonl, fit.json,
# half_fit.json, curve.svg and report.html and prints A, B, Cmid, the half-budget check and the
# files, its summary read from the fits' JSON (checked here against python's json); run again, it
# reuses the base model and the finished run, and rewrites nothing of the run.
. "$(dirname "$0")/lib.sh"
need_python3

# Everything in a directory whose name has a space, the binary too (a symlink): the script must
# quote every path it is given.
D="$T/a dir"
mkdir -p "$D" && ln -s "$S" "$D/scalerl" || { fail "setup" "cannot make '$D/scalerl'"; exit 1; }
pretrain_base "$D/base.ckpt" $SMALL_BASE eval_n=400 eval_samples=0
# The learning run of tests/test_train.sh (a rise of ~0.13 in 200 steps), evaluated every 10
# steps so that the half-budget fit has enough points.
KEYS="task=add:digits=1-2 steps=200 prompts_per_step=64 gens_per_prompt=8 lr=5e-4 warmup=5 eval_n=200
  eval_samples=2 eval_every=10 think_budget=16 answer_budget=4 threads=1"
run_script() { SCALERL_BIN="$D/scalerl" RUN_DIR="$D/run" BASE_CKPT="$D/base.ckpt" TRAIN_KEYS="$KEYS" ref/cli/make_run.sh; }

run_script >"$T/out1" 2>&1; rc=$?
[ $rc -eq 0 ] && pass "make_run.sh exits 0" || fail "make_run.sh exits 0" "exit $rc: $(tail -n 3 "$T/out1" | tr '\n' ' ')"
check "it leaves metrics.jsonl, fit.json, half_fit.json, curve.svg, report.html" test -s "$D/run/metrics.jsonl" -a \
  -s "$D/run/fit.json" -a -s "$D/run/half_fit.json" -a -s "$D/run/curve.svg" -a -s "$D/run/report.html"
check "the summary prints A, B and Cmid with intervals" \
  bash -c "sed -n '/== summary/,\$p' '$T/out1' | grep -cE '^  (A|B|Cmid) +[0-9.e+-]+ \[' | grep -qx 3"
check "the summary prints the half-budget check and where the plot is" \
  bash -c "grep -q 'half-budget forecast (fit on the first half of compute)' '$T/out1' && grep -q 'files: .*curve.svg' '$T/out1'"
check "the summary prints the half-budget fit's own A" grep -qE '^  half-budget fit: A [0-9.]+ \[' "$T/out1"
check "the summary prints where the report is" grep -qE "^  report: $D/run/report.html" "$T/out1"
check "each command is printed before it runs (train, three fits, plot, report)" bash -c "grep -c '^\\$ ' '$T/out1' | grep -qx 6"
# Printed quoted where a word needs it: the train and plot lines, read back by the shell, are the
# words that ran (the binary and out= under "a dir", the plot's title with spaces and a comma).
words() { local l; l=$(grep -m1 "^\\$ .* $1 " "$T/out1") && eval "set -- ${l#\$ }" && printf '%s\n' "$@"; }
mapfile -t tw < <(words train)
[ "${tw[0]:-}" = "$D/scalerl" ] && [ "${tw[1]:-}" = train ] && printf '%s\n' "${tw[@]}" | grep -qxF "out=$D/run" &&
  pass "the printed train command, read back by the shell: the binary under 'a dir', train, out=\$D/run" ||
  fail "the printed train command, read back by the shell: the binary under 'a dir', train, out=\$D/run" "read back: ${tw[*]:-nothing}"
mapfile -t pw < <(words plot)
printf '%s\n' "${pw[@]}" | grep -qxF "title=scalerl recipe, default task" &&
  pass "the printed plot command, read back by the shell: its title one word" ||
  fail "the printed plot command, read back by the shell: its title one word" "read back: ${pw[*]:-nothing}"
# The summary's numbers are the JSON files' own, as python's json reads them.
check "the summary's A, B, Cmid, r2 and half-budget figures are fit.json's and half_fit.json's" "$PY3" -c "
import json, re, sys
out = open(sys.argv[1]).read().split('== summary')[1]
w, h = json.load(open(sys.argv[2])), json.load(open(sys.argv[3]))
def num(pat): return [float(x) for x in re.search(pat, out, re.M).groups()]
for k, fmt in (('A', '.4f'), ('B', '.4g'), ('Cmid', '.4g')):
    got = num(r'^  %s +(\\S+) \\[(\\S+), (\\S+)\\]' % k)
    want = [float(format(w[k + s], fmt)) for s in ('', '_lo', '_hi')]
    assert got == want, (k, got, want)
assert num(r'^  r2 (\\S+)') == [float(format(w['r2'], '.5f'))], 'r2'
got = num(r'mean \\|error\\| (\\S+), max (\\S+), at the last point (\\S+)')
assert got == [float(format(h[k], '.4f')) for k in ('holdout_mae', 'holdout_max', 'holdout_last_error')], got
assert h['holdout'] > 0 and h['fit_until_frac'] == 0.5, h['holdout']
wb = json.load(open(sys.argv[4]))
assert wb['form'] == 'weibull', wb['form']
got = num(r'^  Weibull form: A (\S+) \[(\S+), (\S+)\], r2 (\S+)')
assert got == [float(format(wb[k], '.4f')) for k in ('A', 'A_lo', 'A_hi')] + [float(format(wb['r2'], '.5f'))], got
" "$T/out1" "$D/run/fit.json" "$D/run/half_fit.json" "$D/run/weibull_fit.json"

stat -c '%y' "$D/run/metrics.jsonl" "$D/base.ckpt" >"$T/m1"
# The second time as `make run` starts it, with the default ./scalerl, here from another directory:
# the script finds the repository root itself.
if [ "$S" = "$PWD/scalerl" ]; then
  (repo=$PWD; cd "$T" && env -u SCALERL_BIN RUN_DIR="$D/run" BASE_CKPT="$D/base.ckpt" TRAIN_KEYS="$KEYS" \
    "$repo/ref/cli/make_run.sh") >"$T/out2" 2>&1; rc=$?
else
  run_script >"$T/out2" 2>&1; rc=$?
fi
stat -c '%y' "$D/run/metrics.jsonl" "$D/base.ckpt" >"$T/m2"
[ $rc -eq 0 ] && pass "second make_run.sh exits 0" || fail "second make_run.sh exits 0" "exit $rc: $(tail -n 3 "$T/out2" | tr '\n' ' ')"
check "second run reuses the base model" grep -q "base model: reusing" "$T/out2"
check "second run skips the finished RL run" grep -q "is a finished run of this config; nothing to do" "$T/out2"
check "second run leaves metrics.jsonl and the base model untouched" cmp "$T/m1" "$T/m2"
