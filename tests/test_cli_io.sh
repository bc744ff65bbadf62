#!/usr/bin/env bash
# Output that cannot be written, and inputs that would be lost: every command that prints exits 2
# when stdout fails (a full disk, here /dev/full) instead of 0 with its output gone; get bounds a
# format's width and precision; synth and dump replace their files all together or not at all;
# out= never names an input (dump's checkpoint, the --config file); a cut or corrupt
# metrics.jsonl.gz is refused, not read as a run still writing.
. "$(dirname "$0")/lib.sh"
need_python3

pretrain_base "$T/base.ckpt" $SMALL_BASE eval_samples=0 progress=0

# to_full NAME ARGS...: PASS when `scalerl ARGS` with stdout on /dev/full exits 2 with one line on
# stderr saying that stdout could not be written.
to_full() {
  local name=$1; shift
  "$S" "$@" >/dev/full 2>"$T/full.err"
  local rc=$? lines
  lines=$(wc -l <"$T/full.err")
  if [ "$rc" -eq 2 ] && [ "$lines" -eq 1 ] && grep -q "cannot write to stdout" "$T/full.err"; then
    pass "$name"
  else
    fail "$name" "exit $rc (want 2), $lines stderr lines (want 1 saying 'cannot write to stdout'): $(head -c 300 "$T/full.err")"
  fi
}

# ---- stdout on a full disk ----
if [ -w /dev/full ]; then
  E="ckpt=$T/base.ckpt task=add:digits=1-2 n=4 threads=1"
  to_full "eval to a full stdout exits 2" eval $E samples=1 progress=0
  to_full "eval json=1 to a full stdout exits 2" eval $E samples=1 progress=0 json=1
  to_full "sample to a full stdout exits 2" sample $E
  to_full "eval --help to a full stdout exits 2" eval --help
  to_full "get --help to a full stdout exits 2" get --help
  to_full "scalerl --help to a full stdout exits 2" --help
  to_full "init's report to a full stdout exits 2" init out="$T/i.ckpt" d_model=8 n_head=1 ctx=16
  to_full "dump's report to a full stdout exits 2" dump ckpt="$T/i.ckpt" out="$T/full-dump"
  to_full "pretrain's report to a full stdout exits 2" pretrain out="$T/p.ckpt" $SMALL_BASE tokens=2000 eval_samples=0 \
    progress=0
else
  fail "stdout on a full disk" "no writable /dev/full to test with"
fi

# ---- get: a format's width and precision are bounded ----
"$S" synth out="$T/sy" >/dev/null && "$S" fit "$T/sy" >/dev/null || fail "get setup" "synth or fit failed"
F=$T/sy/fit.json
# In a subshell with its files and memory capped: a scalerl that did print 2 GB fails the check
# without filling the disk.
(
  # A sanitizer build reserves terabytes of address space at start: no -v for it (the fixed
  # binary refuses before allocating anything, so the cap only guards a regression).
  ulimit -f 4096
  # (Known by its flags, not its path: a sanitizer build outside build/asan failed here on ASan's
  # own reservation.)
  sanitizer_build || ulimit -v 4000000
  expect_error "get refuses a width of 2147483647, naming the format" 1 "'2147483647f'" "width above 64" -- \
    get "$F" '{A:2147483647f}'
  expect_error "get refuses a precision of 2147483647" 1 "'.2147483647f'" "precision above 64" -- get "$F" '{A:.2147483647f}'
  expect_error "get refuses a precision of 2^32 (no overflow to 0)" 1 "'.4294967296f'" "precision above 64" -- \
    get "$F" '{A:.4294967296f}'
)
expect_error "get refuses a format padded with zeros to any length" 1 "bad format" -- get "$F" "{A:$(printf '0%.0s' {1..40})4f}"
check "get still prints a width and a precision of 64" bash -c "'$S' get '$F' '{A:64.64f}' | grep -Eqx ' *0\.[0-9]{64}'"

# ---- synth: metrics.jsonl and config.txt replaced together or not at all ----
"$S" synth out="$T/syn1" A=0.5 n=10 >/dev/null || fail "synth setup" "synth A=0.5 failed"
cp "$T/syn1/metrics.jsonl" "$T/syn1.metrics" && cp "$T/syn1/config.txt" "$T/syn1.config"
(
  ulimit -f 4 # 2 KB: the 1000 rows do not fit
  expect_error "a synth that cannot write its rows exits 2, naming the file" 2 "$T/syn1/metrics.jsonl" "File too large" -- \
    synth out="$T/syn1" A=0.9 n=1000
  expect_error "a synth that fails in a new directory exits 2" 2 "$T/syn-new/metrics.jsonl" -- synth out="$T/syn-new" A=0.9 n=1000
)
check "the failed synth left the earlier run's metrics and config as they were" bash -c \
  "cmp -s '$T/syn1.metrics' '$T/syn1/metrics.jsonl' && cmp -s '$T/syn1.config' '$T/syn1/config.txt'"
check "the failed synth left no temporary file" [ "$(ls "$T/syn1" | tr '\n' ' ')" = "config.txt metrics.jsonl " ]
check "the synth that failed in a new directory left nothing" [ ! -e "$T/syn-new" ]

# ---- dump: all files or none, and never over its own checkpoint ----
"$S" dump ckpt="$T/base.ckpt" out="$T/dm" >/dev/null && "$S" init out="$T/small.ckpt" d_model=32 n_head=1 ctx=32 seed=7 \
  >/dev/null || fail "dump setup" "dump or init failed"
(cd "$T/dm" && md5sum -- * >"$T/dm.md5")
(
  ulimit -f 8 # 4 KB: the small model's first tensors fit, its larger ones do not
  expect_error "a dump that cannot write a tensor exits 2" 2 "File too large" -- dump ckpt="$T/small.ckpt" out="$T/dm"
)
check "the failed dump left the earlier dump as it was, every file" bash -c "cd '$T/dm' && md5sum --quiet -c '$T/dm.md5'"
check "the failed dump left no temporary file" [ "$(ls "$T/dm" | grep -c tmp)" -eq 0 ]
mkdir -p "$T/d2" && cp "$T/base.ckpt" "$T/d2/meta.txt"
expect_error "dump refuses a checkpoint that is one of its outputs" 1 "ckpt='$T/d2/meta.txt'" "an output of this dump" -- \
  dump ckpt="$T/d2/meta.txt" out="$T/d2"
ln -s "$T/d2/meta.txt" "$T/link.ckpt"
expect_error "dump refuses a link to a checkpoint that is one of its outputs" 1 "an output of this dump" -- \
  dump ckpt="$T/link.ckpt" out="$T/d2/."
check "the refused checkpoint is intact and nothing was written beside it" bash -c \
  "cmp -s '$T/base.ckpt' '$T/d2/meta.txt' && [ \"\$(ls '$T/d2')\" = meta.txt ]"

# ---- out= naming the --config file ----
printf 'd_model=8\nn_head=1\nctx=16\n' >"$T/c.before"
# Each case starts from the file as written, so that each fails on its own should it be replaced.
cp "$T/c.before" "$T/c.txt"
expect_error "init refuses out= naming its --config file" 1 "out='$T/c.txt' is the --config file" -- \
  init --config "$T/c.txt" out="$T/c.txt"
check "the --config file is unchanged" cmp -s "$T/c.txt" "$T/c.before"
printf 'title=t\n' >"$T/plot.txt"
expect_error "plot refuses out= another spelling of its --config file" 1 "is the --config file" -- \
  plot "$T/syn1" --config "$T/plot.txt" out="$T/../$(basename "$T")/plot.txt"
cp "$T/c.before" "$T/c.txt"
expect_error "pretrain refuses out= naming its --config file, before training" 1 "is the --config file" -- \
  pretrain out="$T/c.txt" --config "$T/c.txt"
check "init with --config and another out= still works" "$S" init --config "$T/c.txt" out="$T/c.ckpt"
train "$T/tr" base="$T/base.ckpt" task=add:digits=1-2 eval_n=8 eval_samples=1 think_budget=12-16 answer_budget=4 \
  prompts_per_step=4 gens_per_prompt=2 eval_every=1 steps=1 threads=1 progress=0
"$S" train --config "$T/tr/config.txt" out="$T/tr" >"$T/replay.out" 2>&1
check "a run replayed from its own config.txt with out= its directory is still accepted" \
  grep -q "is a finished run of this config" "$T/replay.out"

# ---- a metrics.jsonl.gz cut short or damaged is refused, not read as a run still writing ----
GZ=bench/findings/loo/scalerl-s1
# gz_copy DIR BYTES...: DIR as a copy of the archived run GZ, its metrics.jsonl.gz given by python.
gz_copy() {
  mkdir -p "$1" && cp "$GZ/config.txt" "$1/" &&
    "$PY3" -c "import sys; d = bytearray(open('$GZ/metrics.jsonl.gz', 'rb').read()); $2
open(sys.argv[1], 'wb').write(d)" "$1/metrics.jsonl.gz"
}
gz_copy "$T/gzhalf" "d = d[:120000]"
expect_error "fit refuses a metrics.jsonl.gz cut short, naming it" 1 "'$T/gzhalf/metrics.jsonl.gz' is cut short" \
  "compressed stream ends early" -- fit "$T/gzhalf" boot=0
gz_copy "$T/gzflip" "d[100000] ^= 1"
expect_error "fit refuses a damaged metrics.jsonl.gz as a compression error, not bad JSON" 1 \
  "'$T/gzflip/metrics.jsonl.gz' is corrupt" "compressed data is damaged" -- fit "$T/gzflip" boot=0
gz_copy "$T/gzcode" "d[5000:5040] = bytes(b ^ 0x5a for b in d[5000:5040])"
expect_error "plot refuses a metrics.jsonl.gz that zlib cannot decode" 1 "is corrupt" -- plot "$T/gzcode" out="$T/gz.svg"
gz_copy "$T/gzwhole" "pass"
check "fit still reads a whole metrics.jsonl.gz" "$S" fit "$T/gzwhole" boot=0

# ---- pretrain checks out= before training ----
mkdir -p "$T/pdir"
expect_error "pretrain refuses out= a directory before training" 1 "out='$T/pdir' is a directory" -- \
  pretrain out="$T/pdir" $SMALL_BASE tokens=2000 eval_samples=0 progress=0

# ---- an answer budget shorter than the task's longest answers is named ----
# add:digits=6 answers reach 7 digits (999999 + 999999 = 1999998): a budget of 4 cuts them.
AB="ckpt=$T/base.ckpt task=add:digits=6 think_budget=4-6 eval_n=10 n=2 samples=1 threads=1 progress=0"
"$S" eval $AB answer_budget=4 >/dev/null 2>"$T/ab4.err"
check "eval: answer_budget=4 under 7-digit answers gives a note naming both" \
  grep -q "note: answer_budget=4 is shorter than this task's longest answers (7 tokens)" "$T/ab4.err"
"$S" eval $AB answer_budget=7 >/dev/null 2>"$T/ab7.err"
check "eval: answer_budget=7 gives none" [ ! -s "$T/ab7.err" ]
