#!/usr/bin/env bash
# End to end through the command line: synth -> fit -> fit.json, plot, compare; the refusals
# (exit 1, one line, nothing written); truncated and malformed metrics; byte-identical reruns.
# JSON and SVG outputs are checked with python3's standard library (json, xml), an independent
# parser.
. "$(dirname "$0")/lib.sh"
need_python3

pyjson() { "$PY3" -c "import json,sys; d=json.load(open(sys.argv[1])); $2" "$1"; }

# ---- synth and fit
"$S" synth out="$T/a" A=0.7 B=2 Cmid=1e14 R0=0.1 noise=0.01 n=40 seed=1 || fail "synth" "exit $?"
check "synth writes metrics.jsonl and config.txt" test -s "$T/a/metrics.jsonl" -a -s "$T/a/config.txt"
check "synth config has recipe= and seed=" grep -q '^recipe=synth$' "$T/a/config.txt"
out=$("$S" fit "$T/a" predict=1e15,1e17 target=0.65 2>&1); rc=$?
[ $rc -eq 0 ] && pass "fit exits 0" || fail "fit exits 0" "exit $rc: $out"
check "fit.json written" test -s "$T/a/fit.json"
check "fit.json has every contract field" pyjson "$T/a/fit.json" "
keys='A B Cmid R0 A_lo A_hi B_lo B_hi Cmid_lo Cmid_hi r2 sse x points excluded powerlaw_A powerlaw_B powerlaw_D'.split()
missing=[k for k in keys if k not in d]; assert not missing, missing"
check "fit.json: A within 0.02, B within 15%, intervals around the estimates" pyjson "$T/a/fit.json" "
assert abs(d['A']-0.7)<=0.02 and abs(d['B']-2)/2<=0.15, d
assert d['A_lo']<=d['A']<=d['A_hi'] and d['B_lo']<=d['B']<=d['B_hi'] and d['Cmid_lo']<=d['Cmid']<=d['Cmid_hi']
assert d['points']==36 and d['excluded']==4 and d['x']=='flops'"
check "fit.json: forecasts and target" pyjson "$T/a/fit.json" "
assert d['predict_x']==[1e15,1e17] and all(lo<=r<=hi for r,lo,hi in zip(d['predict_R'],d['predict_lo'],d['predict_hi']))
assert d['target_reachable'] and d['target_x_lo']<=d['target_x']<=d['target_x_hi']"
check "fit.json: cutoff sensitivity arrays" pyjson "$T/a/fit.json" "assert len(d['cutoff_A'])==6 and d['cutoff_frac'][0]==-1"
check "text output shows the power law and its warning" grep -q "power law R = A - D\*C^-B.*warning" <<<"$out"
check "text output shows A against the cutoff" grep -q "A against the early cutoff" <<<"$out"
check "text output forecasts" grep -q "to reach 0.6500" <<<"$out"
out=$("$S" fit "$T/a" target=0.9 cutoffs=0 boot=0 2>&1)
check "a target above A is said to be above the ceiling" grep -q "above the fitted ceiling" <<<"$out"

# boot_block: fit.json says how its intervals were drawn (1, the point bootstrap, by default); the
# key reaches the fit from the command line (the text says so) and 0 is refused, naming the key.
check "fit.json: boot_block 1 by default" pyjson "$T/a/fit.json" "assert d['boot_block']==1, d.get('boot_block')"
out=$("$S" fit "$T/a" boot_block=6 cutoffs=0 save=0 2>&1)
check "boot_block=6: intervals drawn in blocks of 6 points" grep -q "resamples in blocks of 6 points" <<<"$out"
"$S" fit "$T/a" boot_block=0 >"$T/bb0.txt" 2>&1; rc=$?
check "boot_block=0 refused in one line naming it (exit $rc)" \
  bash -c "[ $rc = 1 ] && [ \$(wc -l <'$T/bb0.txt') = 1 ] && grep -q \"'boot_block'\" '$T/bb0.txt'"

# y=: a family's rate column of a mixed task's eval rows. A copy of pass_rate under another name
# (two rounds of doubles through %.17g: the same numbers) fits to the same bytes; a missing
# column names itself and the row's columns; a column that is not a rate is refused.
mkdir -p "$T/fam"
cp "$T/a/config.txt" "$T/fam/"
awk '/"kind":"eval"/ { match($0, /"pass_rate":[^,}]*/); v = substr($0, RSTART + 12, RLENGTH - 12)
                       sub(/\}$/, ",\"pass_rate_sum\":" v "}") } { print }' "$T/a/metrics.jsonl" >"$T/fam/metrics.jsonl"
"$S" fit "$T/a" boot=0 cutoffs=0 json=1 save=0 2>/dev/null | grep -o '"A":[^,]*,"B":[^,]*,"Cmid":[^,]*' >"$T/fam.base"
"$S" fit "$T/fam" y=pass_rate_sum boot=0 cutoffs=0 json=1 save=0 2>/dev/null | grep -o '"A":[^,]*,"B":[^,]*,"Cmid":[^,]*' >"$T/fam.y"
check "fit y=pass_rate_sum on a copy of pass_rate: the same A, B, Cmid ($(head -1 "$T/fam.y"))" \
  bash -c "[ -s '$T/fam.y' ] && cmp -s '$T/fam.base' '$T/fam.y'"
"$S" fit "$T/fam" y=pass_rate_sum boot=0 cutoffs=0 >/dev/null 2>&1
check "fit.json records y" pyjson "$T/fam/fit.json" "assert d['y']=='pass_rate_sum' and d['x']=='flops', d"
expect_error "fit y= a column the rows lack: named, with the row's columns" 1 "'pass_rate_pair'" "pass_rate_sum" -- \
  fit "$T/fam" y=pass_rate_pair boot=0 save=0
expect_error "fit y= a column that is not a rate" 1 "bad value 'len_mean' for 'y'" -- fit "$T/fam" y=len_mean save=0
expect_error "fit y=pass_rate_lo (an interval's end, not a family) is refused" 1 "bad value 'pass_rate_lo' for 'y'" -- \
  fit "$T/fam" y=pass_rate_lo save=0

# form=weibull: the faster-saturating form, on data of that form
"$S" synth out="$T/w" shape=weibull A=0.8 B=1.5 Cmid=1e14 R0=0.1 noise=0.01 n=40 seed=2 >/dev/null
"$S" fit "$T/w" form=weibull boot=0 cutoffs=0 >/dev/null 2>&1 || fail "fit form=weibull" "exit $?"
check "fit form=weibull: A within 0.02, B within 15%, the form named in fit.json" pyjson "$T/w/fit.json" "
assert d['form']=='weibull' and '2^-' in d['model'] and abs(d['A']-0.8)<=0.02 and abs(d['B']-1.5)/1.5<=0.15, d"

# fit_until: hold out the tail and score it
"$S" fit "$T/a" fit_until=5e15 json=1 >"$T/until.jsonl" 2>&1 || fail "fit fit_until" "exit $?"
check "fit_until: held-out points scored within 0.02" pyjson "$T/a/fit.json" "
assert d['holdout']>0 and d['holdout_mae']<=0.02 and d['fit_until']==5e15, d['holdout_mae']"
check "json=1 prints parseable lines" "$PY3" -c "
import json,sys
rows=[json.loads(l) for l in open(sys.argv[1])]; assert rows and rows[0]['kind']=='run' and 'A' in rows[0]" "$T/until.jsonl"

# determinism: same inputs, same bytes, whatever the thread count
"$S" fit "$T/a" >/dev/null 2>&1; cp "$T/a/fit.json" "$T/fit1.json"
OMP_NUM_THREADS=1 "$S" fit "$T/a" >/dev/null 2>&1; cp "$T/a/fit.json" "$T/fit2.json"
OMP_NUM_THREADS=2 "$S" fit "$T/a" >/dev/null 2>&1
check "fit.json byte-identical across reruns and thread counts" cmp -s "$T/fit1.json" "$T/fit2.json"
check "fit.json byte-identical on 2 threads" cmp -s "$T/fit1.json" "$T/a/fit.json"

# ---- refusals: exit 1, one line, no fit.json
"$S" synth out="$T/few" n=3 >/dev/null
expect_error "fit refuses fewer than 4 points" 1 "need at least 4" -- fit "$T/few"
check "no fit.json after a refusal" test ! -e "$T/few/fit.json"
# On five points most bootstrap resamples hold too few distinct points to fit; the ones that do
# are the data again, so their "interval" would be a sliver (75 of 200 fitted here). No intervals
# then; on ten points (198 of 200) they are given.
"$S" synth out="$T/five" n=5 noise=0.01 >/dev/null && "$S" synth out="$T/ten" n=10 noise=0.01 >/dev/null
check "five points: no intervals, saying how many resamples fitted" \
  bash -c "'$S' fit '$T/five' save=0 | grep -q 'no intervals: only [0-9]* of 200 resamples fitted'"
check "ten points: intervals" bash -c "'$S' fit '$T/ten' save=0 | grep -q 'intervals from 19[0-9] of 200'"
# The held-out error at the last point of a pooled fit is the mean over its runs, not the first
# run's: two runs equal up to the cut (so the pooled curve is the single run's), the second's last
# point 0.1 lower. Tolerance 1e-5: the pooled and single fits converge to the same optimum to ~1e-7.
"$S" synth out="$T/hl/a" recipe=r noise=0.01 n=40 spacing=even >/dev/null && cp -r "$T/hl/a" "$T/hl/b"
"$PY3" -c "
import json, sys
p = sys.argv[1]; L = open(p).read().splitlines()
i = max(i for i, l in enumerate(L) if '\"kind\":\"eval\"' in l)
o = json.loads(L[i]); o['pass_rate'] -= 0.1; o['pass_rate_lo'] -= 0.1; o['pass_rate_hi'] -= 0.1
L[i] = json.dumps(o, separators=(',', ':')); open(p, 'w').write('\n'.join(L) + '\n')" "$T/hl/b/metrics.jsonl"
"$S" fit "$T/hl/a" "$T/hl/b" fit_until_frac=0.5 boot=0 json=1 save=0 >"$T/hl.jsonl" 2>&1
check "a pooled fit's hold-out error at the last point is the mean over its runs" "$PY3" -c "
import json, sys
e = [json.loads(l)['holdout_last_error'] for l in open(sys.argv[1]) if 'holdout_last_error' in l]
assert len(e) == 3 and abs(e[2] - (e[0] + e[1]) / 2) < 1e-5 and abs(e[1] - e[0] - 0.1) < 1e-5, e" "$T/hl.jsonl"
# compare with fit_until_frac reads nothing beyond the cut: runs flat at their end (Weibull, 7 Cmid)
# are still rising at 30% of their compute, so there the forms decide, not the plateau.
for s in 1 2 3; do
  "$S" synth out="$T/cut/base-s$s" recipe=base seed=$s shape=weibull A=0.9 B=2 Cmid=1e14 R0=0.2 noise=0.008 n=60 \
    c_lo=1e13 c_hi=7e14 spacing=even >/dev/null
  "$S" synth out="$T/cut/low-s$s" recipe=low seed=$((s + 10)) shape=weibull A=0.84 B=2 Cmid=1e14 R0=0.2 noise=0.008 \
    n=60 c_lo=1e13 c_hi=7e14 spacing=even >/dev/null
done
"$S" compare "$T/cut" baseline=base boot=0 >"$T/cut-all.txt" 2>&1
"$S" compare "$T/cut" baseline=base boot=0 fit_until_frac=0.3 >"$T/cut-30.txt" 2>&1
check "compare on whole runs: flat, the plateaus decide" grep -q "runs flat: base yes, low yes" "$T/cut-all.txt"
check "compare with fit_until_frac=0.3: the cut runs are not flat, no plateau from beyond the cut" \
  bash -c "grep -q 'runs flat: base no, low no' '$T/cut-30.txt' && ! grep -q 'plateaus decide' '$T/cut-30.txt'"
last_all=$(awk '$1 == "low" && $2 == 3 { print $(NF-2) }' "$T/cut-all.txt")
last_30=$(awk '$1 == "low" && $2 == 3 { print $(NF-2) }' "$T/cut-30.txt")
check "compare's last column is the last point within the cut ($last_30 at 30% against $last_all at the end)" \
  awk_true "$last_30 < $last_all - 0.02"
"$S" synth out="$T/flat" A=0.3 R0=0.3 noise=0 >/dev/null
expect_error "fit refuses flat data" 1 "flat" -- fit "$T/flat"
expect_error "fit refuses a missing x column, naming it" 1 "no numeric column 'gpu_hours'" -- fit "$T/a" x=gpu_hours
expect_error "fit refuses an unknown key" 1 "unknown key 'bogus'" -- fit "$T/a" bogus=1
expect_error "fit refuses both exclusion keys" 1 "at most one" -- fit "$T/a" exclude_below=1 exclude_frac=0.1
expect_error "fit refuses boot=5" 1 "at least 20" -- fit "$T/a" boot=5
expect_error "fit refuses bad predict values" 1 "predict" -- fit "$T/a" predict=1e15,abc
expect_error "fit refuses no run directory" 1 "no run directory" -- fit
expect_error "synth refuses a directory not given as out=, saying so" 1 "unexpected argument" "the directory is out=DIR" -- \
  synth out="$T/never" "$T/few"
check "and writes nothing" test ! -e "$T/never"
mkdir -p "$T/nan"; cp "$T/a/config.txt" "$T/nan/"
sed 's/"step":7,\(.*\)"pass_rate":[^,]*,/"step":7,\1"pass_rate":null,/' "$T/a/metrics.jsonl" >"$T/nan/metrics.jsonl"
expect_error "fit refuses a non-finite pass rate, naming the line" 1 "metrics.jsonl:16: eval row without a finite number in 'pass_rate'" -- fit "$T/nan"
mkdir -p "$T/bad"; cp "$T/a/metrics.jsonl" "$T/bad/"; sed -i '5s/.*/{"kind":"eval",oops}/' "$T/bad/metrics.jsonl"
expect_error "fit refuses a malformed middle line, naming it" 1 "metrics.jsonl:5: bad JSON" -- fit "$T/bad"
check "no fit.json in the refused runs" test ! -e "$T/flat/fit.json" -a ! -e "$T/nan/fit.json" -a ! -e "$T/bad/fit.json"
# several runs, one of them bad: nothing is written anywhere
rm -f "$T/a/fit.json"
expect_error "fit of a good and a bad run refuses" 1 "need at least 4" -- fit "$T/a" "$T/few"
check "and writes no fit.json for the good run either" test ! -e "$T/a/fit.json"
err=$("$S" fit /nonexistent/run 2>&1); rc=$?
[ $rc -eq 2 ] && pass "a missing run directory is an I/O error (exit 2)" || fail "missing run dir" "exit $rc: $err"
err=$("$S" fit "$T/a" save=0 boot=0 cutoffs=0 2>&1 >/dev/full); rc=$?
[ $rc -eq 2 ] && grep -q "^scalerl fit: cannot write to stdout" <<<"$err" && pass "a report that cannot be written is an I/O error (exit 2)" \
  || fail "stdout write error" "exit $rc: $err"

# truncated last line: ignored with a note
mkdir -p "$T/trunc"; cp "$T/a/metrics.jsonl" "$T/a/config.txt" "$T/trunc/"
printf '{"kind":"eval","step":41,"flops":2e16,"pass_' >>"$T/trunc/metrics.jsonl"
err=$("$S" fit "$T/trunc" boot=0 cutoffs=0 2>&1 >/dev/null); rc=$?
[ $rc -eq 0 ] && grep -q "truncated last line" <<<"$err" && pass "a truncated last line is ignored with a note" \
  || fail "truncated last line" "exit $rc, stderr '$err'"

# ---- plot
out=$("$S" plot "$T/a" "$T/trunc" out="$T/curve.svg" 2>/dev/null); rc=$?
[ $rc -eq 0 ] && pass "plot exits 0" || fail "plot exits 0" "exit $rc"
check "plot writes a well-formed SVG" "$PY3" -c "
import sys, xml.etree.ElementTree as ET
r=ET.parse(sys.argv[1]).getroot(); assert r.tag.endswith('svg')
ns='{http://www.w3.org/2000/svg}'
paths=r.findall(ns+'path'); circles=r.findall(ns+'circle'); texts=[t.text or '' for t in r.iter(ns+'text')]
assert any(p.get('stroke-dasharray') for p in paths), 'no dashed extrapolation'
assert any(not p.get('stroke-dasharray') and p.get('fill')=='none' for p in paths), 'no solid fitted curve'
assert len(circles)>=80, len(circles)
assert any(t.startswith('A=0.') for t in texts), 'no asymptote label'
assert any('1e14' in t for t in texts), 'no log axis labels'" "$T/curve.svg"
check "plot prints a text preview with a legend" grep -q "(A=0\.[0-9]*)" <<<"$out"
expect_error "plot refuses a missing x column" 1 "no numeric column 'nope'" -- plot "$T/a" out="$T/none.svg" x=nope
check "and writes no SVG" test ! -e "$T/none.svg"

# ---- compare: hand-set A and B give the expected verdicts
for s in 1 2; do
  "$S" synth out="$T/cmp/scalerl-s$s" recipe=scalerl seed=$s noise=0.01 A=0.7 B=2 >/dev/null
  "$S" synth out="$T/cmp/lowA-s$s" recipe=lowA seed=$((s + 10)) noise=0.01 A=0.6 B=2 >/dev/null
  "$S" synth out="$T/cmp/steep-s$s" recipe=steep seed=$((s + 20)) noise=0.01 A=0.7 B=3.5 >/dev/null
  "$S" synth out="$T/cmp/same-s$s" recipe=same seed=$((s + 30)) noise=0.01 A=0.7 B=2 >/dev/null
done
"$S" compare "$T/cmp" json=1 boot=40 out="$T/cmp.svg" >"$T/cmp.jsonl" 2>"$T/cmp.err" || fail "compare" "exit $?: $(cat "$T/cmp.err")"
check "compare verdicts: lowA ceiling mover, steep efficiency shaper, same no effect" "$PY3" -c "
import json,sys
v={r['recipe']:r['verdict'] for r in map(json.loads, open(sys.argv[1]))}
assert v=={'scalerl':'baseline','lowA':'ceiling mover','steep':'efficiency shaper','same':'no effect'}, v" "$T/cmp.jsonl"
# last_mean is the mean of the seeds' last eval pass rates, read here from the runs themselves;
# tolerance 1e-12: the same doubles averaged in the same order, printed with 17 digits.
check "compare reports each recipe's last eval points, mean over seeds (last_mean)" "$PY3" -c "
import json,sys
rows={r['recipe']:r for r in map(json.loads, open(sys.argv[1]))}
for name in ('scalerl','lowA','steep','same'):
    last=[]
    for s in (1,2):
        ev=[json.loads(l) for l in open(sys.argv[2]+'/%s-s%d/metrics.jsonl'%(name,s)) if '\"eval\"' in l]
        last.append(max(ev,key=lambda r:r['flops'])['pass_rate'])
    want=sum(last)/2
    assert abs(rows[name]['last_mean']-want)<=1e-12*want, (name, rows[name]['last_mean'], want)
assert rows['lowA']['last_mean'] < rows['scalerl']['last_mean']-0.05, rows" "$T/cmp.jsonl" "$T/cmp"
check "compare draws every recipe on one SVG" "$PY3" -c "
import sys, xml.etree.ElementTree as ET
r=ET.parse(sys.argv[1]).getroot(); ns='{http://www.w3.org/2000/svg}'
texts=[t.text or '' for t in r.iter(ns+'text')]
assert sum(1 for t in texts if t.startswith('A=0.'))==4, texts" "$T/cmp.svg"
out=$("$S" compare "$T/cmp" boot=0 2>&1)
check "compare text names the seed spread and the floors" grep -q "floors: A 0.020" <<<"$out"
check "compare text names the columns fitted (x and y)" grep -q "fitted on x = flops, y = pass_rate; baseline scalerl" <<<"$out"
expect_error "compare y= a family column the runs lack" 1 "'pass_rate_pair'" -- compare "$T/cmp" y=pass_rate_pair boot=0
check "compare text gives each recipe's last points beside dA in both forms" \
  grep -qE "lowA +dA -0\.[0-9]+ \(margin [0-9.]+\), in the Weibull form -0\.[0-9]+ \(margin [0-9.]+\), last points -0\.[0-9]+" <<<"$out"
# ---- compare: verdicts a curve's shape cannot fool (ref/fit/README.md, "Verdicts"). Runs that
# saturate like the Weibull form, as the toy's do, evenly spaced evals to about 7 Cmid, noise 0.008
# (the plateau scatter of a real eval, README), 3 seeds each: `bend` reaches the baseline's plateau
# but bends more sharply, `lower` has a plateau 0.06 lower and the same bend, `same` is the baseline
# on other seeds. The log-logistic alone reads the sharper bend as a lower ceiling; the verdict
# must not.
W="shape=weibull R0=0.24 noise=0.008 n=70 spacing=even c_lo=7e11 c_hi=7e13"
for s in 1 2 3; do
  "$S" synth out="$T/shp/scalerl-s$s" recipe=scalerl seed=$s $W A=0.9 B=1 Cmid=1e13 >/dev/null
  "$S" synth out="$T/shp/bend-s$s" recipe=bend seed=$((s + 10)) $W A=0.9 B=2.2 Cmid=1.2e13 >/dev/null
  "$S" synth out="$T/shp/lower-s$s" recipe=lower seed=$((s + 20)) $W A=0.84 B=1 Cmid=1e13 >/dev/null
  "$S" synth out="$T/shp/same-s$s" recipe=same seed=$((s + 30)) $W A=0.9 B=1 Cmid=1e13 >/dev/null
done
"$S" compare "$T/shp" json=1 boot=0 >"$T/shp.jsonl" 2>"$T/shp.err" || fail "compare shapes" "exit $?: $(cat "$T/shp.err")"
check "shapes: a sharper bend to the same plateau is an efficiency shaper, a lower plateau a ceiling mover, the same curve no effect" "$PY3" -c "
import json,sys
v={r['recipe']:r['verdict'] for r in map(json.loads, open(sys.argv[1]))}
assert v=={'scalerl':'baseline','bend':'efficiency shaper','lower':'ceiling mover','same':'no effect'}, v" "$T/shp.jsonl"
check "shapes: the log-logistic alone would have called the bend a ceiling mover; the Weibull form and the plateaus do not" "$PY3" -c "
import json,sys
r={r['recipe']:r for r in map(json.loads, open(sys.argv[1]))}['bend']
assert r['dA'] < -r['margin_A'] and abs(r['dA_weibull']) <= r['margin_A_weibull'], r
assert not r['forms_agree'] and r['form_baseline']=='weibull' and r['form']=='weibull', r
assert abs(r['dA_better']) <= r['margin_A_better'], r
assert r['ceiling_reading']=='plateau' and abs(r['dP']) <= r['margin_P'], r
assert abs(r['last_mean']-0.9) < 0.02, r" "$T/shp.jsonl"
# fit form=weibull on several recipes tables them in that form but does not compare them: the
# comparison reads the log-logistic with the Weibull form beside it (before, it read the Weibull
# form twice, under both names).
"$S" fit "$T/shp/scalerl-s1" "$T/shp/bend-s1" form=weibull boot=0 save=0 cutoffs=0 >"$T/shp-wb.txt" 2>&1
check "fit form=weibull on two recipes: no pair read in one form under two names, a note instead" \
  bash -c "grep -q 'compared in the default form only' '$T/shp-wb.txt' && ! grep -q 'Weibull form [+-]' '$T/shp-wb.txt'"
check "shapes: the lower plateau is seen in both forms" "$PY3" -c "
import json,sys
r={r['recipe']:r for r in map(json.loads, open(sys.argv[1]))}['lower']
assert r['forms_agree'] and r['dA'] < -r['margin_A'] and r['dA_weibull'] < -r['margin_A_weibull'], r" "$T/shp.jsonl"
check "shapes: every reading that decided here rests on ceilings inside the bound (pinned)" "$PY3" -c "
import json,sys
r=[r for r in map(json.loads, open(sys.argv[1])) if r['recipe'] != 'scalerl']
assert len(r) == 3 and all(x['ceiling_pinned'] for x in r), r" "$T/shp.jsonl"
# A recipe still climbing at the end of its compute (Weibull A 0.97, half its gain at 3e13 of
# 7e13): the log-logistic runs A to its bound of 1, the Weibull form does not, and both read the
# ceiling higher. One form with both ceilings inside the bound backs the reading: pinned.
for s in 1 2 3; do
  "$S" synth out="$T/pin/scalerl-s$s" recipe=scalerl seed=$s $W A=0.9 B=1 Cmid=1e13 >/dev/null
  "$S" synth out="$T/pin/young-s$s" recipe=young seed=$((s + 60)) $W A=0.97 B=1 Cmid=3e13 >/dev/null
  "$S" synth out="$T/pin/tie-s$s" recipe=tie seed=$((s + 60)) $W shape=loglogistic A=1 B=0.5 Cmid=5e13 >/dev/null
done
"$S" compare "$T/pin" json=1 boot=0 >"$T/pin.jsonl" 2>"$T/pin.err" || fail "compare young" "exit $?: $(cat "$T/pin.err")"
check "pinned: a log-logistic A at its bound is backed by the Weibull form's, inside it" "$PY3" -c "
import json,sys
r={r['recipe']:r for r in map(json.loads, open(sys.argv[1]))}['young']
assert r['A_at_bound'] and not r['A_weibull_at_bound'], ('the case needs the log-logistic at its bound and the Weibull inside', r)
assert r['ceiling_reading'] == 'both forms' and r['ceiling_pinned'] and r['d_ceiling'] > 0, r" "$T/pin.jsonl"
# A young log-logistic (A 1.0, B 0.5, cut at 1.4 Cmid) that both forms fit within 0.1%: the
# better-form reading takes the Weibull's tail and reads its higher ceiling as lower; the tie
# leaves it not pinned.
check "pinned: a better-form reading on a near-tie of the forms is not pinned" "$PY3" -c "
import json,sys
r={r['recipe']:r for r in map(json.loads, open(sys.argv[1]))}['tie']
assert abs(r['sse_weibull'] / r['sse'] - 1) < 0.02, ('the case needs a near-tie', r)
assert r['ceiling_reading'] == 'better form' and not r['ceiling_pinned'], r" "$T/pin.jsonl"
out=$("$S" compare "$T/shp" boot=0 2>&1)
check "compare text says which reading decided" grep -qE "ceiling the same: every run of both is flat at its end, so the plateaus decide: 0\.[0-9]+ vs 0\.[0-9]+ \(dP [-+]0\.00[0-9]+, margin 0\.0200; the forms read dA [-+]0\.0[0-9]+\)" <<<"$out"
# ---- where every run is flat at its end, the plateau decides (ref/fit/README.md, "Verdicts",
# rule 4). `creep` is a log-logistic with a low B: fast early, then a slow creep that stands at the
# baseline's plateau (0.89) over the last fifth while its own form puts A at 0.95; `creep_low` is
# the same curve 0.05 lower everywhere. Each recipe's better form reads `creep`'s ceiling higher
# than the baseline's and `creep_low`'s about the same; the plateaus say the reverse.
for s in 1 2 3; do
  "$S" synth out="$T/plat/scalerl-s$s" recipe=scalerl seed=$s $W A=0.9 B=1 Cmid=1e13 >/dev/null
  "$S" synth out="$T/plat/creep-s$s" recipe=creep seed=$((s + 40)) $W shape=loglogistic A=0.95 B=0.4 Cmid=1.6e11 >/dev/null
  "$S" synth out="$T/plat/creep_low-s$s" recipe=creep_low seed=$((s + 50)) $W shape=loglogistic A=0.9 B=0.4 Cmid=1.6e11 R0=0.19 >/dev/null
done
"$S" compare "$T/plat" json=1 boot=0 >"$T/plat.jsonl" 2>"$T/plat.err" || fail "compare plateaus" "exit $?: $(cat "$T/plat.err")"
check "plateau: flat runs at the baseline's height are no ceiling mover though the forms read one; 0.05 lower is one though they do not" "$PY3" -c "
import json,sys
r={r['recipe']:r for r in map(json.loads, open(sys.argv[1]))}
def forms(x):
    return (x['dA'], x['margin_A']) if x['forms_agree'] else (x['dA_better'], x['margin_A_better'])
c, lo = r['creep'], r['creep_low']
d, m = forms(c)
assert d > m, ('the forms should read creep higher for this case to test anything', c)
assert c['flat'] and c['flat_baseline'] and abs(c['dP']) <= c['margin_P'], c
assert c['ceiling_reading'] == 'plateau' and c['verdict'] != 'ceiling mover', c
d, m = forms(lo)
assert abs(d) <= m, ('the forms should miss creep_low for this case to test anything', lo)
assert lo['flat'] and lo['dP'] < -lo['margin_P'] and lo['ceiling_reading'] == 'plateau', lo
assert lo['verdict'] == 'ceiling mover', lo" "$T/plat.jsonl"
out=$("$S" compare "$T/plat" boot=0 2>&1)
check "compare text says the plateaus decided" \
  grep -qE "ceiling lower: every run of both is flat at its end, so the plateaus decide: 0\.8[0-9]+ vs 0\.8[0-9]+ \(dP -0\.0[0-9]+" <<<"$out"
# Real runs (the committed bank, bench/curves/pairs): a thinking budget of 4 reaches the baseline's
# plateau (last points +0.008) after a low start; both forms read its ceiling higher. lr=1e-4
# still swings over its last fifth (scatter 0.03), so it is no plateau and the forms decide.
"$S" compare bench/curves/pairs json=1 boot=0 >"$T/pairs.jsonl" 2>"$T/pairs.err" || fail "compare the bank's pairs" "exit $?: $(cat "$T/pairs.err")"
check "bank: think_budget=4 is not a ceiling mover (plateau reading), lr=1e-4 not flat, think_budget=1 a ceiling mover" "$PY3" -c "
import json,sys
r={r['recipe']:r for r in map(json.loads, open(sys.argv[1]))}
t4, lr, t1 = r['scalerl+think_budget=4'], r['scalerl+lr=1e-4'], r['scalerl+think_budget=1']
assert t4['verdict'] != 'ceiling mover' and t4['ceiling_reading'] == 'plateau', t4
assert not lr['flat'] and lr['ceiling_reading'] != 'plateau', lr
assert t1['verdict'] == 'ceiling mover' and t1['flat'] and t1['dP'] < -0.5, t1" "$T/pairs.jsonl"
# Real runs whose ceiling is not pinned (bench/findings/size): the larger model at 4 times the
# compute is still climbing; its better form is the Weibull, whose A ran to the bound of 1, so the
# ceiling mover it reads is an extrapolation, and compare says so.
"$S" compare bench/findings/size baseline=scalerl json=1 boot=0 unfinished=skip >"$T/size.jsonl" 2>"$T/size.err" || fail "compare the size study" "exit $?: $(cat "$T/size.err")"
check "findings: the larger model's ceiling at 4x compute rests on an A at its bound: not pinned; at 8x the levels pin it" "$PY3" -c "
import json,sys
r={r['recipe']:r for r in map(json.loads, open(sys.argv[1]))}['d128-L4']
assert r['ceiling_reading'] == 'better form' and r['form'] == 'weibull' and r['A_weibull_at_bound'], r
assert not r['ceiling_pinned'], r
# Twice as long, its A is still at the bound, but its runs stand beyond the margin above the
# default's flat plateau, not falling: the levels pin the higher ceiling.
r={r['recipe']:r for r in map(json.loads, open(sys.argv[1]))}['d128-L4-8000']
assert r['A_weibull_at_bound'] and r['flat_baseline'] and r['tail_rise'] >= 0 and r['dP'] > r['margin_P'], r
assert r['verdict'] == 'ceiling mover' and r['d_ceiling'] > 0 and r['ceiling_pinned'], r" "$T/size.jsonl"
out=$("$S" compare bench/findings/size baseline=scalerl boot=0 unfinished=skip 2>&1)
check "compare text flags a reading that is not pinned" grep -q "d128-L4 weibull) dA +0.0954 (margin 0.0200) (not pinned: an A of that reading is at its bound 1, or the forms fit a recipe within 2%)" <<<"$out"
# unfinished=skip: a run without its closing row is left out, with a note; none finished is an error.
# (synth writes its run row first; train writes it last, when the run ends.)
mkdir -p "$T/unf" "$T/unf0"
cp -r "$T/cmp/scalerl-s1" "$T/cmp/scalerl-s2" "$T/cmp/lowA-s1" "$T/unf/"
sed -i '/"kind":"run"/d' "$T/unf/scalerl-s2/metrics.jsonl"
cp -r "$T/unf/scalerl-s2" "$T/unf0/"
"$S" compare "$T/unf" json=1 boot=0 unfinished=skip >"$T/unf.jsonl" 2>"$T/unf.err" || fail "compare unfinished=skip" "exit $?: $(cat "$T/unf.err")"
check "unfinished=skip leaves out the run without a closing row and says so" "$PY3" -c "
import json,sys
r={r['recipe']:r for r in map(json.loads, open(sys.argv[1]))}
assert r['scalerl']['seeds'] == 1 and r['lowA']['seeds'] == 1, r
assert 'left out 1 unfinished run' in open(sys.argv[2]).read()" "$T/unf.jsonl" "$T/unf.err"
"$S" compare "$T/unf" json=1 boot=0 >"$T/unf2.jsonl" 2>"$T/unf2.err"
check "by default unfinished runs are compared as they stand, with a note" bash -c "
  grep -q '\"recipe\":\"scalerl\",\"seeds\":2' '$T/unf2.jsonl' && grep -q 'unfinished=skip leaves them out' '$T/unf2.err'"
expect_error "unfinished=skip with no finished run refuses, naming the count" 1 "no finished runs" -- compare "$T/unf0" unfinished=skip boot=0
expect_error "compare refuses a missing baseline, listing the recipes" 1 "baseline recipe 'nope' not found" -- compare "$T/cmp" baseline=nope boot=0
# A run's label= (a recipe changed by keys, as sweep writes for PRESET+key=value entries) is the
# name it is grouped under, not its preset.
"$S" synth out="$T/lab/scalerl-s1" recipe=scalerl seed=1 noise=0.01 >/dev/null
"$S" synth out="$T/lab/changed-s1" recipe=scalerl seed=2 noise=0.01 A=0.6 >/dev/null
echo "label=scalerl+lr=1e-4" >>"$T/lab/changed-s1/config.txt"
"$S" compare "$T/lab" json=1 boot=0 >"$T/lab.jsonl" 2>"$T/lab.err" || fail "compare labelled runs" "exit $?: $(cat "$T/lab.err")"
check "compare groups a labelled run under its label" "$PY3" -c "
import json,sys
v={r['recipe']:r['verdict'] for r in map(json.loads, open(sys.argv[1]))}
assert v=={'scalerl':'baseline','scalerl+lr=1e-4':'ceiling mover'}, v" "$T/lab.jsonl"
mkdir -p "$T/empty/sub"
expect_error "compare refuses a directory without runs" 1 "no run directories" -- compare "$T/empty" boot=0

# fit on several runs: a recipe table sorted by A
out=$("$S" fit "$T/cmp/scalerl-s1" "$T/cmp/scalerl-s2" "$T/cmp/same-s1" "$T/cmp/lowA-s1" boot=0 cutoffs=0 2>&1)
check "fit of several runs prints recipes sorted by A" "$PY3" -c "
import sys
lines=sys.stdin.read().split('\n'); i=[k for k,l in enumerate(lines) if l.startswith('recipes, sorted by A')][0]
names=[lines[i+2+k].split()[0] for k in range(3)]
As=[float(lines[i+2+k].split()[4]) for k in range(3)]
assert As==sorted(As, reverse=True) and names[-1]=='lowA', (names, As)" <<<"$out"
check "recipes within the spread are refitted at their mean A" grep -q "refitted at their mean A" <<<"$out"
