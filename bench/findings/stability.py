#!/usr/bin/env python3
"""The stability figures of bench/findings/README.md ("Stability across the study" and the size
study's half-rate row), from the committed runs.

  stability.py                       rank correlation of `KL peak` and `eval scatter` over the
                                     distinct rows of findings.jsonl
  stability.py RUN_DIR... [from=S] [to=S] [at=S] [reach=P]
                                     per run, over its steps S..S (default: the whole run): mean
                                     mismatch KL, share of completions interrupted, batch
                                     length sd, training reward and entropy, eval scatter and
                                     worst departure (assemble.py's
                                     definitions), the pass rate at step `at`, the first step
                                     reaching pass rate `reach`, and the last pass rate
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import assemble  # noqa: E402


def ranks(xs):
    order = sorted(range(len(xs)), key=lambda i: xs[i])
    r = [0] * len(xs)
    for k, i in enumerate(order):
        r[i] = k
    return r


def pearson(a, b):
    ma, mb = sum(a) / len(a), sum(b) / len(b)
    num = sum((x - ma) * (y - mb) for x, y in zip(a, b))
    return num / (sum((x - ma) ** 2 for x in a) * sum((y - mb) ** 2 for y in b)) ** 0.5


def correlation(findings):
    # A run shared by several studies (the baseline, loo-dapo) gives the same regime in each: one row.
    rows = {(r["mismatch_kl_peak"], r["eval_scatter"]) for r in map(json.loads, open(findings))
            if r.get("mismatch_kl_peak") is not None and r.get("eval_scatter") is not None}
    kl, sc = zip(*sorted(rows))
    print("rank correlation of KL peak and eval scatter over %d distinct rows: %.2f" %
          (len(rows), pearson(ranks(kl), ranks(sc))))


def per_run(dirs, keys):
    lo, hi = int(keys.get("from", 0)), int(keys["to"]) if "to" in keys else None
    for d in dirs:
        steps, evals = assemble.run_rows(d)
        if steps is None:
            print("%s: unfinished" % d)
            continue
        w = [r for r in steps if r["step"] >= lo and (hi is None or r["step"] <= hi)]
        dev = assemble.departures(evals, max(lo, assemble.SCATTER_FROM), hi)
        scatter = assemble.eval_scatter(evals, max(lo, assemble.SCATTER_FROM), hi)
        rate = {r["step"]: r["pass_rate"] for r in evals}
        mean = lambda k: sum(r[k] for r in w) / len(w)  # noqa: E731
        line = ("%s: steps %d-%s mismatch KL %.3f, interrupted %.3f, length sd %.2f, reward %.3f, "
                "entropy %.3f, eval scatter %s, worst departure %s") % (
            d, lo, "end" if hi is None else hi, mean("mismatch_kl"), mean("interrupt_frac"), mean("len_std"),
            mean("reward"), mean("entropy"), assemble.fmt(scatter, ".3f"), assemble.fmt(min(dev) if dev else None, "+.3f"))
        if "at" in keys:
            line += ", pass rate at %s %.3f" % (keys["at"], rate[int(keys["at"])])
        if "reach" in keys:
            first = [s for s in sorted(rate) if rate[s] >= float(keys["reach"])]
            line += ", first >= %s at step %s" % (keys["reach"], first[0] if first else "never")
        print(line + ", last %.3f" % rate[max(rate)])


def main():
    args = sys.argv[1:]
    # Run directories have '=' in their names (scalerl+lr=2e-5-s1): keys are only these four.
    is_key = [a.split("=", 1)[0] in ("from", "to", "at", "reach") for a in args]
    keys = dict(a.split("=", 1) for a, k in zip(args, is_key) if k)
    dirs = [a for a, k in zip(args, is_key) if not k]
    if not dirs:
        correlation(os.path.join(os.path.dirname(os.path.abspath(__file__)), "findings.jsonl"))
    else:
        per_run(dirs, keys)


if __name__ == "__main__":
    main()
