#!/usr/bin/env bash
# `make findings`: the paper's study at toy scale (issue #14): every study of studies.tsv, each
# entry for `seeds` seeds, from one base model per model size, through `scalerl sweep` (finished
# runs are skipped, unfinished ones resumed, so the study can span sessions). Then each finished
# run is archived (metrics.jsonl.gz and config.txt kept, checkpoints dropped), `scalerl compare`
# reads each study, and assemble.py writes findings.jsonl and README.md's table.
#
#   make findings [studies=loo,loss,...] [seeds=3] [jobs=2] [threads=1] [tier=core|all] [print=plan|commands|units]
#                 [default_s=SECONDS]
#
# tier=core (the default) runs the rows of the issue's list and the regime rows (studies.tsv's
# sixth column empty or `core`); tier=all adds the extension rows (`extra`), which test a reading
# further (another length or rate for the larger model) at a cost the 4-hour budget has no room for.
#
# print=plan: the plan, its compute and a time estimate, and nothing run. print=commands: the
# `scalerl train` commands of every unfinished run, one per line (for GNU parallel or a cluster).
# print=units: every run of the plan, one tab-separated line each, longest first: its planned
# seconds, FLOPs (in a default run's), finished (1/0), home study, study, base, entry, seed
# (bench/findings/time_study.sh sets measured times against them).
# default_s: the seconds a default run takes on this machine beside another (the command the plan
# prints), to plan at this machine's speed instead of the one the constants below were measured on;
# machines of one kind differ by a third (bench/findings/README.md, "Time on 2 cores").
# default_s=auto measures it (probe_default_s below: two short default runs side by side, half a
# minute); a run of the study (no print=) does so unless default_s= is given or nothing is left.
# While the study runs, a progress line after each finished run says how many are left and about
# how long they take at the speed the finished ones showed.
# Environment, for tests and other layouts: FINDINGS_OUT (bench/findings), FINDINGS_STUDIES (the
# table), FINDINGS_BASE_DEFAULT / _LARGE / _THINK / _PAIR / _MIX (base checkpoints), FINDINGS_KEYS (more keys),
# FINDINGS_PROBE_STEPS / FINDINGS_PROBE_KEYS (the speed probe's length, and keys for a test's small base).
set -euo pipefail
export LC_ALL=C # awk, printf and sort with a decimal point in any locale (tests/README.md, "Writing checks")
cd "$(dirname "$0")/../.."
S=${SCALERL_BIN:-./scalerl}
OUT=${FINDINGS_OUT:-bench/findings}
TSV=${FINDINGS_STUDIES:-bench/findings/studies.tsv}
STUDIES=all SEEDS=3 JOBS=2 THREADS=1 TIER=core PRINT="" DEFAULT_S=""
for kv in "$@"; do
    case $kv in
        studies=*) STUDIES=${kv#*=} ;;
        seeds=*) SEEDS=${kv#*=} ;;
        jobs=*) JOBS=${kv#*=} ;;
        threads=*) THREADS=${kv#*=} ;;
        tier=core|tier=all) TIER=${kv#*=} ;;
        tier=*) echo "make findings: bad tier=${kv#*=}: expected core or all" >&2; exit 1 ;;
        print=plan|print=commands|print=units|print=) PRINT=${kv#*=} ;;
        default_s=*) DEFAULT_S=${kv#*=} ;;
        *) echo "make findings: unknown argument '$kv' (expected studies=, seeds=, jobs=, threads=, tier=core|all, print=plan|commands|units, default_s=)" >&2; exit 1 ;;
    esac
done
[[ $SEEDS =~ ^[1-9][0-9]*$ ]] || { echo "make findings: bad seeds=$SEEDS: expected a positive integer" >&2; exit 1; }
[[ $JOBS =~ ^[1-9][0-9]*$ ]] || { echo "make findings: bad jobs=$JOBS: expected a positive integer" >&2; exit 1; }
[ -z "$DEFAULT_S" ] || [ "$DEFAULT_S" = auto ] || { [[ $DEFAULT_S =~ ^[0-9]+([.][0-9]+)?$ ]] && awk -v s="$DEFAULT_S" 'BEGIN { exit !(s > 0) }'; } ||
    { echo "make findings: bad default_s=$DEFAULT_S: expected a default run's seconds, a positive number, or auto" >&2; exit 1; }
# The table is assembled by Python (assemble.py, at the end): a machine without Debian's python3 (a
# minimal Debian) gets it now, not after hours of runs.
if [ -z "$PRINT" ] && ! /usr/bin/python3 -c 'import json' 2>/dev/null; then
    echo "make findings: installing Debian's python3, which assembles the table at the end (bench/findings/assemble.py)"
    tests/apt_install.sh python3 || { echo "make findings: no python3 to assemble the table; nothing was run" >&2; exit 1; }
fi

# Base models: name, checkpoint, pretrain keys. `default` is the base the study was run on (R0
# 0.242), make run's until its base was pretrained longer (260k tokens: README, "The default run");
# its 220k tokens are pinned and its checkpoint named for them; `large` a
# 4-layer d_model-128 model pretrained to about the default's R0 (the paper's larger model at a
# similar start; measured R0 0.093 at 100k tokens, 0.239 at 150k, 0.443 at 220k); `think` a base
# for 4-5-digit addition, whose scratchpads (11-17 tokens) need more than the default 10-14
# thinking tokens (R0 0.048 at 600k tokens, 0.255 at 800k, 0.371 at 1M); `pair` a base for the
# pair search, whose completions of one prompt differ in length (pretrain's own evaluation: 0.03
# at 600k tokens, 0.34 at 1.4M, 0.38 at 2M; 0.30 at 1.4M under the length study's budget); `mix`
# a base for the default sums mixed with the pair search (pretrain's own evaluation 0.286 at 1.6M
# tokens; 0.253 under the mixture study's budget, sums 0.126, searches 0.305).
base_ckpt() {
    local over="FINDINGS_BASE_${1^^}"
    [ -n "${!over:-}" ] && { echo "${!over}"; return; }
    case $1 in
        default) echo runs/base-220k.ckpt ;;
        large) echo runs/base-d128-L4.ckpt ;;
        think) echo runs/base-add45.ckpt ;;
        pair) echo runs/base-pair.ckpt ;;
        mix) echo runs/base-mix.ckpt ;;
        vocab) echo runs/base-v4096.ckpt ;;
    esac
}
base_keys() {
    case $1 in
        default) echo "tokens=220000" ;;
        large) echo "d_model=128 n_layer=4 tokens=${LARGE_TOKENS:-150000}" ;;
        think) echo "task=add:digits=4-5 tokens=${THINK_TOKENS:-800000}" ;;
        pair) echo "task=pair tokens=${PAIR_TOKENS:-1400000}" ;;
        mix) echo "task=$MIX_TASK tokens=${MIX_TOKENS:-1600000}" ;;
        # The default base with 4074 head rows no text uses (ref/rl/README.md, "A padded vocabulary").
        vocab) echo "tokens=220000 vocab=4096" ;;
    esac
}
MIX_TASK="sum:terms=2-4:digits=2@0.3,pair@0.7"
# Pretrains base BASE unless its checkpoint is there (print=commands: prints the command instead).
make_base() {
    local ck
    ck=$(base_ckpt "$1")
    [ -f "$ck" ] && return 0
    # shellcheck disable=SC2046
    if [ "$PRINT" = commands ]; then printf '%q pretrain %q %s\n' "$S" "out=$ck" "$(base_keys "$1")"
    else
        mkdir -p "$(dirname "$ck")"
        echo "== base model $1: $S pretrain out=$ck $(base_keys "$1")"; "$S" pretrain out="$ck" $(base_keys "$1") progress=0
    fi
}
# Keys every run of a study shares (FINDINGS_KEYS: more keys for every run, e.g. a short test).
study_keys() {
    local own=""
    case $1 in
        think) own="task=add:digits=4-5 answer_budget=7" ;;
        # A budget that cuts the search's tail: a third try (24-27 thinking tokens) two times in
        # three, a second (15-18) never; 19% of the base model's completions are interrupted.
        length) own="task=pair think_budget=20-28 steps=3000" ;;
        # The default run's sums with the pair search mixed in, under the length study's budget:
        # forced interruption acts (15% of the base's searches are cut) and the pool is drawn
        # for 2-3 epochs, so No-Positive-Resampling acts on a task whose lengths can grow.
        # plan_mix runs group normalization on the same mixture, whose prompts spread widest in difficulty.
        mixture | plan_mix) own="task=$MIX_TASK think_budget=20-28" ;;
    esac
    # Every study pins the pool it was run with, the default until the default run's base was
    # pretrained longer (its pool is 200k since); an entry's own keys win.
    echo "train_pool=180000 $own ${FINDINGS_KEYS:-}"
}

# Compute of one run relative to a default run (7.0e13 FLOPs, measured: 8000 steps of 48 x 16),
# from its entry's batch and steps and its base's model size; seconds per FLOP of one run on one
# thread while another runs beside it (jobs=2 on 2 cores), measured: two default runs side by
# side (seeds 2 and 3) took 192 and 200 s (7.0e13 FLOPs), 2.8e-12 s/FLOP. (Before the kernels
# skipped the OpenMP runtime for one-thread work, models/README.md "Threads and determinism", the
# loo study's third seeds took 371-387 s each, on a machine other sessions were also loading.)
DEFAULT_FLOPS=7.0e13
SECONDS_PER_FLOP=2.8e-12
[ -n "$DEFAULT_S" ] && [ "$DEFAULT_S" != auto ] && SECONDS_PER_FLOP=$(awk -v s="$DEFAULT_S" -v f="$DEFAULT_FLOPS" 'BEGIN { printf "%.6g", s / f }')
rel_cost() {
    local entry=$1 base=$2 p=48 g=16 steps=8000 model=1
    [[ $entry =~ prompts_per_step=([0-9]+) ]] && p=${BASH_REMATCH[1]}
    [[ $entry =~ gens_per_prompt=([0-9]+) ]] && g=${BASH_REMATCH[1]}
    [[ $entry =~ steps=([0-9]+) ]] && steps=${BASH_REMATCH[1]}
    [ "$base" = large ] && model=8 # 4 layers of width 128 against 2 of 64: 8 x the FLOPs per token
    # The next three: each study's committed runs, FLOPs on average (their run rows).
    [ "$base" = think ] && model=1.39 # longer prompts and scratchpads: 8.7e13 (budget 18-24) and 10.9e13 (default budget)
    [ "$base" = pair ] && model=2.30 # longer completions, fewer groups filtered: 6.1e13 FLOPs in 3000 steps
    [ "$base" = mix ] && model=1.53 # 8.2e13-12.5e13 FLOPs for 8000 steps, 10.7e13 on average
    [ "$base" = vocab ] && model=3.79 # a 4096-row head: 2.65e14-2.67e14 FLOPs for magistral+k=8's 8000 steps (7.6e13 at 22 rows)
    awk -v p="$p" -v g="$g" -v s="$steps" -v m="$model" 'BEGIN { print p * g * s * m / (48 * 16 * 8000) }'
}
# Time per FLOP of a base's runs relative to a default run's: the toy's cost per token is not all
# FLOPs. Measured on whole runs of seed 1, one thread each, two at a time on 2 cores (2026-12-03,
# this binary): a default run 185 s (7.0e13 FLOPs, 2.6e-12 s/FLOP), the length study's `scalerl`
# (pair, 3000 steps) 308 s (6.0e13, 5.0e-12: 1.94 x), the think study's `scalerl` 475 s (10.9e13,
# 4.3e-12: 1.65 x), the mixture study's `scalerl` 402 s (9.7e13, 4.1e-12: 1.57 x). Short runs do
# not give these: time per FLOP falls as a run goes on (a default run's first 1000 steps cost
# 4.5e-12), more for some bases than others. `large` (wider matrix products, cheaper per FLOP): a
# whole 4000-step run 586 s (28.2e13 FLOPs, 2.1e-12 s/FLOP) against a default run's 186 s, each
# alone on the machine (0.78 x; the 1000-step figure had been 0.67).
time_per_flop() {
    case $1 in
        large) echo 0.78 ;;
        think) echo 1.65 ;;
        pair) echo 1.94 ;;
        mix) echo 1.57 ;;
        vocab) echo 1.70 ;; # fp32_vocab's last two runs, side by side (2026-12-05): 1404 and 1399 s, 6.43 x the 218 s the speed probe gave a default run that day, on 3.79 x its FLOPs
        *) echo 1 ;;
    esac
}

# Measured time of each entry's runs in default-run times (home<TAB>entry<TAB>runs<TAB>time<TAB>...,
# `bench/findings/time_study.sh times DIR`), which the plan takes over the model above for the
# entries it lists: the model counts FLOPs as if every completion were decoded and trained alone,
# while the toy decodes and trains a prefix its siblings share once, so a policy that keeps more
# entropy (REINFORCE, GSPO, fewer generations per prompt) costs more per FLOP (its README, "Time on
# 2 cores"). FINDINGS_TIMES= (empty) plans with the model alone.
TIMES=${FINDINGS_TIMES-bench/findings/timing/times.tsv}
declare -A measured
if [ -n "$TIMES" ]; then
    [ -f "$TIMES" ] || { echo "make findings: no times file $TIMES (FINDINGS_TIMES= plans without one)" >&2; exit 1; }
    while IFS=$'\t' read -r h e _ t _; do
        [[ $t =~ ^[0-9]+(\.[0-9]+)?$ ]] && awk -v t="$t" 'BEGIN { exit !(t > 0) }' ||
            { echo "make findings: bad time '$t' for $h $e in $TIMES: expected a positive number of default-run times" >&2; exit 1; }
        measured["$h|$e"]=$t
    done < <(grep -v -e '^#' -e '^[[:space:]]*$' "$TIMES")
fi

# The table's rows, and those of the selected tier (an `extra` row only with tier=all).
all_rows() { grep -v '^#' "$TSV"; }
rows() { all_rows | awk -F'\t' -v tier="$TIER" 'tier == "all" || $6 != "extra"'; }
# The awk reads the whole table (no early exit): an awk quitting at the first bad row would leave
# all_rows's grep to SIGPIPE, and pipefail would end the script before the message below.
bad_tier=$(all_rows | awk -F'\t' '$6 != "" && $6 != "core" && $6 != "extra" && bad == "" { bad = $1 " " $3 ": " $6 } END { printf "%s", bad }')
[ -z "$bad_tier" ] || { echo "make findings: bad tier in $TSV ($bad_tier): expected core, extra or nothing" >&2; exit 1; }
studies=$(all_rows | cut -f1 | awk '!seen[$0]++')
[ "$STUDIES" = all ] || studies=$(tr ',' '\n' <<<"$STUDIES")
for st in $studies; do
    grep -q "^$st	" "$TSV" || { echo "make findings: unknown study '$st' (expected one of: $(grep -v '^#' "$TSV" | cut -f1 | awk '!seen[$0]++' | tr '\n' ' '))" >&2; exit 1; }
done

# A run shared by several studies (the scalerl baseline, loo-dapo) is made once, in the first
# study of the whole table that lists it, and linked from the others: same base, study keys and
# entry. The home does not depend on which studies are selected (studies=gens alone links the
# loo study's baseline rather than making a second copy); a selected study whose shared run's home
# is not selected makes that run in its home's directory.
declare -A home
while IFS=$'\t' read -r s base entry _; do
    key="$base|$(study_keys "$s")|$entry"
    [ -n "${home[$key]:-}" ] || home[$key]=$s
done < <(all_rows)
selected() { grep -qx "$1" <<<"$studies"; }

# A finished run: its closing row, in metrics.jsonl or in the archive.
finished_run() {
    { [ -f "$1/metrics.jsonl.gz" ] && zgrep -q '"kind":"run"' "$1/metrics.jsonl.gz"; } ||
        { [ -f "$1/metrics.jsonl" ] && grep -q '"kind":"run"' "$1/metrics.jsonl"; }
}

# Every run of the selected studies and tier, one line each: time cost (in a default run's time
# beside another run), FLOPs cost (in a default run's FLOPs), finished (1/0), home study, study,
# base, entry, seed. A run shared by studies is one run, in its home; `links` lists the studies
# that link it. The plan's lines are collected as the list is made.
declare -A planned
units=() links=() extras=() plan=()
for st in $studies; do
    while IFS=$'\t' read -r s base entry _ _ tier; do
        [ "$s" = "$st" ] || continue
        c=$(rel_cost "$entry $(study_keys "$st")" "$base")
        ct=$(awk -v c="$c" -v f="$(time_per_flop "$base")" 'BEGIN { print c * f }')
        owner=${home["$base|$(study_keys "$st")|$entry"]}
        if [ "$tier" = extra ] && [ "$TIER" = core ]; then
            # A run another study makes (an extension study's baseline, shared) counts there.
            if [ "$owner" != "$st" ]; then
                plan+=("$(printf '  %-6s %-46s base %-7s (the %s study'"'"'s runs), an extension row' "$st" "$entry" "$base" "$owner")")
                continue
            fi
            for seed in $(seq 1 "$SEEDS"); do extras+=("$ct	$c"); done
            plan+=("$(printf '  %-6s %-46s base %-7s x%-5s of a default run each, an extension row: not run (tier=all runs it)' "$st" "$entry" "$base" "$c")")
            continue
        fi
        [ "$owner" = "$st" ] || links+=("$st	$owner	$entry")
        if [ "$owner" != "$st" ] && { selected "$owner" || [ -n "${planned[$owner|$entry]:-}" ]; }; then
            plan+=("$(printf '  %-6s %-46s base %-7s (the %s study'"'"'s runs)' "$st" "$entry" "$base" "$owner")")
            continue
        fi
        planned[$owner|$entry]=1
        note="" timed="time x$ct modelled"
        [ -n "${measured[$owner|$entry]:-}" ] && ct=${measured[$owner|$entry]} && timed="time x$ct measured"
        [ "$owner" = "$st" ] || note=" (made in $OUT/$owner/)"
        done_n=0
        for seed in $(seq 1 "$SEEDS"); do
            fin=0
            finished_run "$OUT/$owner/$entry-s$seed" && fin=1 && done_n=$((done_n + 1))
            units+=("$ct	$c	$fin	$owner	$st	$base	$entry	$seed")
        done
        plan+=("$(printf '  %-6s %-46s base %-7s x%-5s of a default run each (%s), %d of %d seeds finished%s' "$st" "$entry" "$base" "$c" \
            "$timed" "$done_n" "$SEEDS" "$note")")
    done < <(all_rows)
done
# Longest first (list scheduling onto the first free slot): the runs take from one to six times a
# default run's time, and a long run started last would run alone while the other slots idle
# (per-study sweeps did that: the size study's three long runs took two rounds, one of them alone).
# A stable sort, so that equal runs keep the table's order.
mapfile -t units < <(printf '%s\n' "${units[@]}" | sort -s -t$'\t' -k1,1gr | grep -v '^$' || true)

# Hours the given time costs (one per line) take on JOBS slots, longest first: the largest load
# of a slot when each run goes to the least loaded one; times the factor $1 if given.
hours() {
    sort -gr | awk -v j="$JOBS" -v f="$DEFAULT_FLOPS" -v s="$SECONDS_PER_FLOP" -v k="${1:-1}" '
        NF { m = 1; for (i = 2; i <= j; i++) if (load[i] < load[m]) m = i; load[m] += $1 }
        END { x = 0; for (i = 1; i <= j; i++) if (load[i] > x) x = load[i]; printf "%.1f", x * f * s * k / 3600 }'
}

# This machine's speed, measured: the seconds a default run would take here beside another, from
# the first PROBE_STEPS steps of two default runs (seeds 1 and 2, a run of that length each, one
# thread) side by side, as the study runs them, times PROBE_SCALE, what a whole default run takes
# against such a probe on one machine. Measured (2026-12-04, AMD EPYC, OpenBLAS's Zen kernels, each
# pair side by side, the trainer's own wall_s): whole default runs 243.0 and 243.7 s, 300-step probes
# 21.9-23.0 s (four), 10.84 times. Other kernel sets forced on the same machine, as slower machines:
# Sandybridge's whole runs 265.5 and 265.4 s, probes 24.2-24.9 s (predicting 266 s); Prescott's (no
# AVX) 433.5 and 438.1 s, probes 36.4-38.9 s (predicting 402 s, 8% short: the first steps' mix of
# work leans less on the matrix products Prescott's kernels slow most). 600-step probes predict no
# better (256 and 405 s). A probe that fails stops the study (the trainer would fail the same
# way), its logs kept.
PROBE_STEPS=${FINDINGS_PROBE_STEPS:-300}
PROBE_SCALE=10.8
PROBE_NOTE=""
probe_default_s() {
    local ck d s rc=0 pids=() walls=()
    ck=$(base_ckpt default)
    make_base default >&2
    d=$(mktemp -d "${TMPDIR:-/tmp}/findings-probe.XXXXXX")
    for s in 1 2; do
        "$S" train recipe=scalerl seed=$s base="$ck" threads=1 train_pool=180000 steps="$PROBE_STEPS" ckpt_every=0 \
            out="$d/s$s" progress=0 ${FINDINGS_PROBE_KEYS:-} >"$d/s$s.log" 2>&1 </dev/null &
        pids+=($!)
    done
    for s in 0 1; do wait "${pids[$s]}" || rc=$?; done
    # Interrupted (the trainer stops on SIGINT or SIGTERM with 128 + the signal): nothing of it is
    # worth keeping.
    if [ "$rc" = 130 ] || [ "$rc" = 143 ]; then
        rm -rf "$d"
        echo "make findings: the speed probe was interrupted; nothing was run" >&2
        exit "$rc"
    fi
    # Each run's own wall_s, from its closing row.
    [ "$rc" != 0 ] || for s in 1 2; do
        walls+=("$(awk -F'"wall_s":' '/^\{"kind":"run"/ { split($2, v, /[,}]/); print v[1] }' "$d/s$s/metrics.jsonl" 2>/dev/null)")
    done
    if [ -z "${walls[0]:-}" ] || [ -z "${walls[1]:-}" ]; then
        echo "make findings: the speed probe (a default run of $PROBE_STEPS steps) failed (exit $rc): see '$d/s1.log' and '$d/s2.log'" >&2
        exit 1
    fi
    rm -rf "$d"
    DEFAULT_S=$(awk -v a="${walls[0]}" -v b="${walls[1]}" -v k="$PROBE_SCALE" 'BEGIN { printf "%.0f", (a + b) / 2 * k }')
    PROBE_NOTE=$(awk -v a="${walls[0]}" -v b="${walls[1]}" -v n="$PROBE_STEPS" -v k="$PROBE_SCALE" \
        'BEGIN { printf "measured here: two default runs of %d steps side by side took %.2f and %.2f s, x%s", n, a, b, k }')
    SECONDS_PER_FLOP=$(awk -v s="$DEFAULT_S" -v f="$DEFAULT_FLOPS" 'BEGIN { printf "%.6g", s / f }')
}
sum_col() { awk -F'\t' -v k="$1" '{ t += $k } END { printf "%.1f", t }'; }

n_pending=$(printf '%s\n' "${units[@]}" | awk -F'\t' '$3 == 0' | grep -c . || true)
if [ "$DEFAULT_S" = auto ] || { [ -z "$DEFAULT_S" ] && [ -z "$PRINT" ] && [ "$n_pending" -gt 0 ]; }; then
    [ "$PRINT" = commands ] || probe_default_s
fi

if [ "$PRINT" = units ]; then
    for u in "${units[@]}"; do
        IFS=$'\t' read -r ct rest <<<"$u"
        printf '%s\t%s\n' "$(awk -v c="$ct" -v f="$DEFAULT_FLOPS" -v s="$SECONDS_PER_FLOP" 'BEGIN { printf "%.4g", c * f * s }')" "$rest"
    done
    exit 0
fi

if [ "$PRINT" = plan ] || [ -z "$PRINT" ]; then
    echo "findings plan: $SEEDS seeds, jobs=$JOBS threads=$THREADS, tier=$TIER, into $OUT/<study>/"
    if [ -n "$PROBE_NOTE" ]; then
        echo "  times at a default run's $DEFAULT_S s beside another ($PROBE_NOTE)"
    elif [ -n "$DEFAULT_S" ] && [ "$DEFAULT_S" != auto ]; then
        echo "  times at a default run's $DEFAULT_S s beside another (default_s=)"
    else
        echo "  times at a default run's $(awk -v s="$SECONDS_PER_FLOP" -v f="$DEFAULT_FLOPS" 'BEGIN { printf "%.0f", s * f }') s beside another," \
            "measured on another machine; default_s=auto measures this one's (half a minute), or default_s=SECONDS" \
            "gives it, timed on two side by side of: $S train recipe=scalerl seed=1 base=$(base_ckpt default) threads=1 train_pool=180000"
    fi
    printf '%s\n' "${plan[@]}"
    all=$(printf '%s\n' "${units[@]}" | grep -v '^$' || true)
    pending=$(awk -F'\t' '$3 == 0' <<<"$all")
    flops=$(sum_col 2 <<<"$all")
    echo "  total: $flops default-run equivalents, $(awk -v t="$flops" -v f="$DEFAULT_FLOPS" 'BEGIN { printf "%.2g", t * f }') FLOPs," \
        "about $(cut -f1 <<<"$all" | hours) h on $JOBS cores (jobs=$JOBS, one thread each, longest runs first)"
    echo "  left to run: $(sum_col 2 <<<"$pending") default-run equivalents, about $(cut -f1 <<<"$pending" | hours) h (finished runs are skipped)"
    if [ ${#extras[@]} -gt 0 ]; then
        ext=$(printf '%s\n' "${extras[@]}")
        echo "  the extension rows (tier=all): $(sum_col 2 <<<"$ext") more; the whole table" \
            "$(printf '%s\n%s\n' "$all" "$ext" | sum_col 2), about $(printf '%s\n%s\n' "$all" "$ext" | cut -f1 | hours) h"
    fi
    [ "$PRINT" = plan ] && exit 0
fi

# Base models (reused when present).
for st in $studies; do
    for base in $(rows | grep "^$st	" | cut -f2 | sort -u); do make_base "$base"; done
done

# Archives a finished run: what a fresh clone needs to reproduce every verdict. Unfinished runs
# are left whole, to resume.
archive_run() {
    local d=$1
    [ -f "$d/metrics.jsonl" ] && [ -f "$d/final.ckpt" ] && grep -q '"kind":"run"' "$d/metrics.jsonl" || return 0
    # Step rows of every 10th step only: the full file is ~1.5 MB compressed per run, mostly
    # per-step signals; verdicts read the eval rows (all kept), the regime means a tenth of
    # the steps as well as all of them.
    awk '!/^\{"kind":"step","step":/ || /^\{"kind":"step","step":[0-9]*0,/' "$d/metrics.jsonl" | gzip -9n >"$d/metrics.jsonl.gz.tmp" \
        && mv "$d/metrics.jsonl.gz.tmp" "$d/metrics.jsonl.gz"
    rm -rf "$d/metrics.jsonl" "$d/final.ckpt" "$d/ckpt" "$d/train.log" "$d/.sweep.lock" "$d/.run.lock"
}

# One run as a one-seed sweep (its lock, skip-if-finished and resume: ref/cli/README.md), from
# base BASE with study STUDY's keys into OUT/HOME; print=commands lists it when unfinished.
# stdin is /dev/null: callers read the run list on it.
sweep_one() {
    local home=$1 study=$2 base=$3 entry=$4 seed=$5 ct=${6:-} fresh=0 t0=$SECONDS
    [ -e "$OUT/$home/$entry-s$seed" ] || fresh=1
    local args=(sweep recipes="$entry" seeds="$seed-$seed" out="$OUT/$home" base="$(base_ckpt "$base")" jobs=1 threads="$THREADS")
    # shellcheck disable=SC2207
    local keys=($(study_keys "$study"))
    if [ "$PRINT" = commands ]; then
        "$S" "${args[@]}" "${keys[@]}" print=pending </dev/null
    else
        echo "== study $home: $entry seed $seed ($S ${args[*]} ${keys[*]})"
        "$S" "${args[@]}" "${keys[@]}" </dev/null && archive_run "$OUT/$home/$entry-s$seed" &&
            echo "== study $home: $entry seed $seed finished" || return
        # A run made whole here, for the progress line's speed (one short line: appends do not interleave).
        [ "$fresh" = 0 ] || [ -z "$ct" ] || printf '%s\t%s\n' "$ct" "$((SECONDS - t0))" >>"$PROGRESS"
    fi
}

# After each finished run: how many are left, and how long they take on JOBS slots at the speed the
# runs made whole in this command showed against their planned times (the plan's own speed before
# the first; a run resumed or still running counts as left whole, so the figure errs long).
progress() {
    local u ct home entry seed n=0 done_n=0 left=() ratio
    for u in "${units[@]}"; do
        IFS=$'\t' read -r ct _ _ home _ _ entry seed <<<"$u"
        n=$((n + 1))
        if finished_run "$OUT/$home/$entry-s$seed"; then done_n=$((done_n + 1)); else left+=("$ct"); fi
    done
    ratio=$(awk -F'\t' -v f="$DEFAULT_FLOPS" -v s="$SECONDS_PER_FLOP" '{ p += $1 * f * s; a += $2 }
        END { printf "%.2f", (p > 0 ? a / p : 1) }' "$PROGRESS")
    echo "== progress: $done_n of $n runs finished, $(awk -v t=$((SECONDS - START)) 'BEGIN { printf "%.2f", t / 3600 }') h so far;" \
        "about $(printf '%s\n' "${left[@]}" | hours "$ratio") h left (runs made here took x$ratio their planned times)"
}

if [ "$PRINT" = commands ]; then
    for u in "${units[@]}"; do
        IFS=$'\t' read -r _ _ fin home st base entry seed <<<"$u"
        [ "$fin" = 1 ] || sweep_one "$home" "$st" "$base" "$entry" "$seed"
    done
    exit 0
fi

# Links for the shared runs first: a link may dangle until its home's run starts, hence -L as
# well as -e.
for l in "${links[@]}"; do
    IFS=$'\t' read -r st owner entry <<<"$l"
    mkdir -p "$OUT/$st"
    for seed in $(seq 1 "$SEEDS"); do
        [ -e "$OUT/$st/$entry-s$seed" ] || [ -L "$OUT/$st/$entry-s$seed" ] || ln -s "../$owner/$entry-s$seed" "$OUT/$st/$entry-s$seed"
    done
done

# The unfinished runs, longest first, JOBS at a time: each starts as soon as a slot is free.
PROGRESS=$(mktemp "${TMPDIR:-/tmp}/findings-progress.XXXXXX")
trap 'rm -f "$PROGRESS"' EXIT
START=$SECONDS
failed=0 running=0
for u in "${units[@]}"; do
    IFS=$'\t' read -r ct _ fin home st base entry seed <<<"$u"
    [ "$fin" = 1 ] && continue
    if [ "$running" -ge "$JOBS" ]; then
        wait -n || failed=$((failed + 1))
        running=$((running - 1))
        progress
    fi
    sweep_one "$home" "$st" "$base" "$entry" "$seed" "$ct" &
    running=$((running + 1))
done
while [ "$running" -gt 0 ]; do
    wait -n || failed=$((failed + 1))
    running=$((running - 1))
    progress
done
# Runs finished outside this command (print=commands run elsewhere) are archived too.
for u in "${units[@]}"; do
    IFS=$'\t' read -r _ _ _ home _ _ entry seed <<<"$u"
    archive_run "$OUT/$home/$entry-s$seed"
done
if [ "$failed" -gt 0 ]; then
    echo "make findings: $failed run(s) failed; their train.log says why (rerun to resume them)" >&2
    exit 1
fi

# Every study of the table with runs, not only those run now: the table stays whole.
/usr/bin/python3 bench/findings/assemble.py "$S" "$OUT" "$TSV"
