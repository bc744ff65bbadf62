/* Private to the trainer's files (train.c, train_step.c, pipeline.c): the state of one RL run
 * and the pieces both schedules share. */
#ifndef SCALERL_TRAINER_H
#define SCALERL_TRAINER_H

#include <pthread.h>
#include <stdio.h>

#include "models/model.h"
#include "models/optim.h"
#include "ref/rl/advantage.h"
#include "ref/rl/data.h"
#include "ref/common/jsonl.h"
#include "ref/rl/loss.h"
#include "ref/rl/prompt_filter.h"
#include "ref/rl/recipe.h"
#include "ref/rl/rollout.h"
#include "tasks/tasks.h"

#define STALE_BINS 17 /* staleness histogram: 0..15, and 16 or more */

typedef struct {
    AdvStats adv;
    LossStats loss;
    double grad_norm, lr, entropy, len_mean, interrupt_frac, truncate_frac, stale_mean, flops;
    long stale_max, retired_now, rows, tokens;
    long multi_version; /* trained completions whose tokens come from two or more policy versions */
    int bad;            /* the loss or gradient norm was not finite: the step was skipped, no update */
    long stale_hist[STALE_BINS];
    /* schedule=threads only (timing-dependent, so not part of the deterministic metrics) */
    int threaded;
    double gen_util;       /* fraction of the step's wall time the generator spent decoding */
    double trainer_idle_s; /* time the trainer waited for its batch */
} StepStats;

typedef struct {
    const TrainConfig *c;
    Model m;
    TaskSpec *spec;
    TaskSplit *split;
    DataSource *data;
    PromptFilter *filter;
    GenConfig gc;
    Generator *gen;
    LossParams lp;
    AdamWConfig opt;
    Precision train_prec;
    int P, G, N, ring;
    int *batch_gi;   /* ring * P: generator group of each group of each admitted batch */
    int *batch_done; /* ring: groups of the batch whose completions all finished */
    long admitted;   /* batches admitted so far */
    int exhausted;   /* the prompt filter retired every training prompt: no more batches */
    long version;    /* optimizer steps taken = version of the trainer's weights */
    long bad_steps;  /* steps skipped for a non-finite loss or gradient norm (the step rows' bad_steps) */
    long bad_in_row; /* of them, the latest consecutive ones: max_bad_steps of them stop the run */
    double flops_gen, flops_train, wall0, cpu0;
    JsonlFile metrics; /* metrics.jsonl: whole lines only, even on a full disk */
    JsonWriter jw;
    /* schedule=threads: guards the generator's queue and groups, the data source, the prompt
     * filter, batch_done, admitted and flops_gen; NULL in the deterministic schedule. */
    pthread_mutex_t *lock;
    int *finished_scratch; /* max_groups */
    Problem *draw_scratch; /* P: a batch's prompts while it is admitted */
    uint64_t *key_scratch; /* P */
    long last_eval_step;
    /* step scratch (N completions, N * ctx flat tokens) */
    float *reward, *adv, *f_logp, *f_logp_gen, *f_w, *f_dlogp;
    unsigned char *kept;
    int *off, *f_row, *f_pos;
    int *row_comp;
    int *rows_tok, *rows_tgt;
    float *rows_logp, *rows_ent, *rows_dlogp;
    long *eval_steps;
    int n_evals, next_eval;
    double last_pass, last_step_reward;
    int progress;
} Trainer;

/* The highest batch the generator may hold when the trainer's weights are at `version`. */
long trainer_admit_limit(const Trainer *t, long version);
/* Admits batches up to limit (and below steps): draws their prompts, queues their groups. When
 * the prompt filter has retired every training prompt, sets t->exhausted and admits no more
 * (the run then ends after the batches already admitted). */
int trainer_admit(Trainer *t, long limit, char *err);
/* Moves the generator's finished groups into the per-batch counts. */
void trainer_collect_finished(Trainer *t);
int trainer_batch_ready(const Trainer *t, long b);
Group *trainer_batch_group(Trainer *t, long b, int j);
/* One optimizer step on batch t->version (train_step.c). */
int trainer_step(Trainer *t, StepStats *s, char *err);
/* Frees the groups of batch t->version once the step has consumed them (before the new weights
 * are published, so the generator's admission finds room). */
void trainer_release_batch(Trainer *t);
/* After a step: advances the version, writes the step row, evaluates when due
 * and prints progress. */
int trainer_finish_step(Trainer *t, const StepStats *s, char *err);

/* The threaded schedule (pipeline.c): real generator thread, bound k enforced at run time. */
int pipeline_threads_loop(Trainer *t, char *err);

#endif
