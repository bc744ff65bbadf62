/* scalerl train: one RL run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ref/common/args.h"
#include "ref/cli/commands.h"
#include "ref/rl/recipe.h"
#include "ref/cli/sweep.h"
#include "ref/rl/train.h"
#include "ref/common/util.h"

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
    if (skip && strcmp(skip, "1") == 0) {
        char *want = run_config_text(&c), why[256];
        RunState st = want ? run_dir_state(c.out, want, why, sizeof why) : RUN_ABSENT;
        free(want);
        if (st == RUN_FINISHED) {
            fprintf(stderr, "scalerl train: %s is a finished run of this config; skipping (skip_done=1)\n", c.out);
            return 0;
        }
    }
    if ((rc = train_run(&c, err))) return report_error("train", rc, err);
    return 0;
}
