#!/usr/bin/env bash
# What `make findings` takes on this machine, measured rather than planned (issue #14 asks what the
# study took on 2 cores), over as many sittings as it needs: each `run` is one segment.
#
#   bench/findings/time_study.sh run DIR [make findings arguments]
#       this checkout's `make findings` into DIR/out, every line of its output stamped with the Unix
#       time in DIR/findings.log, each segment's start and end in DIR/segments.log. Stopped, it is
#       run again to go on (finished runs are skipped, unfinished ones resume from their checkpoints).
#   bench/findings/time_study.sh report DIR [make findings arguments]
#       the segments' wall time, each run's measured time (summed over segments) against the plan's
#       (run.sh print=units), and the plan's remaining time scaled by the measured/planned ratio.
#   bench/findings/time_study.sh times DIR [make findings arguments]
#       each entry's measured time, the mean over its finished seeds, in default-run times (divided
#       by the mean of the table's first entry, the loo study's `scalerl`), one tab-separated line
#       per entry: home, entry, runs, time, mean seconds. run.sh plans with these
#       (bench/findings/timing/times.tsv, made this way from the committed logs) instead of its
#       FLOPs model, which misses what the policy does to the cost (bench/findings/README.md,
#       "Time on 2 cores").
#
# A run's time is from its start line to its finished line in findings.log (resumed: the sum of
# its pieces, a piece cut by a segment's end counting to that end). Base pretraining, the speed
# probe (half a minute, in a segment with runs left) and the final compare count in the segments'
# wall time only.
set -euo pipefail
export LC_ALL=C # awk, printf and sort with a decimal point in any locale (tests/README.md, "Writing checks")
cd "$(dirname "$0")/../.."
usage="usage: bench/findings/time_study.sh run|report|times DIR [make findings arguments]"
[ $# -ge 2 ] || { echo "$usage" >&2; exit 1; }
mode=$1 dir=$2
shift 2
case $mode in
    run)
        mkdir -p "$dir"
        echo "segment start $(date +%s) $*" >>"$dir/segments.log"
        rc=0
        FINDINGS_OUT="$dir/out" bench/findings/run.sh "$@" 2>&1 |
            while IFS= read -r l; do printf '%s %s\n' "$(date +%s)" "$l"; done >>"$dir/findings.log" || rc=$?
        echo "segment end $(date +%s) rc=$rc" >>"$dir/segments.log"
        exit "$rc"
        ;;
    report | times) ;;
    *) echo "time_study: bad mode '$mode': expected run, report or times" >&2; exit 1 ;;
esac
for f in segments.log findings.log; do
    [ -f "$dir/$f" ] || { echo "time_study: no $dir/$f (time_study.sh run $dir writes it)" >&2; exit 1; }
done
report() {
    units=$(FINDINGS_OUT="$dir/out" bench/findings/run.sh print=units "$@")
    now=$(date +%s)
    # One stream in time order: the plan's units first (U), then segment starts (S, order 0), log lines
    # (L, 1) and segment ends (E, 2), each "time<TAB>order<TAB>kind<TAB>...".
    {
        awk '{ print "0\t0\tU\t" $0 }' <<<"$units"
        awk '$2 == "start" { print $3 "\t0\tS" } $2 == "end" { print $3 "\t2\tE" }' "$dir/segments.log"
        awk '{ t = $1; sub(/^[0-9]+ /, ""); print t "\t1\tL\t" $0 }' "$dir/findings.log"
    } | sort -s -t$'\t' -k1,1n -k2,2n | awk -F'\t' -v now="$now" '
        function close_pieces(at,   k) { for (k in t0) { took[k] += at - t0[k]; delete t0[k] } }
        $3 == "U" { key = $7 "\t" $10 "\t" $11; plan[key] = $4; order[++n] = key; next }
        { t = $1 + 0 }
        $3 == "S" { if (open) { wall += last - seg0; close_pieces(last) } seg0 = t; open = 1; segs++ }
        $3 == "E" { if (open) { wall += t - seg0; close_pieces(t) } open = 0 }
        { last = t }
        # "== study HOME: ENTRY seed N (..." starts a piece of a run, "... seed N finished" ends it.
        $3 == "L" && $4 ~ /^== study [^ ]+: [^ ]+ seed [0-9]+ / {
            split($4, f, " "); home = f[3]; sub(/:$/, "", home); key = home "\t" f[4] "\t" f[6]
            if (f[7] == "finished") { if (key in t0) { took[key] += t - t0[key]; delete t0[key] } done[key] = 1 }
            else t0[key] = t
        }
        END {
            if (open) { end = now > last ? now : last; wall += end - seg0; close_pieces(end) }
            printf "%d segment(s), %.2f h of wall time%s\n", segs, wall / 3600, open ? " (the last one still open)" : ""
            printf "%-6s %-58s %4s %8s %8s %6s\n", "home", "entry", "seed", "took_s", "plan_s", "ratio"
            for (i = 1; i <= n; i++) {
                k = order[i]
                if (!(k in done)) { left += plan[k]; continue }
                split(k, p, "\t")
                printf "%-6s %-58s %4s %8d %8d %6.2f\n", p[1], p[2], p[3], took[k], plan[k], took[k] / plan[k]
                mt += took[k]; pt += plan[k]; nd++
            }
            printf "finished %d of %d runs: %.2f h of run time measured against %.2f h planned (x%.2f)\n",
                nd, n, mt / 3600, pt / 3600, pt ? mt / pt : 0
            if (left > 0)
                printf "left: %.2f h of run time planned, %.2f h at the measured ratio (over all slots: divide by jobs)\n",
                    left / 3600, pt ? left / 3600 * mt / pt : left / 3600
        }'
}

[ "$mode" = report ] && { report "$@"; exit 0; }
# times: the report's run lines ("home entry seed took_s plan_s ratio"), averaged per entry, over
# the mean of the table's first entry (the default run's configuration, made in its own study).
# awk reads the file itself and stops there: `grep | head -1` under pipefail fails whenever head
# exits before grep has written the rest (SIGPIPE), which depends on scheduling (a CI run lost it).
first=$(awk -F'\t' '!/^#/ { print $1 "\t" $3; exit }' "${FINDINGS_STUDIES:-bench/findings/studies.tsv}")
report "$@" | awk -v first="$first" '
    NR > 2 && NF == 6 && $3 ~ /^[0-9]+$/ { k = $1 "\t" $2; if (!(k in n)) order[++m] = k; n[k]++; t[k] += $4 }
    END {
        if (!(first in n)) { print "time_study: no finished run of " first " to measure the others against" > "/dev/stderr"; exit 1 }
        b = t[first] / n[first]
        name = first; sub(/\t/, " ", name)
        print "# home\tentry\truns\ttime (default-run times: mean over the runs / the mean of " name ")\tmean seconds"
        for (i = 1; i <= m; i++) { k = order[i]; printf "%s\t%d\t%.3f\t%.0f\n", k, n[k], t[k] / n[k] / b, t[k] / n[k] }
    }'
