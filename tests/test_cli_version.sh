#!/usr/bin/env bash
# `scalerl version`: it prints the build, the OpenBLAS configuration and kernels, and the thread
# counts, each as OpenBLAS, OpenMP and git themselves report them; tests/run.sh prints it first.
. "$(dirname "$0")/lib.sh"

"$S" version >"$T/v" 2>"$T/err"
check "version exits 0, quiet on stderr" [ $? -eq 0 -a ! -s "$T/err" ]
check "version prints one line each for the build, cpu, openblas, kernels, threads and waiting" \
  bash -c "[ \"\$(cut -d: -f1 '$T/v' | tr '\n' ' ')\" = 'scalerl cpu openblas openblas kernels openblas threads openmp threads openmp waiting ' ]"
# OpenBLAS built for several processors says which kernels it picked when OPENBLAS_VERBOSE=2.
core=$(OPENBLAS_VERBOSE=2 "$S" version 2>&1 >/dev/null | sed -n 's/^Core: //p' | head -n 1)
if [ -n "$core" ]; then
  check "the kernels named are the ones OpenBLAS reports it picked ($core)" grep -q "^openblas kernels: $core " "$T/v"
else
  echo "NOTE this OpenBLAS does not report its kernels (not a DYNAMIC_ARCH build): kernel name not cross-checked"
fi
check "the openblas line is OpenBLAS's own configuration string" grep -q '^openblas: OpenBLAS [0-9]' "$T/v"
OMP_NUM_THREADS=3 "$S" version >"$T/v3" 2>/dev/null
check "the OpenMP thread count follows OMP_NUM_THREADS" grep -q '^openmp threads: 3 ' "$T/v3"
# The commit the binary was built from (git describe: HASH, TAG-N-gHASH, either with -dirty) is
# one of this repository's (HEAD itself only until the next commit, so not asked for).
commit=$(sed -n 's/^scalerl: commit \([^,]*\),.*/\1/p' "$T/v")
hash=${commit%-dirty}
hash=${hash##*-g}
if git rev-parse --git-dir >/dev/null 2>&1; then
  check "the build line names a commit of this repository ($commit)" git cat-file -e "$hash^{commit}"
else
  echo "NOTE not a git checkout: the commit ($commit) not cross-checked"
fi
# Under valgrind (and through the dynamic loader, tests/test_omp_env.c) /proc/self/exe is not
# scalerl, so the restart that sets GOMP_SPINCOUNT (models/omp_env.c) must not happen: restarting
# valgrind's tool without valgrind ends the run ("You cannot run ... directly").
# Not on a sanitizer build (make sanitize): ASan's runtime and valgrind exclude each other.
if sanitizer_build; then
  echo "NOTE a sanitizer build: the run under valgrind not checked"
elif need_debian "version under valgrind" valgrind valgrind; then # installed when missing, not skipped
  env -u GOMP_SPINCOUNT -u OMP_WAIT_POLICY valgrind -q --error-exitcode=3 "$S" version >"$T/vg" 2>"$T/vg.err"
  check "version runs under valgrind, without the restart (GOMP_SPINCOUNT unset)" \
    bash -c "[ $? = 0 ] && grep -q '^openmp waiting: GOMP_SPINCOUNT=unset' '$T/vg'"
fi
check "scalerl --help lists version" bash -c "'$S' --help | grep -q '^  version '"
check "version --help explains it" bash -c "'$S' version --help | grep -q '^usage: scalerl version'"
expect_error "version refuses a key" 1 "unknown key 'x'" -- version x=1
