#!/usr/bin/env bash
# Checkpoints and exact resume (ref/rl/resume.h), and signals (ref/cli/cmd_train.c): a run
# interrupted by SIGINT, SIGTERM or SIGHUP, or killed with -9 at five moments in a row, then
# rerun with the same command, ends with metrics.jsonl (timing fields aside) and final.ckpt
# byte-identical to an uninterrupted run's; PPO-off-policy with dynamic sampling too; a second
# SIGINT stops at once and still resumes; `keep` bounds the checkpoints; a corrupt newest
# checkpoint (.state or .ckpt) falls back to the one before; a resume refuses, leaving the run as
# it is, a metrics.jsonl damaged before the checkpoint's step and checkpoints none of which is
# valid; the threaded schedule checkpoints and resumes; a sweep resumes an unfinished run instead
# of restarting it; with a generator busy at every step boundary a signal stops the run at once,
# without a checkpoint, and the rerun starts over to the same end.
. "$(dirname "$0")/lib.sh"

pretrain_base "$T/base.ckpt" $SMALL_BASE eval_samples=0
K="base=$T/base.ckpt task=add:digits=1-2 eval_n=40 eval_samples=2 think_budget=12-16 answer_budget=4 steps=40
   prompts_per_step=32 gens_per_prompt=8 eval_every=10 warmup=5 lr=3e-4 ckpt_every=7 threads=1 progress=0"
# shellcheck disable=SC2086
train "$T/u" $K
steps_in() { local n; n=$(grep -c '"kind":"step"' "$1/metrics.jsonl" 2>/dev/null) || true; echo "${n:-0}"; }
# Starts `scalerl train KEYS out=DIR` in the background and waits until it has written at least
# N step rows (or ended); the pid is in $RUN_PID.
start_until() {
    local dir=$1 n=$2; shift 2
    "$S" train "$@" out="$dir" 2>"$dir.err" &
    RUN_PID=$!
    while kill -0 "$RUN_PID" 2>/dev/null && [ "$(steps_in "$dir")" -lt "$n" ]; do sleep 0.01; done
}
same_as_u() {
    cmp -s <(strip_s "$T/u/metrics.jsonl") <(strip_s "$1/metrics.jsonl") && cmp -s "$T/u/final.ckpt" "$1/final.ckpt"
}

# ---- SIGINT, SIGTERM, SIGHUP: finish the step, checkpoint, one line, exit 128 + signal (the
# handling is one code path; the resume after SIGINT stands for all three) ----
for sig in INT:130 TERM:143 HUP:129; do
    name=${sig%%:*} code=${sig#*:}
    # shellcheck disable=SC2086
    start_until "$T/s$name" 15 $K
    kill -"$name" "$RUN_PID"
    wait "$RUN_PID"
    rc=$?
    check "SIG$name: exit $code (got $rc), one line naming the checkpoint and the command to resume" \
        bash -c "[ $rc = $code ] && [ \$(wc -l <'$T/s$name.err') = 1 ] && grep -q 'stopped by SIG$name after step' '$T/s$name.err' && grep -q 'resume with: scalerl train --config $T/s$name/config.txt' '$T/s$name.err'"
    check "SIG$name: a checkpoint of the step it stopped at, and no final.ckpt" \
        bash -c "step=\$(sed -E 's/.*after step ([0-9]+).*/\\1/' '$T/s$name.err'); [ -s '$T/s$name/ckpt/step-'\$(printf %08d \$step)'.state' ] && [ ! -e '$T/s$name/final.ckpt' ]"
done
# shellcheck disable=SC2086
"$S" train $K out="$T/sINT" 2>"$T/sINT.err2"
check "SIGINT then the same command: resumes and ends byte-identical to the uninterrupted run" same_as_u "$T/sINT"
check "resume says where it resumed" grep -q "scalerl train: resuming $T/sINT at step" "$T/sINT.err2"

# ---- kill -9 at five moments in a row, resuming each time ----
landed=0
for at in 4 11 18 25 32; do
    # shellcheck disable=SC2086
    start_until "$T/k9" "$at" $K
    kill -9 "$RUN_PID" 2>/dev/null && landed=$((landed + 1))
    wait "$RUN_PID" 2>/dev/null
done
# shellcheck disable=SC2086
"$S" train $K out="$T/k9" 2>/dev/null
check "kill -9 five times ($landed landed mid-run), resumed each time: byte-identical to uninterrupted" \
    bash -c "[ $landed -ge 3 ] && cmp -s <(bash -c '. tests/lib.sh >/dev/null; strip_s $T/u/metrics.jsonl') <(bash -c '. tests/lib.sh >/dev/null; strip_s $T/k9/metrics.jsonl') && cmp -s '$T/u/final.ckpt' '$T/k9/final.ckpt'"
check "kill -9 leaves no temporary file behind once the run is over" \
    bash -c "! find '$T/k9' -name '*.tmp.*' | grep -q ."
check "keep=2 (default): two resume checkpoints at most" \
    bash -c "[ \$(ls '$T/k9/ckpt' | grep -c '\\.state\$') -le 2 ]"

# ---- PPO-off-policy-4 with dynamic sampling: the ring and the refills resume exactly ----
P="$K offpolicy=ppo k=4 dynamic_sampling=1 ckpt_every=8"
# shellcheck disable=SC2086
train "$T/pu" $P
# shellcheck disable=SC2086
start_until "$T/pr" 20 $P
kill -INT "$RUN_PID"; wait "$RUN_PID"
# shellcheck disable=SC2086
"$S" train $P out="$T/pr" 2>/dev/null
check "ppo + dynamic sampling: SIGINT then resume is byte-identical" \
    bash -c "cmp -s <(grep -v wall_s '$T/pu/metrics.jsonl' | sed -E 's/\"(wall_s|cpu_s)\":[^,}]*,?//g') <(grep -v wall_s '$T/pr/metrics.jsonl' | sed -E 's/\"(wall_s|cpu_s)\":[^,}]*,?//g'); cmp -s '$T/pu/final.ckpt' '$T/pr/final.ckpt'"

# ---- a second SIGINT stops at once ----
# shellcheck disable=SC2086
start_until "$T/twice" 12 $K
kill -INT "$RUN_PID"; kill -INT "$RUN_PID"
wait "$RUN_PID"
rc=$?
# shellcheck disable=SC2086
"$S" train $K out="$T/twice" 2>/dev/null
check "two SIGINTs: exit 130 at once (got $rc), and the run still resumes to the same end" \
    bash -c "[ $rc = 130 ] && cmp -s '$T/u/final.ckpt' '$T/twice/final.ckpt'"

# ---- a corrupt newest checkpoint: the one before it is used ----
# shellcheck disable=SC2086
start_until "$T/bad" 30 $K
kill -9 "$RUN_PID"; wait "$RUN_PID" 2>/dev/null
newest=$(ls "$T/bad/ckpt" | grep '\.state$' | sort | tail -n 1)
printf 'garbage' | dd of="$T/bad/ckpt/$newest" bs=1 seek=40 conv=notrunc 2>/dev/null
# shellcheck disable=SC2086
"$S" train $K out="$T/bad" progress=1 2>"$T/bad.err"
check "a corrupt newest checkpoint: resumed from the one before, same end" \
    bash -c "grep -q 'resuming' '$T/bad.err' && ! grep -q \"at step \$(echo $newest | sed -E 's/step-0*([0-9]+).*/\\1/')\\\$\" '$T/bad.err' && cmp -s '$T/u/final.ckpt' '$T/bad/final.ckpt'"

# ---- a corrupt newest .ckpt: the same fallback, with a note ----
# SIGTERM, not kill -9: a kill between a checkpoint's .ckpt and its .state would leave the newest
# .ckpt without its .state, and the note would then name that step's missing .state instead.
# shellcheck disable=SC2086
start_until "$T/badc" 30 $K
kill -TERM "$RUN_PID"; wait "$RUN_PID" 2>/dev/null
newest=$(ls "$T/badc/ckpt" | grep '\.ckpt$' | sort | tail -n 1)
head -c 100 "$T/badc/ckpt/$newest" >"$T/cut" && mv "$T/cut" "$T/badc/ckpt/$newest"
# shellcheck disable=SC2086
"$S" train $K out="$T/badc" 2>"$T/badc.err"
check "a truncated newest .ckpt: a note naming it, resumed from the one before, same end" \
    bash -c "grep -q 'note: the newest checkpoint .*is not valid.*$newest' '$T/badc.err' &&
             cmp -s '$T/u/final.ckpt' '$T/badc/final.ckpt'"

# ---- what a resume refuses, leaving the run as it is: metrics.jsonl damaged before the
# checkpoint's step, or checkpoints none of which is valid ----
# shellcheck disable=SC2086
start_until "$T/stop" 30 $K
kill -INT "$RUN_PID"; wait "$RUN_PID"
# A copy of the stopped run in DIR.
stopped_copy() { rm -rf "$1" && cp -r "$T/stop" "$1"; }
stopped_copy "$T/dmg"
sed -i '5s/.*/this line is damaged/' "$T/dmg/metrics.jsonl"
cp "$T/dmg/metrics.jsonl" "$T/dmg.before"
# shellcheck disable=SC2086
expect_error "a damaged metrics line before the checkpoint: refused, naming file:line and what was expected" 1 \
    "$T/dmg/metrics.jsonl:5:" "expected a metrics row" "'this line is damaged'" -- train $K out="$T/dmg"
check "the damaged metrics.jsonl is left as it was" cmp "$T/dmg.before" "$T/dmg/metrics.jsonl"
sed -i '5s/.*/{"kind":"step","step":99999}/' "$T/dmg/metrics.jsonl"
# shellcheck disable=SC2086
expect_error "a row of a later step before the checkpoint's rows: refused as out of order" 1 \
    "$T/dmg/metrics.jsonl:6:" "after a row past the checkpoint's step (line 5)" -- train $K out="$T/dmg"
# Repaired, and with what a kill leaves past the checkpoint: a row of a later step, a damaged line, a
# torn last line; all cut.
{ head -n 4 "$T/dmg/metrics.jsonl"; sed -n 5p "$T/stop/metrics.jsonl"; tail -n +6 "$T/dmg/metrics.jsonl"; } >"$T/fixed"
mv "$T/fixed" "$T/dmg/metrics.jsonl"
printf '{"kind":"step","step":99999}\ndamaged past the checkpoint\n{"kind":"step","st' >>"$T/dmg/metrics.jsonl"
# shellcheck disable=SC2086
"$S" train $K out="$T/dmg" 2>"$T/dmg.err"
check "repaired, with rows, damage and a torn line past the checkpoint: resumes, ends byte-identical" same_as_u "$T/dmg"

stopped_copy "$T/allbad"
for f in "$T"/allbad/ckpt/*; do head -c 100 "$f" >"$T/cut" && mv "$T/cut" "$f"; done
# shellcheck disable=SC2086
expect_error "every checkpoint truncated: refused, naming the directory, the count, the newest's fault, the way out" \
    1 \
    "'$T/allbad' holds 2 resume checkpoints" "none is valid" "remove $T/allbad/ckpt" "not a valid resume state" -- \
    train $K out="$T/allbad"
check "and metrics.jsonl is left as it was" cmp "$T/stop/metrics.jsonl" "$T/allbad/metrics.jsonl"
stopped_copy "$T/nostate"
rm "$T"/nostate/ckpt/*.state
# shellcheck disable=SC2086
expect_error "every .state removed: refused the same way" 1 "'$T/nostate' holds 2 resume checkpoints" \
    ".state' is missing" -- train $K out="$T/nostate"
rm -r "$T/allbad/ckpt"
# shellcheck disable=SC2086
"$S" train $K out="$T/allbad" 2>"$T/allbad.err"
check "with DIR/ckpt removed as the refusal says: the run starts over and ends byte-identical" same_as_u "$T/allbad"

# ---- the threaded schedule: checkpoint on SIGINT, resume to the end ----
# shellcheck disable=SC2086
start_until "$T/thr" 15 $K schedule=threads threads=2
kill -INT "$RUN_PID"; wait "$RUN_PID"
rc=$?
# shellcheck disable=SC2086
"$S" train $K schedule=threads threads=2 out="$T/thr" 2>/dev/null
check "schedule=threads: SIGINT checkpoints (exit $rc), the rerun resumes and finishes 40 steps" \
    bash -c "[ $rc = 130 ] && [ -s '$T/thr/final.ckpt' ] && [ \$(grep -c '\"kind\":\"step\"' '$T/thr/metrics.jsonl') = 40 ]"

# ---- a sweep resumes an unfinished run ----
mkdir -p "$T/sw"
# shellcheck disable=SC2086
start_until "$T/sw/scalerl-s1" 20 $K recipe=scalerl seed=1
kill -9 "$RUN_PID"; wait "$RUN_PID" 2>/dev/null
# shellcheck disable=SC2086
"$S" sweep recipes=scalerl seeds=1 out="$T/sw" $K >/dev/null 2>&1
check "sweep: an unfinished run with a checkpoint is resumed, not restarted" \
    bash -c "grep -q 'resuming' '$T/sw/scalerl-s1/train.log' && cmp -s '$T/u/final.ckpt' '$T/sw/scalerl-s1/final.ckpt'"

# ---- a generator busy at every step boundary: a signal stops at once, without a checkpoint ----
# Generation simulated ten times slower than training (sim_gen_gflops=10 against the default
# sim_train_gflops=100): under the deterministic schedule the generator is then still decoding the
# next batch at every boundary, so no checkpoint can be written (ref/rl/resume.h). A signal used
# to wait for an idle boundary, so the run went on to its end.
KB="base=$T/base.ckpt task=add:digits=1-2 eval_n=16 think_budget=4-6 answer_budget=4 prompts_per_step=8
    gens_per_prompt=4 eval_every=100 steps=1500 ckpt_every=10 sim_gen_gflops=10 threads=1 progress=0"
# shellcheck disable=SC2086
train "$T/busy_u" $KB
# shellcheck disable=SC2086
start_until "$T/busy" 30 $KB
at=$(steps_in "$T/busy")
kill -INT "$RUN_PID"; wait "$RUN_PID"
rc=$?
last=$(steps_in "$T/busy")
# Within 500 steps, not 1: steps take about a millisecond here, and a busy machine may delay the
# signal after the count; before the fix the run went on to step 1500.
check "busy generator: SIGINT stops within 500 steps of it (exit $rc; $at step rows when sent, $last at the end)" \
    bash -c "[ $rc = 130 ] && [ $last -lt 1500 ] && [ \$(($last - $at)) -le 500 ] && [ ! -e '$T/busy/final.ckpt' ]"
check "busy generator: a note at step 20 that step 10's checkpoint is not written, then the stop's line" \
    bash -c "[ \$(wc -l <'$T/busy.err') = 2 ] &&
             head -n 1 '$T/busy.err' | grep -q 'note: the checkpoint due at step 10 is not written yet at step 20'"
check "busy generator: the stop's line: no checkpoint, the command, and that it goes on from step 0" \
    bash -c "tail -n 1 '$T/busy.err' | grep -q 'without a checkpoint there' &&
             tail -n 1 '$T/busy.err' | grep -q 'scalerl train --config $T/busy/config.txt, which goes on from step 0'"
# shellcheck disable=SC2086
"$S" train $KB out="$T/busy" 2>/dev/null
check "busy generator: the rerun starts over and ends byte-identical to the uninterrupted run" \
    bash -c "cmp -s <(strip_s '$T/busy_u/metrics.jsonl') <(strip_s '$T/busy/metrics.jsonl') &&
             cmp -s '$T/busy_u/final.ckpt' '$T/busy/final.ckpt'"
