#!/usr/bin/env bash
# A run directory has one owner, and a full disk never leaves a half-written file (issue 16,
# points 3 and 4):
#   - two trains on one directory: the second is refused (exit 1) naming the holder's pid, and
#     the first finishes with a directory that is all its own;
#   - a different config into a finished run is refused unless overwrite=1; the same config is
#     left alone with a message; a sweep waits for a train started by hand in its run directory;
#   - leftover *.tmp.* files of dead writers are removed at start, a live writer's are kept;
#   - a full disk (a small tmpfs when this user may mount one in a user namespace, and a file-size
#     limit always): exit 2 naming the file and the OS error, metrics.jsonl only whole lines, no
#     temporary file left, and the checkpoint that was there intact.
. "$(dirname "$0")/lib.sh"

pretrain_base "$T/base.ckpt" $SMALL_BASE eval_n=400 eval_samples=0
K="base=$T/base.ckpt task=add:digits=1-2 eval_n=40 eval_samples=2 think_budget=12-16 answer_budget=4 prompts_per_step=8 gens_per_prompt=4 eval_every=5 threads=1 progress=0"

# whole_lines FILE: every line is one JSON object and the file ends with a newline.
whole_lines() {
  [ -s "$1" ] && [ "$(tail -c 1 "$1" | od -An -c | tr -d ' ')" = '\n' ] && ! grep -qv '^{.*}$' "$1"
}
# sums DIR: the checksums of the run's files, to show they were not touched.
sums() { (cd "$1" && cksum config.txt metrics.jsonl final.ckpt 2>&1); }
# wait_lock DIR PID: until PID holds DIR's run lock (its pid is in the file and the file is locked).
wait_lock() {
  for _ in $(seq 1000); do
    grep -q "^$2 " "$1/.run.lock" 2>/dev/null && ! flock -n "$1/.run.lock" true 2>/dev/null && return 0
    sleep 0.01
  done
  return 1
}

# ---- two trains on one directory ----
"$S" train $K out="$T/d" seed=5 steps=300 >"$T/a.out" 2>"$T/a.err" &
A=$!
BG+=("$A")
wait_lock "$T/d" "$A" || fail "two trains: setup" "the first train never held $T/d/.run.lock"
# Paused while the second tries: 300 steps take about a second, long enough for a poll that a busy
# machine delays to see the lock; a first train that finished before the second started would make
# this a test of a finished run instead.
kill -STOP "$A"
expect_error "two trains on one directory: the second is refused, naming the holder's pid" 1 \
  "'$T/d' is in use by another run: pid $A" -- train $K out="$T/d" seed=6 steps=60
kill -CONT "$A"
wait "$A"
rc=$?
check "two trains: the first one finishes (exit $rc)" [ "$rc" -eq 0 ]
check "two trains: the directory is the first run's alone: its seed, 300 step rows, a run row, whole lines" \
  bash -c "grep -qx seed=5 '$T/d/config.txt' && [ \$(grep -c '\"kind\":\"step\"' '$T/d/metrics.jsonl') -eq 300 ] &&
           tail -n 1 '$T/d/metrics.jsonl' | grep -q '\"kind\":\"run\"' && [ -s '$T/d/final.ckpt' ]"
check "two trains: metrics.jsonl holds whole lines only" whole_lines "$T/d/metrics.jsonl"

# ---- a finished run: another config refused, the same left alone, overwrite=1 replaces ----
before=$(sums "$T/d")
expect_error "a different config into a finished run is refused, naming the difference and overwrite=1" 1 \
  "config.txt has 'seed=5', this run has 'seed=6'" "overwrite=1" -- train $K out="$T/d" seed=6 steps=60
"$S" train $K out="$T/d" seed=5 steps=300 threads=2 >"$T/same.out" 2>"$T/same.err"
rc=$?
check "the same config (any threads=) into its finished run: exit 0 with one line saying so" \
  bash -c "[ $rc -eq 0 ] && [ \$(wc -l <'$T/same.err') -eq 1 ] && grep -q 'is a finished run of this config' '$T/same.err'"
check "neither touched the finished run's files" [ "$before" = "$(sums "$T/d")" ]
"$S" train $K out="$T/d" seed=6 steps=20 overwrite=1 >/dev/null 2>"$T/ow.err"
rc=$?
check "overwrite=1 replaces a run of another config" \
  bash -c "[ $rc -eq 0 ] && grep -qx seed=6 '$T/d/config.txt' && [ \$(grep -c '\"kind\":\"step\"' '$T/d/metrics.jsonl') -eq 20 ]"
before=$(sums "$T/d")
"$S" train $K out="$T/d" seed=6 steps=20 overwrite=1 skip_done=1 >/dev/null 2>"$T/os.err"
rc=$?
check "overwrite=1 skip_done=1 (a cluster job) leaves a finished run of its config alone" \
  bash -c "[ $rc -eq 0 ] && grep -q 'is a finished run of this config' '$T/os.err' && [ '$before' = \"\$(cd '$T/d' && cksum config.txt metrics.jsonl final.ckpt 2>&1)\" ]"
"$S" train $K out="$T/d" seed=7 steps=20 overwrite=1 skip_done=1 >/dev/null 2>&1
rc=$?
check "overwrite=1 skip_done=1 replaces a run of another config" bash -c "[ $rc -eq 0 ] && grep -qx seed=7 '$T/d/config.txt'"
expect_error "base= inside out= is refused (the run replaces what it finds there)" 1 "is inside out=" -- \
  train $K base="$T/d/final.ckpt" out="$T/d" overwrite=1 steps=3

# ---- leftover temporary files ----
true &
dead=$!
wait "$dead"
mkdir -p "$T/tmpf"
touch "$T/tmpf/final.ckpt.tmp.$dead.$dead" "$T/tmpf/config.txt.tmp.$dead" "$T/tmpf/curve.svg.tmp.$$" "$T/tmpf/notes.tmp.txt"
"$S" train $K out="$T/tmpf" steps=3 >/dev/null 2>"$T/tmpf.err"
rc=$?
check "dead writers' *.tmp.* files are removed at start, with a note" \
  bash -c "[ $rc -eq 0 ] && [ ! -e '$T/tmpf/final.ckpt.tmp.$dead.$dead' ] && [ ! -e '$T/tmpf/config.txt.tmp.$dead' ] &&
           grep -q 'removed 2 temporary files' '$T/tmpf.err'"
check "a live writer's temporary file and other names are kept" [ -e "$T/tmpf/curve.svg.tmp.$$" -a -e "$T/tmpf/notes.tmp.txt" ]

# ---- a sweep waits for a train started by hand in one of its run directories ----
"$S" train $K out="$T/sw/scalerl-s1" recipe=scalerl seed=1 steps=300 >/dev/null 2>&1 &
H=$!
BG+=("$H")
wait_lock "$T/sw/scalerl-s1" "$H" || fail "sweep and train: setup" "the train never held its lock"
# The train is paused until the sweep has seen it busy. 300 steps take about a second; 30 steps,
# a tenth, once finished before a busy machine let wait_lock's poll see the lock (CI, 2026-12-05).
kill -STOP "$H"
"$S" sweep recipes=scalerl seeds=1 out="$T/sw" $K steps=300 2>"$T/sw.log" &
SW=$!
BG+=("$SW")
for _ in $(seq 1000); do
  grep -q 'busy   scalerl-s1' "$T/sw.log" 2>/dev/null && break
  sleep 0.01
done
kill -CONT "$H"
wait "$SW"
rc=$?
check "sweep: a run directory whose train was started by hand is busy, then found finished" \
  bash -c "[ $rc -eq 0 ] && grep -q 'busy   scalerl-s1: locked by' '$T/sw.log' && grep -q 'found  scalerl-s1' '$T/sw.log' &&
           ! grep -q 'start  scalerl-s1' '$T/sw.log'"

# ---- full disk: a file-size limit (EFBIG, as ENOSPC would be) ----
# ulimit -f counts 1024-byte blocks: 8 KB holds config.txt and about ten metrics rows.
bash -c "ulimit -f 8 && exec \"\$0\" \"\$@\"" "$S" train $K out="$T/f" steps=40 >"$T/f.out" 2>"$T/f.err"
rc=$?
check "file-size limit while writing metrics.jsonl: exit 2, one line naming the file and the OS error" \
  bash -c "[ $rc -eq 2 ] && [ \$(wc -l <'$T/f.err') -eq 1 ] && grep -q \"cannot write '$T/f/metrics.jsonl': File too large\" '$T/f.err'"
check "file-size limit: metrics.jsonl keeps whole lines only" whole_lines "$T/f/metrics.jsonl"
check "file-size limit: no final.ckpt, no temporary file" bash -c "[ ! -e '$T/f/final.ckpt' ] && ! ls '$T/f' | grep -q '\.tmp\.'"
# 200 KB: the metrics fit, the checkpoint (about 300 KB with its Adam moments) does not.
bash -c "ulimit -f 200 && exec \"\$0\" \"\$@\"" "$S" train $K out="$T/g" steps=40 >"$T/g.out" 2>"$T/g.err"
rc=$?
check "file-size limit while writing final.ckpt: exit 2 naming it and the OS error; whole lines; no temporary file" \
  bash -c "[ $rc -eq 2 ] && grep -q \"cannot write '$T/g/final.ckpt.tmp.[0-9.]*': File too large\" '$T/g.err' &&
           tail -n 1 '$T/g/metrics.jsonl' | grep -q '\"kind\":\"run\"' && ! ls '$T/g' | grep -q '\.tmp\.'"
"$S" plot "$T/d" out="$T/curve.svg" preview=0 2>/dev/null
cp "$T/curve.svg" "$T/curve.before"
bash -c "ulimit -f 1 && exec \"\$0\" \"\$@\"" "$S" plot "$T/d" out="$T/curve.svg" preview=0 \
  >/dev/null 2>"$T/plot.err"
rc=$?
check "file-size limit while writing an SVG: exit 2 naming it, the older SVG intact, no temporary file" \
  bash -c "[ $rc -eq 2 ] && grep -q \"cannot write '$T/curve.svg.tmp.[0-9]*': File too large\" '$T/plot.err' &&
           cmp -s '$T/curve.svg' '$T/curve.before' && ! ls '$T' | grep -q 'curve.svg.tmp'"
"$S" fit "$T/d" save=0 >/dev/full 2>"$T/full.err"
rc=$?
check "a full stdout (/dev/full): exit 2 naming it and the OS error" \
  bash -c "[ $rc -eq 2 ] && grep -q 'cannot write to stdout: No space left on device' '$T/full.err'"

# ---- full disk: a small tmpfs, mounted in a private user and mount namespace ----
mkdir -p "$T/tm"
if unshare -Urm true 2>/dev/null; then
  cat >"$T/tmpfs.sh" <<EOF
set -u
mount -t tmpfs -o size=\$1 tmpfs '$T/tm' || exit 99
[ "\$2" = keep ] && cp '$T/base.ckpt' '$T/tm/kept.ckpt'
shift 2
"\$@"
echo \$? >'$T/tm.rc'
ls -A '$T/tm' '$T/tm/r' >'$T/tm.ls' 2>&1
cp '$T/tm/r/metrics.jsonl' '$T/tm.metrics' 2>/dev/null
cmp -s '$T/base.ckpt' '$T/tm/kept.ckpt' && echo intact >'$T/tm.kept'
EOF
  # 64 KB: config.txt and the first rows of metrics.jsonl, then ENOSPC.
  unshare -Urm bash "$T/tmpfs.sh" 64k - "$S" train $K out="$T/tm/r" steps=200 2>"$T/tm.err"
  check "tmpfs full while writing metrics.jsonl: exit 2, one line naming the file and ENOSPC" \
    bash -c "[ \"\$(cat '$T/tm.rc')\" = 2 ] && [ \$(wc -l <'$T/tm.err') -eq 1 ] &&
             grep -q \"cannot write '$T/tm/r/metrics.jsonl': No space left on device\" '$T/tm.err'"
  check "tmpfs full: metrics.jsonl whole lines, no temporary file" \
    bash -c "whole_lines() { [ -s \"\$1\" ] && [ \"\$(tail -c 1 \"\$1\" | od -An -c | tr -d ' ')\" = '\n' ] && ! grep -qv '^{.*}\$' \"\$1\"; }
             whole_lines '$T/tm.metrics' && ! grep -q '\.tmp\.' '$T/tm.ls'"
  # 200 KB: the metrics fit, the final checkpoint (about 300 KB) does not.
  rm -f "$T/tm.rc" "$T/tm.metrics"
  unshare -Urm bash "$T/tmpfs.sh" 200k - "$S" train $K out="$T/tm/r" steps=40 2>"$T/tm.err"
  check "tmpfs full while writing final.ckpt: exit 2 naming it and ENOSPC; the run row written; no temporary file" \
    bash -c "[ \"\$(cat '$T/tm.rc')\" = 2 ] && grep -q \"cannot write '$T/tm/r/final.ckpt.tmp.[0-9.]*': No space left on device\" '$T/tm.err' &&
             tail -n 1 '$T/tm.metrics' | grep -q '\"kind\":\"run\"' && ! grep -q '\.tmp\.' '$T/tm.ls'"
  # A checkpoint saved over an older one (a copy of the base model, 105 KB) on a disk too small
  # for both: the save fails and the older one stays (written to a temporary name, renamed).
  rm -f "$T/tm.rc" "$T/tm.kept"
  unshare -Urm bash "$T/tmpfs.sh" 150k keep "$S" pretrain out="$T/tm/kept.ckpt" $SMALL_BASE tokens=2000 eval_samples=0 2>"$T/tm.err"
  check "tmpfs full while a checkpoint replaces an older one: exit 2 naming it; the older checkpoint intact" \
    bash -c "[ \"\$(cat '$T/tm.rc')\" = 2 ] && grep -q \"kept.ckpt.tmp.[0-9.]*': No space left on device\" '$T/tm.err' &&
             [ -e '$T/tm.kept' ] && ! grep -q '\.tmp\.' '$T/tm.ls'"
else
  echo "NOTE rundir: this user cannot mount a tmpfs in a user namespace (unshare -Urm); the full-disk cases ran under a file-size limit only"
fi
