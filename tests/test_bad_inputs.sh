#!/usr/bin/env bash
# The bad inputs of issue 16, point 6, each refused with one line (exit 1) naming the key, or the
# file and line, and what was expected; and SVGs that stay well-formed XML whatever bytes their
# titles and labels hold, checked with an XML parser (python3's xml.dom.minidom). Long evaluations
# show progress.
. "$(dirname "$0")/lib.sh"
need_python3

pretrain_base "$T/base.ckpt" $SMALL_BASE eval_n=400 eval_samples=0
K="base=$T/base.ckpt task=add:digits=1-2 eval_n=40 eval_samples=2 think_budget=12-16 answer_budget=4 prompts_per_step=8 gens_per_prompt=4 eval_every=5 threads=1 progress=0"
train "$T/r" $K steps=20 ckpt_every=10
# Twenty steps barely move the policy: under some OpenBLAS kernel sets every eval row samples the
# same completions and the pass rate is flat, which plot and compare refuse to fit. The checks
# below are about inputs and outputs, not fits, so the eval rows are given a rising pass rate
# (0.2, 0.25, ...; its interval +-0.04) whatever the kernels computed.
awk '/"pass_rate":/ { r = 0.2 + 0.05 * i++
    sub(/"pass_rate":[^,}]*/, sprintf("\"pass_rate\":%.2f", r))
    sub(/"pass_rate_lo":[^,}]*/, sprintf("\"pass_rate_lo\":%.2f", r - 0.04))
    sub(/"pass_rate_hi":[^,}]*/, sprintf("\"pass_rate_hi\":%.2f", r + 0.04)) } { print }' \
  "$T/r/metrics.jsonl" >"$T/r/metrics.rising" && mv "$T/r/metrics.rising" "$T/r/metrics.jsonl"

# well_formed FILE...: every file parses as XML.
well_formed() {
  "$PY3" -c "
import sys, xml.dom.minidom
for p in sys.argv[1:]: xml.dom.minidom.parse(p)" "$@"
}
# with_eval_row DIR FIELD VALUE: a copy of run r as DIR, its first eval row's FIELD set to VALUE.
with_eval_row() {
  mkdir -p "$1" && cp "$T/r/config.txt" "$1/" &&
    sed "0,/\"$2\":[^,}]*/s//\"$2\":$3/" "$T/r/metrics.jsonl" >"$1/metrics.jsonl"
}

# ---- pass rates outside [0, 1] ----
with_eval_row "$T/p75" pass_rate 7.5
with_eval_row "$T/pm3" pass_rate -3
with_eval_row "$T/hi2" pass_rate_hi 2
expect_error "fit refuses a pass rate of 7.5, naming file, line and the range" 1 "$T/p75/metrics.jsonl:1:" "pass_rate 7.5" "[0, 1]" -- fit "$T/p75"
expect_error "plot refuses a pass rate of -3, naming file, line and the range" 1 "$T/pm3/metrics.jsonl:1:" "pass_rate -3" "[0, 1]" -- \
  plot "$T/pm3" out="$T/pm3.svg"
expect_error "compare refuses an interval end of 2" 1 "metrics.jsonl:1:" "pass_rate_hi 2" -- compare "$T/hi2"
check "no fit.json or SVG written for them" [ ! -e "$T/p75/fit.json" -a ! -e "$T/pm3.svg" ]

# ---- an output that is an input ----
cp "$T/r/metrics.jsonl" "$T/metrics.before"
expect_error "plot out=RUN/metrics.jsonl is refused: it is an input" 1 "out='$T/r/metrics.jsonl'" "an input" -- \
  plot "$T/r" out="$T/r/metrics.jsonl"
expect_error "plot out= another spelling of RUN/config.txt is refused" 1 "an input" -- plot "$T/r" out="$T/r/../r/config.txt"
mkdir -p "$T/cmp"
cp -r "$T/r" "$T/cmp/r"
expect_error "compare out=a run's metrics.jsonl is refused" 1 "an input" -- compare "$T/cmp" out="$T/cmp/r/metrics.jsonl"
# A report reads the base model and final.ckpt, and ckpt/ resumes the run: none may become HTML.
md5sum "$T/base.ckpt" "$T/r/final.ckpt" "$T/r/ckpt/"*.ckpt >"$T/models.md5"
expect_error "report out=RUN/final.ckpt is refused" 1 "this run's final model" -- report "$T/r" out="$T/r/final.ckpt"
expect_error "report out=the run's base model is refused" 1 "this run's base model" -- report "$T/r" out="$T/base.ckpt"
ck=$(ls "$T/r/ckpt/"*.ckpt | head -1)
expect_error "report out=a resume checkpoint is refused" 1 "resume checkpoints" -- report "$T/r" out="$ck"
check "the models are unchanged" md5sum -c --quiet "$T/models.md5"
# A run whose metrics.jsonl is a symlink: out= naming the file it points to is refused too.
mkdir -p "$T/store" "$T/linkrun"
cp "$T/r/metrics.jsonl" "$T/store/m.jsonl" && cp "$T/r/config.txt" "$T/linkrun/"
ln -s ../store/m.jsonl "$T/linkrun/metrics.jsonl"
expect_error "plot out= the target of a run's symlinked metrics.jsonl is refused" 1 "an input" -- \
  plot "$T/linkrun" out="$T/store/m.jsonl"
expect_error "compare out= that target is refused" 1 "an input" -- compare "$T/linkrun" out="$T/store/m.jsonl"
check "the target is unchanged" cmp -s "$T/store/m.jsonl" "$T/r/metrics.jsonl"
# fitbench: the bank's manifest and its runs' files are inputs.
mkdir -p "$T/bank" && cp -r "$T/r" "$T/bank/r" && printf '{"path":"r","shape":"x","expect":"forecast"}\n' >"$T/bank/manifest.jsonl"
cp "$T/bank/manifest.jsonl" "$T/manifest.before"
expect_error "fitbench out=the bank's manifest is refused" 1 "the bank's manifest" -- \
  fitbench bank="$T/bank" fitter=loglogistic out="$T/bank/manifest.jsonl"
expect_error "fitbench out=a bank run's config.txt is refused" 1 "an input" -- \
  fitbench bank="$T/bank" fitter=loglogistic out="$T/bank/r/config.txt"
check "the bank is unchanged" bash -c "cmp -s '$T/bank/manifest.jsonl' '$T/manifest.before' &&
  cmp -s '$T/bank/r/config.txt' '$T/r/config.txt'"
# A run reached twice (a symlink to it, a link cycle) is one seed, not several.
mkdir -p "$T/loop/a" && cp -r "$T/r" "$T/loop/a/r" && ln -s .. "$T/loop/a/up" && ln -s . "$T/loop/self" &&
  ln -s a/r "$T/loop/r-again"
"$S" compare "$T/loop" json=1 >"$T/loop.json" 2>"$T/loop.err"
check "compare counts a run reached through links once (seeds 1)" "$PY3" -c "
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
seeds = [r['seeds'] for r in rows if 'seeds' in r]
assert seeds == [1], (seeds, open(sys.argv[2]).read())" "$T/loop.json" "$T/loop.err"

# Flat data cannot be fitted, but out= naming an input is refused first: it is the user's to fix.
mkdir -p "$T/flat/r"
cp "$T/r/config.txt" "$T/flat/r/"
sed 's/"pass_rate":[^,}]*/"pass_rate":0.5/' "$T/r/metrics.jsonl" >"$T/flat/r/metrics.jsonl"
expect_error "compare out= an input of flat runs is refused for the input, before any fit" 1 "an input" -- \
  compare "$T/flat" out="$T/flat/r/metrics.jsonl"
expect_error "report out=RUN/metrics.jsonl is refused: it is an input" 1 "an input" -- report "$T/r" out="$T/r/metrics.jsonl"
expect_error "report out=a sweep's run's config.txt is refused" 1 "an input" -- report "$T/cmp" out="$T/cmp/r/config.txt"
gzip -c "$T/r/metrics.jsonl" >"$T/gz-metrics.gz"
mkdir -p "$T/gz/r" && cp "$T/r/config.txt" "$T/gz/r/" && cp "$T/gz-metrics.gz" "$T/gz/r/metrics.jsonl.gz"
expect_error "plot out=RUN/metrics.jsonl.gz (an archived run) is refused" 1 "an input" -- \
  plot "$T/gz/r" out="$T/gz/r/metrics.jsonl.gz"
check "the inputs are unchanged" bash -c "cmp -s '$T/r/metrics.jsonl' '$T/metrics.before' &&
  cmp -s '$T/gz/r/metrics.jsonl.gz' '$T/gz-metrics.gz' && cmp -s '$T/cmp/r/config.txt' '$T/r/config.txt'"

# ---- synth writes over its own directories only, never over a training run ----
cp -r "$T/r" "$T/syn-r"
expect_error "synth out=a training run's directory is refused, naming its metrics" 1 "'$T/syn-r/metrics.jsonl'" \
  "did not write" -- synth out="$T/syn-r"
expect_error "synth out=an archived run (metrics.jsonl.gz) is refused" 1 "metrics.jsonl.gz" -- synth out="$T/gz/r"
check "the refused runs are unchanged" bash -c "cmp -s '$T/syn-r/metrics.jsonl' '$T/r/metrics.jsonl' &&
  cmp -s '$T/syn-r/config.txt' '$T/r/config.txt' && cmp -s '$T/gz/r/metrics.jsonl.gz' '$T/gz-metrics.gz'"
"$S" synth out="$T/syn" A=0.6 >/dev/null && "$S" synth out="$T/syn" A=0.8 >/dev/null
check "synth rewrites a directory it wrote before" grep -q '^A=0.8' "$T/syn/config.txt"
# Killed while writing (60 MB of rows, ~2 s here), a command leaves no temporary file behind:
# where the file system allows, it has no name until it is complete.
"$S" synth out="$T/killed" n=200000 >/dev/null 2>&1 &
pid=$!
sleep 0.5
kill -TERM $pid 2>/dev/null
wait $pid
rc=$?
check "synth killed mid-write (exit $rc) leaves no *.tmp.* file and no partial metrics" \
  bash -c "! ls '$T/killed' | grep -q '\.tmp\.' && { [ $rc -eq 0 ] || [ ! -e '$T/killed/metrics.jsonl' ]; }"

# ---- text keys: control characters, and spaces at either end, would not replay from config.txt ----
expect_error "label= with a newline is refused, naming the key" 1 "'label'" "control character 0x0a" -- \
  train $K out="$T/never" label="$(printf 'a\nb')"
expect_error "label= with a trailing space is refused" 1 "'label'" "spaces at either end" -- train $K out="$T/never" label="a "
expect_error "a plot title with a tab is refused" 1 "'title'" "control character 0x09" -- plot "$T/r" title="$(printf 'a\tb')"
check "nothing is written for the refused runs" [ ! -e "$T/never" ]

# ---- SVGs are well-formed whatever bytes titles and labels hold ----
mkdir -p "$T/odd"
cp -r "$T/r" "$T/odd/plain"
odd="$T/odd/run-$(printf '\xff\xfe')-<&>"
cp -r "$T/r" "$odd"
# A label edited into config.txt by hand: invalid UTF-8, a control character, markup, a surrogate.
printf 'label=x\xff\x01<b>&\xed\xa0\x80"\n' >>"$odd/config.txt"
"$S" plot "$T/odd/"* out="$T/odd.svg" title="$(printf 'caf\xc3\xa9 \xff\xc0\xaf <tag> & "q" \xef\xbf\xbf')" preview=0 \
  >/dev/null 2>"$T/odd.err"
rc=$?
"$S" plot "$T/odd/"* by=recipe out="$T/odd-recipe.svg" preview=0 >/dev/null 2>>"$T/odd.err"
rc=$((rc + $?))
"$S" compare "$T/odd" baseline=scalerl out="$T/odd-compare.svg" >/dev/null 2>>"$T/odd.err"
rc=$((rc + $?))
check "plot and compare write SVGs from a title and labels of any bytes (exit 0)" bash -c "[ $rc -eq 0 ] || { cat '$T/odd.err'; false; }"
check "each of those SVGs is well-formed XML (python3 xml.dom.minidom)" well_formed "$T/odd.svg" "$T/odd-recipe.svg" "$T/odd-compare.svg"
check "valid UTF-8 in a title is kept as is" grep -q "café" "$T/odd.svg"
"$S" plot "$T/r" out="$T/plain.svg" preview=0 >/dev/null 2>&1
check "a plain plot's SVG is well-formed too" well_formed "$T/plain.svg"
"$S" compare "$T/odd" json=1 >"$T/odd.json" 2>/dev/null
check "compare json=1 with such a label gives valid JSON lines (python3 json), the label among them" "$PY3" -c "
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1], encoding='utf-8')]
assert any('x\ufffd' in json.dumps(r, ensure_ascii=False) for r in rows), rows" "$T/odd.json"

# ---- batch sizes too large for memory: bad input naming both keys ----
expect_error "prompts_per_step=65536 x gens_per_prompt=1024 is refused, naming both keys" 1 "prompts_per_step=65536" \
  "gens_per_prompt=1024" -- train $K out="$T/never" prompts_per_step=65536 gens_per_prompt=1024
"$S" init out="$T/wide.ckpt" ctx=4096 d_model=16 n_head=2 >/dev/null 2>&1
expect_error "a batch whose records alone exceed this machine's memory is refused, naming both keys" 1 \
  "prompts_per_step=4096 x gens_per_prompt=16" "GB at ctx=4096" -- \
  train base="$T/wide.ckpt" out="$T/never" prompts_per_step=4096 gens_per_prompt=16 k=1024

# ---- messages that match the rule they enforce ----
expect_error "adam_beta2=1: the message shows the bound that refuses it" 1 "'adam_beta2'" "[0, 0.999999999]" -- \
  train $K out="$T/never" adam_beta2=1
printf 'lr=1e-3\nseed=\0x\n' >"$T/nul.txt"
expect_error "a --config file holding a NUL byte: named, with the file and line" 1 "nul.txt:2:" "NUL byte" -- \
  train $K out="$T/never" --config "$T/nul.txt"

# ---- long evaluations show progress ----
"$S" train $K out="$T/prog" steps=1 progress=1 >/dev/null 2>"$T/prog.err"
check "train progress=1: each evaluation says what it evaluates on stderr" \
  bash -c "[ \$(tr '\r' '\n' <'$T/prog.err' | grep -c '^eval: 40 prompts x 2 samples') -eq 2 ]"
"$S" train $K out="$T/quiet" steps=1 progress=0 >/dev/null 2>"$T/quiet.err"
check "progress=0: nothing on stderr" [ ! -s "$T/quiet.err" ]
"$S" eval ckpt="$T/base.ckpt" task=add:digits=1-2 eval_n=40 n=40 samples=2 threads=1 progress=1 >/dev/null 2>"$T/ev.err"
check "eval progress=1 shows it too" grep -q 'eval: 40 prompts x 2 samples' "$T/ev.err"
