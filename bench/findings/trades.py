#!/usr/bin/env python3
"""What a cheaper study would have concluded, from the committed runs alone: the trades that could
bring `make findings` under issue #14's 4 hours, costed in run time and in verdicts
(bench/findings/README.md, "Time on 2 cores").

    trades.py SCALERL_BIN [eval_every=N] [seeds=N|S,S,...] [studies=S,...] [dir=bench/findings]
              [tsv=DIR/studies.tsv]

eval_every=N keeps each run's eval rows at step 0, at the multiples of N and at its last step,
which is what the run would have written with eval_every=N, row for row: evaluation draws the
same fixed samples on a generator of its own and leaves training untouched (ref/rl/README.md;
tests/test_findings.sh checks it on a run). seeds=N keeps seeds 1..N, seeds=1,3 those named (a
verdict that one seed less moves is a marginal one). Both apply to the studies
named (default: every study in the table). The reduced copy is assembled in a temporary directory
as `make findings` assembles the study (assemble.py) and set against the committed
findings.jsonl: one line per (study, recipe) with both verdicts, the changed ones marked, then the
share of the CPU time of the core table's runs (the rows of studies.tsv not marked `extra`; each
run's final cpu_s as committed, a run shared by studies counted once) that the dropped evaluations
and runs took. A share, not hours: the committed runs ran on several machines.
"""
import glob
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from assemble import label_of, seed_of  # noqa: E402
from same_as_committed import load  # noqa: E402
from short_table import extension_rows  # noqa: E402


def eval_kept(rows, eval_every):
    """Which eval rows a run with eval_every=N would have written (ref/rl/runlog.c plans evals at
    step 0, every N steps and the last step); N = 0 keeps all."""
    last = max((r["step"] for r in rows if r.get("kind") == "eval"), default=0)
    return lambda r: eval_every == 0 or r["step"] % eval_every == 0 or r["step"] == last


def thinned(rows, eval_every):
    """The run's rows with eval_every=N: its step and run rows, and the eval rows N keeps."""
    keep = eval_kept(rows, eval_every)
    return [r for r in rows if r.get("kind") != "eval" or keep(r)]


def eval_cpu(rows, keep):
    """CPU seconds of the eval rows `keep` rejects: each eval row's cpu_s less the row's before it
    (evaluation runs between a step's row and its own; the first, at step 0, from the start)."""
    prev, total = 0.0, 0.0
    for r in rows:
        if "cpu_s" not in r:
            continue
        if r.get("kind") == "eval" and not keep(r):
            total += max(0.0, r["cpu_s"] - prev)  # a resumed run's clock may restart
        prev = r["cpu_s"]
    return total


def die(msg):
    sys.exit("trades.py: " + msg)


def main(argv):
    if not argv or "=" in argv[0]:
        die("usage: trades.py SCALERL_BIN [eval_every=N] [seeds=N|S,S,...] [studies=S,...] [dir=D] [tsv=F]")
    scalerl, opts = argv[0], {"eval_every": "0", "seeds": "0", "studies": "", "dir": "bench/findings", "tsv": ""}
    for kv in argv[1:]:
        k, _, v = kv.partition("=")
        if k not in opts or not _:
            die("unknown argument '%s' (expected eval_every=, seeds=, studies=, dir=, tsv=)" % kv)
        opts[k] = v
    if not opts["eval_every"].isdigit():
        die("bad eval_every=%s: expected a whole number of steps (0: keep every eval)" % opts["eval_every"])
    if not all(x.isdigit() for x in opts["seeds"].split(",")):
        die("bad seeds=%s: expected a number of seeds (0: all) or a list of seeds such as 1,3" % opts["seeds"])
    eval_every, src = int(opts["eval_every"]), opts["dir"]
    named = [int(x) for x in opts["seeds"].split(",")]
    if len(named) == 1:
        named = range(1, named[0] + 1) if named[0] else None

    def dropped_seed(run):
        return named is not None and seed_of(run) not in named

    tsv = opts["tsv"] or os.path.join(src, "studies.tsv")
    for f in (tsv, os.path.join(src, "findings.jsonl")):
        if not os.path.isfile(f):
            die("no file '%s': expected a study table and a findings directory that make findings wrote" % f)
    table = [line.rstrip("\n").split("\t") for line in open(tsv) if line.strip() and not line.startswith("#")]
    extra = extension_rows(tsv)
    every = list(dict.fromkeys(t[0] for t in table))
    studies = opts["studies"].split(",") if opts["studies"] else every
    for s in studies:
        if s not in every:
            die("bad study '%s': expected one of %s" % (s, ",".join(every)))
    committed = {(r["study"], r["recipe"]): r for r in map(json.loads, open(os.path.join(src, "findings.jsonl")))}

    # Every run of the table: its rows once, and the studies using it (a run linked into several
    # studies is read once and counted once in the time).
    runs = {}
    for t in table:
        core = (t[0], label_of(t[2])) not in extra
        for run in sorted(glob.glob(os.path.join(src, t[0], label_of(t[2]) + "-s*", ""))):
            paths = glob.glob(os.path.join(run, "metrics.jsonl*"))
            if not paths:
                continue
            u = runs.setdefault(os.path.realpath(run), {"path": paths[0], "uses": []})
            u["uses"].append((t[0], core, run))
    total = saved = 0.0
    tmp = tempfile.mkdtemp(prefix="trades-")
    try:
        for u in runs.values():
            rows = load(u["path"])
            keep, kept = eval_kept(rows, eval_every), thinned(rows, eval_every)
            core_uses = [s for s, core, _ in u["uses"] if core]
            if core_uses:
                total += rows[-1].get("cpu_s", 0.0)
                # Saved only where every core study that uses the run is reduced.
                if all(s in studies for s in core_uses):
                    saved += rows[-1].get("cpu_s", 0.0) if dropped_seed(u["uses"][0][2]) else eval_cpu(rows, keep)
            for study, _, run in u["uses"]:
                if study not in studies or dropped_seed(run):
                    continue
                out = os.path.join(tmp, study, os.path.basename(os.path.normpath(run)))
                os.makedirs(out)
                shutil.copy(os.path.join(run, "config.txt"), out)
                with gzip.open(os.path.join(out, "metrics.jsonl.gz"), "wt") as f:
                    f.writelines(json.dumps(r) + "\n" for r in kept)
        res = subprocess.run([sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "assemble.py"),
                              scalerl, tmp, tsv] + studies, capture_output=True, text=True)
        if res.returncode != 0:
            die("assemble.py failed: " + res.stderr.strip())
        got = list(map(json.loads, open(os.path.join(tmp, "findings.jsonl"))))
    finally:
        shutil.rmtree(tmp)
    changed = changed_core = 0
    print("%-14s %-50s %-5s %-24s %-24s" % ("study", "recipe", "tier", "committed", "reduced"))
    for g in got:
        c = committed.get((g["study"], g["recipe"]))
        was = c["verdict"] if c else "-"
        mark = "" if was == g["verdict"] else "  <- changed"
        if mark:
            changed += 1
            changed_core += (g["study"], g["recipe"]) not in extra
        print("%-14s %-50s %-5s %-24s %-24s%s" % (g["study"], g["recipe"][:50],
                                                  "extra" if (g["study"], g["recipe"]) in extra else "core",
                                                  was, g["verdict"], mark))
    share = 100.0 * saved / total if total else 0.0
    print("%d of %d verdicts changed (%d in core rows); the dropped evaluations and runs took %.1f%% of the CPU time "
          "of the core table's committed runs (%.2f h of %.2f h, each run's cpu_s)"
          % (changed, len(got), changed_core, share, saved / 3600, total / 3600))

if __name__ == "__main__":
    main(sys.argv[1:])
