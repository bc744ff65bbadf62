/* scalerl train: one RL run. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ref/common/args.h"
#include "ref/cli/commands.h"
#include "ref/rl/recipe.h"
#include "models/model.h"
#include "ref/rl/resume.h"
#include "ref/rl/runfiles.h"
#include "ref/rl/train.h"
#include "ref/common/util.h"

/* The signal that asked the run to stop (0: none). A signal handler can only reach static
 * storage; this command is the program's wiring for a run, so the flag lives here. */
static volatile sig_atomic_t stop_signal;

/* First SIGINT/SIGTERM/SIGHUP: finish the step, checkpoint, stop (the trainer polls the flag). A
 * second SIGINT: stop at once; the files on disk are whole (every write is atomic or a whole
 * line), and the next run resumes from the last checkpoint. */
static void on_signal(int sig)
{
    if (stop_signal && sig == SIGINT) _exit(128 + SIGINT);
    stop_signal = sig;
}

static void catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

static const char *signal_name(int sig)
{
    return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : sig == SIGHUP ? "SIGHUP" : "a signal";
}

/* A 0/1 command key (not part of the config): *v gets it, default def. 0, or 1 with err. */
static int flag_key(Args *a, const char *key, int def, int *v, char *err)
{
    const char *s = args_get(a, key);
    *v = def;
    if (!s) return 0;
    if (strcmp(s, "0") != 0 && strcmp(s, "1") != 0) {
        snprintf(err, ERR_LEN, "bad value '%.80s' for '%s': expected 0 or 1", s, key);
        return 1;
    }
    *v = s[0] == '1';
    return 0;
}

/* A lower bound on the bytes a run holds whatever its completions' lengths: the generator's
 * records (tokens, versions, log-probs, forced flags) of the batches in flight, one KV cache of
 * ctx positions per decode slot (models/decode.c), and the trainer's per-token step arrays (11
 * floats or ints per position, ref/rl/train.c). The training activations come on top. */
static double run_bytes_at_least(const TrainConfig *c, const ModelConfig *m)
{
    const double n = (double)c->prompts_per_step * (double)c->gens_per_prompt, ctx = m->ctx;
    const double ring = c->offpolicy == OFFPOLICY_PIPELINE ? (double)c->k + 1 : c->offpolicy == OFFPOLICY_PPO ? (double)c->k : 1;
    const double slots = c->gen_slots > 0 ? (double)c->gen_slots : n;
    return ring * n * ctx * 13.0 + slots * 2.0 * m->n_layer * m->d_model * ctx * 4.0 + n * ctx * 44.0;
}

/* Refuses a batch that cannot fit in this machine's memory, naming the keys that set it (a
 * larger batch only fails later, or is killed by the kernel part way). The base model is read for
 * its shape; when it cannot be, train_run reports why. 0, or 1 with err. */
static int check_batch_memory(const TrainConfig *c, char *err)
{
    Model m;
    char ignored[ERR_LEN];
    if (load_base_model(c->base, &m, ignored)) return 0;
    const double need = run_bytes_at_least(c, &m.cfg);
    const int ctx = m.cfg.ctx;
    model_free(&m);
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
    const double have = pages > 0 && page > 0 ? (double)pages * (double)page : 0;
    if (have > 0 && need > have) {
        char inflight[96] = "";
        if (c->offpolicy != OFFPOLICY_SYNC && c->k > 1)
            snprintf(inflight, sizeof inflight, " with k=%ld (batches in flight)", c->k);
        snprintf(err, ERR_LEN, "prompts_per_step=%ld x gens_per_prompt=%ld%s needs at least %.1f GB at ctx=%d (every "
                 "completion's record and KV cache), more than this machine's %.1f GB: lower them",
                 c->prompts_per_step, c->gens_per_prompt, inflight, need / 1e9, ctx, have / 1e9);
        return 1;
    }
    return 0;
}

int cmd_train(int argc, char **argv)
{
    /* The keys resolve through the recipe preset (recipe_resolve), not straight from the table. */
    const CommandSpec spec = {
        "train",
        "usage: scalerl train base=CKPT out=DIR [recipe=NAME] [key=value ...] [--config FILE]\n\n"
        "RL of a base model on a task; writes DIR/config.txt, DIR/metrics.jsonl, DIR/final.ckpt.\n"
        "Keys resolve as: defaults < recipe preset < --config FILE < command line.\n"
        "recipe=list prints the presets. One train at a time owns DIR (DIR/.run.lock). A finished\n"
        "run of the same config in DIR is left alone and an unfinished one resumed from its last\n"
        "checkpoint; overwrite=1 starts from step 0, and is needed to replace another config's run\n"
        "(overwrite=1 skip_done=1: replace another config's, skip or resume this one's).\n",
        train_options(), CMD_OWN_KEYS, NULL};
    char err[ERR_LEN];
    Args a;
    int rc;
    if (!command_args(&spec, &a, NULL, argc, argv, &rc)) return rc;
    const char *r = args_get(&a, "recipe");
    if (r && strcmp(r, "list") == 0) {
        recipe_list(stdout);
        return flush_stdout(err) ? report_error("train", 2, err) : 0;
    }
    /* overwrite=1: replace whatever run DIR holds, from step 0. skip_done=1 (the default without
     * overwrite=1) leaves a finished run of this config alone and resumes an unfinished one; beside
     * overwrite=1 it does both and replaces only another config's run, as a cluster job wants.
     * skip_done=0, from the time a rerun replaced any run silently, means overwrite=1. */
    int overwrite, skip_done;
    if ((rc = flag_key(&a, "overwrite", 0, &overwrite, err)) ||
        (rc = flag_key(&a, "skip_done", !overwrite, &skip_done, err)))
        return report_error("train", rc, err);
    TrainConfig c;
    if ((rc = recipe_resolve(&c, &a, err)) || (rc = args_check_unused(&a, err))) return report_error("train", rc, err);
    if ((rc = check_batch_memory(&c, err)) || (rc = resume_check_out(&c, err))) return report_error("train", rc, err);
    if (skip_done) {
        char *want = run_config_text(&c), why[256];
        RunState st = want ? run_dir_state(c.out, want, why, sizeof why) : RUN_ABSENT;
        free(want);
        if (st == RUN_FINISHED) {
            fprintf(stderr, "scalerl train: '%s' is a finished run of this config; nothing to do (overwrite=1 runs it "
                            "again)\n", c.out);
            return 0;
        }
    }
    /* An unfinished run of this same config continues from its newest checkpoint (decided by
     * train_run under the directory's lock), unless overwrite=1 alone asks for step 0. */
    TrainControl ctl = {overwrite || !skip_done, skip_done, &stop_signal};
    catch_signals();
    TrainStop stopped = {0, 0};
    rc = train_run(&c, &ctl, &stopped, err);
    if (rc == TRAIN_STOPPED && stopped.ckpt == stopped.step) {
        fprintf(stderr, "scalerl train: stopped by %s after step %ld, checkpoint in %s/ckpt; resume with: scalerl train --config %s/config.txt\n",
                signal_name(stop_signal), stopped.step, c.out, c.out);
        return 128 + stop_signal;
    }
    if (rc == TRAIN_STOPPED) {
        /* The generator was busy at the boundary (ref/rl/resume.h): no checkpoint there. */
        char from[64];
        if (stopped.ckpt > 0) snprintf(from, sizeof from, "the checkpoint of step %ld", stopped.ckpt);
        else snprintf(from, sizeof from, "step 0 (there is no checkpoint yet)");
        fprintf(stderr, "scalerl train: stopped by %s after step %ld without a checkpoint there (the generator had "
                        "completions in flight, which a checkpoint does not hold); resume with: scalerl train --config "
                        "%s/config.txt, which goes on from %s\n",
                signal_name(stop_signal), stopped.step, c.out, from);
        return 128 + stop_signal;
    }
    if (rc) return report_error("train", rc, err);
    return 0;
}
