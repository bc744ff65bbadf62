# scalerl.c build. `make` builds ./scalerl, `make test` runs the suite, `make run` the main job,
# `make bench` the throughput figures. Sources are found by wildcard: a new .c file in models/,
# tasks/ or a folder of ref/ is part of the library, a new tests/test_*.c is a test binary.

CC      ?= cc
OPT     ?= -O2 -march=native
# Messages into fixed error buffers are cut on purpose, hence -Wno-format-truncation (GCC's; a
# compiler without it, such as clang, would warn of an unknown option on every file, so it is
# passed only where accepted).
# -fno-trapping-math: nothing here reads floating-point exception flags, and with GCC's default
# (-ftrapping-math) a clamp followed by arithmetic (fast_expf in models/layers.h) keeps every loop
# that calls it scalar, `#pragma omp simd` or not; values are the same either way (no contraction,
# no reassociation: those are other flags), and it is clang's default. -ffp-contract=off: no
# multiply-add fused unless the code asks (fmaf); GCC's default under -std=c11 already, not
# clang's, which fused and moved results by an ulp (test_advantage's exact checks failed).
# -gdwarf-4: valgrind 3.19 (make memcheck, test_cli_version) cannot read clang 14's DWARF 5
# ("Possibly corrupted debuginfo file"); the code is the same either way.
NO_TRUNC_WARN := $(shell $(CC) -Werror -Wno-format-truncation -x c -fsyntax-only /dev/null 2>/dev/null && echo -Wno-format-truncation)
CFLAGS  += -std=c11 $(OPT) -gdwarf-4 -Wall -Wextra $(NO_TRUNC_WARN) -fno-trapping-math -ffp-contract=off -fopenmp -D_GNU_SOURCE -I.
LDLIBS  += -lopenblas -lz -lm
BUILD   ?= build
BIN     ?= scalerl

LIB_SRC  := $(wildcard models/*.c tasks/*.c) $(filter-out ref/cli/main.c,$(wildcard ref/*/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
TEST_SRC := $(wildcard tests/test_*.c)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
BENCH_SRC := $(wildcard bench/*.c)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)
# Per compiler: clang needs one more package (below).
DEPS_OK  := $(BUILD)/.deps-ok-$(notdir $(firstword $(CC)))

.PHONY: all test test-cluster run bench sanitize memcheck fuzz clean deps FORCE
.SECONDARY:
all: $(BIN)

# Shell lines that install the Debian packages $(1) (or, when that fails, $(2) if given) as root or
# with password-less sudo, or stop with the exact command to run. apt-get's and dpkg's own output
# (some hundred lines on a fresh machine) goes to $(APT_LOG), whose last lines are printed when the
# install fails; Recommends are left out, since a header package's (manual pages, libc's image
# tools) are not needed to build.
APT_LOG := $(BUILD)/apt-get.log
apt_get = $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends
apt_install = if [ "$$(id -u)" = 0 ]; then SUDO=""; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; \
  else echo "scalerl: cannot install as $$(id -un); run: sudo apt-get install -y $(1)"; exit 1; fi; \
  mkdir -p $(BUILD); echo "scalerl: apt-get install $(1) (its output: $(APT_LOG))"; \
  { $$SUDO apt-get update -qq && { $(apt_get) $(1) $(if $(2),|| $(apt_get) $(2)); }; } >$(APT_LOG) 2>&1 \
    || { tail -n 5 $(APT_LOG); echo "scalerl: apt-get failed; run: sudo apt-get install -y $(1)"; exit 1; }

# OpenBLAS and zlib headers, and for CC=clang its OpenMP (GCC brings its own): install them when we
# can, otherwise say the exact command. Probed again when this file changes (so does the fuzz
# build's probe below): a stamp from an older probe would hide what a newer one asks for.
$(DEPS_OK): Makefile
	@mkdir -p $(BUILD)
	@if ! printf '#include <cblas.h>\n#include <zlib.h>\nint main(void){openblas_set_num_threads(1);return (int)crc32(0,0,0);}\n' \
	     | $(CC) -x c - -o $(BUILD)/.depcheck -lopenblas -lz 2>/dev/null; then \
	  echo "scalerl: OpenBLAS or zlib development headers are missing"; \
	  $(call apt_install,libopenblas-dev zlib1g-dev); \
	fi
	@if ! printf '#include <omp.h>\nint main(void){return omp_get_max_threads() < 1;}\n' \
	     | $(CC) -fopenmp -x c - -o $(BUILD)/.depcheck 2>/dev/null; then \
	  echo "scalerl: $(CC) cannot build OpenMP code (clang's omp.h and runtime, libomp-dev, are missing)"; \
	  $(call apt_install,libomp-dev); \
	fi
	@rm -f $(BUILD)/.depcheck
	@touch $@
deps: $(DEPS_OK)

# Objects depend on this file too: a change of flags rebuilds them.
$(BUILD)/%.o: %.c $(DEPS_OK) Makefile
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

# `scalerl version` reports the commit and the flags it was built with; the stamp file changes,
# and cmd_version.o is rebuilt, only when they do.
BUILD_COMMIT := $(shell git describe --always --dirty 2>/dev/null || echo unknown)
$(BUILD)/.build-info: FORCE
	@mkdir -p $(BUILD)
	@printf '%s\n' '$(BUILD_COMMIT) $(OPT)' | cmp -s - $@ || printf '%s\n' '$(BUILD_COMMIT) $(OPT)' >$@
$(BUILD)/ref/cli/cmd_version.o: $(BUILD)/.build-info
$(BUILD)/ref/cli/cmd_version.o: CFLAGS += -DSCALERL_COMMIT='"$(BUILD_COMMIT)"' -DSCALERL_OPT='"$(OPT)"'

$(BIN): $(BUILD)/ref/cli/main.o $(LIB_OBJ)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(LIB_OBJ)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(LIB_OBJ)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

# Every test binary and tests/*.sh script prints PASS/FAIL lines; run.sh counts them.
test: scalerl $(TEST_BIN) $(BENCH_BIN)
	@tests/run.sh $(TEST_BIN)

# `scalerl sweep print=slurm` on a one-node Slurm started on this machine (tests/cluster_slurm.sh:
# installs slurm-wlm and munge when root and missing; about 30 s). Not part of `make test`.
test-cluster: scalerl
	@tests/run.sh --only tests/cluster_slurm.sh

bench: scalerl $(BENCH_BIN)
	@bench/run.sh

# The paper's study at toy scale (bench/findings/run.sh): make findings [studies=..] [seeds=3]
# [jobs=2] [threads=1] [tier=core|all] [print=plan|commands|units] [default_s=SECONDS].
findings: $(BIN)
	@bench/findings/run.sh $(if $(studies),studies=$(studies)) $(if $(seeds),seeds=$(seeds)) \
	  $(if $(jobs),jobs=$(jobs)) $(if $(threads),threads=$(threads)) $(if $(tier),tier=$(tier)) $(if $(print),print=$(print)) \
	  $(if $(default_s),default_s=$(default_s))

run: $(BIN)
	@ref/cli/make_run.sh

# `make sanitize`: the whole suite (test binaries and scripts) on an AddressSanitizer +
# UndefinedBehaviorSanitizer build (any report fails the test that triggered it), then the pipeline
# tests on a ThreadSanitizer build. libgomp is not instrumented for TSan, so OpenMP runs with one
# thread per team there (threads=1: the generator thread and the trainer each get one), which
# leaves TSan only the pipeline's own synchronization to judge.
ASAN_BUILD := build/asan
# Two checks -fsanitize=undefined leaves out: float-cast-overflow, a float converted to an integer
# it does not fit (a NaN or inf made into a length or an index: undefined behaviour; clang's
# -fsanitize=undefined has it, GCC's not), and float-divide-by-zero (defined in IEEE arithmetic,
# but here it would be a NaN or inf on its way into a metric; where one is meant, write INFINITY
# or NAN). The whole suite ran clean under both (2026-12-06).
ASAN_OPT := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined,float-cast-overflow,float-divide-by-zero -fno-sanitize-recover=all
SAN_ENV := ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=66 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=66
sanitize:
	$(MAKE) BUILD=$(ASAN_BUILD) BIN=$(ASAN_BUILD)/scalerl OPT="$(ASAN_OPT)" $(ASAN_BUILD)/scalerl \
	  $(patsubst $(BUILD)/%,$(ASAN_BUILD)/%,$(TEST_BIN))
	$(SAN_ENV) SCALERL_BIN=$(ASAN_BUILD)/scalerl tests/run.sh $(patsubst $(BUILD)/%,$(ASAN_BUILD)/%,$(TEST_BIN))
	$(MAKE) BUILD=build/tsan BIN=build/tsan/scalerl OPT="-O1 -fsanitize=thread" build/tsan/scalerl
	SCALERL_BIN=build/tsan/scalerl SCALERL_TEST_THREADS=1 TSAN_OPTIONS="halt_on_error=1 exitcode=66" tests/run.sh --only tests/test_pipeline.sh

# `make memcheck` (by hand, about nine minutes; not in CI): every command under valgrind's memcheck
# (tests/memcheck.sh), on a build without -march=native, since valgrind decodes no AVX-512.
# valgrind is installed like OpenBLAS above when missing.
MEMCHECK_BUILD := build/memcheck
memcheck:
	@command -v valgrind >/dev/null || { \
	  echo "scalerl: valgrind is missing"; \
	  $(call apt_install,valgrind); }
	$(MAKE) BUILD=$(MEMCHECK_BUILD) BIN=$(MEMCHECK_BUILD)/scalerl OPT="-O1 -g" $(MEMCHECK_BUILD)/scalerl
	SCALERL_BIN=$(MEMCHECK_BUILD)/scalerl tests/run.sh --only tests/memcheck.sh

# `make fuzz`: clang's libFuzzer on each target of tests/fuzz/targets.h for FUZZ_SECONDS, the
# library built with ASan and UBSan too (tests/fuzz/run.sh says what it found). clang and
# libFuzzer are installed like OpenBLAS above when missing. (clang takes a function used only in an
# OpenMP if() clause for unused, hence -Wno-unused-function.)
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 12
FUZZ_TARGETS := args checkpoint metrics taskspec verify
FUZZ_BUILD := build/fuzz
FUZZ_FLAGS := -std=c11 -O1 -g -fno-omit-frame-pointer -Wall -Wno-unknown-pragmas -Wno-unused-function -D_GNU_SOURCE -I. -fopenmp=libgomp \
  -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_OBJ := $(LIB_SRC:%.c=$(FUZZ_BUILD)/%.o) $(FUZZ_BUILD)/tests/fuzz/targets.o
# clang's OpenMP header too (libomp-dev): the fuzz build takes libgomp's runtime (-fopenmp=libgomp)
# but clang does not read GCC's omp.h, and a fresh Debian 12 or 13 has neither (the machines CI
# ran on so far had it preinstalled). Where libclang-rt-dev does not exist (libFuzzer then comes
# with clang itself), the second try installs clang and libomp-dev alone.
FUZZ_PKGS := clang libclang-rt-dev libomp-dev
$(FUZZ_BUILD)/.clang-ok: Makefile
	@mkdir -p $(FUZZ_BUILD)
	@probe() { printf '#include <stdint.h>\n#include <stddef.h>\n#include <omp.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { return omp_get_max_threads() < 1; }\n' \
	  | $(FUZZ_CC) -fopenmp=libgomp -fsanitize=fuzzer,address,undefined -x c - -o $(FUZZ_BUILD)/.fuzzcheck 2>/dev/null; }; \
	if ! probe; then \
	  echo "scalerl: clang with libFuzzer and OpenMP's header is missing"; \
	  $(call apt_install,$(FUZZ_PKGS),clang libomp-dev); \
	  probe || { echo "scalerl: $(FUZZ_CC) still cannot build a fuzzer with OpenMP; install clang's libFuzzer and omp.h (Debian, Ubuntu: sudo apt-get install -y $(FUZZ_PKGS))"; exit 1; }; \
	fi
	@rm -f $(FUZZ_BUILD)/.fuzzcheck
	@touch $@

$(FUZZ_BUILD)/%.o: %.c $(FUZZ_BUILD)/.clang-ok $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/libfuzzer_main.c $(FUZZ_OBJ)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer -DFUZZ_TARGET=fuzz_$* $^ -o $@ $(LDLIBS)

fuzz: $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz_%)
	@tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

clean:
	rm -rf $(BUILD) scalerl

-include $(LIB_OBJ:.o=.d) $(BUILD)/ref/cli/main.d $(TEST_BIN:=.d) $(BENCH_BIN:=.d) $(FUZZ_OBJ:.o=.d)
