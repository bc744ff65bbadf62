"""The issue-7 bars on one committed default run, for tests/test_default_run.sh. Exits 0 when met,
otherwise with a message naming what missed.

  default_run_bars.py full FIT_JSON METRICS_GZ   R^2, A - R0, A's interval, share of the gain
  default_run_bars.py half HALF_FIT_JSON          the half-budget fit's error at the last point
  default_run_bars.py config SCALERL CONFIG_TXT   every key at `scalerl train`'s default
"""
import gzip
import json
import re
import subprocess
import sys


def full(fit_path, metrics_path):
    f = json.loads(open(fit_path).readline())
    with gzip.open(metrics_path, "rt") as m:
        evals = [json.loads(line) for line in m if '"kind":"eval"' in line]
    share = (evals[-1]["pass_rate"] - f["R0"]) / (f["A"] - f["R0"])
    checks = [
        ("R^2 %.4f < 0.95" % f["r2"], f["r2"] >= 0.95),
        ("A - R0 %.3f < 0.3" % (f["A"] - f["R0"]), f["A"] - f["R0"] >= 0.3),
        ("A's interval %.3f wide > 0.06" % (f["A_hi"] - f["A_lo"]), f["A_hi"] - f["A_lo"] <= 0.06),
        ("last point at %.1f%% of the gain < 85%%" % (100 * share), share >= 0.85),
    ]
    return [msg for msg, ok in checks if not ok]


def half(fit_path):
    e = json.loads(open(fit_path).readline())["holdout_last_error"]
    return [] if e is not None and abs(e) <= 0.03 else ["half-budget error at the last point %s" % e]


def config(scalerl, config_path):
    h = subprocess.run([scalerl, "train", "--help"], capture_output=True, text=True)
    lines = (h.stdout + h.stderr).splitlines()
    default = dict(m.groups() for m in (re.match(r"^  (\w+)\s+.*\[default: (.*)\]$", l) for l in lines) if m)
    cfg = dict(l.rstrip("\n").split("=", 1) for l in open(config_path) if "=" in l and not l.startswith("#"))

    def same(a, b):
        try:
            return abs(float(a) - float(b)) <= 1e-12 * max(1.0, abs(float(a)))
        except ValueError:
            return a == b

    # The run's own paths and seed, and keys that change no result.
    own = {"base", "out", "seed", "threads", "progress", "ckpt_every", "keep"}
    return ["%s=%s (default %s)" % (k, v, default.get(k)) for k, v in cfg.items()
            if k not in own and not (k in default and same(v, default[k]))]


if __name__ == "__main__":
    what, args = sys.argv[1], sys.argv[2:]
    bad = {"full": full, "half": half, "config": config}[what](*args)
    sys.exit("; ".join(bad) if bad else 0)
