#!/usr/bin/env python3
"""Whether a rerun of the study (a `make findings` output directory, FINDINGS_OUT) came out as
committed: every committed run's metrics.jsonl(.gz) value for value but the timings (wall_s,
cpu_s), and every committed findings.jsonl row of the rerun's (study, recipe) pairs. Fields the
rerun adds (written by code newer than the committed rows) are not compared; a committed field
the rerun lacks is a difference. bench/findings/README.md, "Time on 2 cores", quotes its counts.

    bench/findings/same_as_committed.py OUT [COMMITTED=bench/findings]

Prints one line per difference, then the counts; exits 1 if anything differs or nothing matched.
"""
import glob, gzip, json, os, sys

TIMINGS = ("wall_s", "cpu_s")


def load(path):
    with (gzip.open(path, "rt") if path.endswith(".gz") else open(path)) as f:
        return [json.loads(line) for line in f if line.strip()]


def first_difference(want, got, skip=()):
    """The first committed field of `want` that `got` does not hold equally, or None."""
    for k, v in want.items():
        if k not in skip and (k not in got or got[k] != v):
            return k
    return None


def main(out, committed):
    bad = runs = rows = 0
    for d in sorted(glob.glob(os.path.join(out, "*", "*-s*", ""))):
        rel = os.path.relpath(d, out)
        mine = glob.glob(os.path.join(d, "metrics.jsonl*"))
        theirs = glob.glob(os.path.join(committed, rel, "metrics.jsonl*"))
        if not mine or not theirs:
            continue  # a run the committed study does not hold (or one not finished)
        want, got = load(theirs[0]), load(mine[0])
        runs += 1
        if len(want) != len(got):
            print(f"{rel}: {len(got)} rows, committed {len(want)}"); bad += 1; continue
        for i, (w, g) in enumerate(zip(want, got)):
            k = first_difference(w, g, TIMINGS)
            if k:
                print(f"{rel}: row {i + 1}: {k} is {g.get(k, 'missing')!r}, committed {w[k]!r}"); bad += 1; break
    key = lambda r: (r["study"], r["recipe"])
    committed_rows = {key(r): r for r in load(os.path.join(committed, "findings.jsonl"))}
    for r in load(os.path.join(out, "findings.jsonl")):
        w = committed_rows.get(key(r))
        if w is None:
            print(f"findings.jsonl: {key(r)} is not committed"); bad += 1; continue
        rows += 1
        k = first_difference(w, r)
        if k:
            print(f"findings.jsonl: {key(r)}: {k} is {r.get(k, 'missing')!r}, committed {w[k]!r}"); bad += 1
    print(f"{runs} run directories and {rows} findings.jsonl rows compared, {bad} differ")
    return 1 if bad or not runs else 0


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: bench/findings/same_as_committed.py OUT [COMMITTED=bench/findings]")
    sys.exit(main(sys.argv[1], sys.argv[2] if len(sys.argv) == 3 else "bench/findings"))
