#!/usr/bin/env bash
# The committed study still reproduces under this checkout's trainer: five of its runs are rerun
# from their config.txt (their base models pretrained afresh as `make findings` pretrains them)
# for their first 100 steps, and every committed row up to step 100 must come out again value for
# value, the timings (wall_s, cpu_s) aside. bench/findings/README.md says every committed run
# reproduces byte for byte on OpenBLAS's Haswell and Zen kernel sets (the Zen set runs Haswell's
# sgemm kernel); a change to the trainer, the tasks or the model that moves any number breaks that
# claim, and this test says so the day it happens, not at the next full rerun of the study. The
# runs: four of `loo` (CISPO under PipelineRL-8, PPO-off-policy-8, the bf16 head, DAPO's loss) and
# one of `length` (the pair search's task, verifier and length penalty, from its own base).
#
# Exact, so no tolerance: the check holds only where the sums run in the committed order, which
# is the kernel sets above of OpenBLAS 0.3.21 (the version the study was made and rerun with, Debian
# 12's) and 0.3.29 (Debian 13's: this test passed there under both sets, with GCC 14, in a
# debootstrap chroot on 2026-12-06), and the default build or one for a narrower vector
# instruction set: built with `OPT="-O2 -march=x86-64-v3"` (AVX2) and `-march=x86-64` (SSE2 only)
# on an AVX-512 machine (2026-12-06), the five runs reproduced every row too, since our own sums
# run in fixed lanes whatever the vector width (models/README.md, "Threads and determinism").
# Other kernel sets (Sandybridge, Prescott, SkylakeX, Cooperlake) add the
# products of sgemm in another order, so their runs part from the committed ones after a few
# steps like another seed's (bench/findings/README.md, "Time on 2 cores"); there, and under an
# instrumented build, the test says on a NOTE line that it did not run, and why.
. "$(dirname "$0")/lib.sh"
need_python3

D=bench/findings
# study/run:base, the base named as in bench/findings/run.sh (base_ckpt).
RUNS="loo/scalerl-s1:default loo/loo-8op-s2:default loo/loo-fp32-s3:default loo/loo-dapo-s1:default
length/loo-lp-s1:pair"
UNTIL=100

ver=$("$S" version 2>&1)
kernels=$(sed -n 's/^openblas kernels: \([A-Za-z0-9]*\).*/\1/p' <<<"$ver")
blas=$(sed -n 's/^openblas: OpenBLAS \([0-9.]*\).*/\1/p' <<<"$ver")
flags=$(sed -n 's/.*, flags \(.*\)$/\1/p' <<<"$ver" | head -n 1)
case $kernels in Haswell | Zen) kernels_ok=1 ;; *) kernels_ok=0 ;; esac
case $blas in 0.3.21 | 0.3.29) blas_ok=1 ;; *) blas_ok=0 ;; esac
case $flags in "-O2 -march=native" | "-O2 -march=x86-64-v3" | "-O2 -march=x86-64") flags_ok=1 ;; *) flags_ok=0 ;; esac
if [ "$kernels_ok" -ne 1 ] || [ "$blas_ok" -ne 1 ] || [ "$flags_ok" -ne 1 ]; then
  echo "NOTE findings_rerun: not run here: the committed rows reproduce exactly only under OpenBLAS 0.3.21's or 0.3.29's Haswell or Zen kernels and the default build or one for x86-64-v3 or x86-64 (this: OpenBLAS '${blas:-?}', kernels '${kernels:-?}', flags '${flags:-?}')"
  exit 0
fi

# rerun STUDY/RUN BASE: trains the committed run from its config into $T/STUDY/RUN and stops it
# (SIGTERM: the step in hand finishes, the files stay whole) once its step-UNTIL evaluation is
# written.
rerun() {
  local name=$1 dir=$T/$1 i
  mkdir -p "$(dirname "$dir")"
  "$S" train --config "$D/$name/config.txt" base="$T/$2.ckpt" out="$dir" progress=0 >"$dir.out" 2>&1 &
  local pid=$!
  # 600 s: a few seconds' work, left room for a loaded machine; the loop never hangs the suite.
  for ((i = 0; i < 6000; i++)); do
    grep -q "\"kind\":\"eval\",\"step\":$UNTIL," "$dir/metrics.jsonl" 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -TERM "$pid" 2>/dev/null
  wait "$pid"
}

# base NAME KEYS...: pretrains base NAME with KEYS on one thread (a checkpoint does not depend on
# the thread count: models/README.md, "Threads and determinism"), then reruns every run of RUNS on
# that base, one after another.
base() {
  local name=$1 run
  shift
  "$S" pretrain out="$T/$name.ckpt" "$@" threads=1 progress=0 >"$T/$name.out" 2>&1 ||
    { echo "pretraining base $name failed: $(head -c 300 "$T/$name.out")" >"$T/$name.failed"; return; }
  for run in $RUNS; do
    [ "${run##*:}" = "$name" ] && rerun "${run%%:*}" "$name"
  done
}

# The bases' keys as `make findings` pretrains them: its own pretrain commands (print=commands,
# the bases pointed into $T), so that a change to them shows here as the reruns' mismatch.
cmds=$(FINDINGS_BASE_DEFAULT="$T/default.ckpt" FINDINGS_BASE_PAIR="$T/pair.ckpt" SCALERL_BIN="$S" \
  bench/findings/run.sh studies=loo,length print=commands 2>&1)
keys_of() { sed -n "s|^.* pretrain out=$T/$1\.ckpt\( \)*||p" <<<"$cmds"; }
for b in default pair; do
  [ -n "$(keys_of "$b")" ] || { fail "make findings' pretrain command for the $b base" "not among: ${cmds:0:300}"; exit 0; }
done

# Two slots, as the study runs (jobs=2, one thread each), about equally long: the pair base's
# pretraining and its run beside the default base's and its four runs.
# shellcheck disable=SC2046 # the keys are words
base pair $(keys_of pair) &
p1=$!
# shellcheck disable=SC2046
base default $(keys_of default) &
p2=$!
BG+=("$p1" "$p2")
wait "$p1" "$p2"
for b in default pair; do
  [ -f "$T/$b.failed" ] && fail "pretrain the study's $b base" "$(cat "$T/$b.failed")"
done

for run in $RUNS; do
  name=${run%%:*}
  check "$name: its committed rows up to step $UNTIL come out again, value for value (timings aside)" \
    "$PY3" - "$D/$name/metrics.jsonl.gz" "$T/$name/metrics.jsonl" "$UNTIL" "$T/$name.out" <<'EOF'
import gzip, json, sys
sys.path.insert(0, "bench/findings")
from same_as_committed import first_difference, TIMINGS
committed_path, rerun_path, until, log_path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
def train_said():
    try:
        return " (train said: " + open(log_path).read()[-200:].strip() + ")"
    except OSError:
        return ""
def rows(lines):
    out = []
    for line in lines:
        r = json.loads(line)
        if r.get("kind") in ("step", "eval") and r["step"] <= until:
            out.append(r)
    return out
with gzip.open(committed_path, "rt") as f:
    want = rows(f)
try:
    with open(rerun_path) as f:
        got = rows(f)
except OSError as e:
    sys.exit(f"no rerun metrics: {e}{train_said()}")
if not want:
    sys.exit("the committed run has no rows up to step %d" % until)
# The archive keeps every tenth step row (bench/findings/run.sh, archive_run); each must be there.
by_key = {(r["kind"], r["step"]): r for r in got}
if not any(r["step"] == until for r in want):
    sys.exit("the committed run has no row of step %d" % until)
for w in want:
    g = by_key.get((w["kind"], w["step"]))
    if g is None:
        sys.exit(f"the rerun has no {w['kind']} row of step {w['step']}{train_said()}")
    k = first_difference(w, g, TIMINGS)
    if k:
        sys.exit(f"{w['kind']} row of step {w['step']}: {k} is {g.get(k, 'missing')!r}, committed {w[k]!r}")
EOF
done
