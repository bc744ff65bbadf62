/* Command-line arguments: `scalerl CMD key=value ... [--config FILE] [--help]`.
 *
 * Two layers. Args holds the raw pairs (a --config file's lines first, then the command line, so
 * the command line overrides the file) and remembers which keys were read, so that an unknown key
 * is an error naming it. OptSpec tables give typed, validated options: each command describes its
 * keys once (type, default, range or accepted values, help) and gets parsing, validation, --help
 * text and a replayable config file (`opts_write`) from the one table.
 *
 * Errors: errbuf.h's convention (0 ok, 1 bad input, 2 I/O; a one-line message in err). */
#ifndef SCALERL_ARGS_H
#define SCALERL_ARGS_H

#include <stddef.h>
#include <stdio.h>

#include "errbuf.h"

#define ARGS_MAX 256
#define ARGS_KEY_LEN 64
#define ARGS_VAL_LEN 1024

typedef struct {
    char key[ARGS_KEY_LEN];
    char val[ARGS_VAL_LEN];
    int used;
} ArgPair;

typedef struct {
    const char *cmd; /* command name, for messages */
    int n;
    ArgPair kv[ARGS_MAX];
    int help;              /* --help or -h was given */
    int n_pos;             /* positional (non key=value) arguments, e.g. run directories */
    const char *pos[ARGS_MAX];
} Args;

/* Parses argv (the words after the command name). Returns 0, or 1 with err set. */
int args_parse(Args *a, const char *cmd, int argc, char **argv, char *err);
/* Sets key=value (as if given last on the command line); used by presets and by tests. */
int args_set(Args *a, const char *key, const char *val, char *err);
/* The raw value of key (marking it used), or NULL when absent. */
const char *args_get(Args *a, const char *key);
int args_has(const Args *a, const char *key);
/* 1 with err naming the first key no one read ("unknown key 'x' for 'cmd'..."), else 0. */
int args_check_unused(const Args *a, char *err);

typedef enum {
    OPT_INT,    /* long, range [lo, hi] */
    OPT_FLOAT,  /* double, range [lo, hi], finite */
    OPT_STR,    /* char[OPT_STR_LEN]; def NULL means required */
    OPT_CHOICE, /* int index into choices "a|b|c" */
    OPT_RANGE,  /* long[2] from "a-b" or "a"; lo <= a <= b <= hi */
} OptType;

#define OPT_STR_LEN 1024

typedef struct {
    const char *key;
    OptType type;
    size_t offset;       /* offsetof the field in the command's config struct */
    const char *def;     /* default as text (parsed like a user value); NULL: required */
    double lo, hi;       /* OPT_INT, OPT_FLOAT, OPT_RANGE bounds */
    const char *choices; /* OPT_CHOICE: "a|b|c" */
    const char *help;
} OptSpec;

/* Fills cfg from defaults and Args for every spec (terminated by a {NULL} entry):
 * opts_set_defaults, then opts_apply_given. */
int opts_apply(const OptSpec *specs, void *cfg, Args *a, char *err);
/* Sets every spec that has a default to it. */
int opts_set_defaults(const OptSpec *specs, void *cfg, char *err);
/* Sets the keys given in a over what cfg holds (defaults, a preset), in table order; a required
 * key (def NULL) not given is an error naming it. */
int opts_apply_given(const OptSpec *specs, void *cfg, Args *a, char *err);
/* Parses one value into cfg, validating it; used by opts_apply. */
int opts_set_value(const OptSpec *s, void *cfg, const char *val, char *err);
/* Writes every option as key=value lines (replayable with --config), except optional text
 * options (default "") that are empty. */
void opts_write(const OptSpec *specs, const void *cfg, FILE *f);
/* Prints one line per option: key, default, accepted values, help. */
void opts_help(const OptSpec *specs, FILE *f);
/* Copies the name of choice idx of "a|b|c" into buf; "" when out of range. */
void opts_choice_name(const char *choices, int idx, char *buf, size_t n);
/* Looks a spec up by key; NULL when absent. */
const OptSpec *opts_find(const OptSpec *specs, const char *key);

#endif
