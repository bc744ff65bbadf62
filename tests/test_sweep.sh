#!/usr/bin/env bash
# scalerl sweep end to end, on a tiny base model and tiny runs: a grid runs once and a second time
# does nothing; a changed key makes runs stale; a sweep stopped midway and restarted completes
# every run exactly once; two sweeps on one directory share the work; a held lock is waited for
# and a stale one taken over; failures are reported without stopping the others; bad keys are
# refused before anything is written; print=commands lines run as-is in bash. Run contents are
# checked with python3 (json), independently of the C reader.
. "$(dirname "$0")/lib.sh"
need_python3

count() { grep -c -- "$1" "$2" || true; } # lines of file $2 matching $1

# runs_complete DIR STEPS NAME...: each run has final.ckpt, its config's recipe and seed, exactly
# one "run" row (the last row) and step rows 1..STEPS once each, in order.
runs_complete() {
  "$PY3" - "$@" <<'EOF'
import json, os, sys
d, steps, names = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
for n in names:
    r = os.path.join(d, n)
    assert os.path.isfile(os.path.join(r, "final.ckpt")), n + ": no final.ckpt"
    cfg = dict(l.rstrip("\n").split("=", 1) for l in open(os.path.join(r, "config.txt")) if "=" in l and l[0] != "#")
    recipe, seed = n.rsplit("-s", 1)
    assert cfg["recipe"] == recipe and cfg["seed"] == seed, (n, cfg["recipe"], cfg["seed"])
    rows = [json.loads(l) for l in open(os.path.join(r, "metrics.jsonl"))]
    kinds = [x["kind"] for x in rows]
    assert kinds.count("run") == 1 and kinds[-1] == "run", (n, kinds.count("run"))
    got = [x["step"] for x in rows if x["kind"] == "step"]
    assert got == list(range(1, steps + 1)), (n, got[:5], len(got))
EOF
}
mtimes() { stat -c '%n %y' "$1"/*/metrics.jsonl "$1"/*/final.ckpt; }
GRID=(scalerl-s1 grpo-s1 scalerl-s2 grpo-s2) # seed-major order

pretrain_base "$T/b.ckpt" tokens=2000 eval_samples=0 threads=1
# threads=1 where given: OpenMP threads on a loaded 2-core machine can be many times slower.
K=(base="$T/b.ckpt" eval_n=50 eval_samples=1 prompts_per_step=4 gens_per_prompt=2 eval_every=1)

# ---- a 2 x 2 grid, the cores divided among the jobs
J=$(nproc); at_once=$(( J < 4 ? J : 4 )); per=$(( J / at_once ))
"$S" sweep recipes=scalerl,grpo seeds=2 jobs="$J" out="$T/g" "${K[@]}" steps=3 2>"$T/g1.log"; rc=$?
[ $rc -eq 0 ] && pass "sweep exits 0" || fail "sweep exits 0" "exit $rc: $(tail -3 "$T/g1.log")"
check "every run of the grid complete, once" runs_complete "$T/g" 3 "${GRID[@]}"
[ "$(count '] start ' "$T/g1.log")" -eq 4 ] && pass "4 runs started" || fail "4 runs started" "$(cat "$T/g1.log")"
check "threads = cores / jobs ($J / $at_once = $per)" grep -q "at a time, threads=$per\$" "$T/g1.log"
check "the run's output is in its train.log" test -f "$T/g/grpo-s2/train.log"
[ "$(ls "$T/g" | wc -l)" -eq 4 ] && pass "one directory per run" || fail "one directory per run" "$(ls "$T/g")"

# ---- the same grid again: nothing runs, nothing is touched (threads= differs: it does not count)
mtimes "$T/g" >"$T/m1"
sleep 0.05 # so that a rewrite would show in the nanosecond mtimes even on a coarse clock
"$S" sweep recipes=scalerl,grpo seeds=2 out="$T/g" "${K[@]}" steps=3 threads=1 2>"$T/g2.log"; rc=$?
mtimes "$T/g" >"$T/m2"
[ $rc -eq 0 ] && pass "second sweep exits 0" || fail "second sweep exits 0" "exit $rc"
[ "$(count '] start ' "$T/g2.log")" -eq 0 ] && pass "second sweep starts no run" || fail "second sweep starts no run" "$(cat "$T/g2.log")"
check "second sweep says nothing to run" grep -q "nothing to run" "$T/g2.log"
check "second sweep leaves metrics.jsonl and final.ckpt untouched" cmp "$T/m1" "$T/m2"
out=$("$S" sweep recipes=scalerl,grpo seeds=2 out="$T/g" "${K[@]}" steps=3 print=pending 2>/dev/null)
[ -z "$out" ] && pass "print=pending: nothing pending" || fail "print=pending: nothing pending" "$out"
"$S" sweep recipes=scalerl,grpo seeds=2 out="$T/g" "${K[@]}" steps=4 print=status >"$T/st" 2>/dev/null
[ "$(grep -c ' stale .*steps=3.*steps=4' "$T/st")" -eq 4 ] && pass "steps changed: every run stale, the difference named" \
  || fail "steps changed: every run stale" "$(cat "$T/st")"
[ "$("$S" sweep recipes=scalerl,grpo seeds=2 out="$T/g" "${K[@]}" steps=4 print=pending | wc -l)" -eq 4 ] \
  && pass "steps changed: 4 runs pending" || fail "steps changed: 4 runs pending" "see print=pending"

# ---- a recipe changed by keys: PRESET+key=value entries are labelled runs of the preset
"$S" sweep recipes=grpo,grpo+lr=0.001+k=2 seeds=1 out="$T/lab" "${K[@]}" steps=2 threads=1 2>"$T/lab.log"; rc=$?
[ $rc -eq 0 ] && pass "sweep with a changed recipe exits 0" || fail "sweep with a changed recipe exits 0" "exit $rc: $(tail -3 "$T/lab.log")"
check "the changed recipe's run: preset, label and its keys in config.txt; the plain one unlabelled" "$PY3" -c "
import os, sys
def cfg(n):
    return dict(l.rstrip('\\n').split('=', 1) for l in open(os.path.join(sys.argv[1], n, 'config.txt')) if '=' in l and l[0] != '#')
a, b = cfg('grpo-s1'), cfg('grpo+lr=0.001+k=2-s1')
assert 'label' not in a and a['recipe'] == 'grpo' and a['k'] == '8', a
assert b['recipe'] == 'grpo' and b['label'] == 'grpo+lr=0.001+k=2' and float(b['lr']) == 0.001 and b['k'] == '2', b
" "$T/lab"
"$S" sweep recipes=grpo,grpo+lr=0.001+k=2 seeds=1 out="$T/lab" "${K[@]}" steps=2 2>"$T/lab2.log"
check "changed recipe: a second sweep has nothing to run" grep -q "nothing to run" "$T/lab2.log"
out=$("$S" sweep recipes=grpo label=mine seeds=1 out="$T/lab1" "${K[@]}" steps=2 print=commands 2>&1)
check "one recipe with its own label= hands it to the run" grep -q " label=mine " <<<"$out"

# ---- stopped midway with SIGTERM, then restarted
N=200 # steps per run: about half a second each
"$S" sweep recipes=scalerl,grpo seeds=2 jobs=1 out="$T/k" "${K[@]}" steps=$N threads=1 2>"$T/k1.log" &
pid=$!; BG+=("$pid")
# Wait until one run has finished and the next has written steps, so that one is mid-run (up to
# 5 minutes: a run takes seconds, many times that under the sanitizers on a loaded machine).
for _ in $(seq 6000); do
  fin=$(ls "$T"/k/*/final.ckpt 2>/dev/null | wc -l)
  mid=$(grep -l '"kind":"step"' "$T"/k/*/metrics.jsonl 2>/dev/null | wc -l)
  [ "$fin" -ge 1 ] && [ "$mid" -gt "$fin" ] && break
  sleep 0.05
done
kill -TERM "$pid"; wait "$pid"; rc=$?
[ $rc -eq 143 ] && pass "SIGTERM: sweep exits 128+15" || fail "SIGTERM: sweep exits 128+15" "exit $rc: $(tail -3 "$T/k1.log")"
check "SIGTERM: the running train was stopped" grep -q "stopped " "$T/k1.log"
held=0
for l in "$T"/k/*/.sweep.lock; do flock -n "$l" true || held=$((held + 1)); done
[ $held -eq 0 ] && pass "SIGTERM: no train left holding a lock" || fail "SIGTERM: no train left holding a lock" "$held held"
"$S" sweep recipes=scalerl,grpo seeds=2 out="$T/k" "${K[@]}" steps=$N print=status >"$T/kst" 2>/dev/null
done_before=$(grep -c ' finished ' "$T/kst")
[ "$done_before" -ge 1 ] && [ "$done_before" -lt 4 ] && [ "$(grep -c ' incomplete ' "$T/kst")" -ge 1 ] \
  && pass "SIGTERM: the stopped run is incomplete, not finished" || fail "SIGTERM: stopped run state" "$(cat "$T/kst")"
"$S" sweep recipes=scalerl,grpo seeds=2 jobs=1 out="$T/k" "${K[@]}" steps=$N threads=1 2>"$T/k2.log"; rc=$?
[ $rc -eq 0 ] && pass "restart exits 0" || fail "restart exits 0" "exit $rc: $(tail -3 "$T/k2.log")"
[ "$(count '] start ' "$T/k2.log")" -eq $((4 - done_before)) ] && pass "restart starts only the unfinished runs" \
  || fail "restart starts only the unfinished runs" "$done_before finished before; $(cat "$T/k2.log")"
check "restart: every run complete, each step once" runs_complete "$T/k" $N "${GRID[@]}"

# ---- two sweeps on one directory at once: every run exactly once between them
"$S" sweep recipes=scalerl,grpo seeds=2 jobs=1 out="$T/d" "${K[@]}" steps=30 threads=1 2>"$T/d1.log" &
p1=$!; BG+=("$p1")
"$S" sweep recipes=scalerl,grpo seeds=2 jobs=1 out="$T/d" "${K[@]}" steps=30 threads=1 2>"$T/d2.log"; rc2=$?
wait "$p1"; rc1=$?
[ $rc1 -eq 0 ] && [ $rc2 -eq 0 ] && pass "two sweeps: both exit 0" || fail "two sweeps: both exit 0" "exits $rc1 $rc2"
started=$(( $(count '] start ' "$T/d1.log") + $(count '] start ' "$T/d2.log") ))
[ $started -eq 4 ] && pass "two sweeps: 4 starts between them" || fail "two sweeps: 4 starts" "$started: $(cat "$T/d1.log" "$T/d2.log")"
check "two sweeps: every run complete once" runs_complete "$T/d" 30 "${GRID[@]}"

# ---- a held lock is waited for, a stale one (no live holder) taken over
mkdir -p "$T/l/scalerl-s1" "$T/l/scalerl-s2"
echo "999999 gone" >"$T/l/scalerl-s2/.sweep.lock"
"$PY3" -c "
import fcntl, sys, time
f = open(sys.argv[1], 'a'); fcntl.flock(f, fcntl.LOCK_EX); open(sys.argv[2], 'w').close(); time.sleep(1.5)
" "$T/l/scalerl-s1/.sweep.lock" "$T/locked" &
BG+=("$!")
for _ in $(seq 200); do [ -e "$T/locked" ] && break; sleep 0.02; done
"$S" sweep recipes=scalerl seeds=2 jobs=1 out="$T/l" "${K[@]}" steps=3 threads=1 2>"$T/l.log"; rc=$?
[ $rc -eq 0 ] && pass "held lock: sweep exits 0" || fail "held lock: sweep exits 0" "exit $rc: $(cat "$T/l.log")"
check "held lock: run reported busy" grep -q "busy   scalerl-s1: locked by" "$T/l.log"
check "held lock: started only after the busy line" "$PY3" -c "
import sys; t = open(sys.argv[1]).read(); assert t.index('busy   scalerl-s1') < t.index('start  scalerl-s1'), t" "$T/l.log"
[ "$(count 'busy   scalerl-s2' "$T/l.log")" -eq 0 ] && pass "stale lock taken over at once" || fail "stale lock taken over" "$(cat "$T/l.log")"
check "locks: both runs complete" runs_complete "$T/l" 3 scalerl-s1 scalerl-s2

# ---- failures: reported with the reason, the other runs still run, exit 1
mkdir -p "$T/f"; echo "not a directory" >"$T/f/grpo-s1"
"$S" sweep recipes=scalerl,grpo out="$T/f" "${K[@]}" steps=3 threads=1 2>"$T/f.log"; rc=$?
[ $rc -eq 1 ] && pass "a failed run: exit 1" || fail "a failed run: exit 1" "exit $rc"
check "a failed run: named with its reason" grep -q "FAILED grpo-s1: .*not a directory" "$T/f.log"
check "a failed run: the other run finished" runs_complete "$T/f" 3 scalerl-s1
echo junk >"$T/junk.ckpt"
"$S" sweep recipes=scalerl out="$T/j" base="$T/junk.ckpt" eval_n=50 steps=3 threads=1 2>"$T/j.log"; rc=$?
[ $rc -eq 1 ] && pass "a train that fails: exit 1" || fail "a train that fails: exit 1" "exit $rc"
check "a train that fails: exit code and the log's last line" grep -q "FAILED scalerl-s1: exit [12] .*junk.ckpt.*train.log" "$T/j.log"
check "a train that fails: counted in the summary" grep -q "1 of 1 runs failed" "$T/j.log"

# ---- a base inside a run directory of the grid: the sweep would delete it before a train reads it,
# so it is refused before anything is touched, however the path reaches it ('..', a symlink, a
# recipes= entry); a base elsewhere in the sweep directory is fine. B=: K without its base=.
B=("${K[@]:1}" steps=2 threads=1)
"$S" sweep recipes=scalerl out="$T/bb" base="$T/b.ckpt" "${B[@]}" 2>"$T/bb.log" ||
  fail "base inside a run: set-up sweep" "$(tail -2 "$T/bb.log")"
files_of() { find "$1" -printf '%p %s %T@\n' | sort; } # every file and directory, with size and mtime
files_of "$T/bb" >"$T/bb1"
expect_error "base inside a run directory: refused" 1 "base='$T/bb/scalerl-s1/final.ckpt'" \
  "run directory '$T/bb/scalerl-s1'" -- \
  sweep recipes=scalerl seeds=2 out="$T/bb" base="$T/bb/scalerl-s1/final.ckpt" "${B[@]}"
expect_error "base inside a run directory, through '..'" 1 "run directory '$T/bb/scalerl-s1'" -- \
  sweep recipes=scalerl out="$T/bb" base="$T/bb/../bb/scalerl-s1/final.ckpt" "${B[@]}"
expect_error "base inside a run directory, Slurm script" 1 "run directory '$T/bb/scalerl-s1'" -- \
  sweep recipes=scalerl out="$T/bb" base="$T/bb/scalerl-s1/final.ckpt" "${B[@]}" print=slurm
ln -s bb/scalerl-s1/final.ckpt "$T/in-run.ckpt"
(cd "$T" && expect_error "a recipes= entry's base inside a run directory, through a symlink" 1 "base='in-run.ckpt'" \
  "run directory 'bb/scalerl-s1'" -- sweep recipes=scalerl,grpo+base=in-run.ckpt out=bb base=b.ckpt "${B[@]}")
files_of "$T/bb" >"$T/bb2"
check "base inside a run directory: the run's files untouched, no run started" cmp "$T/bb1" "$T/bb2"
cp "$T/b.ckpt" "$T/bb/base.ckpt"
"$S" sweep recipes=scalerl out="$T/bb" base="$T/bb/base.ckpt" "${B[@]}" 2>"$T/bb3.log"; rc=$?
[ $rc -eq 0 ] && pass "a base in the sweep directory, outside its runs: exit 0" \
  || fail "a base in the sweep directory, outside its runs" "exit $rc: $(tail -2 "$T/bb3.log")"
check "a base in the sweep directory: the run made again from it" runs_complete "$T/bb" 2 scalerl-s1

# ---- a sweep directory that cannot be made: an I/O error of the sweep (exit 2), not failed runs
echo "a file" >"$T/afile"
expect_error "out= under a file: exit 2, the directory and the error named" 2 \
  "cannot create directory '$T/afile/sw': Not a directory" -- \
  sweep recipes=scalerl out="$T/afile/sw" "${B[@]}" base="$T/b.ckpt"
expect_error "out= a file: exit 2" 2 "'$T/afile' exists and is not a directory" -- \
  sweep recipes=scalerl out="$T/afile" "${B[@]}" base="$T/b.ckpt"

# ---- bad keys: one line, exit 1, nothing written
Z="$T/z"
expect_error "recipes required" 1 "needs recipes=" -- sweep out="$Z" "${K[@]}"
expect_error "out required" 1 "needs out=" -- sweep recipes=scalerl "${K[@]}"
expect_error "unknown recipe" 1 "unknown recipe 'nope'" -- sweep recipes=scalerl,nope out="$Z" "${K[@]}"
expect_error "recipe twice" 1 "appears twice" -- sweep recipes=grpo,grpo out="$Z" "${K[@]}"
expect_error "empty recipe name" 1 "without empty ones" -- sweep recipes=grpo, out="$Z" "${K[@]}"
expect_error "seeds=0" 1 "seeds='0'" -- sweep recipes=grpo seeds=0 out="$Z" "${K[@]}"
expect_error "seeds=x" 1 "seeds='x'" -- sweep recipes=grpo seeds=x out="$Z" "${K[@]}"
expect_error "seeds=3-1" 1 "seeds='3-1'" -- sweep recipes=grpo seeds=3-1 out="$Z" "${K[@]}"
expect_error "jobs=0" 1 "'jobs'" -- sweep recipes=grpo jobs=0 out="$Z" "${K[@]}"
expect_error "print=bogus" 1 "'print'" -- sweep recipes=grpo print=bogus out="$Z" "${K[@]}"
expect_error "seed= is per run" 1 "seed= is set per run" -- sweep recipes=grpo seed=3 out="$Z" "${K[@]}"
expect_error "unknown key" 1 "unknown key 'foo'" -- sweep recipes=grpo foo=1 out="$Z" "${K[@]}"
expect_error "bad train value" 1 "'steps'" -- sweep recipes=grpo steps=0 out="$Z" "${K[@]}"
expect_error "missing base" 1 "no such file" -- sweep recipes=grpo out="$Z" base="$T/none.ckpt"
expect_error "missing base, Slurm script" 1 "no such file" -- sweep recipes=grpo out="$Z" base="$T/none.ckpt" print=slurm
expect_error "missing base in a recipes= entry" 1 "base='none.ckpt': no such file" -- \
  sweep recipes=grpo,grpo+base=none.ckpt out="$Z" "${K[@]}"
# Listing does not need the base: a script lists the pretrain that makes it before these.
"$S" sweep recipes=grpo seeds=2 out="$Z" base="$T/none.ckpt" print=commands >"$T/nobase" 2>&1
check "print=commands with a base still to make: exit 0, one command per run naming that base" \
  [ $? -eq 0 -a "$(grep -c "train .*base=$T/none.ckpt" "$T/nobase")" -eq 2 ]
expect_error "positional argument" 1 "unexpected argument" -- sweep recipes=grpo out="$Z" "${K[@]}" extra
expect_error "entry key without a value" 1 "'lr' is not key=value" -- sweep recipes=grpo+lr out="$Z" "${K[@]}"
expect_error "entry sets a per-run key" 1 "seed= is set per run" -- sweep recipes=grpo+seed=2 out="$Z" "${K[@]}"
expect_error "entry with an unknown key" 1 "unknown key 'foo'" -- sweep recipes=grpo+foo=1 out="$Z" "${K[@]}"
expect_error "entry with a bad value" 1 "'lr'" -- sweep recipes=grpo+lr=-1 out="$Z" "${K[@]}"
expect_error "one label= over two recipes" 1 "label=x with 2 recipes" -- sweep recipes=grpo,scalerl label=x out="$Z" "${K[@]}"
check "refusals wrote nothing" test ! -e "$Z"

# ---- print=commands: stable, seed-major, runs as-is in bash (a path with a space and a quote)
mkdir -p "$T/my base's"; cp "$T/b.ckpt" "$T/my base's/b.ckpt"
C=(recipes=scalerl,grpo seeds=2 out="$T/c" base="$T/my base's/b.ckpt" eval_n=50 eval_samples=1 prompts_per_step=4
   gens_per_prompt=2 steps=3 threads=1)
"$S" sweep "${C[@]}" print=commands >"$T/cmds" 2>&1 || fail "print=commands" "exit $?"
"$S" sweep "${C[@]}" print=commands jobs=3 >"$T/cmds2" 2>&1
check "print=commands: stable across invocations" cmp "$T/cmds" "$T/cmds2"
check "print=commands: one absolute train command per run, seed-major" "$PY3" -c "
import shlex, sys
lines = open(sys.argv[1]).read().splitlines(); assert len(lines) == 4, lines
words = [shlex.split(l) for l in lines]
assert all(w[0] == sys.argv[2] and w[1] == 'train' for w in words), words[0]
names = [dict(x.split('=', 1) for x in w[2:])['out'].rsplit('/', 1)[1] for w in words]
assert names == ['scalerl-s1', 'grpo-s1', 'scalerl-s2', 'grpo-s2'], names" "$T/cmds" "$S"
check "print=commands: the lines run as-is in bash" bash "$T/cmds"
check "print=commands: runs made by the printed lines are complete" runs_complete "$T/c" 3 "${GRID[@]}"
"$S" sweep "${C[@]}" print=status >"$T/cst" 2>/dev/null
[ "$(grep -c ' finished ' "$T/cst")" -eq 4 ] && pass "print=status: runs made elsewhere count as finished" \
  || fail "print=status: runs made elsewhere" "$(cat "$T/cst")"
"$S" sweep "${C[@]}" 2>"$T/c.log"
check "sweep after the printed commands: nothing to run" grep -q "nothing to run" "$T/c.log"

# ---- print=slurm without a cluster (make test-cluster runs it on a real Slurm): the script is
# bash, lists only the unfinished run, and its task script, run by hand as Slurm would run array
# task 0, trains that run into its train.log; a stand-in sbatch records what it is given.
rm "$T/c/grpo-s2/final.ckpt"
"$S" sweep "${C[@]}" print=slurm >"$T/slurm.sh" 2>/dev/null
check "print=slurm: bash syntax" bash -n "$T/slurm.sh"
check "print=slurm: a 1-task array naming the unfinished run" bash -c "grep -q -- '--array=0-0 ' '$T/slurm.sh' &&
  [ \$(grep -c '^[0-9]) run=' '$T/slurm.sh') = 1 ] && grep -q '^0) run=$T/c/grpo-s2;' '$T/slurm.sh'"
mkdir -p "$T/fakebin"
cat >"$T/fakebin/sbatch" <<'SBATCH'
#!/usr/bin/env bash
n=$(ls "$FAKE_SBATCH_DIR" | grep -c '^args')
printf '%s\n' "$@" >"$FAKE_SBATCH_DIR/args$n"; cat >"$FAKE_SBATCH_DIR/job$n"; echo "$((100 + n))"
SBATCH
chmod +x "$T/fakebin/sbatch"; mkdir -p "$T/sb"
(cd "$T" && PATH="$T/fakebin:$PATH" FAKE_SBATCH_DIR="$T/sb" bash "$T/slurm.sh" extra-word) >"$T/slurm.out" 2>&1
check "print=slurm: two sbatch calls, the second after the array, words passed on" bash -c "
  grep -q 'submitted job array 100 (1 run) and job 101' '$T/slurm.out' && grep -qx -- '--dependency=afterany:100' '$T/sb/args1' &&
  grep -qx extra-word '$T/sb/args0' && grep -qx extra-word '$T/sb/args1'"
(cd / && SLURM_ARRAY_TASK_ID=0 bash "$T/sb/job0") >"$T/task.out" 2>&1
check "print=slurm: array task 0 trains the unfinished run, its output in its train.log" runs_complete "$T/c" 3 "${GRID[@]}"
check "print=slurm: the task log is the run's train.log" test -e "$T/c/grpo-s2/train.log"
