/* The files of a run directory and of base models: loading a base checkpoint for this
 * tokenizer, config.txt, metrics.jsonl, the final checkpoint; what state a run directory is in;
 * and the run directory's ownership.
 *
 * Ownership. A run directory belongs to one `scalerl train` at a time: DIR/.run.lock, held with
 * flock(2) from run_dir_claim until the process ends (or run_dir_release). The kernel drops the
 * lock when its holder dies, so a killed run never leaves a stale lock; the file holds
 * "pid host" for messages only and is never removed (removing a lock file races with a process
 * about to lock it). A resumed run takes the same lock through the same call, and whether to
 * resume is decided under it (ref/rl/train.c). `scalerl sweep`
 * has its own DIR/.sweep.lock (ref/cli/sweep.h) and treats a held .run.lock as busy.
 *
 * Finished: config.txt matches the run's resolved config (ignoring out=, threads=, progress=,
 * ckpt_every= and keep=, which say where, how fast and how safely a run goes, not what it
 * computes), metrics.jsonl holds the final "kind":"run" row, and final.ckpt exists; or, archived
 * (bench/findings), metrics.jsonl.gz ends with that row and metrics.jsonl is gone. */
#ifndef SCALERL_RUNFILES_H
#define SCALERL_RUNFILES_H

#include <stddef.h>
#include <stdio.h>

#include "models/model.h"
#include "ref/common/jsonl.h"
#include "ref/rl/recipe.h"

/* Loads a checkpoint and checks that it was made for this program's tokenizer (its vocab size and
 * the tokenizer line of its metadata). Returns 0, 1 (bad or mismatched file) or 2 (I/O). */
int load_base_model(const char *path, Model *m, char *err);
/* The metadata line naming this program's tokenizer, e.g. "tokenizer=chars-v1". */
void tokenizer_meta(char *buf, size_t n);

typedef enum {
    RUN_ABSENT,     /* neither config.txt nor metrics.jsonl */
    RUN_STALE,      /* config.txt is another config's (or another version's) */
    RUN_INCOMPLETE, /* this config, but stopped before the end (or metrics.jsonl without config.txt) */
    RUN_FINISHED,
} RunState;

/* The state of a run directory against the config text it must hold (run_config_text); why
 * (n bytes) gets a short reason for anything not finished. */
RunState run_dir_state(const char *dir, const char *want_config, char *why, size_t n);
/* c as config.txt text without the lines that do not change results (malloc'd; NULL: OOM). */
char *run_config_text(const TrainConfig *c);
/* Removes the files whose presence marks progress (final.ckpt, metrics.jsonl, config.txt), so
 * that a restarted run starts from nothing. 0 or 2. */
int run_dir_clear(const char *dir, char *err);

/* An exclusive flock(2) on the file at path (created if missing), without waiting: 0 with *fd
 * (close-on-exec) and "pid host" written into the file; 1 when another live process holds it
 * (holder gets the file's "pid host", n bytes); 2 on I/O error, with err. */
int lock_file_take(const char *path, int *fd, char *holder, size_t n, char *err);
/* 1 when some live process holds an flock on path (holder, when not NULL, gets its "pid host");
 * creates nothing. */
int lock_file_held(const char *path, char *holder, size_t n);

/* The ownership of one run directory, from run_dir_claim to run_dir_release. */
typedef struct {
    int fd;        /* DIR/.run.lock, locked; -1 when not held */
    RunState was;  /* what it holds for this run once claimed: RUN_ABSENT (nothing, or what overwrite
                    * removed) or RUN_INCOMPLETE (an unfinished run of this config) */
    int tmp_removed; /* leftover temporary files of dead writers removed */
} RunDir;

/* Claims c->out for this process, after the run's inputs have been checked (a refused run
 * creates nothing): creates the directory, takes DIR/.run.lock (exit-code 1, naming the holder's
 * pid, when another live process has it), removes the *.tmp.* files of writers that are no longer
 * alive (a note on stderr says how many), and checks what the directory holds against c:
 *   - nothing, or an unfinished run of this config: claimed as is (rd->was says which, so that
 *     a resume can continue the unfinished one);
 *   - a finished run of this config, a run of another config, or metrics.jsonl without
 *     config.txt: refused (1, naming the difference) unless overwrite, which removes its files
 *     (config.txt, metrics.jsonl, final.ckpt; resume checkpoints are the caller's).
 * base= inside the directory is refused too: the run replaces what it finds there. final.ckpt is
 * removed in every case, so that it exists only once a run has finished (`scalerl sweep` relies
 * on it). Returns 0, 1 or 2 with err; on failure nothing is held. */
int run_dir_claim(const TrainConfig *c, int overwrite, RunDir *rd, char *err);
void run_dir_release(RunDir *rd);
/* Removes DIR's files named NAME.tmp.PID or NAME.tmp.PID.TID (ref/common/util.h atomic files,
 * models/checkpoint.h) whose PID is not a live process; *removed counts them. 0 or 2. */
int run_dir_remove_dead_tmp(const char *dir, int *removed, char *err);
/* DIR/config.txt, atomically. */
int write_run_config(const TrainConfig *c, char *err);
/* DIR/metrics.jsonl for appending rows, as whole lines only (ref/common/jsonl.h): truncated
 * first unless `append` (a resumed run, whose file ends at a whole line). 0, 1 or 2 with err. */
int open_metrics(const char *dir, int append, JsonlFile *f, char *err);
/* Removes DIR/final.ckpt left by an earlier run in DIR, so that final.ckpt (written last) exists
 * only once this run has finished: `scalerl sweep` relies on it. 0 or 2. */
int remove_run_checkpoint(const char *dir, char *err);
/* Removes DIR/ckpt's resume checkpoints (a run starting from step 0), or with keep_complete only
 * the temporary files a killed writer left there (a resumed run). 0 or 2. */
int remove_resume_checkpoints(const char *dir, int keep_complete, char *err);
/* DIR/final.ckpt with optimizer state and the run's step in its metadata. */
int save_run_checkpoint(const TrainConfig *c, const Model *m, long step, char *err);

#endif
