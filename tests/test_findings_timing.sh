#!/usr/bin/env bash
# The committed end-to-end timings of `make findings` (bench/findings/timing, timing/zen and
# timing/haswell) are what bench/findings/time_study.sh makes of their committed logs, byte for
# byte: the READMEs' figures (wall time, the measured/planned ratios, the plans made with a
# machine's measured times) come from these files, and a change to the plan (run.sh) or to
# times.tsv that moves them shows here. Each report is made as bench/findings/README.md ("Time on
# 2 cores") says: timing/'s with the FLOPs model alone (FINDINGS_TIMES=, it was the plan then),
# zen/'s and haswell/'s with timing/times.tsv; the times files with FINDINGS_TIMES= (their rows
# then come in the FLOPs model's order).
. "$(dirname "$0")/lib.sh"

# from_logs DIR OUT: the committed logs of DIR copied to the scratch directory OUT, as `run` left them.
from_logs() {
  mkdir -p "$2" && zcat "$1/findings.log.gz" >"$2/findings.log" && cp "$1/segments.log" "$2/"
}
TS=bench/findings/time_study.sh
for d in bench/findings/timing bench/findings/timing/zen bench/findings/timing/haswell; do
  name=${d#bench/findings/}
  from_logs "$d" "$T/$name" || { fail "$name setup" "cannot copy the logs of $d"; continue; }
  if [ "$name" = timing ]; then
    FINDINGS_TIMES= "$TS" report "$T/$name" >"$T/$name.report" 2>&1
  else
    "$TS" report "$T/$name" >"$T/$name.report" 2>&1
  fi
  check "$name/report.txt: time_study.sh report on its logs gives it byte for byte" cmp "$T/$name.report" "$d/report.txt"
  FINDINGS_TIMES= "$TS" times "$T/$name" >"$T/$name.times" 2>&1
  check "$name/times.tsv: time_study.sh times on its logs gives it byte for byte" cmp "$T/$name.times" "$d/times.tsv"
  check "$name: the logs hold the whole core table (96 of 96 runs finished)" \
    grep -q '^finished 96 of 96 runs' "$T/$name.report"
done
# The figures the READMEs quote from these reports.
check "haswell: 2 segments, 4.24 h of wall time, x1.06 of the plan" bash -c "
  grep -qx '2 segment(s), 4.24 h of wall time' '$T/timing/haswell.report' &&
  grep -q '(x1.06)\$' '$T/timing/haswell.report'"
check "zen: 4 segments, 5.18 h of wall time, x1.31 of the plan" bash -c "
  grep -qx '4 segment(s), 5.18 h of wall time' '$T/timing/zen.report' &&
  grep -q '(x1.31)\$' '$T/timing/zen.report'"
check "timing: 4.34 h of wall time, x1.11 of the plan" bash -c "
  grep -q ' 4.34 h of wall time' '$T/timing.report' && grep -q '(x1.11)\$' '$T/timing.report'"
# The plans bench/findings/README.md quotes, made with a machine's measured times and its
# baseline's mean run (279 s on the Zen machine, 215 s on the Cooperlake one, 204 s on the
# Haswell-kernel one): the whole core table's agrees with its measured wall time, and the
# issue's list alone is within 4 hours.
ISSUE_LIST=loo,loss,batch,gens,size,think,fp32
plan_h() { # TIMES DEFAULT_S STUDIES: the plan's hours
  FINDINGS_TIMES=$1 bench/findings/run.sh print=plan default_s="$2" studies="$3" 2>&1 |
    sed -n 's/.*total:.* about \([0-9.]*\) h on 2 cores.*/\1/p'
}
baseline_s() { # TIMES: the mean seconds of the loo study's scalerl runs, the plan's default run
  awk -F'\t' '$1 == "loo" && $2 == "scalerl" { print $5 }' "$1"
}
ZEN=bench/findings/timing/zen/times.tsv COOP=bench/findings/timing/times.tsv
HASW=bench/findings/timing/haswell/times.tsv
ZEN_S=$(baseline_s $ZEN) COOP_S=$(baseline_s $COOP) HASW_S=$(baseline_s $HASW)
check "zen times: baseline 279 s; the core table plans at 5.2 h (5.18 measured), the issue's list at 3.6 h" bash -c "
  [ '$ZEN_S' = 279 ] && [ '$(plan_h $ZEN "$ZEN_S" all)' = 5.2 ] && [ '$(plan_h $ZEN "$ZEN_S" $ISSUE_LIST)' = 3.6 ]"
check "Cooperlake times: baseline 215 s; the core table plans at 4.3 h (4.34 measured), the issue's list at 3.0 h" bash -c "
  [ '$COOP_S' = 215 ] && [ '$(plan_h $COOP "$COOP_S" all)' = 4.3 ] && [ '$(plan_h $COOP "$COOP_S" $ISSUE_LIST)' = 3.0 ]"
check "Haswell-kernel times: baseline 204 s; the core table plans at 4.2 h (4.24 measured), the issue's list at 2.9 h" bash -c "
  [ '$HASW_S' = 204 ] && [ '$(plan_h $HASW "$HASW_S" all)' = 4.2 ] && [ '$(plan_h $HASW "$HASW_S" $ISSUE_LIST)' = 2.9 ]"
check "at the plan's speed (196 s): 4.0 h and 2.8 h" bash -c "
  [ '$(plan_h $COOP 196 all)' = 4.0 ] && [ '$(plan_h $COOP 196 $ISSUE_LIST)' = 2.8 ]"
# bench/findings/same_as_committed.py, which says whether a timed rerun came out as committed (the
# READMEs quote its counts for timing/haswell): a copy of committed runs and rows passes; a changed
# value or a missing committed field is reported and fails it, and so does comparing no run.
SAC=bench/findings/same_as_committed.py O=$T/sac
mkdir -p "$O/loo" && cp -r bench/findings/loo/scalerl-s1 bench/findings/loo/loo-dapo-s2 "$O/loo/" &&
  head -n 2 bench/findings/findings.jsonl >"$O/findings.jsonl"
check "same_as_committed: committed copies (2 runs, 2 rows) compare equal" bash -c "
  $SAC '$O' | grep -qx '2 run directories and 2 findings.jsonl rows compared, 0 differ'"
zcat "$O/loo/scalerl-s1/metrics.jsonl.gz" | sed '3s/"step":/"step_was":/' | gzip >"$O/m.gz" && mv "$O/m.gz" "$O/loo/scalerl-s1/metrics.jsonl.gz"
sed -i '2s/"A": /"A": 0.5, "A_was": /' "$O/findings.jsonl"
check "same_as_committed: a run's missing committed field and a row's changed A fail it, named" bash -c "
  out=\$($SAC '$O'); [ \$? = 1 ] && grep -q '^loo/scalerl-s1: row 3: step is .missing., committed' <<<\"\$out\" &&
  grep -q \"^findings.jsonl: ('loo', 'loo-dapo'): A is 0.5, committed\" <<<\"\$out\" &&
  grep -qx '2 run directories and 2 findings.jsonl rows compared, 2 differ' <<<\"\$out\""
rm -rf "$O/loo" && head -n 2 bench/findings/findings.jsonl >"$O/findings.jsonl"
check "same_as_committed: no run directory compared (equal rows alone) fails it" bash -c "! $SAC '$O' >/dev/null"
