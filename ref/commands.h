/* Every `scalerl` subcommand: int cmd_NAME(int argc, char **argv), given the words after the
 * command name; returns the process exit code (0 ok, 1 bad input, 2 I/O) after printing its own
 * one-line error. Each lives in its own ref/cmd_NAME.c and is listed in ref/main.c. */
#ifndef SCALERL_COMMANDS_H
#define SCALERL_COMMANDS_H

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

#endif
