/* scalerl: the command-line entry point. It only dispatches; the commands are in ref/cli/cmd_*.c
 * (commands.h says which file holds which). Before main runs, the program may have started itself
 * once more with GOMP_SPINCOUNT set (models/omp_env.c; models/README.md says why). */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "ref/cli/commands.h"
#include "ref/common/util.h"

typedef struct {
    const char *name;
    CommandFn fn;
    const char *summary;
} Command;

/* One line per command, in the order a new user meets them. */
static const Command commands[] = {
    {"pretrain", cmd_pretrain, "train the base model on worked solutions"},
    {"train", cmd_train, "RL-train a base model with a recipe; writes metrics.jsonl"},
    {"eval", cmd_eval, "validation pass rate of a checkpoint, with interval and pass@k"},
    {"sample", cmd_sample, "show validation prompts, sampled completions and rewards"},
    {"fit", cmd_fit, "fit the sigmoid compute-performance curve to runs' eval rows"},
    {"plot", cmd_plot, "draw runs' points and fitted curves as an SVG (and a text preview)"},
    {"compare", cmd_compare, "fit every run under a directory and classify recipes against a baseline"},
    {"report", cmd_report, "one HTML page of a run or a sweep: curve, recipe, signals, what RL changed"},
    {"fitbench", cmd_fitbench, "score curve fitters (built-in or any command) on a bank of runs"},
    {"sweep", cmd_sweep, "run a grid of recipes x seeds (or print its train commands for a cluster)"},
    {"get", cmd_get, "print fields of a JSON file (fit.json) through a template, for scripts"},
    {"synth", cmd_synth, "write a run directory of synthetic eval rows on a known curve"},
    {"init", cmd_init, "write a freshly initialized model as a checkpoint"},
    {"dump", cmd_dump, "write a checkpoint's tensors as .npy files and its config as JSON"},
    {"logits", cmd_logits, "print a checkpoint's next-token logits at every position of a text (CSV)"},
    {"version", cmd_version, "the build, the OpenBLAS kernels in use and the thread counts (for bug reports)"},
    {NULL, NULL, NULL},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: scalerl <command> [key=value ...] [--config FILE] [--help]\n\n"
               "ScaleRL at toy scale: RL on verifiable arithmetic, fitted compute-performance curves.\n\n"
               "commands:\n");
    for (const Command *c = commands; c->name; c++) fprintf(f, "  %-10s %s\n", c->name, c->summary);
    fprintf(f, "\n`scalerl <command> --help` lists a command's keys, defaults and accepted values.\n");
}

int main(int argc, char **argv)
{
    /* A file-size limit (ulimit -f) then fails the write with EFBIG, which the writer reports
     * naming the file, like a full disk, instead of killing the process with a core dump. */
    signal(SIGXFSZ, SIG_IGN);
    if (argc < 2) {
        usage(stderr);
        return 1;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        char err[ERR_LEN];
        if (flush_stdout(err)) {
            fprintf(stderr, "scalerl: %s\n", err);
            return 2;
        }
        return 0;
    }
    for (const Command *c = commands; c->name; c++)
        if (strcmp(argv[1], c->name) == 0) return c->fn(argc - 2, argv + 2);
    fprintf(stderr, "scalerl: unknown command '%s' (expected one of:", argv[1]);
    for (const Command *c = commands; c->name; c++) fprintf(stderr, " %s", c->name);
    fprintf(stderr, "; see scalerl --help)\n");
    return 1;
}
