/* The sweep's local scheduler: every unfinished run as a `scalerl train` subprocess, at most
 * `jobs` at once, each holding its run directory's lock.
 *
 * Signals without global state: SIGCHLD, SIGINT, SIGTERM and SIGHUP are blocked and taken
 * synchronously with sigwaitinfo/sigtimedwait in the one loop that also starts and reaps
 * children. Children get the original signal mask back before exec. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ref/common/jsonl.h"
#include "ref/cli/sweep.h"
#include "ref/rl/resume.h"
#include "ref/common/util.h"

/* While runs are locked by another process, how often to look again. */
#define BUSY_POLL_S 1
/* Seconds between lines that show the running runs' steps. */
#define REPORT_EVERY_S 60.0
/* How long stopped trains get between SIGTERM and SIGKILL. */
#define STOP_GRACE_S 5.0

typedef enum { JOB_TODO, JOB_BUSY, JOB_RUNNING, JOB_DONE, JOB_SKIPPED, JOB_FAILED } JobState;

typedef struct {
    JobState st;
    pid_t pid;
    int lock;       /* the sweep's copy of the run's lock while it runs */
    double t_start;
    int busy_said;  /* the "locked by" line was printed */
} Job;

typedef struct {
    const SweepGrid *g;
    const char *exe;
    char threads_word[32]; /* "threads=T", or "" when the user gave threads= */
    sigset_t old_mask;
    Job *job;
    double t0, last_report;
    int to_run, done, failed, running, elsewhere;
} Sweep;

static double elapsed(const Sweep *s)
{
    return wall_seconds() - s->t0;
}

static void say(const Sweep *s, const char *verb, const SweepRun *r, const char *detail)
{
    fprintf(stderr, "[%7.1fs] %-6s %s%s (%d running; %d of %d done, %d failed)\n", elapsed(s), verb, r->name, detail,
            s->running, s->done, s->to_run, s->failed);
}

/* The last nonempty line of the run's train.log, for a failure message. */
static void last_log_line(const SweepRun *r, char *buf, size_t n)
{
    char path[OPT_STR_LEN + 64], line[1024];
    snprintf(path, sizeof path, "%s/train.log", r->dir);
    snprintf(buf, n, "(train.log is empty)");
    FILE *f = fopen(path, "r");
    if (!f) return;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (line[0]) snprintf(buf, n, "%.200s", line);
    }
    fclose(f);
}

static void fail_run(Sweep *s, int i, const char *why)
{
    s->job[i].st = JOB_FAILED;
    s->failed++;
    char detail[ERR_LEN + 64];
    snprintf(detail, sizeof detail, ": %s", why);
    say(s, "FAILED", &s->g->runs[i], detail);
}

/* Starts run i: 0 started (or found finished by someone else), 1 locked by another process. A
 * run that cannot be started is marked failed. */
static int launch(Sweep *s, int i)
{
    const SweepRun *r = &s->g->runs[i];
    Job *j = &s->job[i];
    char err[ERR_LEN], holder[128], why[256];
    int lock = -1, rc = sweep_lock(r, &lock, holder, sizeof holder, err);
    if (rc == 1) {
        if (!j->busy_said) {
            char detail[200];
            snprintf(detail, sizeof detail, ": locked by pid/host '%s'; waiting for it", holder);
            say(s, "busy", r, detail);
            j->busy_said = 1;
        }
        j->st = JOB_BUSY;
        return 1;
    }
    if (rc) {
        fail_run(s, i, err);
        return 0;
    }
    /* Another sweep may have finished it since we looked. */
    const RunState state = sweep_run_state(r, why, sizeof why);
    if (state == RUN_FINISHED) {
        close(lock);
        j->st = JOB_SKIPPED;
        s->elsewhere++;
        s->to_run--;
        say(s, "found", r, " finished by another process");
        return 0;
    }
    char log_path[OPT_STR_LEN + 64];
    snprintf(log_path, sizeof log_path, "%s/train.log", r->dir);
    int log = -1, null_in = -1;
    /* An unfinished run of this config with checkpoints is left to train (ref/rl/resume.h), its log
     * continued: train resumes it, or refuses it when none is valid; anything else starts from
     * nothing. */
    const int resume = state == RUN_INCOMPLETE && resume_found(r->dir) > 0;
    if ((rc = resume ? 0 : sweep_run_clear(r, err)) == 0) {
        log = open(log_path, O_WRONLY | O_CREAT | (resume ? O_APPEND : O_TRUNC) | O_CLOEXEC, 0644);
        null_in = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (log < 0 || null_in < 0) {
            snprintf(err, ERR_LEN, "cannot open '%s': %s", log < 0 ? log_path : "/dev/null", strerror(errno));
            rc = 2;
        }
    }
    /* argv: scalerl train WORDS... [threads=T] */
    char **argv = rc ? NULL : calloc((size_t)r->argc + 4, sizeof *argv);
    if (!rc && !argv) {
        snprintf(err, ERR_LEN, "out of memory");
        rc = 2;
    }
    pid_t pid = -1;
    if (!rc) {
        int k = 0;
        argv[k++] = "scalerl";
        argv[k++] = "train";
        for (int w = 0; w < r->argc; w++) argv[k++] = r->argv[w];
        if (s->threads_word[0]) argv[k++] = s->threads_word;
        argv[k] = NULL;
        fflush(stdout);
        fflush(stderr);
        pid = fork();
        if (pid < 0) {
            snprintf(err, ERR_LEN, "cannot start a process: %s", strerror(errno));
            rc = 2;
        }
    }
    if (pid == 0) {
        /* The child keeps the lock through its own descriptor (dup drops close-on-exec); the
         * other runs' lock descriptors close at exec. */
        if (dup(lock) < 0 || dup2(null_in, 0) < 0 || dup2(log, 1) < 0 || dup2(log, 2) < 0) _exit(127);
        sigprocmask(SIG_SETMASK, &s->old_mask, NULL);
        execv(s->exe, argv);
        dprintf(2, "scalerl sweep: cannot run '%s': %s\n", s->exe, strerror(errno));
        _exit(127);
    }
    free(argv);
    if (log >= 0) close(log);
    if (null_in >= 0) close(null_in);
    if (rc) {
        close(lock);
        fail_run(s, i, err);
        return 0;
    }
    j->st = JOB_RUNNING;
    j->pid = pid;
    j->lock = lock;
    j->t_start = wall_seconds();
    s->running++;
    say(s, "start", r, "");
    return 0;
}

/* Records the end of the run whose process ended with wait status st. */
static void finish(Sweep *s, int i, int st)
{
    const SweepRun *r = &s->g->runs[i];
    Job *j = &s->job[i];
    char why[256], detail[ERR_LEN + 128], last[256];
    s->running--;
    double took = wall_seconds() - j->t_start;
    RunState state = sweep_run_state(r, why, sizeof why);
    close(j->lock); /* after the state check, so that no one starts it again in between */
    j->lock = -1;
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0 && state == RUN_FINISHED) {
        j->st = JOB_DONE;
        s->done++;
        double eta = s->done < s->to_run ? elapsed(s) / s->done * (s->to_run - s->done) : 0;
        snprintf(detail, sizeof detail, " in %.1fs", took);
        if (eta >= 1) snprintf(detail + strlen(detail), sizeof detail - strlen(detail), ", about %.0fs to go", eta);
        say(s, "done", r, detail);
        return;
    }
    last_log_line(r, last, sizeof last);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
        snprintf(detail, sizeof detail, "exit 0 after %.1fs but the run is not finished (%s)", took, why);
    else if (WIFEXITED(st))
        snprintf(detail, sizeof detail, "exit %d after %.1fs: %s (see %s/train.log)", WEXITSTATUS(st), took, last,
                 r->dir);
    else
        snprintf(detail, sizeof detail, "killed by signal %d after %.1fs: %s (see %s/train.log)", WTERMSIG(st), took,
                 last, r->dir);
    fail_run(s, i, detail);
}

/* The step of the last complete "kind":"step" row of the run's metrics.jsonl (0 when none). */
static long last_step(const SweepRun *r)
{
    char path[OPT_STR_LEN + 64], line[4096], err[ERR_LEN];
    snprintf(path, sizeof path, "%s/metrics.jsonl", r->dir);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    /* Rows are short next to this tail; a cut first line just fails to parse. */
    if (fseek(f, -(long)sizeof line, SEEK_END) != 0) rewind(f);
    long step = 0;
    JsonObj *o = malloc(sizeof *o);
    while (o && fgets(line, sizeof line, f)) {
        double v;
        const char *kind;
        if (strchr(line, '\n') && jsonl_parse(line, o, err) == 0 && (kind = jsonl_str(o, "kind")) &&
            strcmp(kind, "step") == 0 && jsonl_num(o, "step", &v))
            step = (long)v;
    }
    free(o);
    fclose(f);
    return step;
}

/* The steps= of the run's resolved config. */
static long config_steps(const SweepRun *r)
{
    const char *p = strstr(r->config, "\nsteps=");
    return p ? atol(p + 7) : 0;
}

static void report_running(Sweep *s)
{
    fprintf(stderr, "[%7.1fs] steps:", elapsed(s));
    for (int i = 0; i < s->g->n; i++)
        if (s->job[i].st == JOB_RUNNING)
            fprintf(stderr, " %s %ld/%ld", s->g->runs[i].name, last_step(&s->g->runs[i]), config_steps(&s->g->runs[i]));
    fprintf(stderr, " (%d of %d done)\n", s->done, s->to_run);
    s->last_report = wall_seconds();
}

static int job_of(const Sweep *s, pid_t pid)
{
    for (int i = 0; i < s->g->n; i++)
        if (s->job[i].st == JOB_RUNNING && s->job[i].pid == pid) return i;
    return -1;
}

static void reap(Sweep *s)
{
    int st;
    pid_t pid;
    while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
        int i = job_of(s, pid);
        if (i >= 0) finish(s, i, st);
    }
}

/* After a stop signal: SIGTERM to every running train, SIGKILL to those still alive after
 * STOP_GRACE_S, and every one waited for, so that no train outlives the sweep unseen. */
static void stop_all(Sweep *s)
{
    for (int i = 0; i < s->g->n; i++)
        if (s->job[i].st == JOB_RUNNING) kill(s->job[i].pid, SIGTERM);
    double t_end = wall_seconds() + STOP_GRACE_S;
    int killed = 0;
    while (s->running > 0) {
        int st;
        pid_t pid = waitpid(-1, &st, WNOHANG);
        if (pid > 0) {
            int i = job_of(s, pid);
            if (i < 0) continue;
            s->job[i].st = JOB_FAILED;
            close(s->job[i].lock);
            s->running--;
            fprintf(stderr, "[%7.1fs] stopped %s\n", elapsed(s), s->g->runs[i].name);
            continue;
        }
        if (pid < 0 && errno != EINTR) break; /* no children left */
        if (!killed && wall_seconds() > t_end) {
            for (int i = 0; i < s->g->n; i++)
                if (s->job[i].st == JOB_RUNNING) kill(s->job[i].pid, SIGKILL);
            killed = 1;
        }
        struct timespec nap = {0, 20 * 1000 * 1000};
        nanosleep(&nap, NULL);
    }
}

/* SIGCHLD's default action is to ignore it; a handler makes sure it is queued while blocked. It
 * never runs, since the signal stays blocked and is taken by sigwaitinfo. */
static void on_child(int sig)
{
    (void)sig;
}

static const char *stop_signal_name(int sig)
{
    return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : sig == SIGHUP ? "SIGHUP" : "a signal";
}

/* The signals that stop a sweep, plus SIGCHLD (a run ended) when with_child: one definition for
 * the set blocked at the start and the sets waited for, which must agree. */
static void sweep_signals(sigset_t *set, int with_child)
{
    sigemptyset(set);
    if (with_child) sigaddset(set, SIGCHLD);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGHUP);
}

static int schedule(Sweep *s, int jobs, char *err)
{
    const SweepGrid *g = s->g;
    sigset_t waitset;
    sweep_signals(&waitset, 1);
    for (;;) {
        int pending = 0, busy = 0;
        for (int i = 0; i < g->n && s->running < jobs; i++)
            if (s->job[i].st == JOB_TODO) launch(s, i);
        for (int i = 0; i < g->n; i++) {
            pending += s->job[i].st == JOB_TODO;
            busy += s->job[i].st == JOB_BUSY;
        }
        if (s->running == 0 && pending == 0 && busy == 0) return 0;
        /* Wake up for SIGCHLD or a stop signal; also to retry busy runs and to report steps. */
        double wait = busy ? BUSY_POLL_S : -1;
        if (s->running > 0) {
            double to_report = s->last_report + REPORT_EVERY_S - wall_seconds();
            if (to_report <= 0) {
                report_running(s);
                to_report = REPORT_EVERY_S;
            }
            if (wait < 0 || to_report < wait) wait = to_report;
        }
        siginfo_t info;
        struct timespec ts = {(time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9)};
        int sig = wait >= 0 ? sigtimedwait(&waitset, &info, &ts) : sigwaitinfo(&waitset, &info);
        if (sig < 0 && errno != EAGAIN && errno != EINTR) {
            snprintf(err, ERR_LEN, "waiting for runs: %s", strerror(errno));
            stop_all(s);
            return 2;
        }
        if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP) {
            fprintf(stderr, "[%7.1fs] %s: stopping %d running run(s); they count as unfinished\n", elapsed(s),
                    stop_signal_name(sig), s->running);
            stop_all(s);
            snprintf(err, ERR_LEN, "interrupted by %s after %d of %d runs", stop_signal_name(sig), s->done, s->to_run);
            return 128 + sig;
        }
        reap(s);
        for (int i = 0; i < g->n; i++)
            if (s->job[i].st == JOB_BUSY) s->job[i].st = JOB_TODO;
    }
}

int sweep_execute(const SweepGrid *g, const char *exe, int jobs, char *err)
{
    Sweep s;
    memset(&s, 0, sizeof s);
    s.g = g;
    s.exe = exe;
    s.t0 = s.last_report = wall_seconds();
    s.job = calloc((size_t)g->n, sizeof *s.job);
    if (!s.job) {
        snprintf(err, ERR_LEN, "out of memory for %d runs", g->n);
        return 2;
    }
    int earlier = 0;
    char why[256];
    for (int i = 0; i < g->n; i++) {
        s.job[i].lock = -1;
        int fin = sweep_run_state(&g->runs[i], why, sizeof why) == RUN_FINISHED;
        s.job[i].st = fin ? JOB_SKIPPED : JOB_TODO;
        earlier += fin;
    }
    s.to_run = g->n - earlier;
    int at_once = jobs < s.to_run ? jobs : s.to_run;
    int cores = sweep_usable_cores();
    if (!g->user_threads && at_once > 0)
        snprintf(s.threads_word, sizeof s.threads_word, "threads=%d", cores / at_once > 1 ? cores / at_once : 1);
    if (s.to_run == 0) {
        fprintf(stderr, "sweep: %d runs (%d recipes x %d seeds), all finished earlier: nothing to run\n", g->n,
                g->n_recipes, g->n_seeds);
        free(s.job);
        return 0;
    }
    /* Made here, so that a sweep directory that cannot exist fails the sweep as an I/O error, not
     * every run as a failed train. */
    int rc = mkdir_p(g->out, err);
    if (rc) {
        free(s.job);
        return rc;
    }

    fprintf(stderr, "sweep: %d runs (%d recipes x %d seeds), %d finished earlier, %d to run, %d at a time%s%s\n",
            g->n, g->n_recipes, g->n_seeds, earlier, s.to_run, at_once, s.threads_word[0] ? ", " : "",
            s.threads_word);
    sigset_t block;
    sweep_signals(&block, 1);
    struct sigaction sa, old_sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_child;
    sigemptyset(&sa.sa_mask);
    if (sigprocmask(SIG_BLOCK, &block, &s.old_mask) != 0 || sigaction(SIGCHLD, &sa, &old_sa) != 0) {
        snprintf(err, ERR_LEN, "cannot set up signals: %s", strerror(errno));
        free(s.job);
        return 2;
    }
    rc = schedule(&s, jobs, err);
    /* A stop signal that arrived as the last run ended still stops the sweep, with its code. */
    struct timespec now = {0, 0};
    siginfo_t info;
    sigset_t stops;
    sweep_signals(&stops, 0);
    int late = rc ? -1 : sigtimedwait(&stops, &info, &now);
    if (late > 0) {
        snprintf(err, ERR_LEN, "interrupted by %s", stop_signal_name(late));
        rc = 128 + late;
    }
    sigaction(SIGCHLD, &old_sa, NULL);
    sigprocmask(SIG_SETMASK, &s.old_mask, NULL);
    if (rc == 0) {
        fprintf(stderr, "sweep: %d of %d runs done in %.1fs (%d finished earlier%s), %d failed\n", s.done, s.to_run,
                elapsed(&s), earlier, s.elsewhere ? ", more by another process" : "", s.failed);
        if (s.failed) {
            snprintf(err, ERR_LEN, "%d of %d runs failed (their FAILED lines above say why)", s.failed, s.to_run);
            rc = 1;
        }
    }
    free(s.job);
    return rc;
}
