/* The deterministic schedule: the asynchronous system simulated on a virtual clock, one thread,
 * reproducible to the byte.
 *
 * Two workers share the clock: the generator, whose decode steps each take their FLOPs divided
 * by sim_gen_gflops, and the trainer, whose steps take their FLOPs (known before the weights
 * change, ref/rl/step.h) divided by sim_train_gflops. The generator never stops while it has
 * admitted work; a decode step uses the newest weights published when it starts (so a
 * completion spans versions and keeps its KV cache, PipelineRL's in-flight update); when it has
 * nothing admitted it waits for the next publication, which admits more (ref/rl/schedule.h).
 * The trainer takes step v once batch v is complete and step v-1 has ended, and publishes
 * version v+1 when the step ends. Per step v, with E the end of step v-1:
 *   (A) the generator decodes with version v until batch v is complete (PPO-off-policy: until
 *       its whole round is), the trainer idle;
 *   (B) step v runs from S = max(E, batch v complete) to S + cost; meanwhile the generator runs
 *       every decode step that starts before that end, still with version v;
 *   (C) version v+1 is published.
 * Whether generation runs ahead (staleness near k) or the trainer waits for it (staleness near 0)
 * follows from the two rates: with generation faster than training, PipelineRL-k holds k batches
 * in flight as the threaded schedule does. With k = 0 nothing beyond batch v is admitted, so
 * pipeline k=0 is sync exactly, clock included. Evals are not on the clock (not RL compute). */
#include <math.h>
#include <stdio.h>

#include "errbuf.h"
#include "ref/rl/resume.h"
#include "ref/rl/schedule.h"

/* One decode step with the trainer's current weights; advances the generator's clock by its
 * cost. Returns the tokens fed (0: nothing admitted to decode). */
static int decode_one(Trainer *t, char *err)
{
    double flops = 0.0;
    const int fed = gen_step(t->gen, t->m.params, t->version, &flops);
    t->flops_gen += flops;
    t->gen_clock += flops / (t->c->sim_gen_gflops * 1e9);
    return batches_collect(&t->batches, err) ? -1 : fed;
}

int schedule_deterministic(Trainer *t, char *err)
{
    const TrainConfig *c = t->c;
    int rc;
    while (t->version < c->steps) {
        const long v = t->version;
        if ((rc = batches_admit(&t->batches, trainer_admit_limit(t, v), err))) return rc;
        if (v >= t->batches.admitted) break; /* every training prompt retired */
        /* (A) */
        int waited = 0;
        while (c->offpolicy == OFFPOLICY_PPO ? gen_busy(t->gen) > 0 : !batches_ready(&t->batches, v)) {
            const int fed = decode_one(t, err);
            if (fed < 0) return 1;
            if (fed == 0) {
                snprintf(err, ERR_LEN, "internal: batch %ld incomplete with nothing to generate", v);
                return 1;
            }
            waited = 1;
        }
        StepStats s;
        if ((rc = trainer_prepare(t, &s, err))) return rc;
        /* (B) */
        const double start = waited ? fmax(t->sim_time, t->gen_clock) : t->sim_time;
        const double end = start + s.flops / (c->sim_train_gflops * 1e9);
        while (t->gen_clock < end && gen_busy(t->gen) > 0)
            if (decode_one(t, err) < 0) return 1;
        if (t->gen_clock < end) t->gen_clock = end; /* idle until version v+1 admits more */
        if ((rc = trainer_apply(t, &s, err))) return rc;
        trainer_release(t);
        /* (C) */
        t->sim_time = end;
        if ((rc = trainer_finish(t, &s, NULL, err)) || (rc = resume_after_step(t, err))) return rc;
        if (t->stopped) break;
    }
    return 0;
}
