#include "ref/cli/commands.h"

#include <stdio.h>

#include "ref/common/util.h"

int command_args(const CommandSpec *cs, Args *a, void *cfg, int argc, char **argv, int *exit_code)
{
    char err[ERR_LEN];
    int rc = args_parse(a, cs->name, argc, argv, err);
    if (!rc && a->help) {
        printf("%s", cs->usage);
        if (cs->opts[0].key) {
            printf("\nkeys:\n");
            opts_help(cs->opts, stdout);
        }
        rc = flush_stdout(err);
        *exit_code = rc ? report_error(cs->name, rc, err) : 0;
        return 0;
    }
    if (!rc && !(cs->flags & CMD_OWN_KEYS)) {
        rc = opts_apply(cs->opts, cfg, a, err);
        if (!rc && !(cs->flags & CMD_MORE_KEYS)) rc = args_check_unused(a, err);
    }
    if (!rc && a->n_pos > 0 && !(cs->flags & CMD_POSITIONAL)) {
        snprintf(err, ERR_LEN, "unexpected argument '%.80s' (expected key=value%s%s)", a->pos[0],
                 cs->key_hint ? "; " : "", cs->key_hint ? cs->key_hint : "");
        rc = 1;
    }
    *exit_code = rc ? report_error(cs->name, rc, err) : 0;
    return !rc;
}
