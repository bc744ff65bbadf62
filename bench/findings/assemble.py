#!/usr/bin/env python3
"""findings.jsonl and the findings README table, from a findings directory (bench/findings/run.sh).

For each study: `scalerl compare DIR baseline=<first entry> json=1 out=DIR/curves.svg` gives each
recipe's pooled fit and verdict, and the same over links to all runs but one seed's, for each
seed of a study of 3 or more, the verdict with one seed less; the step rows of its runs give the
regime the verdict was reached in (means over each run's steps, then over its seeds). One line
per (study, recipe).

Usage: assemble.py SCALERL_BIN OUT_DIR STUDIES_TSV [STUDY...] (every study of the table that has a
directory when none is named; writes OUT_DIR/findings.jsonl and the table between the markers of
OUT_DIR/README.md). Runs still unfinished are left out (`compare unfinished=skip`): a study read
mid-way gives the verdicts of the runs that ended."""
import gzip
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

REGIME = ["clip_frac", "far_frac", "mismatch_kl", "stale_mean", "interrupt_frac", "truncate_frac", "len_std",
          "zero_var_frac", "retired_frac"]
CLASSES = ("ceiling mover", "efficiency shaper", "no effect")


def label_of(entry):
    """The name compare groups an entry's runs under (ref/cli/sweep.c: an entry with keys is its
    own label unless it sets label=)."""
    for kv in entry.split("+")[1:]:
        if kv.startswith("label="):
            return kv[len("label="):]
    return entry


def run_rows(run_dir):
    """The run's step and eval rows, or (None, None) while it has no closing run row (unfinished)."""
    path = os.path.join(run_dir, "metrics.jsonl")
    opener = open
    if not os.path.exists(path):
        path, opener = path + ".gz", gzip.open
    with opener(path, "rt") as f:
        lines = f.readlines()
    if not any('"kind":"run"' in line for line in lines):
        return None, None
    return ([json.loads(line) for line in lines if '"kind":"step"' in line],
            [json.loads(line) for line in lines if '"kind":"eval"' in line])


SCATTER_FROM = 500  # steps: past the first fast rise, whose points a neighbour median lags


def departures(evals, lo=SCATTER_FROM, hi=None):
    """Each eval point's departure from the median of its four neighbours (two each side), for the
    points at steps lo..hi."""
    steps = sorted(evals, key=lambda r: r["step"])
    rates = [r["pass_rate"] for r in steps]
    dev = []
    for i, r in enumerate(steps):
        if r["step"] < lo or (hi is not None and r["step"] > hi):
            continue
        nb = rates[max(0, i - 2):i] + rates[i + 1:i + 3]
        if len(nb) >= 2:
            dev.append(rates[i] - statistics.median(nb))
    return dev


def eval_scatter(evals, lo=SCATTER_FROM, hi=None):
    """How much the pass rate jumps between evaluations: the standard deviation of departures()
    from step 500 on. Binomial sampling noise alone gives about 0.004-0.006 (2000 x 4 samples,
    pass rates 0.9-0.5); a run whose policy lurches between evaluations (dips that recover) is
    several times that."""
    dev = departures(evals, lo, hi)
    return statistics.pstdev(dev) if len(dev) >= 2 else None


def mismatch_kl_peak(rows, window=1000):
    """The largest mean generator-trainer KL over a window of `window` steps (non-overlapping,
    from step 1): where the policy drifted furthest over its staleness, which a mean over the
    whole run dilutes."""
    windows = {}
    for r in rows:
        windows.setdefault((r["step"] - 1) // window, []).append(r.get("mismatch_kl", 0.0) or 0.0)
    return max(sum(w) / len(w) for w in windows.values()) if windows else None


def run_label(run_dir):
    cfg = dict(line.rstrip("\n").split("=", 1) for line in open(os.path.join(run_dir, "config.txt"))
               if "=" in line and not line.startswith("#"))
    return cfg.get("label") or cfg["recipe"]


def regime(study_dir, label):
    per_seed = []
    for name in sorted(os.listdir(study_dir)):
        d = os.path.join(study_dir, name)
        if not os.path.isdir(d) or not os.path.exists(os.path.join(d, "config.txt")) or run_label(d) != label:
            continue
        rows, evals = run_rows(d)
        if rows is None:
            continue
        seed = {k: sum(r.get(k, 0.0) or 0.0 for r in rows) / len(rows) for k in REGIME}
        seed["eval_scatter"] = eval_scatter(evals)
        seed["mismatch_kl_peak"] = mismatch_kl_peak(rows)
        seed["group_weight_cv"] = mean_present(rows, "group_weight_cv")
        per_seed.append(seed)
    if not per_seed:
        return {}
    out = {k: sum(s[k] for s in per_seed) / len(per_seed) for k in REGIME}
    for k in ("eval_scatter", "mismatch_kl_peak"):
        vals = [s[k] for s in per_seed if s[k] is not None]
        out[k] = sum(vals) / len(vals) if vals else None
    # Logged only since group normalization's regime was measured (ref/rl/advantage.h): the runs
    # made before have no such field, and their lines no such key.
    cvs = [s["group_weight_cv"] for s in per_seed if s["group_weight_cv"] is not None]
    if cvs:
        out["group_weight_cv"] = sum(cvs) / len(cvs)
    return out


def mean_present(rows, key):
    """The mean of a field over the rows that have it, or None when none does."""
    vals = [r[key] for r in rows if r.get(key) is not None]
    return sum(vals) / len(vals) if vals else None


def plateau_of(got, recipe, base):
    """The level a recipe's runs reach at the end (compare's 'plateau', a line over the last fifth
    of compute) and whether every run was flat there. compare reports them on each recipe's line
    for it and for the baseline; the baseline's own line has none, so it is read off another's."""
    o = got.get(recipe, {})
    if "plateau" in o:
        return {"plateau": o["plateau"], "flat": o.get("flat")}
    if recipe == base:
        for other in got.values():
            if other.get("plateau_baseline") is not None:
                return {"plateau": other["plateau_baseline"], "flat": other.get("flat_baseline")}
    return {"plateau": None, "flat": None}


def compared(scalerl, study_dir, base, svg=None):
    """`scalerl compare` of a study directory: each recipe's JSON line, by recipe."""
    cmd = [scalerl, "compare", study_dir, "baseline=" + base, "json=1", "unfinished=skip"]
    res = subprocess.run(cmd + (["out=" + svg] if svg else []), capture_output=True, text=True)
    if res.returncode != 0:
        sys.exit("assemble: scalerl compare %s failed: %s" % (study_dir, res.stderr.strip()))
    return {o["recipe"]: o for o in map(json.loads, res.stdout.splitlines()) if o.get("kind") == "recipe"}


def verdict_of(o):
    """compare's verdict, a ceiling mover's with the direction the deciding reading saw
    (ref/fit/README.md, "Verdicts")."""
    v = o["verdict"]
    if v == "ceiling mover":
        v += ", higher" if o["d_ceiling"] > 0 else ", lower"
    return v


def seed_of(run_dir):
    """The seed a run directory is named for (`<recipe>-s<seed>`), or None."""
    tail = os.path.basename(os.path.normpath(run_dir)).rsplit("-s", 1)[-1]
    return int(tail) if tail.isdigit() else None


def one_seed_less(scalerl, study_dir, base):
    """{seed: {recipe: verdict}} with that seed's runs of every recipe left out, over a directory of
    links to the others; None below 3 seeds (with 2, one seed less leaves no spread for the
    margins)."""
    runs = [n for n in sorted(os.listdir(study_dir)) if os.path.isdir(os.path.join(study_dir, n))]
    seeds = sorted({seed_of(n) for n in runs} - {None})
    if len(seeds) < 3:
        return None
    out = {}
    for seed in seeds:
        tmp = tempfile.mkdtemp(prefix="assemble-")
        try:
            for n in runs:
                if not n.endswith("-s%d" % seed):
                    os.symlink(os.path.abspath(os.path.join(study_dir, n)), os.path.join(tmp, n))
            out[seed] = {r: verdict_of(o) for r, o in compared(scalerl, tmp, base).items()}
        finally:
            shutil.rmtree(tmp)
    return out


def main():
    scalerl, out, tsv, studies = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    table = [line.rstrip("\n").split("\t") for line in open(tsv) if line.strip() and not line.startswith("#")]
    if not studies:
        studies = list(dict.fromkeys(t[0] for t in table))
    lines = []
    for study in studies:
        entries = [t for t in table if t[0] == study]
        d = os.path.join(out, study)
        if not os.path.isdir(d):
            continue
        base = label_of(entries[0][2])
        got = compared(scalerl, d, base, os.path.join(d, "curves.svg"))
        less = one_seed_less(scalerl, d, base)
        for entry, paper, paper_verdict in (t[2:5] for t in entries):  # a sixth column is the tier
            o = got.get(label_of(entry))
            if o is None:
                continue
            verdict = verdict_of(o)
            # A paper verdict without a direction is compared on the class alone.
            mine = verdict if "," in paper_verdict else verdict.split(",")[0]
            agrees = mine == paper_verdict if paper_verdict.split(",")[0] in CLASSES else None
            # A ceiling reading no fitted A or level pins (ref/fit/README.md, "Limits") is an
            # extrapolation: it neither agrees nor disagrees with the paper.
            if o.get("ceiling_pinned") is False:
                agrees = None
            line = {"study": study, "recipe": label_of(entry), "seeds": o["seeds"]}
            line.update({k: o.get(k) for k in ("A", "A_lo", "A_hi", "B", "B_lo", "B_hi", "Cmid", "last_mean")})
            line.update({"verdict": verdict, "paper": paper, "paper_verdict": paper_verdict, "agrees": agrees})
            # Which reading decided the ceiling (ref/fit/README.md, "Verdicts"), and the plateau
            # difference when every run of both was flat at its end.
            line.update({k: o.get(k) for k in ("ceiling_reading", "ceiling_pinned", "dP")})
            # The verdict with each seed left out, and whether any of them differs: a verdict one
            # seed moves rests on a margin the seeds' spread decides (bench/findings/README.md).
            if less is not None and verdict != "baseline":
                line["one_seed_less"] = {str(k): v.get(label_of(entry)) for k, v in less.items()}
                line["marginal"] = any(v != verdict for v in line["one_seed_less"].values())
            # The other readings of the ceiling, so that a log-logistic A pinned at its bound of 1
            # (it cannot bend as sharply as these runs do) is not read alone: the Weibull form's A
            # and the level the runs reach over their last fifth of compute (flat or not).
            line.update({k: o.get(k) for k in ("A_at_bound", "A_weibull", "A_weibull_at_bound")})
            line.update(plateau_of(got, label_of(entry), base))
            line.update(regime(d, label_of(entry)))
            lines.append(line)
    with open(os.path.join(out, "findings.jsonl.tmp"), "w") as f:
        for line in lines:
            f.write(json.dumps(line) + "\n")
    os.replace(os.path.join(out, "findings.jsonl.tmp"), os.path.join(out, "findings.jsonl"))
    write_table(out, lines)


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def read_by(line):
    """The reading that decided the ceiling, marked when it rests on an extrapolated A."""
    r = line.get("ceiling_reading")
    if not r:
        return "-"
    return r if line.get("ceiling_pinned", True) else r + " (not pinned)"


def seed_less(line):
    """The one-seed-less column: `same` when no seed left out moves the verdict, else what each
    one that does reads."""
    less = line.get("one_seed_less")
    if less is None:
        return "-"
    moved = ["without s%s: %s" % (k, v) for k, v in sorted(less.items()) if v != line["verdict"]]
    return "; ".join(moved) if moved else "same"


def write_table(out, lines):
    rows = ["| study | recipe | seeds | A [95%] | B | A Weibull | plateau | last | verdict | read by | one seed less | paper | paper's verdict | agrees | clip | far | mismatch KL | KL peak | eval scatter | stale | interrupted | truncated | len sd | group w cv |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for l in lines:
        bound = " (bound)" if l.get("A_at_bound") else ""
        wb = fmt(l.get("A_weibull"), ".3f") + (" (bound)" if l.get("A_weibull_at_bound") else "")
        plateau = fmt(l.get("plateau"), ".3f") + ("" if l.get("flat") in (True, None) else " (not flat)")
        rows.append("| %s | %s | %d | %s%s [%s, %s] | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            l["study"], l["recipe"], l["seeds"], fmt(l["A"], ".3f"), bound, fmt(l["A_lo"], ".3f"), fmt(l["A_hi"], ".3f"),
            fmt(l["B"], ".2f"), wb, plateau, fmt(l["last_mean"], ".3f"), l["verdict"], read_by(l), seed_less(l), l["paper"],
            l["paper_verdict"], {True: "yes", False: "no", None: "-"}[l["agrees"]], fmt(l.get("clip_frac"), ".4f"),
            fmt(l.get("far_frac"), ".4f"), fmt(l.get("mismatch_kl"), ".2e"), fmt(l.get("mismatch_kl_peak"), ".2e"),
            fmt(l.get("eval_scatter"), ".3f"), fmt(l.get("stale_mean"), ".2f"),
            fmt(l.get("interrupt_frac"), ".4f"), fmt(l.get("truncate_frac"), ".4f"), fmt(l.get("len_std"), ".2f"),
            fmt(l.get("group_weight_cv"), ".3f")))
    path = os.path.join(out, "README.md")
    text = open(path).read() if os.path.exists(path) else "<!-- findings table -->\n<!-- end findings table -->\n"
    start, end = "<!-- findings table -->", "<!-- end findings table -->"
    if start not in text or end not in text:
        text += "\n%s\n%s\n" % (start, end)
    head, rest = text.split(start, 1)
    tail = rest.split(end, 1)[1]
    with open(path + ".tmp", "w") as f:
        f.write(head + start + "\n" + "\n".join(rows) + "\n" + end + tail)
    os.replace(path + ".tmp", path)


if __name__ == "__main__":
    main()
