/* The RL job: set up, run the chosen schedule, close the metrics, save the final checkpoint. */
#include "ref/rl/train.h"

#include <stdio.h>

#include "ref/common/util.h"
#include "ref/rl/resume.h"
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
    if (rc || t->stopped) return rc;
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

/* A run from step 0: nothing of an earlier run in the directory may count as this one's. */
static int start_fresh(Trainer *t, char *err)
{
    const char *dir = t->c->out;
    int rc = remove_run_checkpoint(dir, err);
    if (!rc) rc = remove_resume_checkpoints(dir, 0, err);
    if (!rc) rc = write_run_config(t->c, err);
    if (!rc) rc = trainer_open_log(t, 0, err);
    return rc;
}

/* A run from its checkpoint: metrics cut back to it, then the state restored (ref/rl/resume.h). */
static int start_resumed(Trainer *t, long step, char *err)
{
    int rc = remove_resume_checkpoints(t->c->out, 1, err);
    if (!rc) rc = resume_cut_metrics(t->c->out, step, err);
    if (!rc) rc = trainer_open_log(t, 1, err);
    if (!rc) rc = resume_load(t, step, err);
    if (!rc) fprintf(stderr, "scalerl train: resuming %s at step %ld\n", t->c->out, step);
    return rc;
}

int train_run(const TrainConfig *c, const TrainControl *ctl, TrainStop *stopped, char *err)
{
    Trainer t;
    RunDir rd = {-1, RUN_ABSENT, 0};
    int rc = trainer_init(&t, c, err);
    t.stop = ctl ? ctl->stop : NULL;
    if (!rc) rc = run_dir_claim(c, ctl && ctl->overwrite, &rd, err);
    /* Decided under the directory's lock: an unfinished run of this config continues from its
     * newest valid checkpoint, and is refused when it has checkpoints but none is valid (starting
     * over would replace its metrics). */
    long resume_step = 0;
    if (!rc && ctl && ctl->resume && rd.was == RUN_INCOMPLETE) rc = resume_pick(&t, &resume_step, err);
    if (!rc) rc = resume_step > 0 ? start_resumed(&t, resume_step, err) : start_fresh(&t, err);
    if (!rc) rc = run(&t, err);
    if (!rc && t.stopped) {
        stopped->step = t.version;
        stopped->ckpt = t.ckpt_step;
        rc = TRAIN_STOPPED;
    }
    if (!rc) rc = save_run_checkpoint(c, &t.m, t.version, err);
    trainer_free(&t);
    run_dir_release(&rd);
    return rc;
}
