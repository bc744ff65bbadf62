#!/usr/bin/env bash
# apt_install.sh PACKAGE...: installs Debian packages that a check or a benchmark needs as its
# reference (python3-numpy, python3-torch, chromium, slurm), with apt-get as root or with
# password-less sudo. Exit 0 once installed; 1 when apt-get failed, its last lines on stderr; 2
# when this user cannot install, the command to run on stderr. Installs are one at a time on the
# machine (a lock file): `make -j2 sanitize` runs two suites side by side, and two apt-gets would
# race for dpkg's locks.
set -u
export LC_ALL=C # awk, printf and sort with a decimal point in any locale (tests/README.md, "Writing checks")
[ $# -ge 1 ] || { echo "usage: tests/apt_install.sh PACKAGE..." >&2; exit 2; }
if [ "$(id -u)" = 0 ]; then sudo=(); elif sudo -n true 2>/dev/null; then sudo=(sudo -n); else
  echo "$(id -un) cannot install them; run: sudo apt-get install -y $*" >&2
  exit 2
fi
log=$(mktemp) || exit 1
trap 'rm -f "$log"' EXIT
lock=${TMPDIR:-/tmp}/scalerl-apt.lock
( flock -w 900 9 || { echo "no lock on $lock in 15 minutes"; exit 1; }
  "${sudo[@]}" apt-get update -qq &&
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=600 "$@"
) 9>"$lock" >"$log" 2>&1 ||
  { echo "apt-get install $* failed: $(tail -n 2 "$log" | tr '\n' ' ')" >&2; exit 1; }
