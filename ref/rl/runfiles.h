/* The files of a run directory and of base models: loading a base checkpoint for this
 * tokenizer, config.txt, metrics.jsonl, the final checkpoint. */
#ifndef SCALERL_RUNFILES_H
#define SCALERL_RUNFILES_H

#include <stdio.h>

#include "models/model.h"
#include "ref/rl/recipe.h"

/* Loads a checkpoint and checks that it was made for this program's tokenizer (its vocab size and
 * the tokenizer line of its metadata). Returns 0, 1 (bad or mismatched file) or 2 (I/O). */
int load_base_model(const char *path, Model *m, char *err);
/* The metadata line naming this program's tokenizer, e.g. "tokenizer=chars-v1". */
void tokenizer_meta(char *buf, size_t n);
/* Removes DIR/final.ckpt left by an earlier run in DIR, so that final.ckpt (written last) exists
 * only once this run has finished: `scalerl sweep` relies on it. 0 or 2. */
int remove_run_checkpoint(const char *dir, char *err);
/* DIR/config.txt, atomically. */
int write_run_config(const TrainConfig *c, char *err);
/* DIR/metrics.jsonl for appending rows: truncated first unless `append` (a resumed run). */
int open_metrics(const char *dir, int append, FILE **f, char *err);
/* Removes DIR/ckpt's resume checkpoints (a run starting from step 0), or with keep_complete only
 * the temporary files a killed writer left there (a resumed run). 0 or 2. */
int remove_resume_checkpoints(const char *dir, int keep_complete, char *err);
/* DIR/final.ckpt with optimizer state and the run's step in its metadata. */
int save_run_checkpoint(const TrainConfig *c, const Model *m, long step, char *err);

#endif
