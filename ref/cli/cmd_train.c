/* scalerl train: one RL run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ref/common/args.h"
#include "ref/cli/commands.h"
#include "ref/rl/recipe.h"
#include "ref/common/runfiles.h"
#include "ref/rl/train.h"
#include "ref/common/util.h"

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

int cmd_train(int argc, char **argv)
{
    /* The keys resolve through the recipe preset (recipe_resolve), not straight from the table. */
    const CommandSpec spec = {
        "train",
        "usage: scalerl train base=CKPT out=DIR [recipe=NAME] [key=value ...] [--config FILE]\n\n"
        "RL of a base model on a task; writes DIR/config.txt, DIR/metrics.jsonl, DIR/final.ckpt.\n"
        "Keys resolve as: defaults < recipe preset < --config FILE < command line.\n"
        "recipe=list prints the presets. One train at a time owns DIR (DIR/.run.lock). A finished\n"
        "run of the same config in DIR is left alone; overwrite=1 runs it again, and is needed to\n"
        "replace a run of another config.\n",
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
    /* overwrite=1: replace whatever run DIR holds. skip_done=1 is the default now; skip_done=0, from
     * the time a rerun replaced any run silently, means overwrite=1. */
    int overwrite, skip_done;
    if ((rc = flag_key(&a, "overwrite", 0, &overwrite, err)) || (rc = flag_key(&a, "skip_done", 1, &skip_done, err)))
        return report_error("train", rc, err);
    TrainConfig c;
    if ((rc = recipe_resolve(&c, &a, err)) || (rc = args_check_unused(&a, err))) return report_error("train", rc, err);
    if (!overwrite && skip_done) {
        char *want = run_config_text(&c), why[256];
        RunState st = want ? run_dir_state(c.out, want, why, sizeof why) : RUN_ABSENT;
        free(want);
        if (st == RUN_FINISHED) {
            fprintf(stderr, "scalerl train: '%s' is a finished run of this config; nothing to do (overwrite=1 runs it "
                            "again)\n", c.out);
            return 0;
        }
    }
    if ((rc = train_run(&c, overwrite || !skip_done, err))) return report_error("train", rc, err);
    return 0;
}
