/* A sweep: the grid of `scalerl train` runs, one per (recipe, seed), each in its own directory
 * OUT/<recipe>-s<seed>/ (the layout `scalerl compare OUT` reads), and what makes such a directory
 * a finished run.
 *
 * Finished: as ref/rl/runfiles.h says (config.txt matches the grid's resolved config but for
 * out=, threads=, progress=, ckpt_every= and keep=, which say where, how fast and how safely a
 * run goes, not what it computes; the final run row; final.ckpt; or, archived (bench/findings),
 * metrics.jsonl.gz ends with that row and metrics.jsonl is gone). `train` removes final.ckpt
 * when it starts and writes it last, atomically, so a run that was stopped at any point is never
 * finished. An unfinished run of the same config with a resume checkpoint is resumed
 * (ref/rl/resume.h); anything else is restarted from scratch.
 *
 * Locks: OUT/<run>/.sweep.lock, held with flock(2) by the sweep and inherited by the train
 * process it starts, so the lock lasts while either lives and the kernel drops it when both are
 * gone (a dead holder never leaves a stale lock). The file holds "pid host" for messages only and
 * is never removed (removing a lock file races with a process about to lock it). The train itself
 * holds the run directory's .run.lock (ref/rl/runfiles.h); a run whose .run.lock is held by a
 * train the sweep did not start is busy too.
 *
 * Errors: errbuf.h's convention (0 ok, 1 bad input, 2 I/O, a one-line message in err). */
#ifndef SCALERL_SWEEP_H
#define SCALERL_SWEEP_H

#include <stddef.h>
#include <stdio.h>

#include "ref/common/args.h"
#include "ref/rl/runfiles.h"
#include "ref/rl/recipe.h"

#define SWEEP_MAX_RECIPES 64
#define SWEEP_MAX_SEEDS 10000
#define SWEEP_NAME_LEN 160

typedef struct {
    char name[SWEEP_NAME_LEN]; /* <recipe>-s<seed> */
    char dir[OPT_STR_LEN + SWEEP_NAME_LEN];
    long seed;
    int argc;     /* the words after `scalerl train`: recipe=, seed=, out=, then the extra keys */
    char **argv;  /* argc words and a NULL */
    char *config; /* the config.txt this run must have, without the ignored lines */
} SweepRun;

typedef struct {
    char out[OPT_STR_LEN]; /* the sweep directory, without trailing slashes */
    SweepRun *runs; /* seed-major: every recipe's first seed, then every recipe's second, ... */
    int n, n_recipes, n_seeds;
    int user_threads; /* threads= is among the extra keys */
} SweepGrid;

/* Builds the grid for recipes "a,b,..." (preset names), seeds "N" (1..N) or "A-B", run
 * directories under out, and the extra keys: every pair of `extra` not marked used. Each run's
 * config is resolved exactly as `scalerl train` would, so a bad key or value is refused here, for
 * the whole grid, before anything runs. need_base: refuse a base= that is not a file (0 when the
 * grid is only listed: a script may make the base before the commands it lists), and one inside a
 * run directory of the grid, which the sweep may clear before that base is read. 0, 1 (bad input)
 * or 2 (I/O), nothing allocated unless 0. */
int sweep_grid_build(SweepGrid *g, const char *recipes, const char *seeds, const char *out, const Args *extra,
                     int need_base, char *err);
void sweep_grid_free(SweepGrid *g);

/* The state of r's directory (ref/rl/runfiles.h); why (n bytes) gets a short reason for
 * anything not finished. */
RunState sweep_run_state(const SweepRun *r, char *why, size_t n);
const char *sweep_state_name(RunState s);
/* Removes the files whose presence marks progress (run_dir_clear). 0 or 2. */
int sweep_run_clear(const SweepRun *r, char *err);

/* Takes r's lock without waiting (creating r->dir if needed): 0 with *fd (close-on-exec), 1 when
 * another live process holds it or the run directory's own lock (a `scalerl train` started by
 * hand; holder gets the lock file's "pid host"), 2 on I/O error. */
int sweep_lock(const SweepRun *r, int *fd, char *holder, size_t n, char *err);
/* 1 when some live process holds r's lock or its run directory's; creates nothing. */
int sweep_locked(const SweepRun *r);

/* Writes r as one shell command line: exe train WORDS..., each word quoted when the shell would
 * otherwise change it. sweep_print_words writes the words alone (no newline); sweep_shell_word
 * one word. */
void sweep_print_command(FILE *f, const char *exe, const SweepRun *r);
void sweep_print_words(FILE *f, const char *exe, const SweepRun *r);
void sweep_shell_word(FILE *f, const char *w);

/* Writes a bash script that submits the grid's unfinished runs to Slurm: one job array with a
 * task per unfinished run (--cpus-per-task and threads= from the grid's threads=, 1 when not
 * given; each train's output in its run directory's train.log; the run's lock taken as the local
 * sweep takes it), then a job that, once every task has ended, runs compare (OUT/compare.txt) and
 * report (OUT/report.html) on the sweep directory out. Paths stay as given, the jobs running in
 * the current directory (cwd). Extra words given to the script go to both sbatch calls. */
int sweep_print_slurm(FILE *f, const SweepGrid *g, const char *exe, const char *out, const char *cwd, char *err);

/* Cores this process may run on (its CPU affinity), at least 1. */
int sweep_usable_cores(void);

/* Runs every unfinished run of g as `exe train ...` subprocesses, at most jobs at once, the cores
 * divided among them (unless threads= was given); progress on stderr. Returns 0 when every run is
 * finished, 1 when some failed (the others still ran), 2 on I/O failure of the sweep itself (g->out
 * that cannot be made is one, before any run starts), or 128 + signal number after SIGINT, SIGTERM
 * or SIGHUP (running trains are stopped first). */
int sweep_execute(const SweepGrid *g, const char *exe, int jobs, char *err);

#endif
