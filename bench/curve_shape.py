#!/usr/bin/python3
"""Is a run's curve log-logistic? Compares two saturating forms on the eval rows of run directories.

    python3 bench/curve_shape.py RUN_DIR[:LAST_STEP] ...      (needs Debian's python3-numpy)

Both forms start at R0 (the step-0 pass rate) and rise to a ceiling A:
    log-logistic (the paper's sigmoid, `scalerl fit`):  R0 + (A - R0) / (1 + (Cmid/C)^B)
    Weibull in C (approaches A faster, as 1 - exp):     R0 + (A - R0) * (1 - exp(-(C/tau)^b))
On a log compute axis the first is symmetric about Cmid; the second rises like the first at small C
but reaches its ceiling more abruptly. Each is fitted, by brute force over a grid of A (step 0.005,
the fitter's step), log Cmid or log tau, and B or b, to the points from 10% of the last point's
compute on (the fitter's default cutoff), once on the whole run and once on its first half of
compute with the same cutoff (the paper's extrapolation check: the cutoff is a compute value, not a
fraction of the fitted window). Printed per run: each form's full-run A and R^2, and the error of its
half-budget fit at the last point (predicted - observed).

An analysis aid for the README's "How the default was calibrated", not part of `make run`:
`scalerl fit` and its tests are the product's fitter. Grid search, not refinement, so A is to
0.005 and the errors to about that.
"""
import json
import sys

import numpy as np

A_GRID = np.arange(0.2, 1.0 + 1e-9, 0.005)
SLOPE_GRID = np.exp(np.linspace(np.log(0.2), np.log(8.0), 80))


def load(spec):
    path, _, last = spec.partition(":")
    rows = []
    try:
        with open(path + "/metrics.jsonl") as f:
            for line in f:
                row = json.loads(line)
                if row.get("kind") == "eval" and (not last or row["step"] <= int(last)):
                    rows.append(row)
    except (OSError, ValueError) as e:
        sys.exit("curve_shape: %s: %s" % (spec, e))
    if len(rows) < 6 or rows[0]["step"] != 0:
        sys.exit("curve_shape: %s: need a step-0 eval row and at least 5 more" % spec)
    return (np.array([r["flops"] for r in rows], dtype=float),
            np.array([r["pass_rate"] for r in rows], dtype=float))


def shape(form, z):
    """Fraction of the gain reached at z = slope * (ln C - ln scale)."""
    if form == "log-logistic":
        return 1.0 / (1.0 + np.exp(-z))
    return 1.0 - np.exp(-np.exp(np.clip(z, -60.0, 60.0)))


def fit(form, C, R, R0):
    """Least squares over the (A, ln scale, slope) grid: returns (A, ln scale, slope, sse)."""
    lnC = np.log(C)
    ln_scale = np.linspace(lnC.min() - 2.0, lnC.max() + 3.0, 240)
    A = A_GRID[:, None, None]
    s = ln_scale[None, :, None]
    b = SLOPE_GRID[None, None, :]
    sse = np.zeros((A_GRID.size, ln_scale.size, SLOPE_GRID.size))
    for x, r in zip(lnC, R):
        sse += (R0 + (A - R0) * shape(form, b * (x - s)) - r) ** 2
    i, j, k = np.unravel_index(np.argmin(sse), sse.shape)
    return A_GRID[i], ln_scale[j], SLOPE_GRID[k], sse[i, j, k]


def predict(form, p, C, R0):
    A, ln_scale, slope, _ = p
    return R0 + (A - R0) * shape(form, slope * (np.log(C) - ln_scale))


def main(specs):
    if not specs:
        sys.exit(__doc__.strip().splitlines()[2].strip())
    print("%-28s %-13s %7s %7s %15s" % ("run", "form", "A", "R^2", "half-fit error"))
    for spec in specs:
        C, R = load(spec)
        R0, C_last = R[0], C[-1]
        kept = C >= 0.1 * C_last
        half = kept & (C <= C_last / 2)
        if half.sum() < 4:
            sys.exit("curve_shape: %s: fewer than 4 points in the first half of compute" % spec)
        for form in ("log-logistic", "weibull"):
            full = fit(form, C[kept], R[kept], R0)
            r2 = 1.0 - full[3] / np.sum((R[kept] - R[kept].mean()) ** 2)
            err = predict(form, fit(form, C[half], R[half], R0), C_last, R0) - R[-1]
            print("%-28s %-13s %7.3f %7.3f %+15.3f" % (spec[-28:], form, full[0], r2, err))


if __name__ == "__main__":
    main(sys.argv[1:])
