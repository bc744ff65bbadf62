#!/usr/bin/env python3
"""The short table of the study, for README.md's "What the toy reproduces of the paper": one row
per compared entry of findings.jsonl (each study's baseline folded into its rows), its level at the
end beside its baseline's, the toy's verdict, the reading that decided its ceiling and whether one
seed less moves it, the paper's verdict, and whether they agree. The whole table, with the fits and the regime, is
bench/findings/README.md's (assemble.py).

Usage: short_table.py [FINDINGS_JSONL [STUDIES_TSV]] (default: the ones beside this script). An
extension row (studies.tsv's sixth column `extra`, run by `make findings tier=all`) is marked."""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from assemble import label_of  # noqa: E402  (the name findings.jsonl gives an entry)


def extension_rows(tsv):
    """(study, recipe) of every row studies.tsv marks `extra`."""
    rows = set()
    with open(tsv) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            cols = line.rstrip("\n").split("\t")
            if len(cols) >= 6 and cols[5] == "extra":
                rows.add((cols[0], label_of(cols[2])))
    return rows


def read_by(line):
    """The reading that decided the ceiling (ref/fit/README.md, "Verdicts"), marked when no fitted
    A or level pins it, and `marginal` when leaving out one seed gives another verdict
    (findings.jsonl's one_seed_less)."""
    r = line.get("ceiling_reading")
    notes = [r + ("" if line.get("ceiling_pinned", True) else ", not pinned")] if r else []
    if line.get("marginal"):
        notes.append("marginal")
    return " (%s)" % "; ".join(notes) if notes else ""


def table(lines, extra):
    base = {l["study"]: l for l in lines if l["verdict"] == "baseline"}
    rows = ["| study | entry | last (baseline's) | toy's verdict (read by) | paper's verdict | agrees |",
            "|---|---|---|---|---|---|"]
    for l in lines:
        if l["verdict"] == "baseline":
            continue
        b = base.get(l["study"])
        last = "%.3f" % l["last_mean"] + (" (%.3f)" % b["last_mean"] if b else "")
        name = l["recipe"] + (" (extension)" if (l["study"], l["recipe"]) in extra else "")
        rows.append("| %s | %s | %s | %s%s | %s | %s |" % (
            l["study"], name, last, l["verdict"], read_by(l), l["paper_verdict"],
            {True: "yes", False: "**no**", None: "-"}[l["agrees"]]))
    return "\n".join(rows)


def main():
    jsonl = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "findings.jsonl")
    tsv = sys.argv[2] if len(sys.argv) > 2 else os.path.join(HERE, "studies.tsv")
    with open(jsonl) as f:
        lines = [json.loads(s) for s in f if s.strip()]
    print(table(lines, extension_rows(tsv) if os.path.exists(tsv) else set()))


if __name__ == "__main__":
    main()
