/* scalerl train: one RL run. */
#include <stdio.h>
#include <string.h>

#include "ref/args.h"
#include "ref/commands.h"
#include "ref/recipe.h"
#include "ref/train.h"
#include "ref/util.h"

int cmd_train(int argc, char **argv)
{
    char err[ERR_LEN];
    Args a;
    int rc = args_parse(&a, "train", argc, argv, err);
    if (rc) return report_error("train", rc, err);
    if (a.help) {
        printf("usage: scalerl train base=CKPT out=DIR [recipe=NAME] [key=value ...] [--config FILE]\n\n"
               "RL of a base model on a task; writes DIR/config.txt, DIR/metrics.jsonl, DIR/final.ckpt.\n"
               "Keys resolve as: defaults < recipe preset < --config FILE < command line.\n"
               "recipe=list prints the presets.\n\nkeys:\n");
        opts_help(train_options(), stdout);
        return 0;
    }
    const char *r = args_get(&a, "recipe");
    if (r && strcmp(r, "list") == 0) {
        recipe_list(stdout);
        return 0;
    }
    TrainConfig c;
    if ((rc = recipe_resolve(&c, &a, err)) || (rc = args_check_unused(&a, err))) return report_error("train", rc, err);
    if (a.n_pos > 0) {
        snprintf(err, ERR_LEN, "unexpected argument '%s' (expected key=value)", a.pos[0]);
        return report_error("train", 1, err);
    }
    if ((rc = train_run(&c, err))) return report_error("train", rc, err);
    return 0;
}
