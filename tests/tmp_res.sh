. "$(dirname "$0")/lib.sh"
"$S" pretrain out="$T/base.ckpt" task=add:digits=1-2 d_model=32 ctx=32 batch=32 tokens=40000 threads=1 eval_samples=0 >"$T/pre" 2>&1
K="base=$T/base.ckpt task=add:digits=1-2 think_budget=4-6 answer_budget=4 prompts_per_step=8 gens_per_prompt=4 eval_n=16"
for i in 1 2 3 4 5; do
rm -rf "$T/res"
"$S" train $K out="$T/res" steps=30 eval_every=10 ckpt_every=2 threads=1 >"$T/res.out" 2>"$T/res.err" &
pid=$!
kill -STOP "$pid"
n=0
for _ in $(seq 2000); do
  [ -n "$(ls "$T/res/ckpt" 2>/dev/null)" ] && break
  kill -CONT "$pid"; sleep 0.005; kill -STOP "$pid"; n=$((n+1))
done
kill -TERM "$pid"; kill -CONT "$pid"
wait "$pid"; rc=$?
echo "bursts=$n rc=$rc final=$([ -e $T/res/final.ckpt ] && echo yes || echo no) ckpt=$(ls $T/res/ckpt 2>&1 | tr '\n' ' ') steps=$(grep -c '"kind":"step"' $T/res/metrics.jsonl) err=$(head -c 200 $T/res.err)"
done
