# What every shell test (tests/test_*.sh) shares; each sources it first thing:
#   . "$(dirname "$0")/lib.sh"
# It moves to the repo root, sets S (the scalerl binary, as an absolute path) and T (a scratch
# directory removed on exit, together with the background processes listed in BG), and defines
# the helpers that print the "PASS name" / "FAIL name: why" lines tests/run.sh counts. Named
# lib.sh, not test_*.sh, so that run.sh does not run it as a test.
set -u
# The C locale, for every test and whatever it runs: under a locale with a decimal comma
# (de_DE.UTF-8), Debian's awk (mawk) reads "1.5" as 1 and prints 0.25 as "0,25", and bash's printf
# refuses "1.5", so that bounds and measured values were compared wrong (tests/README.md).
export LC_ALL=C
cd "$(dirname "${BASH_SOURCE[0]}")/.." || { echo "FAIL $(basename "$0") setup: cannot cd to the repo root"; exit 1; }
# Set-up failures are reported under the test's short name: tests/test_eval.sh -> eval.
TEST_NAME=$(basename "$0" .sh)
TEST_NAME=${TEST_NAME#test_}
# make sanitize points SCALERL_BIN at an instrumented build. Absolute, so that it survives a cd
# and equals the path scalerl reports for itself (sweep's print=commands).
S=${SCALERL_BIN:-./scalerl}
case $S in /*) ;; *) S=$PWD/${S#./} ;; esac
# The two-thread runs check determinism, not speed. On a loaded machine libgomp's default
# spin-waiting makes a 2-thread run of these tiny models up to ~400x slower (measured 50 s against
# 0.13 s with one thread); passive waiting changes no result, only the wall time.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}

# The tests pass paths under T inside key lists split at spaces ("base=$T/b.ckpt steps=3"), so T
# must have none: a TMPDIR with a space falls back to /tmp. The repository itself may sit under a
# path with spaces (tests/test_shell_quoting.sh, tests/test_make_run.sh).
TMP_ROOT=${TMPDIR:-/tmp}
case $TMP_ROOT in *[[:space:]]*) TMP_ROOT=/tmp ;; esac
T=$(mktemp -d "$TMP_ROOT/scalerl-test-$TEST_NAME-XXXXXX") || { echo "FAIL $TEST_NAME setup: mktemp"; exit 1; }
BG=() # pids of background processes a test starts, stopped on exit if still running
cleanup() {
  local p
  for p in "${BG[@]}"; do kill "$p" 2>/dev/null; done
  rm -rf "$T"
}
trap cleanup EXIT

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }

# check NAME CMD...: PASS when CMD succeeds, else FAIL naming the command and the start of its
# output (folded onto the one FAIL line, so that nothing it prints is counted by run.sh).
check() {
  local name=$1; shift
  local out
  if out=$("$@" 2>&1); then
    pass "$name"
  else
    out=${out//$'\n'/ }
    fail "$name" "'$*' failed${out:+: ${out:0:300}}"
  fi
}

# refuses CODE WORD... -- ARGS...: true when `scalerl ARGS` exits with CODE, prints nothing on
# stdout and exactly one line on stderr, containing every WORD (fixed strings). That line is left
# in $T/refusal.err; what did not match, in REFUSAL_WHY.
refuses() {
  local code=$1; shift
  local words=()
  while [ "$1" != "--" ]; do words+=("$1"); shift; done
  shift
  "$S" "$@" >"$T/refusal.out" 2>"$T/refusal.err"
  local rc=$? lines ok=1 w
  lines=$(wc -l <"$T/refusal.err")
  for w in "${words[@]}"; do grep -qF -- "$w" "$T/refusal.err" || ok=0; done
  [ "$rc" -eq "$code" ] && [ "$lines" -eq 1 ] && [ "$ok" -eq 1 ] && [ ! -s "$T/refusal.out" ] && return 0
  REFUSAL_WHY="exit $rc (want $code), $lines stderr lines (want 1 containing '${words[*]}')"
  [ -s "$T/refusal.out" ] && REFUSAL_WHY="$REFUSAL_WHY, output on stdout"
  REFUSAL_WHY="$REFUSAL_WHY: $(head -c 300 "$T/refusal.err")"
  return 1
}

# expect_error NAME CODE WORD... -- ARGS...: refuses, as a PASS/FAIL line.
expect_error() {
  local name=$1; shift
  if refuses "$@"; then pass "$name"; else fail "$name" "$REFUSAL_WHY"; fi
}

# repo_scripts: the repository's shell scripts, one per line: the tree, not `git ls-files`, so that
# it holds outside a git checkout too; build/ left out (tests/test_shell_quoting.sh,
# tests/test_script_env.sh).
repo_scripts() { find . -path ./build -prune -o -name '*.sh' -print | sort; }

awk_true() { awk "BEGIN { exit !($1) }"; }              # a numeric condition, e.g. "$x > 0.5"
# sanitizer_build: true when S was built with -fsanitize (make sanitize's build, or one anywhere
# else), known by the flags its `version` prints rather than by its path.
sanitizer_build() { "$S" version 2>/dev/null | grep -q '^scalerl: .*flags .*-fsanitize'; }
# measured NAME VALUE OP BOUND: PASS when VALUE OP BOUND (OP is <= or >=; an empty or non-numeric
# VALUE fails), after a line "MEASURED VALUE OP BOUND NAME" that run.sh ignores and
# bench/coretypes.sh collects (as tests/test.h's CHECK_TOL and CHECK_ATLEAST do).
measured() {
  local name=$1 value=$2 op=$3 bound=$4
  echo "MEASURED ${value:-nan} $op $bound $name"
  if [[ $value =~ ^-?[0-9.]+([eE][-+]?[0-9]+)?$ ]] && awk_true "$value $op $bound"; then
    pass "$name"
  else
    fail "$name" "measured ${value:-nothing}, want $op $bound"
  fi
}
jget() { sed -n "s/.*\"$2\":\([^,}]*\).*/\1/p" "$1"; } # FILE KEY: KEY's value on each JSON line (FILE - : stdin)
# The metrics without timing: every field whose name ends in _s removed.
strip_s() { sed -E 's/"[a-z0-9_]*_s":[^,}]*,?//g; s/,}/}/g' "$1"; }

# The small base model the end-to-end tests of RL start from (2 layers, d_model 32, add:digits=1-2,
# a few seconds on one core); each test adds its eval keys.
SMALL_BASE="task=add:digits=1-2 d_model=32 ctx=32 batch=32 tokens=160000 threads=1"
# pretrain_base CKPT KEY=VALUE...: pretrains a test's base model, its report in $T/pre. Nothing
# else in the test can run without it, so a failure ends the test.
pretrain_base() {
  local ckpt=$1; shift
  "$S" pretrain out="$ckpt" "$@" >"$T/pre" 2>&1 ||
    { fail "$TEST_NAME setup" "pretrain failed: $(tail -n 2 "$T/pre" | tr '\n' ' ')"; exit 1; }
}

# train DIR KEY=VALUE...: one quiet RL run into DIR; a failure says why, once.
train() {
  local dir=$1; shift
  "$S" train out="$dir" "$@" >"$T/train.out" 2>"$T/train.err" ||
    { fail "train run $(basename "$dir")" "$(head -c 300 "$T/train.err")"; return 1; }
}

# python_with MODULE: prints a python3 that imports MODULE (Debian's first: its packages install
# there), or nothing.
python_with() {
  local p
  for p in /usr/bin/python3 python3; do
    if command -v "$p" >/dev/null 2>&1 && "$p" -c "import $1" 2>/dev/null; then echo "$p"; return; fi
  done
}

# debian_install CHECK_NAME "PACKAGES" WHAT_IS_MISSING: installs the Debian PACKAGES
# (tests/apt_install.sh) and is true when that worked; otherwise prints a FAIL saying why (for a
# user who cannot install, the command to run) and is false.
debian_install() {
  local name=$1 pkgs=$2 what=$3 err
  # shellcheck disable=SC2086 # the package list is words
  err=$(tests/apt_install.sh $pkgs 2>&1) || { fail "$name" "missing $what: $err"; return 1; }
  echo "NOTE $name: installed Debian's $pkgs (missing: $what)"
}

# need_debian CHECK_NAME "PACKAGES" COMMAND...: true when every COMMAND is on PATH, else installs
# the Debian PACKAGES (debian_install) and is true when that worked, false after a FAIL line.
# Never a silent skip.
need_debian() {
  local name=$1 pkgs=$2 c missing=()
  shift 2
  for c in "$@"; do command -v "$c" >/dev/null 2>&1 || missing+=("$c"); done
  [ ${#missing[@]} -eq 0 ] || debian_install "$name" "$pkgs" "${missing[*]}"
}

# need_python CHECK_NAME MODULE PACKAGE: sets PY to a python3 that imports MODULE, installing
# Debian's PACKAGE when none does; false after a FAIL line when that cannot be done. The Python
# checks are the independent references (numpy readers of our files and forward pass, PyTorch's RL
# step); CI's fresh machines have neither numpy nor torch, and there those checks were once skipped
# with a line nobody read. A missing module is installed, not skipped.
need_python() {
  PY=$(python_with "$2")
  [ -n "$PY" ] && return 0
  debian_install "$1" "$3" "a python3 that imports $2" || return 1
  PY=$(python_with "$2")
  [ -n "$PY" ] || { fail "$1" "$3 installed, yet no python3 imports $2"; return 1; }
}

# need_python3 [CHECK_NAME]: sets PY3 to a python3 for the checks that read our outputs with its
# standard library alone (json, xml, gzip), installing Debian's python3 when there is none: a
# minimal Debian (a container, debootstrap's minbase) has none, and there these checks once failed
# by "python3: command not found", or passed only when an earlier test had installed PyTorch.
# When that cannot be done: false after a FAIL line, and PY3=python3, so that each check that needs
# it fails by name too.
need_python3() {
  local PY
  if need_python "${1:-$TEST_NAME: python3, the independent reader of its checks}" json python3; then
    PY3=$PY
  else
    PY3=python3
    return 1
  fi
}
