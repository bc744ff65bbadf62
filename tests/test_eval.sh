#!/usr/bin/env bash
# `scalerl eval` and `scalerl sample` end to end, run from the repo root, on a small base model
# pretrained here (add:digits=1-2, pass rate about 0.3: right and wrong answers both occur).
# eval: the text report has every field (pass rate, 95% interval, pass@k, mean length,
# interruption rate), json=1 is one flat JSON object with the same numbers, n and samples are
# respected, results are deterministic and match `scalerl pretrain`'s own evaluation for the same
# generator settings. sample: n prompts, `samples` completions each, rewards that agree with the
# completions shown. Both refuse a missing, non-scalerl or foreign-vocabulary checkpoint with one
# line. No Python: the JSON checks are a grep regex and awk.
. "$(dirname "$0")/lib.sh"
need_python3

# A flat JSON object: string keys, values numbers, strings, null or booleans.
NUM='-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?'
STR='"([^"\\]|\\.)*"'
VAL="($NUM|$STR|null|true|false)"
JSON_OBJ="^\{($STR:$VAL(,$STR:$VAL)*)?\}\$"

KEYS="task=add:digits=1-2 eval_n=200 threads=1"
pretrain_base "$T/base.ckpt" $SMALL_BASE eval_n=200 eval_samples=2

# ---- eval, text ----
"$S" eval ckpt="$T/base.ckpt" $KEYS n=37 samples=3 think_budget=16 answer_budget=4 >"$T/text" 2>"$T/err"
check "eval exits 0 with nothing on stderr" [ $? -eq 0 -a ! -s "$T/err" ]
check "eval text: pass rate, 95% interval, prompts x samples" \
  grep -qE '^pass rate [0-9.]+  95% interval \[[0-9.]+, [0-9.]+\]  \(37 prompts x 3 samples' "$T/text"
check "eval text: pass@1 and pass@2 for 3 samples, no pass@4" \
  bash -c "grep -qE '^pass@1 +[0-9.]+$' '$T/text' && grep -qE '^pass@2 +[0-9.]+$' '$T/text' && ! grep -q 'pass@4' '$T/text'"
check "eval text: mean completion length and interruption rate" \
  grep -qE '^mean completion length [0-9.]+ tokens \(sd within a prompt [0-9.]+\), interrupted [0-9.]+' "$T/text"
rate=$(sed -n 's/^pass rate \([0-9.]*\) .*/\1/p' "$T/text")
lo=$(sed -n 's/.*interval \[\([0-9.]*\),.*/\1/p' "$T/text")
hi=$(sed -n 's/.*interval \[[0-9.]*, \([0-9.]*\)\].*/\1/p' "$T/text")
check "eval text: lo <= pass rate <= hi, a nonzero rate and width" awk_true "$lo <= $rate && $rate <= $hi && $rate > 0 && $hi > $lo"

# ---- eval, json ----
"$S" eval ckpt="$T/base.ckpt" $KEYS n=37 samples=3 think_budget=16 answer_budget=4 json=1 >"$T/json" 2>"$T/err"
check "eval json=1 exits 0" [ $? -eq 0 -a ! -s "$T/err" ]
check "eval json=1 prints exactly one line" [ "$(wc -l <"$T/json")" -eq 1 ]
check "eval json=1 is one flat JSON object" grep -qE "$JSON_OBJ" "$T/json"
missing=""
for k in n samples pass_rate pass_rate_lo pass_rate_hi pass_at_1 pass_at_2 len_mean len_sd_prompt interrupt_frac truncate_frac; do
  [ -n "$(jget "$T/json" "$k")" ] || missing="$missing $k"
done
check "eval json=1 has every field (missing:${missing:- none})" [ -z "$missing" ]
check "eval json=1 respects n=37 and samples=3" [ "$(jget "$T/json" n)" = 37 -a "$(jget "$T/json" samples)" = 3 ]
jr=$(jget "$T/json" pass_rate)
# Every prompt scores a multiple of 1/3, so 111 x pass_rate counts the correct completions: an
# integer up to the rounding of one division (1e-6 is far above double rounding, far below 1).
check "eval json: pass_rate x n x samples is a whole number of correct completions" \
  awk_true "($jr * 111) - int($jr * 111 + 0.5) < 1e-6 && int($jr * 111 + 0.5) - ($jr * 111) < 1e-6"
check "eval json and text report the same pass rate (text to 4 decimals)" awk_true "($jr - $rate)^2 < 0.00005^2"
check "eval json: pass@1 equals the pass rate (unbiased estimator at k=1)" \
  awk_true "($(jget "$T/json" pass_at_1) - $jr)^2 < 1e-20"
check "eval json: pass@2 >= pass@1" awk_true "$(jget "$T/json" pass_at_2) >= $(jget "$T/json" pass_at_1)"

"$S" eval ckpt="$T/base.ckpt" $KEYS n=37 samples=3 think_budget=16 answer_budget=4 json=1 >"$T/json2" 2>&1
check "eval is deterministic (same keys, same bytes)" cmp -s "$T/json" "$T/json2"
"$S" eval ckpt="$T/base.ckpt" $KEYS n=37 samples=3 think_budget=16 answer_budget=4 json=1 seed=2 >"$T/json3" 2>&1
check "eval with another seed samples other completions" bash -c "! cmp -s '$T/json' '$T/json3'"

# A thinking budget of 2-3 is shorter than most scratchpads (2 to 5 tokens): many completions are
# interrupted, and none is longer than budget + marker + answer budget.
"$S" eval ckpt="$T/base.ckpt" $KEYS n=50 samples=2 think_budget=2-3 answer_budget=4 json=1 >"$T/jint" 2>&1
measured "eval json: interruption rate at least 0.3 with a thinking budget of 2-3" "$(jget "$T/jint" interrupt_frac)" '>=' 0.3
check "eval json: mean length <= 3 + 1 + 4 under that budget" awk_true "$(jget "$T/jint" len_mean) <= 8"

# pretrain evaluates with an FP32 generator, length=none and a budget of the longest solution (10
# tokens for add:digits=1-2); eval with those keys must print the same pass rate.
pre_rate=$(sed -n 's/^validation pass rate \([0-9.]*\) .*/\1/p' "$T/pre")
"$S" eval ckpt="$T/base.ckpt" $KEYS n=200 samples=2 length=none think_budget=10 answer_budget=1 gen_precision=fp32 \
  >"$T/same" 2>&1
check "eval reproduces pretrain's validation pass rate ($pre_rate) with the same generator" \
  grep -q "^pass rate $pre_rate " "$T/same"

# ---- sample ----
"$S" sample ckpt="$T/base.ckpt" $KEYS n=4 samples=2 think_budget=16 answer_budget=4 >"$T/samp" 2>"$T/err"
check "sample exits 0" [ $? -eq 0 -a ! -s "$T/err" ]
check "sample shows n=4 prompts" [ "$(grep -cE '^prompt   \^[0-9+]+=   \(answer -?[0-9]+\)$' "$T/samp")" -eq 4 ]
check "sample shows samples=2 completions per prompt" [ "$(grep -cE '^  sample [01] +reward (0|1)( \(interrupted\))?  ' "$T/samp")" -eq 8 ]
# The reward shown must be what the verifier gives the completion shown: the answer after the last
# '#' (up to the first '$') equals the prompt's answer. add never needs PAD or BOS in an answer.
bad=$(awk '/^prompt/ { ans = $0; sub(/.*\(answer /, "", ans); sub(/\)$/, "", ans); next }
           /^  sample/ { r = $4; c = $NF; if (index(c, "$")) c = substr(c, 1, index(c, "$") - 1)
                         ok = 0; if (match(c, /#[^#]*$/)) ok = (substr(c, RSTART + 1) == ans && c !~ /[_^]/)
                         if (ok != r) n++ }
           END { print n + 0 }' "$T/samp")
check "sample: every reward shown agrees with its completion's answer ($bad disagree)" [ "$bad" -eq 0 ]
check "sample: at least one correct completion among them" grep -qE 'reward 1' "$T/samp"

# sample shows exactly the completions eval scores (same keys and samples), one character per
# token, so eval's pooled within-prompt length sd is recomputed here from the texts shown:
# sqrt(mean over prompts of each prompt's unbiased variance). Both are doubles from whole token
# counts: 1e-9 is far above their rounding and far below any real difference (1/37 of a token^2).
"$S" sample ckpt="$T/base.ckpt" $KEYS n=37 samples=3 think_budget=16 answer_budget=4 >"$T/samp37" 2>&1
sd=$(awk '/^prompt/ { if (k) v += (q - s * s / k) / (k - 1); s = q = k = 0; p++; next }
          /^  sample/ { l = length($NF); s += l; q += l * l; k++ }
          END { v += (q - s * s / k) / (k - 1); printf "%.12f", sqrt(v / p) }' "$T/samp37")
check "eval json: len_sd_prompt ($(jget "$T/json" len_sd_prompt)) is the within-prompt sd of sample's completions ($sd)" \
  awk_true "($(jget "$T/json" len_sd_prompt) - $sd)^2 < 1e-18 && $sd > 0"
"$S" eval ckpt="$T/base.ckpt" $KEYS n=37 samples=1 json=1 >"$T/json1" 2>&1
check "eval json: len_sd_prompt is 0 with one sample per prompt" [ "$(jget "$T/json1" len_sd_prompt)" = 0 ]

# ---- by family, on a mixture ----
# A mixed task reports each family's prompts, pass rate, mean length and interrupted share, and
# the overall figures are their prompt-weighted means (1e-12: sums of at most 40 doubles of
# whole-number ratios, far above their rounding); a single-family task reports none of them.
MIX="task=add:digits=1-2@0.6,sub:digits=1-2@0.4 eval_n=200 threads=1"
"$S" eval ckpt="$T/base.ckpt" $MIX n=40 samples=3 think_budget=3-4 answer_budget=4 json=1 >"$T/jmix" 2>"$T/err"
check "eval json on a mixture exits 0 and is one flat JSON object" grep -qE "$JSON_OBJ" "$T/jmix"
na=$(jget "$T/jmix" n_add); ns=$(jget "$T/jmix" n_sub)
check "eval json on a mixture: n_add ($na) + n_sub ($ns) = n, both drawn" [ "$((na + ns))" -eq 40 -a "$na" -gt 0 -a "$ns" -gt 0 ]
"$S" sample ckpt="$T/base.ckpt" $MIX n=40 samples=1 >"$T/smix" 2>&1
check "eval json on a mixture: n_sub is the number of subtraction prompts sample shows" \
  [ "$(grep -cE '^prompt   \^[0-9]+-[0-9]+=' "$T/smix")" -eq "$ns" ]
for k in pass_rate len_mean interrupt_frac; do
  check "eval json on a mixture: $k is the prompt-weighted mean of ${k}_add and ${k}_sub" \
    awk_true "($na * $(jget "$T/jmix" ${k}_add) + $ns * $(jget "$T/jmix" ${k}_sub) - 40 * $(jget "$T/jmix" $k))^2 < 1e-24"
done
check "eval json on a mixture: some completions interrupted under a 3-4 budget" awk_true "$(jget "$T/jmix" interrupt_frac) > 0"
"$S" eval ckpt="$T/base.ckpt" $MIX n=40 samples=3 think_budget=3-4 answer_budget=4 >"$T/tmix" 2>&1
check "eval text on a mixture: one line per family with its prompts" \
  bash -c "grep -qE '^add +$na prompts  pass rate [0-9.]+  mean length [0-9.]+  interrupted [0-9.]+$' '$T/tmix' &&
           grep -qE '^sub +$ns prompts  pass rate ' '$T/tmix'"
check "eval json on one family has no by-family fields" bash -c "! grep -q '_add\"' '$T/json'"
"$S" train base="$T/base.ckpt" $MIX out="$T/mixrun" steps=2 prompts_per_step=4 gens_per_prompt=4 eval_every=1 \
  eval_n=20 eval_samples=2 >/dev/null 2>&1
ne=$(grep -c '"kind":"eval"' "$T/mixrun/metrics.jsonl")
nf=$(grep '"kind":"eval"' "$T/mixrun/metrics.jsonl" | grep -c '"pass_rate_add":.*"pass_rate_sub":')
check "a training run on a mixture: every eval row ($nf of $ne) has pass_rate_add and pass_rate_sub" [ "$ne" -ge 2 -a "$nf" -eq "$ne" ]

# ---- errors ----
expect_error "eval refuses a missing checkpoint (exit 2, names it)" 2 "$T/none.ckpt" -- eval ckpt="$T/none.ckpt"
echo "not a model" >"$T/junk.ckpt"
expect_error "eval refuses a file that is not a checkpoint" 1 "junk.ckpt" "not a scalerl checkpoint" -- eval ckpt="$T/junk.ckpt"
# A checkpoint of another tokenizer: the base model's with its metadata's tokenizer line changed and
# the header CRC recomputed (models/README.md, "Checkpoint format"), so that only the line differs.
"$PY3" - "$T/base.ckpt" "$T/foreign.ckpt" <<'PY'
import struct, sys, zlib
data = bytearray(open(sys.argv[1], "rb").read())
hlen = struct.unpack_from("<I", data, 12)[0]
at = data.index(b"tokenizer=chars-v1", 0, hlen)
data[at:at + 18] = b"tokenizer=chars-v0"
struct.pack_into("<I", data, hlen - 4, zlib.crc32(bytes(data[:hlen - 4])))
open(sys.argv[2], "wb").write(data)
PY
expect_error "eval refuses a checkpoint of another tokenizer" 1 "foreign.ckpt" "tokenizer" -- eval ckpt="$T/foreign.ckpt"
expect_error "sample refuses a missing checkpoint" 2 "$T/none.ckpt" -- sample ckpt="$T/none.ckpt"
expect_error "sample refuses a foreign checkpoint" 1 "tokenizer" -- sample ckpt="$T/foreign.ckpt"
# A padded vocabulary (init vocab=30: 8 head rows beyond the tokenizer's) is this tokenizer's.
"$S" init out="$T/v30.ckpt" vocab=30 d_model=32 ctx=32 >/dev/null 2>&1
check "eval takes a checkpoint with a padded vocabulary" \
  "$S" eval ckpt="$T/v30.ckpt" task=add:digits=1-2 eval_n=20 n=5 think_budget=8 answer_budget=3 threads=1
expect_error "eval refuses n > eval_n, naming both" 1 "n=300" "eval_n=200" -- eval ckpt="$T/base.ckpt" $KEYS n=300
expect_error "eval refuses budgets beyond the model context" 1 "ctx=32" -- eval ckpt="$T/base.ckpt" $KEYS n=5 think_budget=24-32 answer_budget=8
expect_error "eval refuses a bad length choice, listing the choices" 1 "'length'" "interrupt|penalty|none" -- \
  eval ckpt="$T/base.ckpt" length=short
expect_error "eval refuses an unknown key" 1 "'samplez'" -- eval ckpt="$T/base.ckpt" samplez=3
expect_error "eval requires ckpt" 1 "ckpt" -- eval n=3
