#!/usr/bin/env bash
# make findings (bench/findings/run.sh) on a two-study table of tiny runs: print=plan names every
# run and its cost, print=commands lists every unfinished run, a study's baseline shared with
# another study is made once and linked, finished runs are archived (metrics.jsonl.gz and
# config.txt, no checkpoints) and count as finished on a rerun, and findings.jsonl holds
# compare's verdict for every (study, recipe), which `scalerl compare` on the archived directory
# reproduces.
. "$(dirname "$0")/lib.sh"
need_python3

pretrain_base "$T/base.ckpt" $SMALL_BASE eval_samples=0
printf '%s\n' \
  "# test table" \
  "one	default	scalerl	the baseline	baseline" \
  "one	default	scalerl+lr=1e-4	a three times smaller rate	efficiency shaper" \
  "one	default	scalerl+steps=80	an extension row, twice as long	no effect	extra" \
  "two	default	scalerl	the baseline again	baseline" \
  "two	default	scalerl+agg=sample	sample average	efficiency shaper" >"$T/studies.tsv"
export FINDINGS_OUT="$T/f" FINDINGS_STUDIES="$T/studies.tsv" FINDINGS_BASE_DEFAULT="$T/base.ckpt" SCALERL_BIN="$S"
export FINDINGS_TIMES= # the FLOPs model alone, but where a check gives measured times
# The speed probe (a study's run, or default_s=auto, measures a default run's time here) runs the
# default configuration from the test's base for 2 steps instead of 300: its arithmetic is checked,
# not the machine's speed. Its task and budgets fit the small base's context of 32 tokens.
export FINDINGS_PROBE_STEPS=2 FINDINGS_PROBE_KEYS="task=add:digits=1-2 think_budget=12-16 answer_budget=4"
export FINDINGS_KEYS="task=add:digits=1-2 steps=40 prompts_per_step=16 gens_per_prompt=4 eval_every=5 eval_n=60 eval_samples=2 think_budget=12-16 answer_budget=4 warmup=5 lr=3e-4 ckpt_every=0"

bench/findings/run.sh seeds=2 print=plan >"$T/plan" 2>&1
check "print=plan: every entry, the shared baseline once, a total" \
  bash -c "grep -c 'seeds finished' '$T/plan' | grep -qx 3 && grep -q \"the one study's runs\" '$T/plan' && grep -q 'total:' '$T/plan'"
bench/findings/run.sh seeds=2 print=commands >"$T/cmds" 2>&1
check "print=commands: one train command per unfinished run (3 entries x 2 seeds)" \
  bash -c "[ \$(grep -c ' train ' '$T/cmds') = 6 ]"
# The extension row (sixth column `extra`): planned but not counted nor run unless tier=all, and
# then listed first, being the longest (runs start longest first, so none is left to run alone).
bench/findings/run.sh seeds=2 print=commands tier=all >"$T/cmds_all" 2>&1
bench/findings/run.sh seeds=2 print=plan tier=all >"$T/plan_all" 2>&1
check "tier: the extension row is named in the plan but not run; tier=all runs it, longest first" bash -c "
  grep 'scalerl+steps=80 ' '$T/plan' | grep -q 'an extension row: not run' && grep -q 'the extension rows (tier=all): ' '$T/plan' &&
  ! grep -q 'steps=80' '$T/cmds' && [ \$(grep -c ' train ' '$T/cmds_all') = 8 ] &&
  head -2 '$T/cmds_all' | grep -c 'recipe=scalerl+steps=80\\|steps=80' | grep -qx 2 &&
  grep 'scalerl+steps=80 ' '$T/plan_all' | grep -q '0 of 2 seeds finished' && ! grep -q 'extension rows' '$T/plan_all'"

# An extension study whose baseline is a core study's run: the core plan's estimate of the whole
# table counts that run once, as tier=all's total does (it counted it again before).
printf '%s\n' "one	default	scalerl	the baseline	baseline" "one	default	scalerl+lr=1e-4	smaller	no effect" \
  "ext	default	scalerl	the baseline, shared	baseline	extra" "ext	default	scalerl+agg=sample	sample average	no effect	extra" \
  >"$T/studies_ext.tsv"
FINDINGS_STUDIES="$T/studies_ext.tsv" bench/findings/run.sh seeds=2 print=plan >"$T/plan_ext" 2>&1
FINDINGS_STUDIES="$T/studies_ext.tsv" bench/findings/run.sh seeds=2 print=plan tier=all >"$T/plan_ext_all" 2>&1
check "an extension study's shared baseline: the whole table's equivalents the same in both tiers" bash -c "
  core=\$(sed -n 's/.*; the whole table \\([0-9.]*\\),.*/\\1/p' '$T/plan_ext'); all=\$(sed -n 's/^  total: \\([0-9.]*\\) .*/\\1/p' '$T/plan_ext_all')
  [ -n \"\$core\" ] && [ \"\$core\" = \"\$all\" ] && grep 'ext ' '$T/plan_ext' | grep -q \"the one study's runs), an extension row\""

# On a fresh clone no base exists yet: print=commands lists the pretrain first, then every run
# (which names that base), and makes nothing.
FINDINGS_BASE_DEFAULT="$T/nobase/base.ckpt" bench/findings/run.sh seeds=2 print=commands >"$T/cmds_nobase" 2>&1
rc=$?
check "print=commands with the base still to make: exit $rc, its pretrain first, then 6 train commands on it, nothing made" \
  bash -c "[ $rc = 0 ] && head -1 '$T/cmds_nobase' | grep -q ' pretrain out=$T/nobase/base.ckpt' &&
    [ \$(grep ' train ' '$T/cmds_nobase' | grep -c 'base=$T/nobase/base.ckpt') = 6 ] && [ ! -e '$T/nobase' ]"

bench/findings/run.sh studies=two seeds=2 print=plan >"$T/plan_two" 2>&1
bench/findings/run.sh studies=two seeds=2 print=commands >"$T/cmds_two" 2>&1
check "studies=two alone: the shared baseline keeps its home in study one (planned and made there, not copied)" \
  bash -c "grep 'scalerl  ' '$T/plan_two' | grep -q 'made in $T/f/one/' && [ \$(grep -c ' train ' '$T/cmds_two') = 4 ] &&
    [ \$(grep ' train ' '$T/cmds_two' | grep -c 'out=$T/f/one/scalerl-s') = 2 ]"
bench/findings/run.sh seeds=2 jobs=2 >"$T/run.log" 2>&1
rc=$?
check "make findings runs the studies and assembles (exit $rc)" [ "$rc" = 0 ]
# The plan it printed is at this machine's speed: the probe's two runs (their own wall_s, printed
# to 0.01 s) times the scale. Tolerance: the printed seconds are whole (0.5) and each probe time
# is off by up to 0.005 s before the scale multiplies it.
check "a study's run first measures this machine's speed: its plan at (A + B) / 2 x scale seconds a default run" bash -c "
  grep \"times at a default run's\" '$T/run.log' | sed -E 's/.* run.s ([0-9]+) s beside another \\(measured here: two default runs of 2 steps side by side took ([0-9.]+) and ([0-9.]+) s, x([0-9.]+)\\)\$/\\1 \\2 \\3 \\4/' |
    awk 'NF == 4 { d = \$1 - (\$2 + \$3) / 2 * \$4; ok = (d < 0 ? -d : d) <= 0.5 + 0.005 * \$4 } END { exit !ok }'"
check "a progress line after each run: 6 of them, the last with every run finished and nothing left" bash -c "
  [ \$(grep -Ec '^== progress: [0-9] of 6 runs finished, [0-9.]+ h so far; about [0-9.]+ h left \\(runs made here took x[0-9.]+ their planned times\\)\$' '$T/run.log') = 6 ] &&
  grep '^== progress' '$T/run.log' | tail -1 | grep -q '^== progress: 6 of 6 runs finished, .*; about 0.0 h left'"
check "a baseline shared by two studies is made once and linked" \
  bash -c "[ -L '$T/f/two/scalerl-s1' ] && [ -d '$T/f/two/scalerl-s1' ] && [ ! -L '$T/f/one/scalerl-s1' ]"
check "finished runs are archived: metrics.jsonl.gz and config.txt, no checkpoint" \
  bash -c "[ -s '$T/f/one/scalerl-s2/metrics.jsonl.gz' ] && [ -s '$T/f/one/scalerl-s2/config.txt' ] && [ ! -e '$T/f/one/scalerl-s2/final.ckpt' ] && [ ! -e '$T/f/one/scalerl-s2/ckpt' ] && [ ! -e '$T/f/one/scalerl-s2/metrics.jsonl' ]"
check "an archive keeps every eval row and the step rows of every 10th step" bash -c "
  zcat '$T/f/one/scalerl-s2/metrics.jsonl.gz' | grep '\"kind\":\"step\"' | grep -o '\"step\":[0-9]*' | tr '\\n' ' ' | grep -qx '\"step\":10 \"step\":20 \"step\":30 \"step\":40 ' &&
  [ \$(zcat '$T/f/one/scalerl-s2/metrics.jsonl.gz' | grep -c '\"kind\":\"eval\"') = 9 ]"
bench/findings/run.sh seeds=2 print=commands >"$T/cmds2" 2>&1
check "archived runs count as finished: nothing left to run" bash -c "! grep -q ' train ' '$T/cmds2'"
bench/findings/run.sh seeds=2 print=plan >"$T/plan2" 2>&1
check "print=plan after the run: every seed finished, nothing left in the estimate" \
  bash -c "grep -c '2 of 2 seeds finished' '$T/plan2' | grep -qx 3 && grep -q 'left to run: 0.0 ' '$T/plan2' &&
    grep -q '0 of 2 seeds finished' '$T/plan'"
check "findings.jsonl: one line per (study, recipe) with the verdict beside the paper's and the regime" \
  "$PY3" -c "
import json, sys
rows = [json.loads(l) for l in open('$T/f/findings.jsonl')]
assert [(r['study'], r['recipe']) for r in rows] == [('one', 'scalerl'), ('one', 'scalerl+lr=1e-4'), ('two', 'scalerl'), ('two', 'scalerl+agg=sample')], rows
for r in rows:
    for k in ('seeds', 'A', 'A_lo', 'A_hi', 'B', 'Cmid', 'last_mean', 'verdict', 'paper', 'paper_verdict', 'agrees', 'clip_frac', 'far_frac', 'mismatch_kl', 'stale_mean', 'truncate_frac', 'len_std', 'A_at_bound', 'A_weibull', 'A_weibull_at_bound', 'plateau', 'flat', 'eval_scatter', 'mismatch_kl_peak'):
        assert k in r, (k, r)
    assert r['seeds'] == 2, r
    # the baseline's plateau is read off another recipe's comparison: present for every row.
    assert 0 <= r['plateau'] <= 1 and r['flat'] in (True, False), r
"
for st in one two; do
  base=scalerl
  "$S" compare "$T/f/$st" baseline=$base json=1 >"$T/$st.json" 2>/dev/null
  check "compare on the archived study '$st' reproduces findings.jsonl's verdicts" "$PY3" -c "
import json
got = {o['recipe']: o['verdict'] for o in map(json.loads, open('$T/$st.json')) if o.get('kind') == 'recipe'}
want = {r['recipe']: r['verdict'].split(',')[0] for r in map(json.loads, open('$T/f/findings.jsonl')) if r['study'] == '$st'}
assert got == want, (got, want)
"
done
check "README.md gets the table" grep -q '| one | scalerl+lr=1e-4 | 2 |' "$T/f/README.md"
# time_study.sh: print=units lists every run with its planned seconds; `run` stamps the output
# and brackets it in a segment (here over the finished study: nothing left to run); `report`
# sums a run's pieces across segments, a piece cut by a segment's end counting to that end.
bench/findings/run.sh seeds=2 print=units >"$T/units" 2>&1
check "print=units: the 6 runs, planned seconds first, all finished" bash -c "
  [ \$(wc -l <'$T/units') = 6 ] && [ \$(awk -F'\t' '\$1 > 0 && \$3 == 1' '$T/units' | wc -l) = 6 ] &&
  grep -q '	one	one	default	scalerl+lr=1e-4	2\$' '$T/units'"
# Measured times (FINDINGS_TIMES, as time_study.sh times writes them) replace the FLOPs model for
# the entries they list: 5 default-run times is 5 x 7.0e13 x 2.8e-12 = 980 s (run.sh's constants),
# which puts that entry's runs first; the others keep the model's 0.08167 s (16 x 4 x 40 of a
# default run's 48 x 16 x 8000, FINDINGS_KEYS, x 196 s).
printf '# home\tentry\truns\ttime\tmean seconds\none\tscalerl+lr=1e-4\t3\t5\t900\n' >"$T/times.tsv"
FINDINGS_TIMES="$T/times.tsv" bench/findings/run.sh seeds=2 print=units >"$T/units_t" 2>&1
FINDINGS_TIMES="$T/times.tsv" bench/findings/run.sh seeds=2 print=plan >"$T/plan_t" 2>&1
check "measured times: the listed entry planned at 980 s and first, the others at the model's 0.08167 s, the plan says which" bash -c "
  head -2 '$T/units_t' | cut -f1,7 | tr '\t\n' '  ' | grep -qx '980 scalerl+lr=1e-4 980 scalerl+lr=1e-4 ' &&
  [ \$(awk -F'\t' '\$1 == \"0.08167\"' '$T/units_t' | wc -l) = 4 ] &&
  grep 'scalerl+lr=1e-4 ' '$T/plan_t' | grep -q '(time x5 measured)' && grep 'agg=sample ' '$T/plan_t' | grep -q '(time x0.000416667 modelled)'"
# default_s= plans at another machine's speed: a default run of 392 s, twice run.sh's 196 s,
# doubles every planned time (the listed entry 5 x 392 = 1960 s) and the plan says so.
FINDINGS_TIMES="$T/times.tsv" bench/findings/run.sh seeds=2 print=units default_s=392 >"$T/units_d" 2>&1
FINDINGS_TIMES="$T/times.tsv" bench/findings/run.sh seeds=2 print=plan default_s=392 >"$T/plan_d" 2>&1
bench/findings/run.sh seeds=2 print=plan default_s=0 >/dev/null 2>"$T/bad_d"
rc=$?
check "default_s=392: every planned time doubled, the plan says at what speed; default_s=0 refused in one line (exit $rc)" bash -c "
  [ \"\$(cut -f1 '$T/units_d')\" = \"\$(awk -F'\t' '{ printf \"%.4g\\n\", 2 * \$1 }' '$T/units_t')\" ] &&
  head -1 '$T/units_d' | cut -f1 | grep -qx 1960 &&
  grep -q \"times at a default run's 392 s beside another (default_s=)\" '$T/plan_d' &&
  grep -q \"times at a default run's 196 s beside another, measured on another machine\" '$T/plan_t' &&
  [ $rc = 1 ] && [ \$(wc -l <'$T/bad_d') = 1 ] && grep -q 'bad default_s=0: expected' '$T/bad_d'"
# default_s=auto: print=plan measures the speed as a study's run does, and plans as default_s= at
# the seconds it found; a probe that fails stops it with one line naming its logs, which say why.
bench/findings/run.sh seeds=2 print=plan default_s=auto >"$T/plan_auto" 2>&1
auto_s=$(grep -o "times at a default run's [0-9]* s beside another (measured here" "$T/plan_auto" | grep -o '[0-9][0-9]*')
bench/findings/run.sh seeds=2 print=plan default_s="$auto_s" >"$T/plan_auto_s" 2>&1
check "default_s=auto: the plan at the measured ${auto_s:-?} s is default_s=${auto_s:-?}'s" bash -c "
  [ -n '$auto_s' ] && [ \"\$(grep 'total:' '$T/plan_auto')\" = \"\$(grep 'total:' '$T/plan_auto_s')\" ]"
FINDINGS_PROBE_STEPS=0 bench/findings/run.sh seeds=2 print=plan default_s=auto >/dev/null 2>"$T/bad_p"
rc=$?
check "a failing speed probe: exit $rc, one line naming its logs, which name the bad value" bash -c "
  [ $rc = 1 ] && [ \$(wc -l <'$T/bad_p') = 1 ] && grep -q 'the speed probe (a default run of 0 steps) failed (exit [1-9]' '$T/bad_p' &&
  log=\$(grep -o \"'[^']*/s1.log'\" '$T/bad_p' | tr -d \"'\") && grep -q 'steps' \"\$log\" && rm -rf \"\$(dirname \"\$log\")\""
printf 'one\tscalerl\t3\tfast\t1\n' >"$T/times_bad.tsv"
FINDINGS_TIMES="$T/times_bad.tsv" bench/findings/run.sh seeds=2 print=plan >/dev/null 2>"$T/bad_t"
rc=$?
check "a bad measured time is refused with one line naming it (exit $rc)" bash -c "
  [ $rc = 1 ] && [ \$(wc -l <'$T/bad_t') = 1 ] && grep -q \"bad time 'fast' for one scalerl in $T/times_bad.tsv\" '$T/bad_t'"
mkdir -p "$T/ts" && ln -s "$T/f" "$T/ts/out"
bench/findings/time_study.sh run "$T/ts" seeds=2 >/dev/null 2>&1
rc=$?
check "time_study run: exit $rc, one segment opened and closed, the output stamped" bash -c "
  [ $rc = 0 ] && grep -c '^segment start [0-9]* seeds=2\$' '$T/ts/segments.log' | grep -qx 1 &&
  grep -q '^segment end [0-9]* rc=0\$' '$T/ts/segments.log' && grep -Eq '^[0-9]+ findings plan: 2 seeds' '$T/ts/findings.log'"
mkdir -p "$T/ts2" && ln -s "$T/f" "$T/ts2/out"
printf 'segment start 100 seeds=2\nsegment end 500 rc=143\nsegment start 600 seeds=2\nsegment end 800 rc=0\n' >"$T/ts2/segments.log"
printf '%s\n' '100 == study one: scalerl seed 1 (x)' '200 == study one: scalerl+lr=1e-4 seed 1 (x)' \
  '400 == study one: scalerl seed 1 finished' '600 == study one: scalerl+lr=1e-4 seed 1 (x)' \
  '700 == study one: scalerl+lr=1e-4 seed 1 finished' '650 == study two: scalerl+agg=sample seed 2 (x)' >"$T/ts2/findings.log"
bench/findings/time_study.sh report "$T/ts2" seeds=2 >"$T/ts2/report" 2>&1
check "time_study report: 600 s of wall time over 2 segments; runs of 300 s and 300 + 100 s; 2 of 6 finished" bash -c "
  grep -q '^2 segment(s), 0.17 h of wall time\$' '$T/ts2/report' &&
  grep -Eq '^one +scalerl +1 +300 ' '$T/ts2/report' && grep -Eq '^one +scalerl\\+lr=1e-4 +1 +400 ' '$T/ts2/report' &&
  grep -q '^finished 2 of 6 runs' '$T/ts2/report' && ! grep -q 'agg=sample' '$T/ts2/report'"
bench/findings/time_study.sh times "$T/ts2" seeds=2 >"$T/ts2/times" 2>&1
check "time_study times: per entry over the table's first (one scalerl, 300 s): 1.000 and 400 / 300 = 1.333" bash -c "
  grep -v '^#' '$T/ts2/times' | tr '\t' ' ' | tr '\n' ';' | grep -qx 'one scalerl 1 1.000 300;one scalerl+lr=1e-4 1 1.333 400;'"
# The stability columns on made-up rows, evaluated every 100 steps as the runs are. Tolerances: a
# smooth logistic departs from its neighbours' median by its curvature over 200 steps (2e-4 here,
# bound 1e-3); one point 0.2 low among 76 gives an sd of about 0.2 / sqrt(76) = 0.023, so > 0.015
# cannot come from the smooth part.
check "eval scatter: near 0 on a smooth curve, large with one dip; KL peak: the worst 1000-step window" "$PY3" -c "
import math, sys
sys.path.insert(0, 'bench/findings')
import assemble
smooth = [{'step': s, 'pass_rate': 0.2 + 0.6 / (1 + math.exp(-(s - 3000) / 1000))} for s in range(0, 8001, 100)]
dip = [dict(r) for r in smooth]
dip[40]['pass_rate'] -= 0.2
a, b = assemble.eval_scatter(smooth), assemble.eval_scatter(dip)
assert a < 1e-3 and b > 0.015, (a, b)
assert assemble.eval_scatter(smooth[:2]) is None
rows = [{'step': s, 'mismatch_kl': 0.1 if 1000 < s <= 2000 else 0.01} for s in range(10, 3001, 10)]
assert abs(assemble.mismatch_kl_peak(rows) - 0.1) < 1e-12, assemble.mismatch_kl_peak(rows)
"
check "stability.py: the correlation over the committed rows, and a window of a run" bash -c "
  $PY3 bench/findings/stability.py | grep -Eq 'over [0-9]+ distinct rows: -?[0-9.]+\$' &&
  $PY3 bench/findings/stability.py '$T/f/one/scalerl-s1' from=10 to=40 at=40 | grep -Eq 'steps 10-40 mismatch KL [0-9.]+, interrupted [0-9.]+, length sd [0-9.]+, .*pass rate at 40 '"
# trades.py costs a sparser evaluation on the committed runs by dropping eval rows; that is only
# what such a run would have written if evaluation leaves training alone. Exact equality (timings
# aside): the same config and seed give byte-identical rows (ref/rl/README.md).
"$S" train --config "$T/f/one/scalerl-s1/config.txt" out="$T/e10" eval_every=10 progress=0 >/dev/null 2>&1
check "trades.py: a run's eval rows thinned to eval_every=10 are what a run with eval_every=10 writes" "$PY3" -c "
import sys
sys.path.insert(0, 'bench/findings')
import trades
strip = lambda rows: [{k: v for k, v in r.items() if k not in ('wall_s', 'cpu_s')} for r in rows]
thin = trades.thinned(trades.load('$T/f/one/scalerl-s1/metrics.jsonl.gz'), 10)
fresh = [r for r in trades.load('$T/e10/metrics.jsonl') if r.get('kind') != 'step' or r['step'] % 10 == 0]
assert [r['step'] for r in thin if r.get('kind') == 'eval'] == [0, 10, 20, 30, 40], thin
assert strip(thin) == strip(fresh), 'differ'
"
TR=(bench/findings/trades.py "$S" dir="$T/f" tsv="$T/studies.tsv")
check "trades.py: no reduction changes nothing and saves nothing; eval_every=10 saves a share" bash -c "
  $PY3 ${TR[*]} >'$T/tr0' && $PY3 ${TR[*]} eval_every=10 studies=two >'$T/tr10' &&
  tail -1 '$T/tr0' | grep -q '^0 of 4 verdicts changed (0 in core rows); the dropped evaluations and runs took 0.0% ' &&
  grep -c '^two ' '$T/tr10' | grep -qx 2 && ! grep -q '^one ' '$T/tr10' &&
  tail -1 '$T/tr10' | grep -Eq '^[0-2] of 2 verdicts changed .* took ([1-9][0-9]?|0\.[1-9])[0-9.]*% '"
# findings.jsonl's one_seed_less (assemble.py: compare over links to the other seeds' runs) against
# trades.py's copy without that seed, two paths to one verdict; loss_hi's DAPO is a row that
# leaving out seed 1 moves. With 2 seeds (the test's study) there is no such field: one less leaves no spread.
"$PY3" bench/findings/trades.py "$S" seeds=2,3 studies=loss_hi >"$T/tr_hi"
check "one seed less: findings.jsonl's verdict without seed 1 is trades.py's; none at 2 seeds" "$PY3" -c "
import json
want = {r['recipe']: r for r in map(json.loads, open('bench/findings/findings.jsonl')) if r['study'] == 'loss_hi'}
got = {l[15:65].rstrip(): l[97:121].rstrip() for l in open('$T/tr_hi') if l.startswith('loss_hi ')}
r = want['loo-dapo+lr=2e-4']
assert got['loo-dapo+lr=2e-4'] == r['one_seed_less']['1'] != r['verdict'] and r['marginal'] is True, (got, r)
assert 'one_seed_less' not in want['scalerl+lr=2e-4'], 'a baseline has no verdict to move'
tiny = [json.loads(l) for l in open('$T/f/findings.jsonl')]
assert tiny and all('one_seed_less' not in l for l in tiny), tiny
"
check "trades.py: a bad value is named, nothing is assembled" bash -c "
  ! $PY3 ${TR[*]} seeds=x 2>'$T/tre' && grep -q \"bad seeds=x\" '$T/tre' &&
  ! $PY3 ${TR[*]} studies=nope 2>'$T/tre' && grep -q \"bad study 'nope'\" '$T/tre'"
# The committed study (issue #14, point 6): compare on each study directory of bench/findings
# reproduces findings.jsonl's verdicts and pooled fits. boot=0: the verdicts and the point fits
# do not use the bootstrap (the margins are seed spreads); tolerance 1e-9 relative on A, A_weibull, the plateau and
# last_mean, which are the same doubles computed the same way, printed with 17 digits.
for st in $("$PY3" -c "
import json
print(' '.join(dict.fromkeys(json.loads(l)['study'] for l in open('bench/findings/findings.jsonl'))))"); do
  base=$("$PY3" -c "
import json
print([r['recipe'] for r in map(json.loads, open('bench/findings/findings.jsonl')) if r['study'] == '$st'][0])")
  "$S" compare "bench/findings/$st" baseline="$base" json=1 boot=0 unfinished=skip >"$T/c-$st.json" 2>/dev/null
  check "compare on the committed study '$st' reproduces findings.jsonl's verdicts and fits" "$PY3" -c "
import json
got = {o['recipe']: o for o in map(json.loads, open('$T/c-$st.json')) if o.get('kind') == 'recipe'}
want = {r['recipe']: r for r in map(json.loads, open('bench/findings/findings.jsonl')) if r['study'] == '$st'}
assert set(want) <= set(got), (sorted(got), sorted(want))
for name, w in want.items():
    g = got[name]
    # findings.jsonl adds the direction to a ceiling mover ('ceiling mover, lower').
    assert g['verdict'] == w['verdict'].split(',')[0] and g['seeds'] == w['seeds'], (name, g['verdict'], w['verdict'])
    if g['verdict'] == 'ceiling mover':
        assert w['verdict'].endswith('higher' if g['d_ceiling'] > 0 else 'lower'), (name, g['d_ceiling'], w['verdict'])
    assert g.get('ceiling_pinned') == w.get('ceiling_pinned'), (name, g.get('ceiling_pinned'), w.get('ceiling_pinned'))
    for k in ('A', 'last_mean', 'A_weibull') + (('plateau',) if 'plateau' in g else ()):
        assert abs(g[k] - w[k]) <= 1e-9 * abs(w[k]), (name, k, g[k], w[k])
"
done
# The loo study's two closest calls with two more seeds of both recipes (bench/findings/README.md,
# "Results"): each still an efficiency shaper at 5 seeds.
for r in loo-batch loo-dapo; do
  "$S" compare "bench/findings/extra_seeds/$r" baseline=scalerl json=1 boot=0 >"$T/c-extra-$r.json" 2>/dev/null
  check "compare on the 5-seed $r directory: both recipes at 5 seeds, $r an efficiency shaper" "$PY3" -c "
import json
got = {o['recipe']: o for o in map(json.loads, open('$T/c-extra-$r.json')) if o.get('kind') == 'recipe'}
assert got['scalerl']['seeds'] == 5 and got['$r']['seeds'] == 5, got
assert got['$r']['verdict'] == 'efficiency shaper', got['$r']
"
done
# The regime rows whose verdict one seed less moves (findings.jsonl's `marginal`), with seeds 4 and
# 5 of both recipes (bench/findings/README.md, "Time on 2 cores"): each keeps its 3-seed verdict,
# which the cheaper studies costed there would turn.
for st in mixture length lp_tight loss_hi; do
  read -r base rec < <("$PY3" -c "
import json
rows = [r for r in map(json.loads, open('bench/findings/findings.jsonl')) if r['study'] == '$st']
print(rows[0]['recipe'], [r['recipe'] for r in rows if r.get('marginal')][0])")
  "$S" compare "bench/findings/extra_seeds/$st" baseline="$base" json=1 boot=0 >"$T/c-extra-$st.json" 2>/dev/null
  check "compare on the 5-seed $st directory: $rec keeps its marginal 3-seed verdict" "$PY3" -c "
import json
got = {o['recipe']: o for o in map(json.loads, open('$T/c-extra-$st.json')) if o.get('kind') == 'recipe'}
want = [r for r in map(json.loads, open('bench/findings/findings.jsonl')) if r['study'] == '$st' and r['recipe'] == '$rec'][0]
assert got['$base']['seeds'] == 5 and got['$rec']['seeds'] == 5 and len(got) == 2, got
assert want['marginal'] and got['$rec']['verdict'] == want['verdict'], (got['$rec']['verdict'], want['verdict'])
"
done
# Group normalization at 32 completions a group, 5 seeds (bench/findings/README.md, "Group against
# batch normalization"): no effect by the margin, its plateau 0.0199 below the baseline's against
# 0.020; the check bounds the drop at 0.015-0.020, so a change of compare's plateau reading that
# moved it out of that band, or over the margin, fails here before the README's figures go stale.
G32=scalerl+prompts_per_step=24+gens_per_prompt=32
"$S" compare bench/findings/extra_seeds/plan_g32 baseline=$G32 json=1 boot=0 >"$T/c-extra-g32.json" 2>/dev/null
check "compare on the 5-seed plan_g32 directory: group normalization no effect, its plateau 0.015-0.020 lower" "$PY3" -c "
import json
got = {o['recipe']: o for o in map(json.loads, open('$T/c-extra-g32.json')) if o.get('kind') == 'recipe'}
g = got['loo-plan+prompts_per_step=24+gens_per_prompt=32']
assert got['$G32']['seeds'] == 5 and g['seeds'] == 5, got
assert g['verdict'] == 'no effect' and g['ceiling_reading'] == 'plateau' and -0.020 < g['dP'] < -0.015, g
"
# The same two recipes over 12000 steps (plan_g32_long): the 8000-step gap was the cosine's end
# freezing a slower late climb, not a lower ceiling; the plateaus come within 0.01 (0.0065
# measured) and B within 5% (+1.0%), so a reading that kept the 0.02 gap, or moved B, fails here.
"$S" compare bench/findings/plan_g32_long baseline=$G32+steps=12000 json=1 boot=0 >"$T/c-g32-long.json" 2>/dev/null
check "compare on plan_g32_long: the gap closes with 1.5 times the steps, plateaus within 0.01, B within 5%" "$PY3" -c "
import json
got = {o['recipe']: o for o in map(json.loads, open('$T/c-g32-long.json')) if o.get('kind') == 'recipe'}
g = got['loo-plan+prompts_per_step=24+gens_per_prompt=32+steps=12000']
b = got['$G32+steps=12000']
assert b['seeds'] == 3 and g['seeds'] == 3, got
assert g['verdict'] == 'no effect' and g['ceiling_reading'] == 'plateau' and -0.010 < g['dP'] < 0, g
assert abs(g['B_common'] / g['B_common_baseline'] - 1) < 0.05, g
"
# CISPO against DAPO and GRPO over 12000 steps (loss_long): the ceilings meet (plateaus 0.0046 and
# 0.0045 apart, against 0.0195 and 0.0205 at 8000 steps), read by the levels with every run flat;
# a reading that kept the 8000-step gaps fails here.
"$S" compare bench/findings/loss_long baseline=scalerl+steps=12000+train_pool=330000 json=1 boot=0 >"$T/c-loss-long.json" 2>/dev/null
check "compare on loss_long: DAPO's and GRPO's plateaus within 0.01 of CISPO's given 1.5 times the steps" "$PY3" -c "
import json
got = {o['recipe']: o for o in map(json.loads, open('$T/c-loss-long.json')) if o.get('kind') == 'recipe'}
assert got['scalerl+steps=12000+train_pool=330000']['seeds'] == 3, got
for r in ('loo-dapo', 'scalerl+loss=grpo'):
    d = got[r + '+steps=12000+train_pool=330000']
    assert d['seeds'] == 3 and d['ceiling_reading'] == 'plateau' and d['flat'] and d['flat_baseline'], d
    assert -0.010 < d['dP'] < 0, d
"
# 32 completions a group over 12000 steps (gens_long, its baseline loss_long's runs): it ends level
# with 16 (last points +0.001, against 0.013 lower at 8000 steps) and its half-gain is still later
# (+0.103 decades); the check bounds the first within 0.01 and the second above 0.05 decades.
"$S" compare bench/findings/gens_long baseline=scalerl+steps=12000+train_pool=330000 json=1 boot=0 >"$T/c-gens-long.json" 2>/dev/null
check "compare on gens_long: 32 completions end level with 16 given 1.5 times the steps, their half-gain still later" "$PY3" -c "
import json
got = {o['recipe']: o for o in map(json.loads, open('$T/c-gens-long.json')) if o.get('kind') == 'recipe'}
b = got['scalerl+steps=12000+train_pool=330000']
g = got['scalerl+prompts_per_step=24+gens_per_prompt=32+steps=12000+train_pool=330000']
assert b['seeds'] == 3 and g['seeds'] == 3, got
assert abs(g['last_mean'] - b['last_mean']) < 0.010 and g['dlog10_Cmid'] > 0.05, g
"
check "a bad argument or study is refused with one line naming it, exit 1" bash -c "
  bench/findings/run.sh sedds=2 >/dev/null 2>'$T/bad1'; r1=\$?
  bench/findings/run.sh studies=nope >/dev/null 2>'$T/bad2'; r2=\$?
  bench/findings/run.sh tier=most >/dev/null 2>'$T/bad3'; r3=\$?
  sed 's/\tno effect\textra\$/\tno effect\tmaybe/' '$T/studies.tsv' >'$T/badtier.tsv'
  FINDINGS_STUDIES='$T/badtier.tsv' bench/findings/run.sh print=plan >/dev/null 2>'$T/bad4'; r4=\$?
  [ \$r1 = 1 ] && [ \$r2 = 1 ] && [ \$r3 = 1 ] && [ \$r4 = 1 ] && grep -q \"unknown argument 'sedds=2'\" '$T/bad1' &&
    grep -q \"unknown study 'nope'\" '$T/bad2' && grep -q 'bad tier=most: expected core or all' '$T/bad3' &&
    grep -q 'bad tier in .*scalerl+steps=80: maybe' '$T/bad4' && [ \$(cat '$T/bad1' '$T/bad2' '$T/bad3' '$T/bad4' | wc -l) = 4 ]"
# README.md's short table ("What the toy reproduces of the paper") is short_table.py's print of the
# committed findings.jsonl, row for row: a verdict that changes in findings.jsonl must change there.
check "README.md's short table is short_table.py's print of findings.jsonl, and names every compared row" bash -c "
  $PY3 bench/findings/short_table.py >'$T/short.md' &&
  sed -n '/^<!-- short findings table -->\$/,/^<!-- end short findings table -->\$/p' README.md | sed '1d;\$d' >'$T/short_readme.md' &&
  [ -s '$T/short.md' ] && diff '$T/short.md' '$T/short_readme.md' >&2 &&
  [ \$(tail -n +3 '$T/short.md' | grep -c '^| ') = \$(grep -vc '\"verdict\": \"baseline\"' bench/findings/findings.jsonl) ]"
