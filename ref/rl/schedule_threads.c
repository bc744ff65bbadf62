/* PipelineRL-k with real threads (schedule=threads): a generator thread samples continuously
 * while the trainer trains; after every optimizer step the trainer publishes its weights and the
 * generator switches to them between two tokens, keeping its KV caches.
 *
 * Publication is triple-buffered: the generator decodes from buffer `in_use`, the newest
 * published weights are in `latest`, and the trainer copies new weights into the third buffer,
 * which neither of the others can be, then makes it `latest` under the lock. So a generator never
 * reads a buffer being written, and never waits for a copy.
 *
 * The bound k: the generator admits batch b only when b <= published version + k, and it always
 * decodes with the newest weights it has picked up, so every token of batch b comes from a
 * version >= b - k; the trainer checks the recorded versions of every batch it consumes and stops
 * with an error if one is older (it cannot happen; the check makes the bound observable).
 *
 * Cores: the trainer and the generator each get all `threads` for their OpenMP kernels (OpenBLAS
 * stays single-threaded, model_set_threads), and the operating system shares the cores between
 * them: whichever side has work runs on every core the other leaves idle (its serial stretches,
 * the ends of its parallel regions, and all of them while it waits), and when both have work each
 * gets its share. The generator never runs more than k batches ahead, so over a step the cores
 * do one step's generation and one step's training, with no core idle while either has work. The
 * earlier fixed split, half of the cores each, idled the lighter side's cores: on 2 cores the
 * generator, with about 60% of the trainer's work, spent 40% of every step waiting at the
 * admission bound while the trainer ran alone on the other core (bench/README.md, "PipelineRL on
 * two cores"). This needs OpenMP threads that sleep when they wait rather than spin, or a waiting
 * thread would hold a core the other side needs: models/omp_env.c's GOMP_SPINCOUNT default does
 * that (a user who sets OMP_WAIT_POLICY=active gets spinning threads and loses the overlap). */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "errbuf.h"
#include "ref/common/util.h"
#include "ref/rl/resume.h"
#include "ref/rl/schedule.h"

typedef struct {
    Trainer *t;
    pthread_mutex_t mu;
    pthread_cond_t cv_gen;   /* the generator waits for admission room or a stop */
    pthread_cond_t cv_batch; /* the trainer waits for its batch */
    float *buf[3];
    long buf_version[3];
    int latest, in_use;
    long pub_version;
    int stop, failed;
    int paused; /* a checkpoint is waiting for the generator to go idle: admit nothing */
    char err[ERR_LEN];
    double gen_busy_s; /* time the generator spent in gen_step */
    int threads;
    long wanted; /* the batch the trainer waits for, -1 when it does not wait */
} Pipe;

static void *generator_main(void *arg)
{
    Pipe *p = arg;
    Trainer *t = p->t;
    omp_set_num_threads(p->threads);
    pthread_mutex_lock(&p->mu);
    while (!p->stop) {
        p->in_use = p->latest; /* switch to the newest weights between two tokens */
        const float *params = p->buf[p->in_use];
        const long version = p->buf_version[p->in_use];
        if (!p->paused && batches_admit(&t->batches, trainer_admit_limit(t, p->pub_version), p->err)) {
            p->failed = 1;
            pthread_cond_broadcast(&p->cv_batch);
            break;
        }
        if (t->batches.exhausted) pthread_cond_broadcast(&p->cv_batch);
        if (gen_busy(t->gen) == 0) {
            pthread_cond_wait(&p->cv_gen, &p->mu);
            continue;
        }
        pthread_mutex_unlock(&p->mu);
        double flops = 0, t0 = wall_seconds();
        gen_step(t->gen, params, version, &flops);
        double dt = wall_seconds() - t0;
        pthread_mutex_lock(&p->mu);
        p->gen_busy_s += dt;
        t->flops_gen += flops;
        if (batches_collect(&t->batches, p->err)) {
            p->failed = 1;
            pthread_cond_broadcast(&p->cv_batch);
            break;
        }
        /* Wake the trainer only when what it waits for has happened, not at every decode step:
         * its batch is complete, or a checkpoint waits for the generator to go idle. */
        if ((p->wanted >= 0 && batches_ready(&t->batches, p->wanted)) || (p->paused && gen_idle(t->gen)))
            pthread_cond_broadcast(&p->cv_batch);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* Copies the trainer's weights into a free buffer and makes it the newest. */
static void publish(Pipe *p, long version)
{
    pthread_mutex_lock(&p->mu);
    int w = 0;
    while (w == p->in_use || w == p->latest) w++;
    pthread_mutex_unlock(&p->mu);
    memcpy(p->buf[w], p->t->m.params, p->t->m.n_params * sizeof(float));
    pthread_mutex_lock(&p->mu);
    p->buf_version[w] = version;
    p->latest = w;
    p->pub_version = version;
    pthread_cond_broadcast(&p->cv_gen);
    pthread_mutex_unlock(&p->mu);
}

/* A checkpoint (ref/rl/resume.h) needs an idle generator: admission pauses until the admitted
 * batches are generated, then the state is saved under the lock. Only timing changes. */
static int checkpoint(Pipe *p, char *err)
{
    Trainer *t = p->t;
    const TrainConfig *c = t->c;
    const int due = (c->ckpt_every > 0 && t->version % c->ckpt_every == 0) || (t->stop && *t->stop);
    if (!due || t->version >= c->steps) return 0;
    pthread_mutex_lock(&p->mu);
    p->paused = 1;
    while (!gen_idle(t->gen) && !p->failed) pthread_cond_wait(&p->cv_batch, &p->mu);
    int rc = 0;
    if (p->failed) {
        snprintf(err, ERR_LEN, "%s", p->err);
        rc = 1;
    } else {
        rc = resume_after_step(t, err);
    }
    p->paused = 0;
    pthread_cond_broadcast(&p->cv_gen);
    pthread_mutex_unlock(&p->mu);
    return rc;
}

static int check_bound(Trainer *t, const StepStats *s, char *err)
{
    if (s->stale_max > t->c->k) {
        snprintf(err, ERR_LEN, "internal: step %ld consumed a token %ld versions old, beyond k=%ld", t->version + 1,
                 s->stale_max, t->c->k);
        return 1;
    }
    return 0;
}

int schedule_threads(Trainer *t, char *err)
{
    Pipe p;
    memset(&p, 0, sizeof p);
    p.t = t;
    const int total = t->c->threads > 0 ? (int)t->c->threads : omp_get_num_procs();
    p.threads = total;
    p.wanted = -1;
    for (int i = 0; i < 3; i++) {
        p.buf[i] = malloc(t->m.n_params * sizeof(float));
        if (!p.buf[i]) {
            for (int j = 0; j < i; j++) free(p.buf[j]);
            snprintf(err, ERR_LEN, "out of memory for weight buffers");
            return 2;
        }
    }
    memcpy(p.buf[0], t->m.params, t->m.n_params * sizeof(float));
    p.buf_version[0] = t->version;
    p.pub_version = t->version;
    p.latest = p.in_use = 0;
    pthread_mutex_init(&p.mu, NULL);
    pthread_cond_init(&p.cv_gen, NULL);
    pthread_cond_init(&p.cv_batch, NULL);
    t->lock = &p.mu;
    pthread_t gen;
    int rc = 0;
    if (pthread_create(&gen, NULL, generator_main, &p) != 0) {
        snprintf(err, ERR_LEN, "cannot start the generator thread");
        rc = 2;
        goto out;
    }
    while (t->version < t->c->steps) {
        const long v = t->version;
        double w0 = wall_seconds();
        pthread_mutex_lock(&p.mu);
        double busy0 = p.gen_busy_s;
        BatchQueue *q = &t->batches;
        p.wanted = v;
        while (!batches_ready(q, v) && !p.failed && !(q->exhausted && v >= q->admitted))
            pthread_cond_wait(&p.cv_batch, &p.mu);
        p.wanted = -1;
        int failed = p.failed, exhausted = !batches_ready(q, v);
        pthread_mutex_unlock(&p.mu);
        if (failed) {
            snprintf(err, ERR_LEN, "%s", p.err);
            rc = 1;
            break;
        }
        if (exhausted) break; /* every training prompt retired */
        double idle = wall_seconds() - w0;
        StepStats s;
        if ((rc = trainer_prepare(t, &s, err)) || (rc = check_bound(t, &s, err)) || (rc = trainer_apply(t, &s, err)))
            break;
        trainer_release(t);
        publish(&p, v + 1);
        pthread_mutex_lock(&p.mu);
        double busy = p.gen_busy_s - busy0;
        pthread_mutex_unlock(&p.mu);
        double wall = wall_seconds() - w0;
        const ThreadStats th = {1, wall > 0 ? busy / wall : 0, idle};
        if ((rc = trainer_finish(t, &s, &th, err)) || (rc = checkpoint(&p, err)) || t->stopped) break;
    }
    pthread_mutex_lock(&p.mu);
    p.stop = 1;
    pthread_cond_broadcast(&p.cv_gen);
    pthread_mutex_unlock(&p.mu);
    pthread_join(gen, NULL);
out:
    t->lock = NULL;
    pthread_cond_destroy(&p.cv_batch);
    pthread_cond_destroy(&p.cv_gen);
    pthread_mutex_destroy(&p.mu);
    for (int i = 0; i < 3; i++) free(p.buf[i]);
    return rc;
}
