#!/usr/bin/env bash
# `make findings`: the paper's study at toy scale (issue #14): every study of studies.tsv, each
# entry for `seeds` seeds, from one base model per model size, through `scalerl sweep` (finished
# runs are skipped, unfinished ones resumed, so the study can span sessions). Then each finished
# run is archived (metrics.jsonl.gz and config.txt kept, checkpoints dropped), `scalerl compare`
# reads each study, and assemble.py writes findings.jsonl and README.md's table.
#
#   make findings [studies=loo,loss,...] [seeds=3] [jobs=2] [threads=1] [print=plan|commands]
#
# print=plan: the plan, its compute and a time estimate, and nothing run. print=commands: the
# `scalerl train` commands of every unfinished run, one per line (for GNU parallel or a cluster).
# Environment, for tests and other layouts: FINDINGS_OUT (bench/findings), FINDINGS_STUDIES (the
# table), FINDINGS_BASE_DEFAULT / _LARGE / _THINK / _PAIR / _MIX (base checkpoints), FINDINGS_KEYS (more keys).
set -euo pipefail
cd "$(dirname "$0")/../.."
S=${SCALERL_BIN:-./scalerl}
OUT=${FINDINGS_OUT:-bench/findings}
TSV=${FINDINGS_STUDIES:-bench/findings/studies.tsv}
STUDIES=all SEEDS=3 JOBS=2 THREADS=1 PRINT=""
for kv in "$@"; do
    case $kv in
        studies=*) STUDIES=${kv#*=} ;;
        seeds=*) SEEDS=${kv#*=} ;;
        jobs=*) JOBS=${kv#*=} ;;
        threads=*) THREADS=${kv#*=} ;;
        print=plan|print=commands|print=) PRINT=${kv#*=} ;;
        *) echo "make findings: unknown argument '$kv' (expected studies=, seeds=, jobs=, threads=, print=plan|commands)" >&2; exit 1 ;;
    esac
done
[[ $SEEDS =~ ^[1-9][0-9]*$ ]] || { echo "make findings: bad seeds=$SEEDS: expected a positive integer" >&2; exit 1; }

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
    esac
}
base_keys() {
    case $1 in
        default) echo "tokens=220000" ;;
        large) echo "d_model=128 n_layer=4 tokens=${LARGE_TOKENS:-150000}" ;;
        think) echo "task=add:digits=4-5 tokens=${THINK_TOKENS:-800000}" ;;
        pair) echo "task=pair tokens=${PAIR_TOKENS:-1400000}" ;;
        mix) echo "task=$MIX_TASK tokens=${MIX_TOKENS:-1600000}" ;;
    esac
}
MIX_TASK="sum:terms=2-4:digits=2@0.3,pair@0.7"
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
        mixture) own="task=$MIX_TASK think_budget=20-28" ;;
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
        *) echo 1 ;;
    esac
}

studies=$(grep -v '^#' "$TSV" | cut -f1 | awk '!seen[$0]++')
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
done < <(grep -v '^#' "$TSV")
selected() { grep -qx "$1" <<<"$studies"; }

# A finished run: its closing row, in metrics.jsonl or in the archive.
finished_run() {
    { [ -f "$1/metrics.jsonl.gz" ] && zgrep -q '"kind":"run"' "$1/metrics.jsonl.gz"; } ||
        { [ -f "$1/metrics.jsonl" ] && grep -q '"kind":"run"' "$1/metrics.jsonl"; }
}

if [ "$PRINT" = plan ] || [ -z "$PRINT" ]; then
    total=0 left=0 total_t=0 left_t=0
    declare -A planned
    echo "findings plan: $SEEDS seeds, jobs=$JOBS threads=$THREADS, into $OUT/<study>/"
    for st in $studies; do
        while IFS=$'\t' read -r s base entry paper verdict; do
            [ "$s" = "$st" ] || continue
            c=$(rel_cost "$entry $(study_keys "$st")" "$base")
            owner=${home["$base|$(study_keys "$st")|$entry"]}
            if [ "$owner" != "$st" ] && { selected "$owner" || [ -n "${planned[$owner|$entry]:-}" ]; }; then
                printf '  %-6s %-46s base %-7s (the %s study'"'"'s runs)\n' "$st" "$entry" "$base" "$owner"
                continue
            fi
            planned[$owner|$entry]=1
            note=""
            [ "$owner" = "$st" ] || note=" (made in $OUT/$owner/)"
            total=$(awk -v t="$total" -v c="$c" -v n="$SEEDS" 'BEGIN { print t + c * n }')
            ct=$(awk -v c="$c" -v f="$(time_per_flop "$base")" 'BEGIN { print c * f }')
            total_t=$(awk -v t="$total_t" -v c="$ct" -v n="$SEEDS" 'BEGIN { print t + c * n }')
            done_n=0
            for seed in $(seq 1 "$SEEDS"); do finished_run "$OUT/$owner/$entry-s$seed" && done_n=$((done_n + 1)); done
            left=$(awk -v l="$left" -v c="$c" -v n=$((SEEDS - done_n)) 'BEGIN { print l + c * n }')
            left_t=$(awk -v l="$left_t" -v c="$ct" -v n=$((SEEDS - done_n)) 'BEGIN { print l + c * n }')
            printf '  %-6s %-46s base %-7s x%-5s of a default run each, %d of %d seeds finished%s\n' "$st" "$entry" "$base" "$c" \
                "$done_n" "$SEEDS" "$note"
        done < <(grep -v '^#' "$TSV")
    done
    awk -v t="$total" -v l="$left" -v tt="$total_t" -v lt="$left_t" -v f="$DEFAULT_FLOPS" -v s="$SECONDS_PER_FLOP" -v j="$JOBS" 'BEGIN {
        printf "  total: %.1f default-run equivalents, %.2g FLOPs, about %.1f h on %d cores (jobs=%d, one thread each)\n", t, t * f, tt * f * s / 3600 / j, j, j
        printf "  left to run: %.1f default-run equivalents, about %.1f h (finished runs are skipped)\n", l, lt * f * s / 3600 / j }'
    [ "$PRINT" = plan ] && exit 0
fi

# Base models (reused when present).
for st in $studies; do
    for base in $(grep "^$st	" "$TSV" | cut -f2 | sort -u); do
        ck=$(base_ckpt "$base")
        if [ ! -f "$ck" ]; then
            # shellcheck disable=SC2046
            if [ "$PRINT" = commands ]; then echo "$S pretrain out=$ck $(base_keys "$base")"
            else
                mkdir -p "$(dirname "$ck")"
                echo "== base model $base: $S pretrain out=$ck $(base_keys "$base")"; "$S" pretrain out="$ck" $(base_keys "$base") progress=0
            fi
        fi
    done
done

# Archives the finished runs of a study: what a fresh clone needs to reproduce every verdict.
# Called after each study's sweep, so a stopped study keeps what finished (unfinished runs are
# left whole, to resume).
archive_study() {
    local d
    for d in "$OUT/$1"/*/; do
        [ -f "$d/metrics.jsonl" ] && [ -f "$d/final.ckpt" ] && grep -q '"kind":"run"' "$d/metrics.jsonl" || continue
        # Step rows of every 10th step only: the full file is ~1.5 MB compressed per run, mostly
        # per-step signals; verdicts read the eval rows (all kept), the regime means a tenth of
        # the steps as well as all of them.
        awk '!/^\{"kind":"step","step":/ || /^\{"kind":"step","step":[0-9]*0,/' "$d/metrics.jsonl" | gzip -9n >"$d/metrics.jsonl.gz.tmp" \
            && mv "$d/metrics.jsonl.gz.tmp" "$d/metrics.jsonl.gz"
        rm -rf "$d/metrics.jsonl" "$d/final.ckpt" "$d/ckpt" "$d/train.log" "$d/.sweep.lock" "$d/.run.lock"
    done
}

# One sweep of ENTRIES (comma-separated) from base BASE with study STUDY's keys into OUT/DIR; print=
# commands lists its unfinished runs instead. stdin is /dev/null: callers read the table on it.
sweep_into() {
    local dir=$1 entries=$2 base=$3 study=$4 what=$5
    local args=(sweep recipes="$entries" seeds="$SEEDS" out="$OUT/$dir" base="$(base_ckpt "$base")" jobs="$JOBS" threads="$THREADS")
    # shellcheck disable=SC2207
    local keys=($(study_keys "$study"))
    if [ "$PRINT" = commands ]; then
        "$S" "${args[@]}" "${keys[@]}" print=pending </dev/null
    else
        echo "== $what: $S ${args[*]} ${keys[*]}"
        "$S" "${args[@]}" "${keys[@]}" </dev/null
    fi
}

# The sweeps: one per (study, base), over the entries the study owns; the others are linked.
for st in $studies; do
    for base in $(grep "^$st	" "$TSV" | cut -f2 | awk '!seen[$0]++'); do
        entries=""
        while IFS=$'\t' read -r s b entry _; do
            [ "$s" = "$st" ] && [ "$b" = "$base" ] || continue
            owner=${home["$base|$(study_keys "$st")|$entry"]}
            if [ "$owner" = "$st" ]; then entries="$entries${entries:+,}$entry"; continue; fi
            if ! selected "$owner"; then
                # Its home study is not selected: make the shared run there (a no-op when finished).
                sweep_into "$owner" "$entry" "$base" "$st" "shared run of study $st, made in study $owner"
                [ "$PRINT" = commands ] || archive_study "$owner"
            fi
            # Links only when running: print=commands changes nothing. A link may dangle until
            # its home's run starts, hence -L as well as -e.
            [ "$PRINT" = commands ] && continue
            for seed in $(seq 1 "$SEEDS"); do
                mkdir -p "$OUT/$st"
                [ -e "$OUT/$st/$entry-s$seed" ] || [ -L "$OUT/$st/$entry-s$seed" ] ||
                    ln -s "../$owner/$entry-s$seed" "$OUT/$st/$entry-s$seed"
            done
        done < <(grep -v '^#' "$TSV")
        [ -n "$entries" ] && sweep_into "$st" "$entries" "$base" "$st" "study $st, base $base"
    done
    [ "$PRINT" = commands ] || archive_study "$st"
done
[ "$PRINT" = commands ] && exit 0

# Every study of the table with runs, not only those run now: the table stays whole.
/usr/bin/python3 bench/findings/assemble.py "$S" "$OUT" "$TSV"
