/* command_args, the start every scalerl command shares: --help text, keys applied and checked,
 * stray words refused (or kept, per flag), exit codes and the exact one-line errors, with what
 * the function prints on stdout and stderr captured. */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ref/cli/commands.h"
#include "tests/test.h"

typedef struct {
    long n;
    char name[OPT_STR_LEN];
} DemoConfig;

static const OptSpec demo_opts[] = {
    {"n", OPT_INT, offsetof(DemoConfig, n), "3", 1, 10, NULL, "a count"},
    {"name", OPT_STR, offsetof(DemoConfig, name), NULL, 0, 0, NULL, "a required name"},
    {NULL, 0, 0, NULL, 0, 0, NULL, NULL},
};

#define DEMO_USAGE "usage: scalerl demo name=X [n=N]\n\nA command for tests.\n"

/* One call's outcome: the return value, the exit code and what went to stdout and stderr. */
typedef struct {
    int go_on, exit_code;
    char out[4096], err[1024];
} Outcome;

static int line_count(const char *s)
{
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

/* Reads what fd-level redirection left in f into buf. */
static void slurp(FILE *f, char *buf, size_t cap)
{
    rewind(f);
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = 0;
}

static FILE *redirect(int fd, int *saved)
{
    FILE *f = tmpfile();
    if (!f) {
        perror("tmpfile");
        exit(2);
    }
    *saved = dup(fd);
    if (*saved < 0 || dup2(fileno(f), fd) < 0) {
        perror("dup");
        exit(2);
    }
    return f;
}

static void restore(int fd, int saved)
{
    if (dup2(saved, fd) < 0) {
        perror("dup2");
        exit(2);
    }
    close(saved);
}

/* Runs command_args on the words given (NULL-terminated), capturing stdout and stderr. */
static Outcome run(const CommandSpec *cs, Args *a, DemoConfig *c, const char *w0, ...)
{
    char *argv[16];
    int argc = 0;
    va_list ap;
    va_start(ap, w0);
    for (const char *w = w0; w && argc < 16; w = va_arg(ap, const char *)) argv[argc++] = (char *)w;
    va_end(ap);
    Outcome o;
    int so, se;
    fflush(stdout);
    fflush(stderr);
    FILE *fo = redirect(STDOUT_FILENO, &so), *fe = redirect(STDERR_FILENO, &se);
    o.go_on = command_args(cs, a, c, argc, argv, &o.exit_code);
    fflush(stdout);
    fflush(stderr);
    restore(STDOUT_FILENO, so);
    restore(STDERR_FILENO, se);
    slurp(fo, o.out, sizeof o.out);
    slurp(fe, o.err, sizeof o.err);
    fclose(fo);
    fclose(fe);
    return o;
}

static void test_keys(void)
{
    const CommandSpec cs = {"demo", DEMO_USAGE, demo_opts, 0, NULL};
    static Args a; /* about 280 KB */
    DemoConfig c;
    Outcome o = run(&cs, &a, &c, "name=x", "n=5", NULL);
    CHECK(o.go_on && o.exit_code == 0 && c.n == 5 && strcmp(c.name, "x") == 0 && !o.out[0] && !o.err[0],
          "keys are applied, silently", "go_on %d exit %d n %ld name '%s' err '%s'", o.go_on, o.exit_code, c.n,
          c.name, o.err);
    o = run(&cs, &a, &c, "name=x", NULL);
    CHECK(o.go_on && c.n == 3, "a key not given takes its default", "go_on %d n %ld", o.go_on, c.n);

    o = run(&cs, &a, &c, "name=x", "bogus=1", NULL);
    CHECK(!o.go_on && o.exit_code == 1 &&
              strcmp(o.err, "scalerl demo: unknown key 'bogus' for 'demo' (see: scalerl demo --help)\n") == 0,
          "an unknown key stops the command with exit 1 and one line naming it", "go_on %d exit %d err '%s'",
          o.go_on, o.exit_code, o.err);
    o = run(&cs, &a, &c, "name=x", "n=11", NULL);
    CHECK(!o.go_on && o.exit_code == 1 &&
              strcmp(o.err, "scalerl demo: bad value 11 for 'n': expected an integer in [1, 10]\n") == 0,
          "a value out of range: exit 1, the key and its range", "exit %d err '%s'", o.exit_code, o.err);
    o = run(&cs, &a, &c, "n=2", NULL);
    CHECK(!o.go_on && o.exit_code == 1 && strcmp(o.err, "scalerl demo: 'demo' needs name=... (a required name)\n") == 0,
          "a required key missing: exit 1, the key named", "exit %d err '%s'", o.exit_code, o.err);
    o = run(&cs, &a, &c, "name=x", "--config", "/nonexistent/scalerl-test.txt", NULL);
    CHECK(!o.go_on && o.exit_code == 2 && strstr(o.err, "cannot read config file") && line_count(o.err) == 1,
          "an unreadable --config file is an I/O error (exit 2), one line", "exit %d err '%s'", o.exit_code, o.err);
}

static void test_help(void)
{
    const CommandSpec cs = {"demo", DEMO_USAGE, demo_opts, 0, NULL};
    static Args a;
    DemoConfig c;
    /* --help wins over everything else on the line, a missing required key included. */
    Outcome o = run(&cs, &a, &c, "bogus=1", "--help", "extra", NULL);
    CHECK(!o.go_on && o.exit_code == 0 && !o.err[0], "--help stops the command with exit 0 and no error",
          "go_on %d exit %d err '%s'", o.go_on, o.exit_code, o.err);
    CHECK(strncmp(o.out, DEMO_USAGE "\nkeys:\n  n ", strlen(DEMO_USAGE) + 11) == 0 && strstr(o.out, "\n  name "),
          "--help prints the usage, a blank line, keys: and one line per key", "got '%s'", o.out);
}

static void test_positional(void)
{
    static Args a;
    DemoConfig c;
    const CommandSpec plain = {"demo", DEMO_USAGE, demo_opts, 0, NULL};
    Outcome o = run(&plain, &a, &c, "name=x", "extra", NULL);
    CHECK(!o.go_on && o.exit_code == 1 &&
              strcmp(o.err, "scalerl demo: unexpected argument 'extra' (expected key=value)\n") == 0,
          "a stray word is refused with exit 1", "exit %d err '%s'", o.exit_code, o.err);
    char long_word[200];
    memset(long_word, 'p', sizeof long_word - 1);
    long_word[sizeof long_word - 1] = 0;
    o = run(&plain, &a, &c, "name=x", long_word, NULL);
    CHECK(o.exit_code == 1 && strlen(o.err) == strlen("scalerl demo: unexpected argument '' (expected key=value)\n") + 80,
          "a long stray word is quoted up to 80 characters", "err '%s'", o.err);

    const CommandSpec hinted = {"demo", DEMO_USAGE, demo_opts, 0, "the directory is out=DIR"};
    o = run(&hinted, &a, &c, "name=x", "runs", NULL);
    CHECK(strcmp(o.err, "scalerl demo: unexpected argument 'runs' (expected key=value; the directory is out=DIR)\n") == 0,
          "key_hint is added to the refusal", "err '%s'", o.err);

    const CommandSpec dirs = {"demo", DEMO_USAGE, demo_opts, CMD_POSITIONAL, NULL};
    o = run(&dirs, &a, &c, "run1", "name=x", "run2", NULL);
    CHECK(o.go_on && a.n_pos == 2 && strcmp(a.pos[0], "run1") == 0 && strcmp(a.pos[1], "run2") == 0 && !o.err[0],
          "CMD_POSITIONAL keeps the words, in order", "go_on %d n_pos %d err '%s'", o.go_on, a.n_pos, o.err);
    o = run(&dirs, &a, &c, "run1", "name=x", "bogus=1", NULL);
    CHECK(o.exit_code == 1 && strstr(o.err, "unknown key 'bogus'"), "CMD_POSITIONAL still refuses unknown keys",
          "exit %d err '%s'", o.exit_code, o.err);
}

static void test_more_and_own_keys(void)
{
    static Args a;
    DemoConfig c;
    const CommandSpec more = {"demo", DEMO_USAGE, demo_opts, CMD_MORE_KEYS, NULL};
    Outcome o = run(&more, &a, &c, "name=x", "other=7", NULL);
    const char *other = o.go_on ? args_get(&a, "other") : NULL;
    CHECK(o.go_on && strcmp(c.name, "x") == 0 && other && strcmp(other, "7") == 0,
          "CMD_MORE_KEYS applies its keys and leaves the others to the command", "go_on %d other %s err '%s'",
          o.go_on, other ? other : "(none)", o.err);
    o = run(&more, &a, &c, "name=x", "other=7", "extra", NULL);
    CHECK(o.exit_code == 1 && strstr(o.err, "unexpected argument 'extra'"), "CMD_MORE_KEYS still refuses stray words",
          "exit %d err '%s'", o.exit_code, o.err);

    const CommandSpec own = {"demo", DEMO_USAGE, demo_opts, CMD_OWN_KEYS, NULL};
    c.n = -7;
    o = run(&own, &a, &c, "anything=1", NULL);
    CHECK(o.go_on && c.n == -7 && args_has(&a, "anything") && !o.err[0],
          "CMD_OWN_KEYS applies nothing and checks no key (the command does)", "go_on %d n %ld err '%s'", o.go_on,
          c.n, o.err);
    o = run(&own, &a, &c, "--help", NULL);
    CHECK(o.exit_code == 0 && strstr(o.out, "\n  name "), "CMD_OWN_KEYS: --help still lists the keys", "out '%s'",
          o.out);
    o = run(&own, &a, &c, "anything=1", "extra", NULL);
    CHECK(o.exit_code == 1 && strstr(o.err, "unexpected argument 'extra'"), "CMD_OWN_KEYS still refuses stray words",
          "exit %d err '%s'", o.exit_code, o.err);
}

/* The two halves of opts_apply, as recipe_resolve uses them with a preset in between. */
static void test_defaults_then_given(void)
{
    static Args a;
    char err[ERR_LEN] = "";
    DemoConfig c;
    memset(&c, 0, sizeof c);
    int rc = opts_set_defaults(demo_opts, &c, err);
    CHECK(rc == 0 && c.n == 3 && c.name[0] == 0, "opts_set_defaults sets the defaults and leaves required keys",
          "rc %d n %ld name '%s'", rc, c.n, c.name);
    c.n = 8; /* a preset's value */
    char *words[] = {"name=y"};
    rc = args_parse(&a, "demo", 1, words, err);
    if (!rc) rc = opts_apply_given(demo_opts, &c, &a, err);
    CHECK(rc == 0 && c.n == 8 && strcmp(c.name, "y") == 0, "opts_apply_given sets only the keys given",
          "rc %d n %ld name '%s' err '%s'", rc, c.n, c.name, err);
    char *none[] = {"n=2"};
    rc = args_parse(&a, "demo", 1, none, err);
    if (!rc) rc = opts_apply_given(demo_opts, &c, &a, err);
    CHECK(rc == 1 && strcmp(err, "'demo' needs name=... (a required name)") == 0,
          "opts_apply_given: a required key not given is an error", "rc %d err '%s'", rc, err);
}

int main(void)
{
    test_keys();
    test_defaults_then_given();
    test_help();
    test_positional();
    test_more_and_own_keys();
    return test_main_result();
}
