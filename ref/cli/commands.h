/* Every `scalerl` subcommand: int cmd_NAME(int argc, char **argv), given the words after the
 * command name; returns the process exit code (0 ok, 1 bad input, 2 I/O) after printing its own
 * one-line error. Each lives in ref/cli/cmd_NAME.c, except cmd_sample, which shares eval's keys
 * and set-up and so sits beside cmd_eval in cmd_eval.c; all are listed in ref/cli/main.c.
 *
 * They start alike (command_args): the words parsed, --help answered from the command's usage
 * text and key table, the keys applied and checked, stray words refused, any error reported as
 * "scalerl NAME: ..." on stderr. */
#ifndef SCALERL_COMMANDS_H
#define SCALERL_COMMANDS_H

#include "ref/common/args.h"

typedef int (*CommandFn)(int argc, char **argv);

int cmd_init(int argc, char **argv);
int cmd_dump(int argc, char **argv);
int cmd_logits(int argc, char **argv);
int cmd_pretrain(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_sample(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_fit(int argc, char **argv);
int cmd_plot(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_sweep(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_get(int argc, char **argv);
int cmd_version(int argc, char **argv);

/* CommandSpec.flags: where a command departs from "every word is one of its keys". */
enum {
    CMD_POSITIONAL = 1, /* words that are not key=value are the command's (run directories): a->pos */
    CMD_MORE_KEYS = 2,  /* keys outside opts are the command's to read and check (sweep hands them to train) */
    CMD_OWN_KEYS = 4,   /* opts only list the keys for --help; the command applies and checks them itself */
};

typedef struct {
    const char *name;     /* "eval": errors read "scalerl eval: ..." */
    const char *usage;    /* --help text above the key table: "usage: scalerl eval ...\n\nWhat it does.\n" */
    const OptSpec *opts;  /* the command's keys */
    int flags;            /* CMD_* */
    const char *key_hint; /* added to the refusal of a stray word, e.g. "the directory is out=DIR"; or NULL */
} CommandSpec;

/* The start every command shares: parses argv into a; on --help prints the usage and the keys;
 * otherwise fills cfg from opts and refuses keys nobody reads and stray words (as flags allow).
 * Returns 1 when the command is to go on; 0 when it is to return *exit_code at once: 0 after
 * --help, 1 or 2 after the error line has been printed. */
int command_args(const CommandSpec *cs, Args *a, void *cfg, int argc, char **argv, int *exit_code);

#endif
