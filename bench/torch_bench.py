#!/usr/bin/python3
"""The training step of bench/bench_model.c (forward, backward, gradient clipping, AdamW) in
PyTorch, for the same shapes, on a given number of threads. Prints one `RESULT kind=torch_train
...` line per shape for bench/run.sh.

Debian's torch does its matrix products in OpenBLAS, whose thread pool torch.set_num_threads does
not control: bench/run.sh therefore starts one process per thread count with
OPENBLAS_NUM_THREADS and OMP_NUM_THREADS set to it, so that "1 thread" really is one core. The model is
bench/torch_model.py's (models/README.md's architecture in torch.nn); float32, CPU.

usage: OPENBLAS_NUM_THREADS=N OMP_NUM_THREADS=N /usr/bin/python3 bench/torch_bench.py SECONDS VOCAB N
"""
import sys
import time

import torch

from torch_model import GPT

CTX, BATCH = 64, 64
VOCAB = int(sys.argv[2]) if len(sys.argv) > 2 else 22
SHAPES = [(64, 2), (128, 4), (256, 4)]
N_HEAD = 4


def step(model, opt, tokens, targets):
    opt.zero_grad(set_to_none=False)
    logp = torch.log_softmax(model(tokens), dim=-1).gather(-1, targets.unsqueeze(-1))
    logp.mean().backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    thread_counts = [int(sys.argv[3])] if len(sys.argv) > 3 else [1, 2]
    torch.manual_seed(0)
    for d, n_layer in SHAPES:
        model = GPT(VOCAB, CTX, d, n_layer, N_HEAD, 4 * d)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-5, betas=(0.9, 0.95), eps=1e-15, weight_decay=0.01)
        tokens = torch.randint(0, VOCAB, (BATCH, CTX))
        targets = torch.randint(0, VOCAB, (BATCH, CTX))
        for threads in thread_counts:
            torch.set_num_threads(threads)
            step(model, opt, tokens, targets)
            best, start, reps = float("inf"), time.perf_counter(), 0
            while reps < 3 or time.perf_counter() - start < seconds:
                t0 = time.perf_counter()
                step(model, opt, tokens, targets)
                best = min(best, time.perf_counter() - t0)
                reps += 1
            print(f"RESULT kind=torch_train d={d} L={n_layer} threads={threads} "
                  f"tokens_per_s={BATCH * CTX / best:.1f}", flush=True)


if __name__ == "__main__":
    main()
