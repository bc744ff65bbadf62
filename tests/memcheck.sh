#!/usr/bin/env bash
# `make memcheck`: every scalerl command on small inputs under valgrind's memcheck, which sees what
# the sanitizers of `make sanitize` do not: reads of memory never written (ASan checks bounds and
# lifetimes, not initialization). Any memcheck report makes its command exit 9, which fails that
# command's check. By hand, not in CI: about nine minutes (8 min 52 s with .ci/run beside it).
# SCALERL_BIN names the build to check (the Makefile's, without
# -march=native: valgrind 3.19 decodes no AVX-512; under valgrind OpenBLAS sees no AVX-512 either,
# valgrind's CPUID hides it, and picks kernels valgrind can run).
# Named memcheck.sh, not test_*.sh, so that `make test` does not run it.
. "$(dirname "$0")/lib.sh"

VG=(valgrind --error-exitcode=9 --track-origins=yes -q)
# vg NAME ARGS...: `scalerl ARGS` under memcheck; PASS when it exits 0 with no report.
vg() {
  local name=$1; shift
  "${VG[@]}" "$S" "$@" >"$T/$name.out" 2>"$T/$name.err"
  local rc=$?
  if [ $rc -eq 0 ]; then pass "memcheck: $name"; else fail "memcheck: $name" "exit $rc: $(head -c 300 "$T/$name.err")"; fi
}

# A base small enough for valgrind: SMALL_BASE's model on a quarter of its tokens.
"$S" pretrain out="$T/base.ckpt" task=add:digits=1-2 d_model=32 ctx=32 batch=32 tokens=40000 threads=1 \
  eval_samples=0 >"$T/pre" 2>&1 || { fail "memcheck setup" "pretrain failed: $(tail -n 2 "$T/pre")"; exit 1; }
K="base=$T/base.ckpt task=add:digits=1-2 think_budget=4-6 answer_budget=4 prompts_per_step=8 gens_per_prompt=4 eval_n=16"

vg pretrain pretrain out="$T/pre2.ckpt" task=add:digits=1-2 d_model=32 ctx=32 batch=32 tokens=8000 threads=1 eval_samples=0
vg train train $K out="$T/run" steps=6 eval_every=3 threads=1
# The generator thread beside the trainer (PipelineRL, ref/rl/schedule_threads.c), both at 2 threads.
vg train-threads train $K out="$T/thr" steps=6 eval_every=3 threads=2 schedule=threads k=2
vg train-dapo train $K out="$T/dapo" steps=4 eval_every=2 threads=1 recipe=loo-dapo
# Resumed from a checkpoint: a native run let on in bursts of 5 ms (SIGCONT, then SIGSTOP) until
# its first checkpoint is written, then stopped by SIGTERM (it finishes the step, checkpoints and
# exits): so it stops long before its 30th step however loaded the machine. Generation simulated
# ten times faster than by default, so that the generator is idle at step boundaries and
# checkpoints are written (ref/rl/resume.h; at the default rate this small base's run wrote none
# in its first steps).
R="$K steps=30 eval_every=10 ckpt_every=2 sim_gen_gflops=4000 threads=1"
"$S" train $R out="$T/res" >/dev/null 2>&1 &
pid=$!
BG+=("$pid")
kill -STOP "$pid"
for _ in $(seq 2000); do
  [ -n "$(ls "$T/res/ckpt" 2>/dev/null)" ] && break
  kill -CONT "$pid"; sleep 0.005; kill -STOP "$pid"
done
kill -TERM "$pid"; kill -CONT "$pid"
wait "$pid"
check "memcheck: the run to resume stopped before its end" bash -c "[ ! -e '$T/res/final.ckpt' ] && [ -n \"\$(ls '$T/res/ckpt')\" ]"
vg resume train $R out="$T/res"
check "memcheck: the resumed run finished, 30 step rows" \
  bash -c "[ -e '$T/res/final.ckpt' ] && [ \$(grep -c '\"kind\":\"step\"' '$T/res/metrics.jsonl') -eq 30 ]"
vg eval eval ckpt="$T/run/final.ckpt" task=add:digits=1-2 n=16 threads=1
vg sample sample ckpt="$T/run/final.ckpt" task=add:digits=1-2 n=3
vg synth synth out="$T/syn"
vg fit fit "$T/syn"
vg plot plot "$T/syn" out="$T/p.svg"
vg report report "$T/run" out="$T/rep.html"
vg init init out="$T/i.ckpt"
vg dump dump ckpt="$T/i.ckpt" out="$T/dump"
vg logits logits ckpt="$T/i.ckpt" text=1+2=
vg get get "$T/syn/fit.json" '{A:.4f} {B}'
vg sweep sweep $K out="$T/sw" recipes=scalerl,loo-savg seeds=1 jobs=1 steps=2 eval_every=2 threads=1
# compare and fitbench on committed runs: two recipes of the loo study, two curves of the bank.
mkdir -p "$T/cmp" "$T/bank"
cp -r bench/findings/loo/scalerl-s1 bench/findings/loo/loo-dapo-s1 "$T/cmp/"
vg compare compare "$T/cmp"
cp -r bench/curves/add24 bench/curves/early "$T/bank/"
vg fitbench fitbench bank="$T/bank" boot=20 fitter=loglogistic fitter="cat >/dev/null; echo 0.5" out="$T/fb.json"
# A refusal (a bad key) takes the error path.
"${VG[@]}" "$S" train $K out="$T/bad" nonsense=1 >/dev/null 2>"$T/bad.err"
rc=$?
check "memcheck: a refused key exits 1, no report" bash -c "[ $rc -eq 1 ] && ! grep -q '^==' '$T/bad.err'"
