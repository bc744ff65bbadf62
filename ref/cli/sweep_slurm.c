/* `scalerl sweep ... print=slurm`: the grid's unfinished runs as a Slurm job array and a
 * compare-and-report job after it (ref/cli/sweep.h). The script is plain bash around two sbatch
 * calls, each reading its job script from a quoted here-document, so what runs on the cluster is
 * in the one file for a reader to check before submitting. */
#include <stdlib.h>
#include <string.h>

#include "ref/cli/sweep.h"
#include "ref/common/util.h"

/* The grid's threads= (every run has the same extra keys), or 0 when not given. */
static long grid_threads(const SweepGrid *g)
{
    const SweepRun *r = &g->runs[0];
    for (int i = 0; i < r->argc; i++)
        if (strncmp(r->argv[i], "threads=", 8) == 0) return atol(r->argv[i] + 8);
    return 0;
}

/* "DIR/NAME" as one shell word. */
static void shell_path(FILE *f, const char *dir, const char *name)
{
    char buf[OPT_STR_LEN + 64];
    snprintf(buf, sizeof buf, "%s/%s", dir, name);
    sweep_shell_word(f, buf);
}

int sweep_print_slurm(FILE *f, const SweepGrid *g, const char *exe, const char *out, const char *cwd, char *err)
{
    char why[256];
    int *todo = malloc(sizeof *todo * (size_t)(g->n > 0 ? g->n : 1)), n = 0;
    if (!todo) {
        snprintf(err, ERR_LEN, "out of memory");
        return 2;
    }
    for (int i = 0; i < g->n; i++)
        if (sweep_run_state(&g->runs[i], why, sizeof why) != RUN_FINISHED) todo[n++] = i;
    long threads = grid_threads(g);
    /* threads=0 means every core the process may use; on a cluster that is the allocation, so
     * ask for one core unless told. */
    long cpus = threads > 0 ? threads : 1;

    fprintf(f, "#!/usr/bin/env bash\n"
               "# Written by `scalerl sweep ... print=slurm`: %d of the %d runs (%d recipes x %d seeds) under %s\n"
               "# are unfinished. Run this file with bash where sbatch works; words after it go to both sbatch\n"
               "# calls (e.g. --partition=P --time=1:00:00). It submits one job array, a task per unfinished\n"
               "# run on %ld core%s, each train's output in its run directory's train.log; then a job that, once\n"
               "# every task has ended, writes compare.txt and report.html in the sweep directory. After a\n"
               "# partial run, write this file again: it lists only the runs still unfinished.\n"
               "set -euo pipefail\n",
            n, g->n, g->n_recipes, g->n_seeds, out, cpus, cpus > 1 ? "s" : "");
    fprintf(f, "cd ");
    sweep_shell_word(f, cwd);
    fprintf(f, "\n");
    if (n == 0) {
        fprintf(f, "echo \"every run of the sweep is finished: nothing to submit\"\n");
        free(todo);
        return flush_stdout(err);
    }
    fprintf(f, "mkdir -p ");
    sweep_shell_word(f, out);
    fprintf(f, "\n");
    fprintf(f, "array=$(sbatch --parsable --job-name=scalerl-sweep --array=0-%d --cpus-per-task=%ld --chdir=", n - 1,
            cpus);
    sweep_shell_word(f, cwd);
    fprintf(f, " \\\n  --output=");
    shell_path(f, out, "slurm-%A_%a.out");
    fprintf(f, " \"$@\" <<'SCALERL_TASKS'\n"
               "#!/usr/bin/env bash\n"
               "set -u\n"
               "case $SLURM_ARRAY_TASK_ID in\n");
    for (int t = 0; t < n; t++) {
        const SweepRun *r = &g->runs[todo[t]];
        fprintf(f, "%d) run=", t);
        sweep_shell_word(f, r->dir);
        fprintf(f, "; cmd=(");
        sweep_print_words(f, exe, r);
        if (!threads) fprintf(f, " threads=1");
        fprintf(f, ") ;;\n");
    }
    fprintf(f, "*) echo \"no run for array task $SLURM_ARRAY_TASK_ID\" >&2; exit 1 ;;\n"
               "esac\n"
               "mkdir -p \"$run\"\n"
               "# The run's lock, as `scalerl sweep` takes it: no run is trained by two processes at once.\n"
               "exec 9>>\"$run/.sweep.lock\"\n"
               "if ! flock -n 9; then echo \"$run is locked by another process ($(cat \"$run/.sweep.lock\")); not started\" >&2; exit 1; fi\n"
               "echo \"$$ $(hostname)\" >\"$run/.sweep.lock\"\n"
               "exec \"${cmd[@]}\" skip_done=1 >\"$run/train.log\" 2>&1\n"
               "SCALERL_TASKS\n"
               ")\n"
               "array=${array%%%%;*}\n"
               "after=$(sbatch --parsable --job-name=scalerl-compare --dependency=afterany:$array --chdir=");
    sweep_shell_word(f, cwd);
    fprintf(f, " \\\n  --output=");
    shell_path(f, out, "compare-%j.out");
    fprintf(f, " \"$@\" <<'SCALERL_AFTER'\n"
               "#!/usr/bin/env bash\n"
               "set -u\n"
               "rc=0\n");
    sweep_shell_word(f, exe);
    fprintf(f, " compare ");
    sweep_shell_word(f, out);
    fprintf(f, " >");
    shell_path(f, out, "compare.txt");
    fprintf(f, " || rc=1\n");
    sweep_shell_word(f, exe);
    fprintf(f, " report ");
    sweep_shell_word(f, out);
    fprintf(f, " out=");
    shell_path(f, out, "report.html");
    fprintf(f, " || rc=1\n"
               "exit $rc\n"
               "SCALERL_AFTER\n"
               ")\n"
               "echo \"submitted job array $array (%d run%s) and job ${after%%%%;*} (compare and report, after the array)\"\n",
            n, n > 1 ? "s" : "");
    free(todo);
    return flush_stdout(err);
}
