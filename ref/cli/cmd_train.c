/* scalerl train: one RL run. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ref/common/args.h"
#include "ref/cli/commands.h"
#include "ref/rl/recipe.h"
#include "ref/rl/resume.h"
#include "ref/cli/sweep.h"
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

int cmd_train(int argc, char **argv)
{
    /* The keys resolve through the recipe preset (recipe_resolve), not straight from the table. */
    const CommandSpec spec = {
        "train",
        "usage: scalerl train base=CKPT out=DIR [recipe=NAME] [key=value ...] [--config FILE]\n\n"
        "RL of a base model on a task; writes DIR/config.txt, DIR/metrics.jsonl, DIR/final.ckpt.\n"
        "Keys resolve as: defaults < recipe preset < --config FILE < command line.\n"
        "recipe=list prints the presets. skip_done=1 leaves a finished run of the same config alone.\n",
        train_options(), CMD_OWN_KEYS, NULL};
    char err[ERR_LEN];
    Args a;
    int rc;
    if (!command_args(&spec, &a, NULL, argc, argv, &rc)) return rc;
    const char *r = args_get(&a, "recipe");
    if (r && strcmp(r, "list") == 0) {
        recipe_list(stdout);
        return 0;
    }
    /* skip_done=1: leave a finished run with this config alone (make run, reruns by hand). */
    const char *skip = args_get(&a, "skip_done");
    if (skip && strcmp(skip, "0") != 0 && strcmp(skip, "1") != 0) {
        snprintf(err, ERR_LEN, "bad value '%s' for 'skip_done': expected 0 or 1", skip);
        return report_error("train", 1, err);
    }
    TrainConfig c;
    if ((rc = recipe_resolve(&c, &a, err)) || (rc = args_check_unused(&a, err))) return report_error("train", rc, err);
    char *want = run_config_text(&c), why[256];
    const RunState st = want ? run_dir_state(c.out, want, why, sizeof why) : RUN_ABSENT;
    free(want);
    if (skip && strcmp(skip, "1") == 0 && st == RUN_FINISHED) {
        fprintf(stderr, "scalerl train: %s is a finished run of this config; skipping (skip_done=1)\n", c.out);
        return 0;
    }
    /* An unfinished run of this same config continues from its newest checkpoint. */
    TrainControl ctl = {st == RUN_INCOMPLETE ? resume_latest(c.out) : 0, &stop_signal};
    catch_signals();
    long stopped_at = 0;
    rc = train_run(&c, &ctl, &stopped_at, err);
    if (rc == TRAIN_STOPPED) {
        fprintf(stderr, "scalerl train: stopped by %s after step %ld, checkpoint in %s/ckpt; resume with: scalerl train --config %s/config.txt\n",
                signal_name(stop_signal), stopped_at, c.out, c.out);
        return 128 + stop_signal;
    }
    if (rc) return report_error("train", rc, err);
    return 0;
}
