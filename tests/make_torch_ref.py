#!/usr/bin/python3
"""Writes tests/data/torch_ref.bin: an independent PyTorch reference for tests/test_model_ref.c.

Run once by hand (from the repository root): /usr/bin/python3 tests/make_torch_ref.py
Needs Debian's python3-torch; nothing in `make` or `make test` runs it.

The model is written from models/README.md's "Architecture" section with torch.nn primitives
(Embedding, LayerNorm, Linear, GELU(approximate="tanh"), an explicit masked softmax attention),
not from the C code. It runs in float64 on float32 parameters, so its outputs are the exact
function of the stored parameters up to float64 rounding; a second pass emulates bfloat16
matmuls (inputs rounded to bfloat16 by torch, products accumulated in float32).

File format, little-endian, no padding:
  char[8]  magic "SRLREF01"
  int32    vocab, ctx, d_model, n_layer, n_head, d_ff, B, T, n_params
  float32  temperature
  int32    tokens[B*T]          row-major (sequence, position)
  int32    targets[B*T]         -1 = position not scored
  float32  dlogp[B*T]           weights of the loss sum(dlogp * logp) over scored positions
  float32  params[n_params]     in the layout order of models/README.md's table (tok_emb ... head_w)
  float32  logits[B*T*V]        before temperature
  float32  logp[B*T]            log softmax(logits / temperature)[target], 0 where skipped
  float32  entropy[B*T]         entropy of softmax(logits / temperature), 0 where skipped
  float32  grads[n_params]      d loss / d params, same layout as params
  float32  logp_bf16[B*T]       logp with every matmul input and the logits rounded to bf16
"""
import math
import os
import struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

VOCAB, CTX, D, L, NH, DFF = 13, 12, 16, 2, 4, 40
B, T = 3, 10
TEMPERATURE = 0.8


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1 = nn.LayerNorm(D, eps=1e-5)
        self.qkv = nn.Linear(D, 3 * D)
        self.attn_out = nn.Linear(D, D)
        self.ln2 = nn.LayerNorm(D, eps=1e-5)
        self.mlp_in = nn.Linear(D, DFF)
        self.gelu = nn.GELU(approximate="tanh")
        self.mlp_out = nn.Linear(DFF, D)

    def forward(self, x, rnd):
        bsz, t, _ = x.shape
        a = self.ln1(x)
        qkv = linear(a, self.qkv, rnd)
        q, k, v = qkv.split(D, dim=-1)
        hd = D // NH
        # (B, T, D) -> (B, NH, T, hd): head h owns channels h*hd .. h*hd+hd-1
        q, k, v = (z.view(bsz, t, NH, hd).transpose(1, 2) for z in (q, k, v))
        scores = q @ k.transpose(-1, -2) / math.sqrt(hd)
        future = torch.triu(torch.ones(t, t, dtype=torch.bool), diagonal=1)
        p = torch.softmax(scores.masked_fill(future, float("-inf")), dim=-1)
        y = (p @ v).transpose(1, 2).reshape(bsz, t, D)
        x = x + linear(y, self.attn_out, rnd)
        h = self.gelu(linear(self.ln2(x), self.mlp_in, rnd))
        return x + linear(h, self.mlp_out, rnd)


def linear(x, layer, rnd):
    """layer(x), or with rnd: inputs and weight rounded to bfloat16, accumulated in float32."""
    if not rnd:
        return layer(x)
    xr = x.to(torch.bfloat16).to(torch.float32)
    wr = layer.weight.to(torch.bfloat16).to(torch.float32)
    y = xr @ wr.t()
    if layer.bias is not None:
        y = y + layer.bias.to(torch.float32)
    return y.to(x.dtype)


class GPT(nn.Module):
    def __init__(self):
        super().__init__()
        self.tok_emb = nn.Embedding(VOCAB, D)
        self.pos_emb = nn.Embedding(CTX, D)
        self.blocks = nn.ModuleList([Block() for _ in range(L)])
        self.lnf = nn.LayerNorm(D, eps=1e-5)
        self.head = nn.Linear(D, VOCAB, bias=False)

    def forward(self, tokens, rnd=False):
        pos = torch.arange(tokens.shape[1])
        x = self.tok_emb(tokens) + self.pos_emb(pos)
        for blk in self.blocks:
            x = blk(x, rnd)
        logits = linear(self.lnf(x), self.head, rnd)
        if rnd:
            logits = logits.to(torch.float32).to(torch.bfloat16).to(logits.dtype)
        return logits

    def layout(self):
        """(name, tensor) in the C buffer order; per-layer tensors stacked on a leading axis."""
        blk = self.blocks
        stack = lambda f: torch.stack([f(b) for b in blk])
        return [
            ("tok_emb", self.tok_emb.weight),
            ("pos_emb", self.pos_emb.weight),
            ("ln1_g", stack(lambda b: b.ln1.weight)),
            ("ln1_b", stack(lambda b: b.ln1.bias)),
            ("qkv_w", stack(lambda b: b.qkv.weight)),
            ("qkv_b", stack(lambda b: b.qkv.bias)),
            ("attn_out_w", stack(lambda b: b.attn_out.weight)),
            ("attn_out_b", stack(lambda b: b.attn_out.bias)),
            ("ln2_g", stack(lambda b: b.ln2.weight)),
            ("ln2_b", stack(lambda b: b.ln2.bias)),
            ("mlp_in_w", stack(lambda b: b.mlp_in.weight)),
            ("mlp_in_b", stack(lambda b: b.mlp_in.bias)),
            ("mlp_out_w", stack(lambda b: b.mlp_out.weight)),
            ("mlp_out_b", stack(lambda b: b.mlp_out.bias)),
            ("lnf_g", self.lnf.weight),
            ("lnf_b", self.lnf.bias),
            ("head_w", self.head.weight),
        ]


def flat(tensors):
    return torch.cat([t.reshape(-1) for t in tensors]).detach().numpy().astype("<f4")


def scores(logits, targets):
    lsm = torch.log_softmax(logits / TEMPERATURE, dim=-1)
    mask = targets >= 0
    logp = lsm.gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1) * mask
    ent = -(lsm.exp() * lsm).sum(-1) * mask
    return logp, ent


def main():
    torch.manual_seed(20251025)
    model = GPT()
    # Parameters far from initialization so every path matters; rounded to float32 (what the file
    # stores), then the model runs in float64 on exactly those values.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("ln1.weight") or name.endswith("ln2.weight") or name == "lnf.weight":
                p.copy_(1.0 + 0.2 * torch.randn_like(p))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn_like(p))
            else:
                p.copy_(0.4 * torch.randn_like(p))
            p.copy_(p.to(torch.float32))
    model = model.double()
    tokens = torch.randint(0, VOCAB, (B, T))
    targets = torch.randint(0, VOCAB, (B, T))
    targets[:, :3] = -1  # a skipped "prompt" at the start of every sequence
    targets[1, 7] = -1
    dlogp = torch.rand(B, T, dtype=torch.float64) * 2 - 1
    dlogp = dlogp.to(torch.float32).to(torch.float64)

    logits = model(tokens)
    logp, ent = scores(logits, targets)
    (dlogp * logp).sum().backward()
    params = [t for _, t in model.layout()]
    # The stacked tensors are new tensors without .grad: the gradients are gathered from the
    # modules in the same layout.
    grad_layout = GradView(model).layout()

    with torch.no_grad():
        logits16 = model.float()(tokens, rnd=True).double()
        logp16, _ = scores(logits16, targets)

    n_params = sum(t.numel() for t in params)
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "torch_ref.bin")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out + ".tmp", "wb") as f:
        f.write(b"SRLREF01")
        f.write(struct.pack("<9i", VOCAB, CTX, D, L, NH, DFF, B, T, n_params))
        f.write(struct.pack("<f", TEMPERATURE))
        f.write(tokens.numpy().astype("<i4").tobytes())
        f.write(targets.numpy().astype("<i4").tobytes())
        f.write(dlogp.numpy().astype("<f4").tobytes())
        f.write(flat(params).tobytes())
        f.write(logits.detach().numpy().astype("<f4").tobytes())
        f.write(logp.detach().numpy().astype("<f4").tobytes())
        f.write(ent.detach().numpy().astype("<f4").tobytes())
        f.write(flat(grad_layout).tobytes())
        f.write(logp16.numpy().astype("<f4").tobytes())
    os.replace(out + ".tmp", out)
    print(f"wrote {out}: {n_params} parameters, B={B} T={T}, "
          f"loss {float((dlogp * logp).sum()):.6f}")


class GradView:
    """The same layout as GPT.layout, over the parameters' gradients."""

    def __init__(self, model):
        self.m = model

    def layout(self):
        g = lambda p: p.grad
        m = self.m
        blk = m.blocks
        stack = lambda f: torch.stack([g(f(b)) for b in blk])
        return [
            g(m.tok_emb.weight), g(m.pos_emb.weight),
            stack(lambda b: b.ln1.weight), stack(lambda b: b.ln1.bias),
            stack(lambda b: b.qkv.weight), stack(lambda b: b.qkv.bias),
            stack(lambda b: b.attn_out.weight), stack(lambda b: b.attn_out.bias),
            stack(lambda b: b.ln2.weight), stack(lambda b: b.ln2.bias),
            stack(lambda b: b.mlp_in.weight), stack(lambda b: b.mlp_in.bias),
            stack(lambda b: b.mlp_out.weight), stack(lambda b: b.mlp_out.bias),
            g(m.lnf.weight), g(m.lnf.bias), g(m.head.weight),
        ]


if __name__ == "__main__":
    main()
