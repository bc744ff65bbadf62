#!/usr/bin/python3
"""Are a run's eval points independent errors around its fitted curve? The figures behind
`boot_block` (ref/fit/README.md, "Intervals").

    python3 bench/findings/fit_residuals.py RUN_DIR...   (standard library only; runs ./scalerl)

Per run: `scalerl fit RUN json=1 boot=0 save=0 cutoffs=0` gives the fitted curve and its window;
on the fitted points the residuals (observed - fitted) give their standard deviation beside an
eval's own noise (the mean half-width of the eval rows' 95% intervals / 1.96), their
autocorrelation at lags 1, 2, 3 and 5, and the number of runs of one sign against the number
independent residuals would give (Wald-Wolfowitz). Independent errors: residual sd near the eval
noise, autocorrelations near 0, sign runs near the expected count.
"""
import json
import math
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import assemble  # noqa: E402

SCALERL = os.environ.get("SCALERL_BIN", "./scalerl")


def eval_rows(run):
    _, evals = assemble.run_rows(run)
    if evals is None:
        sys.exit("fit_residuals: %s: unfinished (no run row)" % run)
    return evals


def fitted(run):
    out = subprocess.run([SCALERL, "fit", run, "json=1", "boot=0", "save=0", "cutoffs=0"],
                         capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit("fit_residuals: %s: %s" % (run, out.stderr.strip()))
    for line in out.stdout.splitlines():
        row = json.loads(line)
        if row.get("kind") == "run":
            return row
    sys.exit("fit_residuals: %s: no fit in scalerl's output" % run)


def autocorr(r, lag):
    m = sum(r) / len(r)
    d = [v - m for v in r]
    den = sum(v * v for v in d)
    return sum(d[i] * d[i + lag] for i in range(len(d) - lag)) / den if den > 0 else float("nan")


def main(runs):
    if not runs:
        sys.exit(__doc__)
    for run in runs:
        f = fitted(run)
        pts = [e for e in eval_rows(run) if e["step"] > 0 and f["x_min"] <= e["flops"] <= f["x_max"]]
        res, noise = [], []
        for e in pts:
            c = e["flops"]
            pred = f["R0"] + (f["A"] - f["R0"]) / (1 + (f["Cmid"] / c) ** f["B"])
            res.append(e["pass_rate"] - pred)
            noise.append((e["pass_rate_hi"] - e["pass_rate_lo"]) / (2 * 1.96))
        n = len(res)
        sd = math.sqrt(sum(v * v for v in res) / n)
        pos = sum(v > 0 for v in res)
        neg = n - pos
        runs_seen = 1 + sum((res[i] > 0) != (res[i - 1] > 0) for i in range(1, n))
        expected = 2 * pos * neg / n + 1
        print("%s: %d points, residual sd %.4f, eval noise %.4f, autocorrelation lag 1 %.2f, 2 %.2f, 3 %.2f, "
              "5 %.2f, sign runs %d (independent: %.1f)"
              % (run, n, sd, sum(noise) / n, autocorr(res, 1), autocorr(res, 2), autocorr(res, 3), autocorr(res, 5),
                 runs_seen, expected))


if __name__ == "__main__":
    main(sys.argv[1:])
