#!/usr/bin/python3
"""An external fitter for `scalerl fitbench`: SciPy's curve_fit of the log-logistic (ref/fit/README.md, "fitbench")."""
import json, sys
import numpy as np
from scipy.optimize import curve_fit

query = json.loads(sys.stdin.readline())
rows = [json.loads(line) for line in sys.stdin if line.strip()]
r0 = next(r["pass_rate"] for r in rows if r["step"] == 0)
pts = [(r[query["x"]], r["pass_rate"]) for r in rows if r["step"] > 0]
C, R = np.array(pts).T
C, R = C[C >= 0.1 * C.max()], R[C >= 0.1 * C.max()]       # the paper's early cutoff
f = lambda c, A, B, lnCmid: r0 + (A - r0) / (1 + np.exp(B * (lnCmid - np.log(c))))
p, cov = curve_fit(f, C, R, p0=[R.max(), 1.5, np.log(np.median(C))],
                   bounds=([0, 0.05, np.log(C.min()) - 5], [1, 50, np.log(C.max()) + 5]))
if p[0] > 0.999:                                  # A at the bound: forecast, but say it is not pinned
    print(json.dumps({"identified": False}))
s = np.sqrt(np.sum((f(C, *p) - R) ** 2) / (len(C) - 3))   # scatter of single points
for x in query["predict"]:
    g = np.array([(f(x, *(p + 1e-6 * e)) - f(x, *(p - 1e-6 * e))) / 2e-6 for e in np.eye(3)])  # dR/dp
    half = 1.96 * np.sqrt(g @ cov @ g + s * s)    # the curve's uncertainty and one point's scatter
    out = {"x": x, "R": f(x, *p)}
    if np.isfinite(half):                         # no interval where the covariance is not finite
        out.update(lo=out["R"] - half, hi=out["R"] + half)
    print(json.dumps(out))
