"""models/README.md's architecture in torch.nn, for the PyTorch side of `make bench`
(bench/torch_bench.py, bench/torch_rl_step.py). Written from the README, as a PyTorch user would
write a small GPT; tests/make_torch_ref.py holds the checked, float64 version.

A block's forward takes an optional KV cache, so that the same module serves training (the whole
sequence at once) and batched incremental generation (one token per step, keys and values kept).
"""
import json
import math
import os

import numpy as np
import torch
import torch.nn as nn


class Block(nn.Module):
    def __init__(self, d, n_head, d_ff):
        super().__init__()
        self.d, self.n_head, self.hd = d, n_head, d // n_head
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.attn_out = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.mlp_in, self.mlp_out = nn.Linear(d, d_ff), nn.Linear(d_ff, d)
        self.gelu = nn.GELU(approximate="tanh")

    def forward(self, x, mask, cache=None, at=0):
        """x (B, T, d); mask (B or 1, 1, T, keys) True where a key is hidden. With cache = (K, V),
        each (B, n_head, ctx, hd), this step's keys and values go to positions at .. at+T-1 of
        the cache and the queries attend to positions 0 .. at+T-1 of it."""
        b, t, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(d, dim=-1)
        q, k, v = (z.view(b, t, self.n_head, self.hd).transpose(1, 2) for z in (q, k, v))
        if cache is not None:
            K, V = cache
            K[:, :, at:at + t] = k
            V[:, :, at:at + t] = v
            k, v = K[:, :, :at + t], V[:, :, :at + t]
        s = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(self.hd))
        p = torch.softmax(s.masked_fill(mask, float("-inf")), dim=-1)
        x = x + self.attn_out((p @ v).transpose(1, 2).reshape(b, t, d))
        return x + self.mlp_out(self.gelu(self.mlp_in(self.ln2(x))))


class GPT(nn.Module):
    def __init__(self, vocab, ctx, d, n_layer, n_head, d_ff):
        super().__init__()
        self.vocab, self.ctx, self.d, self.n_head = vocab, ctx, d, n_head
        self.tok_emb, self.pos_emb = nn.Embedding(vocab, d), nn.Embedding(ctx, d)
        self.blocks = nn.ModuleList([Block(d, n_head, d_ff) for _ in range(n_layer)])
        self.lnf = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab, bias=False)

    def forward(self, tokens, pos=None, mask=None, caches=None, at=0):
        """Logits (B, T, vocab) of tokens (B, T). Without pos and mask: every sequence from
        position 0, causal attention. caches: one (K, V) per block, see Block.forward."""
        t = tokens.shape[1]
        if pos is None:
            pos = torch.arange(t)
        if mask is None:
            mask = torch.triu(torch.ones(t, t, dtype=torch.bool), diagonal=1)
        x = self.tok_emb(tokens) + self.pos_emb(pos)
        for i, blk in enumerate(self.blocks):
            x = blk(x, mask, None if caches is None else caches[i], at)
        return self.head(self.lnf(x))

    def new_caches(self, batch):
        shape = (batch, self.n_head, self.ctx, self.d // self.n_head)
        return [(torch.zeros(shape), torch.zeros(shape)) for _ in self.blocks]

    def decay_groups(self, weight_decay):
        """AdamW parameter groups as the C optimizer has them (models/optim.c): weight matrices
        and embeddings decay, biases and layer-norm gains do not."""
        decay, keep = [], []
        for name, p in self.named_parameters():
            (keep if name.endswith(".bias") or ".ln" in name or name.startswith("ln") else decay).append(p)
        return [{"params": decay, "weight_decay": weight_decay}, {"params": keep, "weight_decay": 0.0}]


def load_dump(directory):
    """A GPT holding the tensors `scalerl dump` wrote to directory (per-layer tensors stacked on
    a leading axis, linear weights stored (out, in) as in torch)."""
    with open(os.path.join(directory, "config.json")) as f:
        cfg = json.load(f)
    model = GPT(cfg["vocab"], cfg["ctx"], cfg["d_model"], cfg["n_layer"], cfg["n_head"], cfg["d_ff"])
    t = {name[:-4]: torch.from_numpy(np.load(os.path.join(directory, name)))
         for name in os.listdir(directory) if name.endswith(".npy")}
    per_layer = {"ln1_g": "ln1.weight", "ln1_b": "ln1.bias", "qkv_w": "qkv.weight", "qkv_b": "qkv.bias",
                 "attn_out_w": "attn_out.weight", "attn_out_b": "attn_out.bias", "ln2_g": "ln2.weight",
                 "ln2_b": "ln2.bias", "mlp_in_w": "mlp_in.weight", "mlp_in_b": "mlp_in.bias",
                 "mlp_out_w": "mlp_out.weight", "mlp_out_b": "mlp_out.bias"}
    state = {"tok_emb.weight": t["tok_emb"], "pos_emb.weight": t["pos_emb"], "lnf.weight": t["lnf_g"],
             "lnf.bias": t["lnf_b"], "head.weight": t["head_w"]}
    for name, field in per_layer.items():
        for layer in range(cfg["n_layer"]):
            state[f"blocks.{layer}.{field}"] = t[name][layer]
    model.load_state_dict(state)
    return model
