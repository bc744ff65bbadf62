#!/usr/bin/env bash
# The pieces of `make bench` on a small model and a small batch, in seconds: bench_rl_step's dump
# and the PyTorch step's check against it (Debian's python3-torch, installed when missing),
# measure_run's exit status and peak memory, and report.awk's verdicts and JSON on a fixture.
. "$(dirname "$0")/lib.sh"
need_python3
B=${SCALERL_BENCH_DIR:-build/bench}

pretrain_base "$T/base.ckpt" $SMALL_BASE eval_samples=0
# SMALL_BASE's task with budgets that fit its ctx of 32, 8 prompts x 4 completions.
KEYS="task=add:digits=1-2 think_budget=4-6 answer_budget=4 prompts_per_step=8 gens_per_prompt=4"
"$B/bench_rl_step" 0.01 "$T/base.ckpt" 1 dump="$T/rl" $KEYS >"$T/rl.out" 2>&1
check "bench_rl_step runs the step and times it" grep -qE '^RESULT kind=rl_step threads=1 generate_ms=[0-9.]+ train_ms=[0-9.]+' "$T/rl.out"
check "its dump holds the settings, 8 prompts, 32 completions and the step's result" bash -c "
  f='$T/rl/batch.txt'; grep -q '^config P=8 G=4 ' \$f && [ \$(grep -c '^prompt ' \$f) = 8 ] &&
  [ \$(grep -c '^completion ' \$f) = 32 ] && grep -qE '^result loss=[-0-9.e]+ grad_norm=[0-9.e+-]+ ' \$f"
# A bad argument: exit 1 and one line on stderr, naming it.
bad_arg() { "$B/bench_rl_step" 0.01 "$T/base.ckpt" "$1" >/dev/null 2>"$T/e"; [ $? = 1 ] && [ "$(wc -l <"$T/e")" = 1 ] &&
  grep -qF -- "$2" "$T/e"; }
check "bench_rl_step refuses an unknown key" bad_arg nonsense=1 "'nonsense'"
check "bench_rl_step refuses a bad thread count" bad_arg 1x "'1x'"

if need_python "bench: the PyTorch step" torch python3-torch; then
  "$S" dump ckpt="$T/base.ckpt" out="$T/weights" >/dev/null
  OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 "$PY" bench/torch_rl_step.py 0.01 "$T/weights" "$T/rl/batch.txt" 1 \
    >"$T/torch.out" 2>&1
  check "PyTorch's step computes the C step's loss and gradient norm, and its verifier the C rewards" \
    grep -qE '^RESULT kind=torch_rl_check .* reward_mismatches=0 ok=1$' "$T/torch.out"
  check "PyTorch's step is timed" grep -qE '^RESULT kind=torch_rl_step threads=1 generate_ms=[0-9.]+ train_ms=' "$T/torch.out"
  # A batch whose loss was altered must fail the check: the check can fail.
  sed -E 's/^result loss=[-0-9.e]+/result loss=0.5/' "$T/rl/batch.txt" >"$T/bad.txt"
  OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 "$PY" bench/torch_rl_step.py 0.01 "$T/weights" "$T/bad.txt" 1 >"$T/bad.out" 2>&1
  check "a batch with another loss fails PyTorch's check" grep -q 'kind=torch_rl_check .* ok=0$' "$T/bad.out"
fi

# sgemm_order: which shapes and row tiles differ depends on the kernel set, so only its counts of
# what it tried are fixed; a run that stops early or miscounts fails here.
"$B/sgemm_order" >"$T/order.out" 2>&1
check "sgemm_order tries 2304 shapes against the chain and 420 row tiles against one call" bash -c "
  grep -qE '^RESULT shapes=2304 differ=[0-9]+\$' '$T/order.out' && grep -qE '^RESULT tiles=420 differ=[0-9]+\$' '$T/order.out'"

"$B/measure_run" probe sh -c 'dd if=/dev/zero of=/dev/null bs=50M count=1 2>/dev/null; exit 3' >"$T/m.out" 2>&1
rc=$?
[ $rc = 3 ] && pass "measure_run exits with the command's status" || fail "measure_run exits with the command's status" "exit $rc"
# dd reads through a 50 MB buffer: the peak is at least that, in a child of the shell.
peak=$(sed -n 's/.*peak_rss_mb=\([0-9.]*\).*/\1/p' "$T/m.out")
check "measure_run reports the peak memory of the command's children (${peak:-none} MB)" awk_true "${peak:-0} >= 40"

# report.awk on a fixture: every verdict follows its target, and the JSON parses.
cat >"$T/fixture.txt" <<'EOF'
RESULT kind=openblas version=0.3.21 core=Zen
RESULT kind=peak threads=1 gflops=90
RESULT kind=peak threads=2 gflops=180
RESULT kind=train d=64 L=2 threads=2 tokens_per_s=70000 gflops=126 peak_frac=0.70 products_gflops=150 products_share=0.6
RESULT kind=decode d=128 L=4 threads=2 tokens_per_s=9000 gflops=90 peak_frac=0.50 products_gflops=120 products_share=0.3
RESULT kind=rl_step threads=1 generate_ms=30 train_ms=40 total_ms=70
RESULT kind=rl_step threads=2 generate_ms=20 train_ms=30 total_ms=50
RESULT kind=torch_rl_step threads=1 generate_ms=300 train_ms=400 total_ms=700
RESULT kind=torch_rl_step threads=2 generate_ms=350 train_ms=450 total_ms=800
RESULT kind=torch_rl_check threads=1 loss_c=-0.1 loss_torch=-0.1 loss_rel=1e-07 loss_rtol=1e-05 grad_norm_c=2 grad_norm_torch=2 grad_rel=2e-07 grad_rtol=0.0001 reward_mismatches=0 ok=1
RESULT kind=schedule name=sync cores=2 steps_per_s=10
RESULT kind=schedule name=pipeline-8-threads cores=2 steps_per_s=10.5
RESULT kind=measured label=make_run wall_s=150 peak_rss_mb=400 exit=0
EOF
awk -v cpu=test -v cores=2 -v date=d -v commit=c -v rounds=1 -v secs=1 -v load_start=0 -v load_end=0 -v bench_s=1 \
  -v rl_steps=60 -v md="$T/l.md" -v json="$T/l.json" -f bench/report.awk "$T/fixture.txt"
check "the RL step row takes each side's best thread count: 700 / 50 = 14x, met" \
  bash -c "grep -F 'C vs PyTorch (each' '$T/l.md' | grep -qF '50.0 ms (2 thr) | PyTorch 700.0 ms (1 thr) | 14.00x | >= 10x | yes'"
check "a ratio under its target is not met (threads 1.05x sync)" \
  bash -c "grep -F 'schedule=threads vs sync' '$T/l.md' | grep -q '1.05x | >= 1.1x | \*\*no\*\*'"
check "a fraction of peak over its target is met (train d64 70%)" bash -c "grep -F 'train d64 L2, 2 threads' '$T/l.md' | grep -q '70% | >= 65% | yes'"
check "make run's rows: 400 MB met, 150 s not" bash -c "grep -F 'peak resident' '$T/l.md' | grep -q 'yes' &&
  grep -F 'wall time' '$T/l.md' | grep -q '\*\*no\*\*'"
check "latest.json parses and holds the named keys" "$PY3" -c "
import json, sys
j = json.load(open(sys.argv[1]))
want = {'rl_step_c_over_torch': 14.0, 'pipeline_threads_over_sync': 1.05, 'decode_d128_peak_frac': 0.5,
        'train_d64_peak_frac': 0.7, 'sgemm_peak_gflops': 180.0, 'make_run_peak_rss_mb': 400.0}
sys.exit(0 if all(abs(j[k] - v) < 1e-4 for k, v in want.items()) else 1)" "$T/l.json"
