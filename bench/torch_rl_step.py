#!/usr/bin/python3
"""The RL step of bench/bench_rl_step.c in PyTorch, on the same weights (a `scalerl dump` of the
checkpoint), the same prompts and the same settings (both read from the batch.txt that
bench_rl_step dump=DIR writes), written as a PyTorch user would write it:

  generate  the 48 prompts left-padded and run through the model once, their KV caches repeated
            16 times, then one batched decode step per token for all 768 completions under
            torch.no_grad (temperature sampling with torch.multinomial, the same interruption
            length control as the C generator: a thinking budget drawn per completion, the
            end-of-thinking marker forced at it, then at most answer_budget tokens), and the
            verifier on the decoded text. FP32 throughout: the C generator's bfloat16 body is an
            emulation that costs it extra work, which PyTorch is spared.
  train     advantages with zero-variance filtering and batch normalization, prompt-level
            aggregation weights, one padded forward over the kept completions (FP32), the CISPO
            loss (and the mean entropy, which the C trainer also computes), backward,
            torch.nn.utils.clip_grad_norm_, torch.optim.AdamW (decay on weight matrices and
            embeddings only, as models/optim.c).

The training step runs on the C generator's batch (converted to tensors once, outside the
timing), so both implementations do the same training work; the generation samples its own
completions of the same prompts (its random numbers are torch's).

The check: on the C batch and the checkpoint's weights, the loss and the gradient norm (before
clipping) must match the C step's to LOSS_RTOL and GRAD_RTOL, and the Python verifier must give
the C verifier's reward to every C completion.

Debian's torch does its matrix products in OpenBLAS, whose thread pool torch.set_num_threads does
not size: bench/run.sh starts one process per thread count with OPENBLAS_NUM_THREADS and
OMP_NUM_THREADS set to it (see torch_bench.py).

usage: OPENBLAS_NUM_THREADS=N OMP_NUM_THREADS=N /usr/bin/python3 bench/torch_rl_step.py SECONDS WEIGHTS_DIR BATCH_FILE N
Prints `RESULT kind=torch_rl_step ...` and `RESULT kind=torch_rl_check ...` lines for bench/run.sh.
"""
import sys
import time

import torch

from torch_model import load_dump

PAD, BOS, EOS, THINK_END = 0, 1, 2, 3  # tasks/tasks.h
# The C step sums the loss in double and the gradient in float32 sgemm tiles, PyTorch in float32
# in its own order: the two are the same function evaluated with different roundings. Measured
# differences were ~1e-7 relative for the loss and ~1e-6 for the gradient norm; the tolerances
# leave two orders of magnitude for other batches and BLAS kernels, and are still far below
# what any real difference (a wrong weight, mask, advantage or aggregation) produces.
LOSS_RTOL = 1e-5
GRAD_RTOL = 1e-4


def read_batch(path):
    """The records of batch.txt (format in bench/bench_rl_step.c, write_batch)."""
    b = {"prompts": [], "answers": [], "completions": []}
    with open(path) as f:
        for line in f:
            kind, _, rest = line.rstrip("\n").partition(" ")
            if kind == "config":
                b["cfg"] = {k: v for k, v in (kv.split("=") for kv in rest.split())}
            elif kind == "vocab":
                b["vocab"] = rest
            elif kind == "prompt":
                w = rest.split()
                n = int(w[1])
                b["prompts"].append([int(x) for x in w[2:2 + n]])
                b["answers"].append(w[2 + n])
            elif kind == "completion":
                w = rest.split()
                n = int(w[1])
                b["completions"].append(([int(x) for x in w[2:2 + n]], [float(x) for x in w[2 + n:2 + 2 * n]],
                                         [int(x) for x in w[2 + 2 * n:2 + 3 * n]], float(w[2 + 3 * n])))
            elif kind == "result":
                b["result"] = {k: float(v) for k, v in (kv.split("=") for kv in rest.split())}
    cfg = b["cfg"]
    want = {"loss": "cispo", "agg": "prompt", "adv_norm": "batch", "zero_var_filter": "1"}
    for k, v in want.items():
        if cfg[k] != v:
            sys.exit(f"torch_rl_step: batch.txt has {k}={cfg[k]}, this script implements {k}={v} only")
    return b


def verify(vocab, answer, completion):
    """tasks/verify.c's rule for the arithmetic families: the text after the last end-of-thinking
    marker, up to the first EOS, must be exactly the answer; PAD or BOS anywhere scores 0."""
    text = "".join(vocab[t] for t in completion)
    text = text.split(vocab[EOS], 1)[0]
    if vocab[PAD] in text or vocab[BOS] in text or vocab[THINK_END] not in text:
        return 0.0
    got = text.rsplit(vocab[THINK_END], 1)[1]
    return float(len(got) > 0 and got == answer)


@torch.no_grad()
def generate(model, prompts, answers, vocab, cfg, seed):
    """G completions of every prompt; returns their rewards and the mean completion length."""
    P, G = len(prompts), int(cfg["G"])
    N = P * G
    temperature, answer_budget = float(cfg["temperature"]), int(cfg["answer_budget"])
    think_lo, think_hi = int(cfg["think_lo"]), int(cfg["think_hi"])
    gen = torch.Generator().manual_seed(seed)
    # The prompts, left-padded: pad keys hidden, positions counted from each prompt's first token.
    plen = torch.tensor([len(p) for p in prompts])
    Tp = int(plen.max())
    pad = Tp - plen
    tokens = torch.tensor([[PAD] * (Tp - len(p)) + p for p in prompts])
    pos = (torch.arange(Tp)[None] - pad[:, None]).clamp(min=0)
    key_pad = torch.arange(Tp)[None] < pad[:, None]
    future = torch.triu(torch.ones(Tp, Tp, dtype=torch.bool), diagonal=1)
    # A pad query sees itself, so that its (unused) softmax row is not all -inf.
    mask = ((future[None] | key_pad[:, None, :]) & ~torch.eye(Tp, dtype=torch.bool)[None])[:, None]
    caches = model.new_caches(P)
    logits = model(tokens, pos, mask, caches, 0)[:, -1]
    # Each prompt's cache and next-token logits, once per completion.
    caches = [(K.repeat_interleave(G, 0), V.repeat_interleave(G, 0)) for K, V in caches]
    logits = logits.repeat_interleave(G, 0)
    plen = plen.repeat_interleave(G)
    max_new = think_hi + 1 + answer_budget
    key_mask = torch.zeros(N, 1, 1, Tp + max_new, dtype=torch.bool)
    key_mask[:, 0, 0, :Tp] = key_pad.repeat_interleave(G, 0)
    budget = torch.randint(think_lo, think_hi + 1, (N,), generator=gen)
    out = torch.full((N, max_new), PAD, dtype=torch.long)
    out_logp = torch.zeros(N, max_new)
    done = torch.zeros(N, dtype=torch.bool)
    think_end = torch.full((N,), -1, dtype=torch.long)
    length = torch.zeros(N, dtype=torch.long)
    for s in range(max_new):
        logp = torch.log_softmax(logits / temperature, dim=-1)
        tok = torch.multinomial(logp.exp(), 1, generator=gen).squeeze(1)
        tok_logp = logp.gather(1, tok[:, None]).squeeze(1)
        thinking = think_end < 0
        force = thinking & (s >= budget)
        tok = torch.where(force, THINK_END, tok)
        tok = torch.where(done, PAD, tok)
        out[:, s] = tok
        out_logp[:, s] = torch.where(force | done, 0.0, tok_logp)
        length += ~done
        think_end = torch.where(thinking & (tok == THINK_END) & ~done, s, think_end)
        done |= (tok == EOS) | ((think_end >= 0) & (s - think_end >= answer_budget))
        if bool(done.all()):
            break
        logits = model(tok[:, None], (plen + s)[:, None], key_mask[..., :Tp + s + 1], caches, Tp + s)[:, 0]
    rows, lens = out.tolist(), length.tolist()
    rewards = [verify(vocab, answers[i // G], rows[i][:lens[i]]) for i in range(N)]
    return torch.tensor(rewards), float(length.float().mean())


class TrainBatch:
    """The C generator's batch as the tensors a PyTorch generator would hand the trainer: every
    sequence (prompt and completion) from position 0, right-padded."""

    def __init__(self, b):
        comps = b["completions"]
        T = max(len(c[0]) for c in comps)
        self.tokens = torch.tensor([c[0] + [PAD] * (T - len(c[0])) for c in comps])
        self.gen_logp = torch.tensor([c[1] + [0.0] * (T - len(c[0])) for c in comps])
        n_prompt = [len(b["prompts"][i // int(b["cfg"]["G"])]) for i in range(len(comps))]
        # Loss positions: sampled completion tokens (forced ones are context only).
        self.loss_mask = torch.tensor([[float(n_prompt[i] <= q < len(c[0]) and not c[2][q]) for q in range(T)]
                                       for i, c in enumerate(comps)])
        self.rewards = torch.tensor([c[3] for c in comps])
        self.lengths = torch.tensor([len(c[0]) for c in comps])


def train_forward(model, tb, cfg):
    """Advantages, weights, the forward and the CISPO loss; returns the loss (to minimize) and the
    mean entropy, or (None, 0) when no group carries a signal (the C step then makes no update)."""
    P, G = int(cfg["P"]), int(cfg["G"])
    r = tb.rewards.view(P, G)
    a = r - r.mean(dim=1, keepdim=True)
    kept = (r != r[:, :1]).any(dim=1)  # zero-variance groups carry no signal
    std = (a[kept] ** 2).mean().sqrt() if bool(kept.any()) else torch.tensor(0.0)
    adv = torch.where(kept[:, None], a / (std + float(cfg["adv_std_eps"])), torch.zeros(()))
    # Prompt-level aggregation: each kept group weighs 1 / (groups kept), shared by its tokens.
    n_tok = tb.loss_mask.sum(dim=1).view(P, G)
    group_tok = (n_tok * kept[:, None]).sum(dim=1)
    groups_kept = (group_tok > 0).sum()
    w = torch.where(group_tok > 0, 1.0 / (groups_kept * group_tok.clamp(min=1)), torch.zeros(()))
    rows = (kept[:, None] & (n_tok > 0)).flatten().nonzero().squeeze(1)
    if len(rows) == 0:
        return None, 0.0
    T = int(tb.lengths[rows].max())
    tokens, mask = tb.tokens[rows, :T], tb.loss_mask[rows, 1:T]
    logits = model(tokens[:, :-1])
    logp_all = torch.log_softmax(logits / float(cfg["temperature"]), dim=-1)
    logp = logp_all.gather(-1, tokens[:, 1:, None]).squeeze(-1)
    with torch.no_grad():
        entropy = (-(logp_all.exp() * logp_all).sum(-1) * mask).sum() / mask.sum()
        ratio = torch.exp(logp - tb.gen_logp[rows, 1:T]).clamp(max=float(cfg["eps_max"]))
        coef = w.repeat_interleave(G)[rows, None] * ratio * adv.flatten()[rows, None] * mask
    return -(coef * logp).sum(), entropy


def train_backward(model, opt, loss, cfg):
    """Backward, clipping, AdamW; returns the gradient norm before clipping (0 without a loss)."""
    if loss is None:
        return 0.0
    opt.zero_grad(set_to_none=True)
    loss.backward()
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), float(cfg["grad_clip"]))
    opt.step()
    return float(norm)


def best_time(fn, seconds, prepare=None):
    """Seconds per call of fn: the fastest of at least 3 calls and `seconds` in all, after a
    warm-up, prepare (if any) run untimed before every call (bench/timing.h's rule)."""
    best, start, reps = float("inf"), time.perf_counter(), -1
    while reps < 3 or time.perf_counter() - start < seconds:
        if prepare:
            prepare()
        t0 = time.perf_counter()
        fn()
        if reps >= 0:
            best = min(best, time.perf_counter() - t0)
        reps += 1
    return best


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__.strip().split("\n\n")[-2])
    seconds, weights, batch_file, threads = float(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
    torch.set_num_threads(threads)
    b = read_batch(batch_file)
    cfg = b["cfg"]
    base = load_dump(weights)
    state = {k: v.clone() for k, v in base.state_dict().items()}
    tb = TrainBatch(b)

    def new_optimizer(model):
        return torch.optim.AdamW(model.decay_groups(float(cfg["weight_decay"])), lr=float(cfg["lr"]),
                                 betas=(float(cfg["beta1"]), float(cfg["beta2"])), eps=float(cfg["adam_eps"]))

    # The check, from the checkpoint's weights on the C batch.
    opt = new_optimizer(base)
    loss, _ = train_forward(base, tb, cfg)
    norm = train_backward(base, opt, loss, cfg)
    c = b["result"]
    loss_t = 0.0 if loss is None else float(loss)
    loss_rel = abs(loss_t - c["loss"]) / max(abs(c["loss"]), 1e-30)
    grad_rel = abs(norm - c["grad_norm"]) / max(abs(c["grad_norm"]), 1e-30)
    G = int(cfg["G"])
    mismatch = sum(verify(b["vocab"], b["answers"][i // G], comp[0][len(b["prompts"][i // G]):]) != comp[3]
                   for i, comp in enumerate(b["completions"]))
    ok = loss_rel <= LOSS_RTOL and grad_rel <= GRAD_RTOL and mismatch == 0
    print(f"RESULT kind=torch_rl_check threads={threads} loss_c={c['loss']:.9g} loss_torch={loss_t:.9g} "
          f"loss_rel={loss_rel:.3g} loss_rtol={LOSS_RTOL:g} grad_norm_c={c['grad_norm']:.9g} "
          f"grad_norm_torch={norm:.9g} grad_rel={grad_rel:.3g} grad_rtol={GRAD_RTOL:g} "
          f"reward_mismatches={mismatch} ok={int(ok)}", flush=True)

    # The timings, every call from the checkpoint's weights (restored untimed).
    model = base
    opt = new_optimizer(model)
    holder = {}

    def restore():
        model.load_state_dict(state)

    def run_generate():
        holder["gen"] = generate(model, b["prompts"], b["answers"], b["vocab"], cfg, seed=1)

    def run_train():
        loss, _ = train_forward(model, tb, cfg)
        train_backward(model, opt, loss, cfg)

    tg = best_time(run_generate, seconds, restore)
    tt = best_time(run_train, seconds, restore)
    rewards, mean_len = holder["gen"]
    print(f"RESULT kind=torch_rl_step threads={threads} generate_ms={1e3 * tg:.2f} train_ms={1e3 * tt:.2f} "
          f"total_ms={1e3 * (tg + tt):.2f} new_tokens={mean_len:.2f} reward_mean={float(rewards.mean()):.4f}",
          flush=True)


if __name__ == "__main__":
    main()
