#!/usr/bin/env bash
# PipelineRL-k: the bound k on recorded versions in both schedules, k=0 equal to sync, completions
# spanning versions, determinism of the deterministic schedule, and the threaded schedule's
# metrics. Uses a tiny base model so the whole file runs in seconds.
set -u
cd "$(dirname "$0")/.."
BIN=${SCALERL_BIN:-./scalerl}
# make sanitize sets 1: uninstrumented libgomp barriers would look like races to ThreadSanitizer,
# and with one thread per OpenMP team only the pipeline's own threads remain.
THREADS=${SCALERL_TEST_THREADS:-2}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }
check() { if eval "$2"; then pass "$1"; else fail "$1" "$3"; fi; }

"$BIN" pretrain out="$T/base.ckpt" tokens=60000 eval_samples=0 progress=0 threads=$THREADS >/dev/null 2>&1 ||
    { fail pipeline_base "pretrain failed"; exit 1; }
COMMON="base=$T/base.ckpt steps=12 prompts_per_step=4 gens_per_prompt=4 eval_every=6 eval_n=50 eval_samples=1 progress=0 threads=$THREADS"
strip() { sed -E 's/"[A-Za-z0-9_]*_s":[^,}]*,?//g; s/,}/}/g' "$1"; }
# Largest stale_max over the step rows.
max_stale() { grep -o '"stale_max":[0-9]*' "$1" | cut -d: -f2 | sort -n | tail -1; }

"$BIN" train $COMMON out="$T/sync" offpolicy=sync >/dev/null 2>&1
"$BIN" train $COMMON out="$T/p0" offpolicy=pipeline k=0 >/dev/null 2>&1
check pipeline_k0_equals_sync 'cmp -s <(strip "$T/sync/metrics.jsonl") <(strip "$T/p0/metrics.jsonl")' \
    "metrics of offpolicy=pipeline k=0 differ from offpolicy=sync"
check sync_never_stale '[ "$(max_stale "$T/sync/metrics.jsonl")" = 0 ]' "sync stale_max $(max_stale "$T/sync/metrics.jsonl")"

for k in 1 3; do
    "$BIN" train $COMMON out="$T/det$k" offpolicy=pipeline k=$k overlap=8 >/dev/null 2>&1
    m=$(max_stale "$T/det$k/metrics.jsonl")
    check "deterministic_k${k}_bound" '[ -n "$m" ] && [ "$m" -le $k ]' "stale_max $m > k=$k"
    "$BIN" train $COMMON out="$T/thr$k" offpolicy=pipeline k=$k schedule=threads >/dev/null 2>&1
    m=$(max_stale "$T/thr$k/metrics.jsonl")
    check "threads_k${k}_bound" '[ -n "$m" ] && [ "$m" -le $k ]' "stale_max '$m' > k=$k (or the run failed)"
done
# With k>0 and overlap, the generator continues sequences across a weight update.
check deterministic_spans_versions 'grep -Eq "\"multi_version_frac\":(1|0\.[0-9]*[1-9])" "$T/det3/metrics.jsonl"' \
    "no completion spans two versions with k=3"
check deterministic_reaches_k 'grep -q "\"stale_max\":[1-9]" "$T/det3/metrics.jsonl"' "staleness never above 0 with k=3"
"$BIN" train $COMMON out="$T/det3b" offpolicy=pipeline k=3 overlap=8 >/dev/null 2>&1
check deterministic_repeatable 'cmp -s <(strip "$T/det3/metrics.jsonl") <(strip "$T/det3b/metrics.jsonl")' \
    "two deterministic pipeline runs differ"
check threads_run_completes 'grep -q "\"kind\":\"run\"" "$T/thr3/metrics.jsonl"' "no run row"
check threads_reports_utilization 'grep -q "\"gen_util\":" "$T/thr3/metrics.jsonl" && grep -q "\"trainer_idle_s\":" "$T/thr3/metrics.jsonl"' \
    "gen_util / trainer_idle_s missing from threaded step rows"
check threads_rows_complete '[ "$(grep -c "\"kind\":\"step\"" "$T/thr3/metrics.jsonl")" = 12 ]' "expected 12 step rows"
out=$("$BIN" train $COMMON out="$T/bad" offpolicy=ppo schedule=threads 2>&1); rc=$?
check threads_needs_pipeline '[ $rc = 1 ] && [ "$(printf "%s\n" "$out" | wc -l)" = 1 ] && printf "%s" "$out" | grep -q "schedule=threads needs offpolicy=pipeline"' \
    "expected a one-line refusal, got rc=$rc: $out"
