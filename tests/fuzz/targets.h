/* The fuzz targets: each takes any bytes, feeds them to one of the program's parsers of outside
 * input, and checks what must hold for every input. A crash, a sanitizer report or a broken
 * property (fuzz_violation) is a finding.
 *
 *   args        the key=value / --config parser and the train keys' resolution: a refusal is one
 *               line; an accepted config, written as config.txt, replays to the same text
 *   checkpoint  the checkpoint loader: any file is loaded or refused with one line, class 1 or 2
 *   metrics     the run-directory readers (rundata_load, run_dir_state) on a config.txt and a
 *               metrics.jsonl: read or refused with one line; points finite, pass rates in [0, 1]
 *   taskspec    the task-spec parser: the canonical form parses back to itself, and drawn
 *               problems' worked solutions verify
 *   verify      every family's verifier on any completion bytes (not 0-terminated): 0 or 1, and
 *               the right answer is still 1
 *
 * Built two ways: with clang's libFuzzer for `make fuzz` (tests/fuzz/libfuzzer_main.c), and into
 * tests/test_fuzz_regress.c, which replays the kept findings (tests/data/fuzz/TARGET/) in `make
 * test`. */
#ifndef SCALERL_FUZZ_TARGETS_H
#define SCALERL_FUZZ_TARGETS_H

#include <stddef.h>
#include <stdint.h>

typedef int (*FuzzTarget)(const uint8_t *data, size_t size);

int fuzz_args(const uint8_t *data, size_t size);
int fuzz_checkpoint(const uint8_t *data, size_t size);
int fuzz_metrics(const uint8_t *data, size_t size);
int fuzz_taskspec(const uint8_t *data, size_t size);
int fuzz_verify(const uint8_t *data, size_t size);

/* A broken property: prints what and aborts (the fuzzer keeps the input; the replay reports it). */
void fuzz_violation(const char *target, const char *what);

#endif
