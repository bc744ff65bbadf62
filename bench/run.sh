#!/usr/bin/env bash
# `make bench`: throughput of the transformer core (bench/bench_model.c), one RL step of the
# reference workload by phase (bench/bench_rl_step.c), RL steps/s by schedule, then, when Debian's
# python3-torch is installed, the same training step in PyTorch and the ratio C / PyTorch.
# SECONDS_PER_MEASUREMENT (default 1.5) trades run time for stability; the whole run takes about
# a minute and a half on 2 cores.
set -u
cd "$(dirname "$0")/.."
secs=${SECONDS_PER_MEASUREMENT:-1.5}
DEFAULT_STEPS=${RL_BENCH_STEPS:-60}
out=$(mktemp) || exit 2
trap 'rm -f "$out"' EXIT
echo "== bench_model (C): tokens/s, GFLOP/s (model_flops_token; training = 3 x forward), % of sgemm peak"
build/bench/bench_model "$secs" | tee "$out" | grep -v '^RESULT' || exit 1

rl=$(mktemp -d) || exit 2
trap 'rm -f "$out"; rm -rf "$rl"' EXIT

echo
echo "== One RL step of the reference workload by phase (bench_rl_step: 48 x 16 completions of"
echo "   task=sum:terms=3:digits=2 from a base pretrained on 80000 tokens; fastest of repeated runs)"
./scalerl pretrain task=sum:terms=3:digits=2 out="$rl/sum.ckpt" tokens=80000 eval_samples=0 progress=0 >/dev/null ||
  { echo "bench: pretrain (sum) failed"; exit 1; }
build/bench/bench_rl_step "$secs" "$rl/sum.ckpt" 1 2 | grep -v '^RESULT' || exit 1

echo
# The workload is spelled out rather than left to the defaults, so that the figures stay comparable
# when the default run is recalibrated: 2-3-digit addition, 48 prompts x 16, constant lr.
sched_keys="task=add:digits=2-3 prompts_per_step=48 gens_per_prompt=16 lr_shape=constant"
echo "== RL steps/s by schedule (scalerl train, $DEFAULT_STEPS steps of 48 prompts x 16 completions on add:digits=2-3, threads=2)"
./scalerl pretrain task=add:digits=2-3 out="$rl/base.ckpt" tokens=60000 eval_samples=0 progress=0 >/dev/null ||
  { echo "bench: pretrain failed"; exit 1; }
printf "%-28s %10s %12s\n" "schedule" "steps/s" "vs sync"
sync_rate=
for sched in "sync:offpolicy=sync" "ppo-8:offpolicy=ppo k=8" "pipeline-8 deterministic:offpolicy=pipeline k=8" \
             "pipeline-8 threads:offpolicy=pipeline k=8 schedule=threads"; do
  name=${sched%%:*}; keys=${sched#*:}
  ./scalerl train base="$rl/base.ckpt" out="$rl/run" steps=$DEFAULT_STEPS eval_every=100000 eval_n=50 eval_samples=1 \
      threads=2 progress=0 $sched_keys $keys >/dev/null || { echo "bench: train ($name) failed"; exit 1; }
  # Steps per second over the second half of the run: no eval falls there, and a pipeline's head
  # start (batches generated before its first step) is spent by then.
  half=$((DEFAULT_STEPS / 2))
  rate=$(grep '"kind":"step"' "$rl/run/metrics.jsonl" | sed -n "${half}p;\$p" | sed -E 's/.*"wall_s":([0-9.e+-]+).*/\1/' |
         awk -v n=$((DEFAULT_STEPS - half)) 'NR==1{a=$1} NR==2{printf "%.2f", n/($1-a)}')
  [ -n "$sync_rate" ] || sync_rate=$rate
  printf "%-28s %10s %12.2f\n" "$name" "$rate" "$(awk -v a="$rate" -v b="$sync_rate" 'BEGIN{print a/b}')"
done

py=${PYTHON:-/usr/bin/python3}
if ! "$py" -c 'import torch' 2>/dev/null; then
  echo "== PyTorch: not available ($py cannot import torch); skipped"
  exit 0
fi
echo
echo "== PyTorch $("$py" -c 'import torch; print(torch.__version__)') training step (forward, backward, clip, AdamW), same shapes"
vocab=$(sed -n 's/^RESULT kind=config vocab=\([0-9]*\).*/\1/p' "$out")
# One process per thread count: OpenBLAS sizes its pool when it loads (see torch_bench.py).
for th in 1 2; do
  OPENBLAS_NUM_THREADS=$th OMP_NUM_THREADS=$th "$py" bench/torch_bench.py "$secs" "${vocab:-22}" "$th" >>"$out" \
    || { echo "bench: torch_bench.py failed"; exit 1; }
done
awk '
  /^RESULT/ {
    delete f
    for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
    key = f["d"] " " f["L"] " " f["threads"]
    if (f["kind"] == "train") c[key] = f["tokens_per_s"]
    if (f["kind"] == "torch_train") { t[key] = f["tokens_per_s"]; order[++n] = key }
  }
  END {
    printf "%-14s %7s %12s %12s %8s\n", "train shape", "threads", "C tok/s", "torch tok/s", "C/torch"
    for (i = 1; i <= n; i++) {
      k = order[i]; split(k, p, " ")
      printf "d%-3s L%-8s %7s %12.0f %12.0f %8.2f\n", p[1], p[2], p[3], c[k], t[k], (t[k] > 0 ? c[k] / t[k] : 0)
    }
  }' "$out"
