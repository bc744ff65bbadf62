#!/usr/bin/env bash
# The committed runs of the default run (bench/default: 3 seeds of `make run`'s configuration, as
# `scalerl sweep recipes=scalerl seeds=3 threads=1 out=runs/seeds base=runs/base.ckpt` makes them)
# meet the issue-7 bars under the fitter of this checkout, as README ("Measured: 3 seeds of the
# default run") says: R^2 >= 0.95, A - R0 >= 0.3, A's 95% interval <= 0.06 wide, the last point at
# >= 85% of the gain A - R0, and the fit on the first half of compute within 0.03 at the last
# point. The tolerances are the bars themselves: a fitter change that moves a run across one must
# say so in README. Also: each committed config.txt is the default configuration (every key at
# `scalerl train`'s default), so the runs are the default's, not some other run's.
. "$(dirname "$0")/lib.sh"
need_python3

D=bench/default
for s in 1 2 3; do
  cp -r "$D/scalerl-s$s" "$T/s$s" # fit writes beside the run: keep the checkout clean
  "$S" fit "$T/s$s" cutoffs=0 json=1 save=0 >"$T/full$s.json" 2>"$T/full$s.err"
  "$S" fit "$T/s$s" cutoffs=0 json=1 save=0 boot=0 fit_until_frac=0.5 >"$T/half$s.json" 2>"$T/half$s.err"
  check "seed $s: R^2 >= 0.95, A - R0 >= 0.3, A's interval <= 0.06 wide, last point >= 85% of the gain" \
    "$PY3" "$(dirname "$0")/default_run_bars.py" full "$T/full$s.json" "$T/s$s/metrics.jsonl.gz"
  check "seed $s: the half-budget fit is within 0.03 of the last point" \
    "$PY3" "$(dirname "$0")/default_run_bars.py" half "$T/half$s.json"
  check "seed $s: config.txt is the default configuration" \
    "$PY3" "$(dirname "$0")/default_run_bars.py" config "$S" "$D/scalerl-s$s/config.txt"
done
