#!/usr/bin/env bash
# `scalerl logits` end to end, from the repo root: the CSV's shape and header, determinism, bf16
# rounding visible but small, agreement with an independent numpy forward pass written from
# models/README.md's "Architecture" over the tensors `scalerl dump` writes, and bad input refused with
# one line and the right exit code. Without numpy, Debian's python3-numpy is installed (need_python).
. "$(dirname "$0")/lib.sh"

"$S" init out="$T/m.ckpt" d_model=32 n_layer=2 n_head=4 ctx=16 seed=3 >/dev/null 2>&1 \
  || { echo "FAIL logits setup: scalerl init failed"; exit 1; }
TEXT='^12+34=46$'
"$S" logits ckpt="$T/m.ckpt" text="$TEXT" >"$T/a.csv" 2>"$T/err"
check "logits exits 0" [ $? -eq 0 ]
check "logits prints a header and one row per character" [ "$(wc -l <"$T/a.csv")" -eq $((${#TEXT} + 1)) ]
check "header names pos, token, then the vocabulary" \
  grep -q '^pos,token,<pad>,<bos>,<eos>,<think_end>,0,1,2,3,4,5,6,7,8,9,+,-,\*,(,),=,<comma>,:$' "$T/a.csv"
check "every row has pos, token and 22 logits" \
  awk -F, 'NR > 1 && NF != 24 { exit 1 }' "$T/a.csv"
check "rows name the input tokens in order" \
  bash -c "[ \"\$(awk -F, 'NR > 1 { printf \"%s \", \$2 }' '$T/a.csv')\" = '<bos> 1 2 + 3 4 = 4 6 <eos> ' ]"
"$S" logits ckpt="$T/m.ckpt" text="$TEXT" >"$T/b.csv" 2>/dev/null
check "logits is deterministic" cmp -s "$T/a.csv" "$T/b.csv"
"$S" logits ckpt="$T/m.ckpt" text="$TEXT" precision=bf16 >"$T/c.csv" 2>/dev/null
# bf16 keeps 8 significant bits: the logits (|x| < 1 here) move, by less than 1e-2.
check "bf16 logits differ from fp32 by a little" awk -F, '
  NR == FNR { if (FNR > 1) for (i = 3; i <= NF; i++) a[FNR, i] = $i; next }
  FNR > 1 { for (i = 3; i <= NF; i++) { d = $i - a[FNR, i]; d = d < 0 ? -d : d; if (d > m) m = d } }
  END { exit !(m > 0 && m < 1e-2) }' "$T/a.csv" "$T/c.csv"
"$S" logits ckpt="$T/m.ckpt" text="12" >"$T/d.csv" 2>/dev/null
check "no BOS is added: a text without ^ starts at its first character" \
  bash -c "[ \"\$(sed -n 2p '$T/d.csv' | cut -d, -f1-2)\" = '0,1' ]"

if need_python "logits: numpy reference" numpy python3-numpy && "$S" dump ckpt="$T/m.ckpt" out="$T/d" >/dev/null 2>&1; then
  "$PY" - "$T/d" "$T/a.csv" <<'PYEOF'
import csv, json, math, os, sys
import numpy as np
d, path = sys.argv[1], sys.argv[2]
w = {f[:-4]: np.load(os.path.join(d, f)).astype(np.float64) for f in os.listdir(d) if f.endswith(".npy")}
rows = list(csv.reader(open(path)))
names, body = rows[0][2:], rows[1:]
ids = [names.index(r[1]) for r in body]
L, H = w["qkv_w"].shape[0], json.load(open(os.path.join(d, "config.json")))["n_head"]
C = w["tok_emb"].shape[1]
hd = C // H

def ln(x, g, b):
    m = x.mean(-1, keepdims=True)
    v = ((x - m) ** 2).mean(-1, keepdims=True)
    return (x - m) / np.sqrt(v + 1e-5) * g + b

def gelu(x):
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))

T = len(ids)
x = w["tok_emb"][ids] + w["pos_emb"][:T]
for l in range(L):
    qkv = ln(x, w["ln1_g"][l], w["ln1_b"][l]) @ w["qkv_w"][l].T + w["qkv_b"][l]
    y = np.zeros((T, C))
    for h in range(H):
        q, k, v = (qkv[:, j * C + h * hd: j * C + (h + 1) * hd] for j in range(3))
        s = q @ k.T / math.sqrt(hd) + np.triu(np.full((T, T), -np.inf), 1)
        p = np.exp(s - s.max(-1, keepdims=True))
        y[:, h * hd:(h + 1) * hd] = (p / p.sum(-1, keepdims=True)) @ v
    x = x + y @ w["attn_out_w"][l].T + w["attn_out_b"][l]
    hmid = gelu(ln(x, w["ln2_g"][l], w["ln2_b"][l]) @ w["mlp_in_w"][l].T + w["mlp_in_b"][l])
    x = x + hmid @ w["mlp_out_w"][l].T + w["mlp_out_b"][l]
logits = ln(x, w["lnf_g"], w["lnf_b"]) @ w["head_w"].T
got = np.array([[float(v) for v in r[2:]] for r in body])
err = float(np.abs(got - logits).max())
# FP32 (rounded by whichever kernels OpenBLAS picked) against float64: the FP32 tolerance of
# tests/rounding.h, FP32_ULPS = 64 ulps of the largest |logit|. A wrong op moves logits by 1e-2
# of that and more.
tol = 64 * 2.0 ** -23 * float(np.abs(logits).max())
name = "logits match a numpy forward pass from models/README.md and the dumped tensors"
print(f"MEASURED {err:.6g} <= {tol:.6g} {name}")
print(("PASS " if err <= tol else "FAIL ") + name + ("" if err <= tol else f": max |diff| {err:.3g} > {tol:.3g}"))
PYEOF
  [ $? -eq 0 ] || echo "FAIL logits numpy check: python exited with an error"
else
  [ -z "$PY" ] || fail "logits: dump for the numpy check" "scalerl dump ckpt=$T/m.ckpt failed"
fi

expect_error "logits refuses a character outside the vocabulary" 1 "'x'" -- logits ckpt="$T/m.ckpt" text="1x"
expect_error "logits refuses a text longer than the context" 1 "16 tokens" -- logits ckpt="$T/m.ckpt" text="^12345678901234567"
expect_error "logits refuses an empty text" 1 "bad text" -- logits ckpt="$T/m.ckpt" text=
expect_error "logits needs text" 1 "text" -- logits ckpt="$T/m.ckpt"
expect_error "logits refuses an unknown key" 1 "unknown key 'bogus'" -- logits ckpt="$T/m.ckpt" text=1 bogus=1
expect_error "logits refuses an unknown precision" 1 "precision" -- logits ckpt="$T/m.ckpt" text=1 precision=fp8
expect_error "logits reports a missing checkpoint as I/O" 2 "cannot" -- logits ckpt="$T/none.ckpt" text=1
