/* The RL job: set up, run the chosen schedule, close the metrics, save the final checkpoint. */
#include "ref/rl/train.h"

#include <stdio.h>

#include "ref/common/util.h"
#include "ref/rl/runfiles.h"
#include "ref/rl/schedule.h"
#include "ref/rl/trainer.h"

static int run(Trainer *t, char *err)
{
    const TrainConfig *c = t->c;
    RunPoint at = trainer_point(t);
    int rc = runlog_eval(&t->log, &at, t->m.params, &t->gc, t->split, 0, err);
    if (rc) return rc;
    runlog_progress(&t->log, &at);
    rc = c->schedule == SCHEDULE_THREADS ? schedule_threads(t, err) : schedule_deterministic(t, err);
    if (rc) return rc;
    /* A run cut short by the prompt filter still ends with an eval of its final weights. */
    const int stopped = t->version < c->steps;
    at = trainer_point(t);
    if (stopped && t->log.last_eval_step < t->version) {
        if (t->log.progress) fprintf(stderr, "\nevery training prompt is retired: stopping at step %ld\n", t->version);
        if ((rc = runlog_eval(&t->log, &at, t->m.params, &t->gc, t->split, 1, err))) return rc;
    }
    return runlog_run(&t->log, &at, data_pool_size(t->data),
                      stopped ? "every training prompt retired by the prompt filter" : NULL, err);
}

int train_run(const TrainConfig *c, char *err)
{
    Trainer t;
    int rc = trainer_init(&t, c, err);
    if (!rc) rc = mkdir_p(c->out, err);
    if (!rc) rc = remove_run_checkpoint(c->out, err);
    if (!rc) rc = write_run_config(c, err);
    if (!rc) rc = trainer_open_log(&t, err);
    if (!rc) rc = run(&t, err);
    if (!rc) rc = save_run_checkpoint(c, &t.m, t.version, err);
    trainer_free(&t);
    return rc;
}
