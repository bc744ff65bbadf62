#!/usr/bin/env bash
# `scalerl pretrain` end to end, run from the repo root. The smoke test of issue 3: within a small
# budget (320k completion tokens, a 2-layer d_model=32 model, ~3 s on one core) supervised
# pretraining on add:digits=1-2 raises the validation pass rate from that of the random
# initialization (0 on 400 completions) to above 0.5 (measured 0.81). Deterministic: the same
# seed gives the same checkpoint bytes, so the threshold cannot flake. Also the metadata the RL
# trainer relies on, and bad input refused with one line and no file written.
. "$(dirname "$0")/lib.sh"

TASK=add:digits=1-2
MODEL="d_model=32 ctx=32 batch=32"
THRESHOLD=0.5

# Before: a random initialization of the same model, evaluated as pretrain evaluates (FP32
# generator, no length control, a budget of the longest solution, 10 tokens).
"$S" init out="$T/init.ckpt" d_model=32 ctx=32 seed=1 >/dev/null 2>&1
"$S" eval ckpt="$T/init.ckpt" task=$TASK eval_n=200 n=200 samples=2 length=none think_budget=10 answer_budget=1 \
  gen_precision=fp32 threads=1 json=1 >"$T/init.json" 2>&1
r0=$(jget "$T/init.json" pass_rate)
check "random initialization passes at most 1% ($r0)" awk_true "${r0:-1} <= 0.01"

# After: the smoke test.
"$S" pretrain out="$T/base.ckpt" task=$TASK $MODEL tokens=320000 eval_n=200 eval_samples=2 threads=1 \
  >"$T/pre" 2>"$T/err"
check "pretrain exits 0, quiet on stderr when stderr is not a terminal" [ $? -eq 0 -a ! -s "$T/err" ]
r1=$(sed -n 's/^validation pass rate \([0-9.]*\) .*/\1/p' "$T/pre")
check "pretrain prints the budget it used" grep -qE '^pretrained [0-9]+ steps, [0-9]+ completion tokens, final loss' "$T/pre"
measured "pretraining 320k tokens raises the pass rate to at least $THRESHOLD" "$r1" '>=' "$THRESHOLD"
lo=$(sed -n 's/^validation pass rate [0-9.]* \[\([0-9.]*\),.*/\1/p' "$T/pre")
measured "its 95% interval's lower end reaches the threshold too" "$lo" '>=' "$THRESHOLD"
tokens=$(sed -n 's/^pretrained [0-9]* steps, \([0-9]*\) completion tokens.*/\1/p' "$T/pre")
# The step count is fixed up front (the cosine schedule needs it) from the first batch's token
# count, so the total lands near the budget, not on it: measured +2.4%; we allow 5%.
check "the budget is spent: 320000 <= tokens <= 336000 (${tokens:-none})" \
  awk_true "${tokens:-0} >= 320000 && ${tokens:-0} <= 336000"

"$S" dump ckpt="$T/base.ckpt" out="$T/dump" >/dev/null 2>&1
check "the checkpoint records the tokenizer and the task" \
  bash -c "grep -qx 'tokenizer=chars-v1' '$T/dump/meta.txt' && grep -qx 'pretrain_task=add:digits=1-2:scratch=1' '$T/dump/meta.txt'"
check "the checkpoint carries no optimizer state (RL starts its own)" grep -q '"adam_step": 0' "$T/dump/config.json"

# Determinism on two threads: the same seed and thread count give the same bytes.
for i in 1 2; do
  "$S" pretrain out="$T/d.ckpt" task=$TASK $MODEL tokens=20000 eval_n=200 eval_samples=1 threads=2 >"$T/d$i.out" 2>&1 && mv "$T/d.ckpt" "$T/d$i.ckpt"
done
check "pretrain is deterministic: identical checkpoints from two runs" cmp -s "$T/d1.ckpt" "$T/d2.ckpt"
check "and identical reports (timing aside)" \
  bash -c "cmp -s <(sed 's/in [0-9.]* s/in X s/' '$T/d1.out') <(sed 's/in [0-9.]* s/in X s/' '$T/d2.out')"
"$S" pretrain out="$T/d3.ckpt" task=$TASK $MODEL tokens=20000 eval_n=200 eval_samples=0 threads=1 seed=2 >/dev/null 2>&1
check "another seed gives another model" bash -c "! cmp -s '$T/d1.ckpt' '$T/d3.ckpt'"

# A padded vocabulary (ref/rl/README.md, "A padded vocabulary"): vocab= beyond the tokenizer's 22
# adds head rows no text uses. The checkpoint has them, the trainer and eval take it, and
# pretraining teaches the model to leave them alone: a completion that draws one (a pad decodes to
# no character, '?', and fails its verifier) is checked under 5% of 400; measured 0.5% (2), where
# a random initialization's (`init vocab=64`) draw one in 392 of 400.
"$S" pretrain out="$T/pad.ckpt" task=$TASK $MODEL vocab=64 tokens=320000 eval_n=200 eval_samples=0 threads=1 >/dev/null 2>&1
"$S" dump ckpt="$T/pad.ckpt" out="$T/dpad" >/dev/null 2>&1
"$S" dump ckpt="$T/base.ckpt" out="$T/dbase" >/dev/null 2>&1
check "pretrain vocab=64 writes a 64-row head; the default is the tokenizer's 22" \
  bash -c "grep -q '\"vocab\": 64' '$T/dpad/config.json' && grep -q '\"vocab\": 22' '$T/dbase/config.json'"
"$S" sample ckpt="$T/pad.ckpt" task=$TASK n=100 samples=4 think_budget=10 answer_budget=1 length=none threads=1 >"$T/pad.samples" 2>/dev/null
"$S" eval ckpt="$T/pad.ckpt" task=$TASK eval_n=200 n=200 samples=2 length=none think_budget=10 answer_budget=1 \
  threads=1 json=1 >"$T/pad.json" 2>&1
rp=$(jget "$T/pad.json" pass_rate)
check "eval takes the padded model, which passes as the unpadded one does (>= $THRESHOLD: $rp)" awk_true "${rp:-0} >= $THRESHOLD"
check "under 5% of its sampled completions draw a pad ('?')" bash -c "
  n=\$(grep -c '^  sample' '$T/pad.samples'); q=\$(grep '^  sample' '$T/pad.samples' | grep -c '?'); [ \$n -ge 400 ] && [ \$((q * 20)) -lt \$n ]"
"$S" train base="$T/pad.ckpt" task=$TASK out="$T/padrun" steps=2 prompts_per_step=4 gens_per_prompt=4 eval_every=1 \
  eval_n=20 eval_samples=2 think_budget=10-10 answer_budget=1 threads=1 >/dev/null 2>&1
check "train runs from the padded model" grep -q '"kind":"run"' "$T/padrun/metrics.jsonl"

# ---- bad input ----
expect_error "pretrain refuses a vocabulary smaller than the tokenizer's, naming both" 1 "vocab=5" "22 tokens" -- \
  pretrain out="$T/x.ckpt" vocab=5 $MODEL tokens=100 eval_samples=0
expect_error "pretrain refuses a context too short for the task, naming both" 1 "ctx=12" "add:digits=3" -- \
  pretrain out="$T/x.ckpt" ctx=12 task=add:digits=3
expect_error "pretrain refuses d_model not a multiple of n_head" 1 "d_model=30" "n_head=4" -- \
  pretrain out="$T/x.ckpt" d_model=30 n_head=4 tokens=100
expect_error "pretrain refuses tokens=0 with the accepted range" 1 "'tokens'" "[1, " -- pretrain out="$T/x.ckpt" tokens=0
expect_error "pretrain refuses a bad task spec" 1 "mul" -- pretrain out="$T/x.ckpt" task=mull:digits=2
expect_error "pretrain refuses a bad eval_task, naming the key" 1 "'eval_task'" "mull" -- \
  pretrain out="$T/x.ckpt" eval_task=mull:digits=2
expect_error "pretrain refuses a context too short for eval_task's sequences, naming its spec" 1 "ctx=12" "add:digits=3" -- \
  pretrain out="$T/x.ckpt" task=add:digits=1 eval_task=add:digits=3 ctx=12
expect_error "pretrain refuses an unknown key" 1 "'token'" -- pretrain out="$T/x.ckpt" token=5
expect_error "pretrain requires out" 1 "out" -- pretrain tokens=100
expect_error "pretrain refuses a word that is not key=value" 1 "unexpected argument 'extra'" -- \
  pretrain out="$T/x.ckpt" $MODEL tokens=100 eval_samples=0 extra
check "no checkpoint is written on bad input" [ ! -e "$T/x.ckpt" ]
expect_error "pretrain reports an unwritable output (exit 2)" 2 "$T/no/such/dir" -- \
  pretrain out="$T/no/such/dir/x.ckpt" $MODEL tokens=100 eval_samples=0
check "and leaves no temporary file" [ ! -e "$T/no" ]
