/* The deterministic schedule. Per step v: (A) the generator decodes with version v until batch v
 * is complete (the trainer waits), (B) under PipelineRL the generator runs `overlap` more decode
 * steps with version v (what a concurrent generator does during a trainer step), (C) the trainer
 * takes step v and publishes version v + 1, which the generator uses from its next token on,
 * keeping its KV caches. With k = 0 nothing beyond batch v is admitted, so pipeline k=0 is sync
 * exactly. */
#include <stdio.h>

#include "ref/common/args.h"
#include "ref/rl/schedule.h"

/* One decode step with the trainer's current weights. Returns the tokens fed (0: idle). */
static int decode_one(Trainer *t)
{
    const int fed = gen_step(t->gen, t->m.params, t->version, &t->flops_gen);
    batches_collect(&t->batches);
    return fed;
}

int schedule_deterministic(Trainer *t, char *err)
{
    const TrainConfig *c = t->c;
    int rc;
    while (t->version < c->steps) {
        const long v = t->version;
        if ((rc = batches_admit(&t->batches, trainer_admit_limit(t, v), err))) return rc;
        if (v >= t->batches.admitted) break; /* every training prompt retired */
        /* PPO rounds generate all their batches with the round's first version. */
        while (c->offpolicy == OFFPOLICY_PPO ? gen_busy(t->gen) > 0 : !batches_ready(&t->batches, v))
            if (decode_one(t) == 0) {
                snprintf(err, ERR_LEN, "internal: batch %ld incomplete with nothing to generate", v);
                return 1;
            }
        if (c->offpolicy == OFFPOLICY_PIPELINE)
            for (long i = 0; i < c->overlap && gen_busy(t->gen) > 0; i++) decode_one(t);
        StepStats s;
        if ((rc = trainer_prepare(t, &s, err)) || (rc = trainer_apply(t, &s, err))) return rc;
        trainer_release(t);
        if ((rc = trainer_finish(t, &s, NULL, err))) return rc;
    }
    return 0;
}
