#!/usr/bin/env bash
# PipelineRL-k: the bound k on recorded versions in both schedules, k=0 equal to sync, completions
# spanning versions, determinism of the deterministic schedule, and the threaded schedule's
# metrics. Uses a tiny base model so the whole file runs in seconds.
. "$(dirname "$0")/lib.sh"
# make sanitize sets 1: uninstrumented libgomp barriers would look like races to ThreadSanitizer,
# and with one thread per OpenMP team only the pipeline's own threads remain.
THREADS=${SCALERL_TEST_THREADS:-2}

pretrain_base "$T/base.ckpt" task=add:digits=2 tokens=60000 eval_samples=0 progress=0 threads=$THREADS
COMMON="base=$T/base.ckpt task=add:digits=2 think_budget=6-8 lr=3e-4 steps=12 prompts_per_step=4 gens_per_prompt=4 eval_every=6 eval_n=50 eval_samples=1 progress=0 threads=$THREADS"
# Largest stale_max over the step rows.
max_stale() { grep -o '"stale_max":[0-9]*' "$1" | cut -d: -f2 | sort -n | tail -1; }

train "$T/sync" $COMMON offpolicy=sync
train "$T/p0" $COMMON offpolicy=pipeline k=0
cmp -s <(strip_s "$T/sync/metrics.jsonl") <(strip_s "$T/p0/metrics.jsonl") && pass pipeline_k0_equals_sync ||
    fail pipeline_k0_equals_sync "metrics of offpolicy=pipeline k=0 differ from offpolicy=sync"
m=$(max_stale "$T/sync/metrics.jsonl")
[ "$m" = 0 ] && pass sync_never_stale || fail sync_never_stale "sync stale_max $m"

for k in 1 3; do
    train "$T/det$k" $COMMON offpolicy=pipeline k=$k overlap=8
    m=$(max_stale "$T/det$k/metrics.jsonl")
    [ -n "$m" ] && [ "$m" -le $k ] && pass "deterministic_k${k}_bound" || fail "deterministic_k${k}_bound" "stale_max $m > k=$k"
    train "$T/thr$k" $COMMON offpolicy=pipeline k=$k schedule=threads
    m=$(max_stale "$T/thr$k/metrics.jsonl")
    [ -n "$m" ] && [ "$m" -le $k ] && pass "threads_k${k}_bound" || fail "threads_k${k}_bound" "stale_max '$m' > k=$k (or the run failed)"
done
# With k>0 and overlap, the generator continues sequences across a weight update.
check deterministic_spans_versions grep -Eq '"multi_version_frac":(1|0\.[0-9]*[1-9])' "$T/det3/metrics.jsonl"
check deterministic_reaches_k grep -q '"stale_max":[1-9]' "$T/det3/metrics.jsonl"
train "$T/det3b" $COMMON offpolicy=pipeline k=3 overlap=8
cmp -s <(strip_s "$T/det3/metrics.jsonl") <(strip_s "$T/det3b/metrics.jsonl") && pass deterministic_repeatable ||
    fail deterministic_repeatable "two deterministic pipeline runs differ"
check threads_run_completes grep -q '"kind":"run"' "$T/thr3/metrics.jsonl"
check threads_reports_utilization bash -c "grep -q '\"gen_util\":' '$T/thr3/metrics.jsonl' && grep -q '\"trainer_idle_s\":' '$T/thr3/metrics.jsonl'"
n=$(grep -c '"kind":"step"' "$T/thr3/metrics.jsonl")
[ "$n" = 12 ] && pass threads_rows_complete || fail threads_rows_complete "expected 12 step rows, got $n"
expect_error threads_needs_pipeline 1 "schedule=threads needs offpolicy=pipeline" -- \
    train $COMMON out="$T/bad" offpolicy=ppo schedule=threads
