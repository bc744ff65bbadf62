#!/usr/bin/env bash
# `make bench`: the figures of bench/README.md, written to bench/results/latest.md (a table: every
# row with its reference, ratio, target and whether it is met) and bench/results/latest.json.
#   1. `make run` from scratch (its own base model and run directory in a scratch folder), timed
#      and its peak resident memory measured (bench/measure_run.c); its base model is then the
#      checkpoint of the RL figures below. BENCH_MAKE_RUN=0 skips it (a default base model is
#      pretrained instead, ~20 s) and its rows say "not measured".
#   2. The transformer core (bench/bench_model.c): training steps and batched decoding at three
#      shapes on 1 and 2 threads, against the sgemm peak measured in the same run.
#   3. One RL step of the default run by phase, C (bench/bench_rl_step.c) against PyTorch
#      (bench/torch_rl_step.py, when Debian's python3-torch is installed), with the check that
#      both compute the same loss and gradient norm on the same batch.
#   4. RL steps/s of `scalerl train` by schedule: sync, PPO-off-policy-8, PipelineRL-8
#      deterministic and threaded, on 2 cores; sync and threaded also on 1 core (taskset).
#   5. PyTorch's training step at the shapes of 2 (the supervised comparison).
# Timings on a shared machine only ever gain time from other processes: 2 to 4 repeat in
# BENCH_ROUNDS rounds (default 3), interleaving the things compared, and the fastest of all
# rounds counts. SECONDS_PER_MEASUREMENT (default 1) is the minimum time of one measurement in
# one round. Measured on the busy development machine (load average 8): 22 minutes, `make run` 13
# of them; less on idle cores (`make run` alone takes 2-3 minutes there).
set -u
export LC_ALL=C # awk, printf and sort with a decimal point in any locale (tests/README.md, "Writing checks")
cd "$(dirname "$0")/.."
secs=${SECONDS_PER_MEASUREMENT:-1}
rounds=${BENCH_ROUNDS:-3}
rl_steps=${RL_BENCH_STEPS:-60}
py=${PYTHON:-/usr/bin/python3}
out_dir=bench/results
tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT
res=$tmp/results.txt # every RESULT line of every program, in order
: >"$res"
mkdir -p "$out_dir" || exit 2
load_start=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo "?")
bench_start=$(date +%s)

# PyTorch is the reference of the RL-step row: installed from Debian when missing
# (tests/apt_install.sh says why when it cannot be), else its rows say "not measured".
have_torch=0
if ! "$py" -c 'import torch' 2>/dev/null && [ "$py" = /usr/bin/python3 ]; then
  echo "bench: installing Debian's python3-torch, the reference of the RL-step row"
  tests/apt_install.sh python3-torch || echo "bench: no PyTorch: its rows say \"not measured\""
fi
"$py" -c 'import torch' 2>/dev/null && have_torch=1
# PyTorch's OpenMP runs with the wait policy scalerl gives itself (models/omp_env.c): with
# libgomp's default, idle threads spin for milliseconds and, on a busy machine, 2 threads ran
# several times slower than 1. The user's own setting wins, as it does for scalerl.
torch_env=()
[ -z "${GOMP_SPINCOUNT:-}" ] && [ -z "${OMP_WAIT_POLICY:-}" ] && torch_env=(GOMP_SPINCOUNT=1000)

echo "== 1. make run, timed (wall time and peak resident memory of every process it starts)"
base=$tmp/run/base.ckpt
if [ "${BENCH_MAKE_RUN:-1}" != 0 ]; then
  mkdir -p "$tmp/run"
  RUN_DIR=$tmp/run/default BASE_CKPT=$base build/bench/measure_run make_run ref/cli/make_run.sh \
    >"$tmp/make_run.log" 2>&1 || { tail -5 "$tmp/make_run.log"; echo "bench: make run failed"; exit 1; }
  grep '^RESULT' "$tmp/make_run.log" | tee -a "$res" | sed 's/^RESULT kind=measured label=make_run /   /'
else
  echo "   skipped (BENCH_MAKE_RUN=0); pretraining the default base model instead"
  mkdir -p "$tmp/run"
  ./scalerl pretrain out="$base" eval_samples=0 progress=0 >/dev/null || { echo "bench: pretrain failed"; exit 1; }
fi

echo
echo "== 2. bench_model (C): tokens/s, GFLOP/s (model_flops_token; training = 3 x forward), % of sgemm peak"
for r in $(seq "$rounds"); do
  build/bench/bench_model "$secs" >"$tmp/model.$r" || { cat "$tmp/model.$r"; echo "bench: bench_model failed"; exit 1; }
  grep '^RESULT' "$tmp/model.$r" >>"$res"
  echo "   round $r/$rounds done"
done
grep -v '^RESULT' "$tmp/model.1" | sed -n '1,3p'

echo
echo "== 3. One RL step of the default run by phase, C and PyTorch, interleaved"
./scalerl dump ckpt="$base" out="$tmp/weights" >/dev/null || { echo "bench: dump failed"; exit 1; }
for r in $(seq "$rounds"); do
  dump=
  [ "$r" = 1 ] && dump="dump=$tmp/rl"
  build/bench/bench_rl_step "$secs" "$base" 1 2 $dump >"$tmp/rl.$r" || { cat "$tmp/rl.$r"; echo "bench: bench_rl_step failed"; exit 1; }
  grep '^RESULT' "$tmp/rl.$r" >>"$res"
  [ "$r" = 1 ] && grep -v '^RESULT' "$tmp/rl.1" | head -1
  if [ "$have_torch" = 1 ]; then
    # One process per thread count: OpenBLAS sizes its pool when it loads (torch_bench.py).
    for th in 1 2; do
      env "${torch_env[@]}" OPENBLAS_NUM_THREADS=$th OMP_NUM_THREADS=$th "$py" bench/torch_rl_step.py "$secs" "$tmp/weights" "$tmp/rl/batch.txt" \
        "$th" >>"$res" || { echo "bench: torch_rl_step.py failed"; exit 1; }
    done
  fi
  echo "   round $r/$rounds done"
done

echo
echo "== 4. RL steps/s by schedule (scalerl train, $rl_steps steps of the default run from the same base)"
# The default run's keys, spelled out so that a recalibration of the defaults shows here as a
# change of these lines, not silently as a change of the figures.
keys="task=sum:terms=2-4:digits=2 prompts_per_step=48 gens_per_prompt=16 steps=$rl_steps eval_every=100000 eval_n=50
      eval_samples=1 progress=0"
one_core=
command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ] && one_core="taskset -c 0"
for r in $(seq "$rounds"); do
  for sched in "sync:2:offpolicy=sync" "ppo-8:2:offpolicy=ppo k=8" "pipeline-8:2:offpolicy=pipeline k=8" \
               "pipeline-8-threads:2:offpolicy=pipeline k=8 schedule=threads" \
               "sync:1:offpolicy=sync" "pipeline-8-threads:1:offpolicy=pipeline k=8 schedule=threads"; do
    name=${sched%%:*}; rest=${sched#*:}; cores=${rest%%:*}; skeys=${rest#*:}
    pin=
    if [ "$cores" = 1 ]; then [ -n "$one_core" ] || continue; pin=$one_core; fi
    # A directory per run: train leaves a finished run of the same config alone and refuses one of
    # another config, so reusing one directory would time nothing or stop the bench.
    out="$tmp/sched-$r-$name-$cores"
    $pin ./scalerl train base="$base" out="$out" threads="$cores" $keys $skeys >/dev/null ||
      { echo "bench: train ($name, $cores cores) failed"; exit 1; }
    # Steps per second over the second half: no eval falls there, and a pipeline's head start
    # (batches generated before its first step) is spent by then.
    half=$((rl_steps / 2))
    grep '"kind":"step"' "$out/metrics.jsonl" | sed -n "${half}p;\$p" | sed -E 's/.*"wall_s":([0-9.e+-]+).*/\1/' |
      awk -v n=$((rl_steps - half)) -v s="$name" -v c="$cores" \
        'NR==1{a=$1} NR==2{printf "RESULT kind=schedule name=%s cores=%s steps_per_s=%.3f\n", s, c, n/($1-a)}' >>"$res"
    rm -rf "$out"
  done
  echo "   round $r/$rounds done"
done

if [ "$have_torch" = 1 ]; then
  echo
  echo "== 5. PyTorch training step (forward, backward, clip, AdamW) at bench_model's shapes"
  vocab=$(sed -n 's/^RESULT kind=config vocab=\([0-9]*\).*/\1/p' "$res" | head -1)
  for th in 1 2; do
    env "${torch_env[@]}" OPENBLAS_NUM_THREADS=$th OMP_NUM_THREADS=$th "$py" bench/torch_bench.py "$secs" "${vocab:-22}" "$th" >>"$res" ||
      { echo "bench: torch_bench.py failed"; exit 1; }
  done
else
  echo
  echo "== PyTorch: not available ($py cannot import torch): its rows say \"not measured\""
fi

# The report: bench/report.awk reads every RESULT line and writes both files.
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -1)
[ -n "$cpu" ] || cpu=$(uname -m)
awk -v cpu="$cpu" -v cores="$(nproc)" -v date="$(date -u +%Y-%m-%dT%H:%MZ)" \
    -v commit="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" -v rounds="$rounds" -v secs="$secs" \
    -v load_start="$load_start" -v load_end="$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo "?")" \
    -v bench_s=$(($(date +%s) - bench_start)) -v rl_steps="$rl_steps" \
    -v md="$out_dir/.latest.tmp.md" -v json="$out_dir/.latest.tmp.json" \
    -f bench/report.awk "$res" || { echo "bench: report failed"; exit 1; }
# Written under temporary names and renamed: a reader never sees half a report.
mv "$out_dir/.latest.tmp.md" "$out_dir/latest.md" && mv "$out_dir/.latest.tmp.json" "$out_dir/latest.json" || exit 2
echo
cat "$out_dir/latest.md"
echo
echo "written: $out_dir/latest.md $out_dir/latest.json"
