#!/usr/bin/env bash
# `make test-cluster`: `scalerl sweep ... print=slurm` on a real Slurm. Installs Debian's
# slurm-wlm and munge when root and missing (otherwise a FAIL saying how), starts munged,
# slurmctld and slurmd on this machine with a generated one-node config (private socket, ports,
# state and log directories under the test's scratch directory), submits a 2-recipe x 2-seed tiny
# sweep with the generated script, waits for it, and checks that every run finished, that the
# dependent job ran compare and report on them, and that a re-submission after a partial run
# submits only the unfinished run; then runs the same grid's print=commands with GNU parallel. The daemons are stopped on exit. Not part of `make test`
# (named outside tests/test_*.sh): .ci/run calls it. It never skips: anything missing is a FAIL.
. "$(dirname "$0")/lib.sh"

# ---- Slurm and munge: present, or installed, or a FAIL naming the command
need_debian "cluster: slurm" "slurm-wlm munge parallel" slurmctld slurmd sbatch squeue scontrol munged flock parallel || exit 0
if [ "$(id -u)" != 0 ]; then
  # slurmd starts jobs as their user only when it runs as root.
  fail "cluster: slurm" "the one-node cluster needs root to run slurmd; run: sudo make test-cluster"
  exit 0
fi

# ---- the daemons, on this machine only
C="$T/cluster"; mkdir -p "$C/state" "$C/spool"; chmod 700 "$C"
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
P=$((20000 + $$ % 20000)); while ! port_free $P || ! port_free $((P + 1)); do P=$((P + 2)); done
NODE=$(hostname -s)
head -c 1024 /dev/urandom >"$C/munge.key"; chmod 600 "$C/munge.key"
cat >"$C/slurm.conf" <<EOF
ClusterName=scalerltest
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=$P
SlurmdPort=$((P + 1))
AuthType=auth/munge
AuthInfo=socket=$C/munge.sock
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$C/state
SlurmdSpoolDir=$C/spool
SlurmctldPidFile=$C/slurmctld.pid
SlurmdPidFile=$C/slurmd.pid
SlurmctldLogFile=$C/slurmctld.log
SlurmdLogFile=$C/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
# Slurm 24.05 and later start slurmd's cgroup plugin even with the linuxproc tracker and no task
# plugin, and slurmd then fails where no cgroup filesystem is mounted ("No filesystem mounted on
# /sys/fs/cgroup": Debian 13's 24.11 in a chroot); the plugin can be disabled from 24.05 on.
slurm_v=$(slurmd -V 2>/dev/null | awk '{ print $2 }')
if awk -v v="$slurm_v" 'BEGIN { split(v, p, "."); exit !(p[1] > 24 || (p[1] == 24 && p[2] >= 5)) }'; then
  echo "CgroupPlugin=disabled" >"$C/cgroup.conf"
fi
export SLURM_CONF="$C/slurm.conf"
stop_cluster() {
  scontrol shutdown >/dev/null 2>&1
  local p
  for p in "${BG[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${BG[@]}"; do wait "$p" 2>/dev/null; done
  BG=()
}
trap 'stop_cluster; rm -rf "$T"' EXIT
munged -F --force -S "$C/munge.sock" --key-file="$C/munge.key" --log-file="$C/munged.log" \
  --pid-file="$C/munged.pid" --seed-file="$C/munged.seed" >"$C/munged.out" 2>&1 & BG+=("$!")
for _ in $(seq 100); do [ -S "$C/munge.sock" ] && break; sleep 0.1; done
slurmctld -D -f "$C/slurm.conf" >"$C/slurmctld.out" 2>&1 & BG+=("$!")
slurmd -D -N "$NODE" -f "$C/slurm.conf" >"$C/slurmd.out" 2>&1 & BG+=("$!")
up=0
for _ in $(seq 120); do
  [ "$(sinfo -h -N -o %T 2>/dev/null)" = idle ] && { up=1; break; }
  sleep 0.5
done
[ $up -eq 1 ] && pass "munged, slurmctld and slurmd up on $NODE: one node idle" ||
  { fail "cluster up" "node not idle after 60 s: $(sinfo 2>&1 | tail -n 1); $(tail -n 3 "$C/slurmctld.log" "$C/slurmd.log" 2>&1 | tr '\n' ' ')"; exit 0; }

# wait_jobs: until the queue is empty (5 min at most)
wait_jobs() {
  for _ in $(seq 600); do
    [ -z "$(squeue -h 2>/dev/null)" ] && return 0
    sleep 0.5
  done
  return 1
}

# ---- a 2 x 2 tiny sweep through the generated script
# A base model that passes some prompts, so that compare has curves to fit (a few seconds).
pretrain_base "$T/b.ckpt" $SMALL_BASE eval_n=100 eval_samples=0
G=(recipes=scalerl,loo-batch seeds=2 out="$T/sw" base="$T/b.ckpt" task=add:digits=1-2 think_budget=16 answer_budget=4
   eval_n=50 eval_samples=2 prompts_per_step=8 gens_per_prompt=4 eval_every=4 steps=20 threads=1)
"$S" sweep "${G[@]}" print=slurm >"$T/submit.sh" 2>"$T/print.err" || fail "print=slurm" "$(cat "$T/print.err")"
check "the script: a 4-task array on 1 core each, then compare and report after it" bash -c "
  grep -q -- '--array=0-3 --cpus-per-task=1 ' '$T/submit.sh' && grep -q -- '--dependency=afterany:' '$T/submit.sh' &&
  [ \$(grep -c '^[0-3]) run=' '$T/submit.sh') = 4 ] && grep -q ' compare ' '$T/submit.sh' && grep -q ' report ' '$T/submit.sh'"
bash "$T/submit.sh" >"$T/submit.out" 2>&1; rc=$?
[ $rc -eq 0 ] && pass "the script submits" || fail "the script submits" "exit $rc: $(tail -n 3 "$T/submit.out" | tr '\n' ' ')"
check "it names the array of 4 runs and the job after it" grep -qE '^submitted job array [0-9]+ \(4 runs\) and job [0-9]+' "$T/submit.out"
wait_jobs && pass "the jobs ended" || fail "the jobs ended" "still queued after 5 min: $(squeue 2>&1 | tr '\n' ' ')"

"$S" sweep "${G[@]}" print=status >"$T/status" 2>/dev/null
[ "$(grep -c ' finished ' "$T/status")" -eq 4 ] && pass "every run of the sweep finished" ||
  fail "every run finished" "$(cat "$T/status" | tr '\n' ' '); task logs: $(cat "$T"/sw/slurm-*.out 2>/dev/null | head -c 300)"
check "each run's task log is in its run directory" bash -c "ls '$T'/sw/*-s[12]/train.log | wc -l | grep -qx 4"
check "compare read the 4 runs of both recipes" bash -c "
  grep -qE '^  scalerl +2 ' '$T/sw/compare.txt' && grep -qE '^  loo-batch +2 ' '$T/sw/compare.txt'"
check "report wrote the sweep's page" grep -q '<h2>Recipes compared</h2>' "$T/sw/report.html"

# ---- after a partial run, the script lists only what is unfinished
rm "$T/sw/loo-batch-s2/final.ckpt"
stat -c '%n %y' "$T"/sw/*/metrics.jsonl >"$T/m1"
"$S" sweep "${G[@]}" print=slurm >"$T/submit2.sh" 2>/dev/null
check "re-written after a partial run: a 1-task array with the unfinished run alone" bash -c "
  grep -q -- '--array=0-0 ' '$T/submit2.sh' && [ \$(grep -c '^[0-9]) run=' '$T/submit2.sh') = 1 ] &&
  grep -q '^0) run=$T/sw/loo-batch-s2;' '$T/submit2.sh'"
bash "$T/submit2.sh" >"$T/submit2.out" 2>&1 || fail "re-submission" "$(tail -n 3 "$T/submit2.out" | tr '\n' ' ')"
wait_jobs || fail "re-submitted jobs ended" "still queued after 5 min"
stat -c '%n %y' "$T"/sw/*/metrics.jsonl >"$T/m2"
[ "$(diff "$T/m1" "$T/m2" | grep -c '^>')" -eq 1 ] && grep -q 'loo-batch-s2' <(diff "$T/m1" "$T/m2" | grep '^>') &&
  pass "re-submission ran only the unfinished run" || fail "re-submission ran only the unfinished run" "$(diff "$T/m1" "$T/m2" | tr '\n' ' ')"
"$S" sweep "${G[@]}" print=status >"$T/status2" 2>/dev/null
[ "$(grep -c ' finished ' "$T/status2")" -eq 4 ] && pass "all 4 runs finished again" || fail "all 4 finished again" "$(cat "$T/status2")"
"$S" sweep "${G[@]}" print=slurm >"$T/submit3.sh" 2>/dev/null
check "with nothing unfinished the script submits nothing" bash -c "! grep -q '^array=' '$T/submit3.sh' && bash '$T/submit3.sh' | grep -q 'nothing to submit'"

# ---- threads= sets --cpus-per-task and every run's threads
G2=("${G[@]/threads=1/threads=2}"); G2=("${G2[@]/#out=*/out=$T/sw2}")
"$S" sweep "${G2[@]}" print=slurm >"$T/submit4.sh" 2>/dev/null
check "threads=2: --cpus-per-task=2 and threads=2 in every task" bash -c "
  grep -q -- '--cpus-per-task=2 ' '$T/submit4.sh' && [ \$(grep -c ' threads=2)' '$T/submit4.sh') = 4 ]"

# ---- the same grid with GNU parallel, from print=commands (two at a time on this machine)
G3=("${G[@]/#out=*/out=$T/par}")
"$S" sweep "${G3[@]}" print=commands >"$T/commands.txt" 2>/dev/null
parallel -j 2 <"$T/commands.txt" >"$T/parallel.out" 2>&1; rc=$?
[ $rc -eq 0 ] && pass "GNU parallel ran the printed commands" || fail "GNU parallel" "exit $rc: $(tail -n 3 "$T/parallel.out" | tr '\n' ' ')"
"$S" sweep "${G3[@]}" print=status >"$T/status3" 2>/dev/null
[ "$(grep -c ' finished ' "$T/status3")" -eq 4 ] && pass "GNU parallel: every run finished" || fail "GNU parallel: every run finished" "$(cat "$T/status3")"

daemons=("${BG[@]}")
stop_cluster
alive=0; for p in "${daemons[@]}"; do kill -0 "$p" 2>/dev/null && alive=$((alive + 1)); done
[ $alive -eq 0 ] && pass "munged, slurmctld and slurmd stopped" || fail "the daemons stopped" "$alive still running"
