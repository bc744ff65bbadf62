/* scalerl sweep: a grid of recipes x seeds, run here as subprocesses, printed as one `scalerl
 * train` command per run (for GNU parallel, over SSH hosts too), or printed as a script that
 * submits the unfinished runs to Slurm (ref/cli/sweep.h says what a finished run is). */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ref/common/args.h"
#include "ref/cli/commands.h"
#include "ref/cli/sweep.h"
#include "ref/common/util.h"

typedef enum { PRINT_NONE, PRINT_COMMANDS, PRINT_PENDING, PRINT_STATUS, PRINT_SLURM } PrintMode;
#define PRINT_CHOICES "none|commands|pending|status|slurm"

typedef struct {
    char recipes[OPT_STR_LEN];
    char seeds[OPT_STR_LEN];
    char out[OPT_STR_LEN];
    long jobs;
    int print; /* PrintMode */
} SweepConfig;

#define F(field) offsetof(SweepConfig, field)
static const OptSpec sweep_opts[] = {
    {"recipes", OPT_STR, F(recipes), NULL, 0, 0, NULL, "comma-separated presets (scalerl train recipe=list), each optionally PRESET+key=value+..."},
    {"seeds", OPT_STR, F(seeds), "1", 0, 0, NULL, "N: seeds 1..N; A-B: seeds A..B"},
    {"out", OPT_STR, F(out), NULL, 0, 0, NULL, "sweep directory; run R, seed S goes to OUT/R-sS/"},
    {"jobs", OPT_INT, F(jobs), "1", 1, 1024, NULL, "runs at once (threads per run: cores / jobs unless threads= given)"},
    {"print", OPT_CHOICE, F(print), "none", 0, 0, PRINT_CHOICES,
     "none: run the grid here; commands: one train command per run (e.g. for GNU parallel); pending: those not "
     "finished; status: each run's state; slurm: a bash script submitting the unfinished runs as a Slurm job array, "
     "then compare and report"},
    {NULL, 0, 0, NULL, 0, 0, NULL, NULL},
};
#undef F

/* The absolute path of this program, so that subprocesses and printed commands run the very
 * binary the user ran. */
static int own_executable(char *buf, size_t n, char *err)
{
    ssize_t len = readlink("/proc/self/exe", buf, n - 1);
    if (len <= 0 || (size_t)len >= n - 1) {
        snprintf(err, ERR_LEN, "cannot find this program's path in /proc/self/exe: %s",
                 len < 0 ? strerror(errno) : "path too long");
        return 2;
    }
    buf[len] = 0;
    return 0;
}

static int print_grid(const SweepGrid *g, const char *exe, int mode, char *err)
{
    char why[256];
    int counts[RUN_FINISHED + 1] = {0};
    for (int i = 0; i < g->n; i++) {
        const SweepRun *r = &g->runs[i];
        RunState st = mode == PRINT_COMMANDS ? RUN_ABSENT : sweep_run_state(r, why, sizeof why);
        counts[st]++;
        if (mode == PRINT_COMMANDS || (mode == PRINT_PENDING && st != RUN_FINISHED)) {
            sweep_print_command(stdout, exe, r);
        } else if (mode == PRINT_STATUS) {
            int running = st != RUN_FINISHED && sweep_locked(r);
            printf("%-24s %-10s %s%s\n", r->name, running ? "running" : sweep_state_name(st), why,
                   running ? " (locked by a live process)" : "");
        }
    }
    if (mode == PRINT_STATUS)
        fprintf(stderr, "sweep: %d runs: %d finished, %d incomplete, %d stale, %d absent\n", g->n,
                counts[RUN_FINISHED], counts[RUN_INCOMPLETE], counts[RUN_STALE], counts[RUN_ABSENT]);
    return flush_stdout(err);
}

static int sweep_main(Args *a, int argc, char **argv, char *err)
{
    /* The keys outside sweep_opts are train's: sweep_grid_build checks them and hands them to every run. */
    static const CommandSpec spec = {
        "sweep",
        "usage: scalerl sweep recipes=A,B,... out=DIR [seeds=N] [jobs=J] [print=MODE] [train key=value ...]\n\n"
        "Runs `scalerl train` for every recipe and seed, into DIR/<recipe>-s<seed>/ (what\n"
        "`scalerl compare DIR` reads). Finished runs (same config, final row and final.ckpt present)\n"
        "are skipped, anything else restarted from scratch; each run's output goes to its train.log.\n"
        "Every other key=value (base=, task=, steps=, ...) goes to every run. A recipe changed by keys\n"
        "is an entry PRESET+key=value+...: e.g. recipes=scalerl,scalerl+lr=1e-4 runs the preset with\n"
        "lr=1e-4 into DIR/scalerl+lr=1e-4-s<seed>/, labelled so that compare tells it from the preset.\n",
        sweep_opts, CMD_MORE_KEYS, NULL};
    char exe[4096];
    SweepConfig c;
    int rc;
    if (!command_args(&spec, a, &c, argc, argv, &rc)) return rc;
    SweepGrid g;
    /* Listing commands or what is pending does not need the base yet: `make findings
     * print=commands` lists the pretrain that makes it first. Running, or a Slurm script, does. */
    const int need_base = c.print == PRINT_NONE || c.print == PRINT_SLURM;
    if ((rc = sweep_grid_build(&g, c.recipes, c.seeds, c.out, a, need_base, err))) return report_error("sweep", rc, err);
    if ((rc = own_executable(exe, sizeof exe, err))) {
        sweep_grid_free(&g);
        return report_error("sweep", rc, err);
    }
    if (c.print == PRINT_SLURM) {
        char cwd[4096];
        if (!getcwd(cwd, sizeof cwd)) {
            snprintf(err, ERR_LEN, "cannot read the current directory: %s", strerror(errno));
            rc = 2;
        } else {
            rc = sweep_print_slurm(stdout, &g, exe, c.out, cwd, err);
        }
    } else {
        rc = c.print != PRINT_NONE ? print_grid(&g, exe, c.print, err) : sweep_execute(&g, exe, (int)c.jobs, err);
    }
    if (rc) report_error("sweep", rc, err);
    sweep_grid_free(&g);
    return rc;
}

int cmd_sweep(int argc, char **argv)
{
    char err[ERR_LEN];
    Args *a = malloc(sizeof *a); /* about 280 KB: on the heap rather than the stack */
    if (!a) {
        snprintf(err, ERR_LEN, "out of memory");
        return report_error("sweep", 2, err);
    }
    int rc = sweep_main(a, argc, argv, err);
    free(a);
    return rc;
}
