/* Verifiable arithmetic: the tokenizer, the task families, the train/validation split and the
 * verifiers. Nothing here knows about models or RL.
 *
 * A problem is text: a prompt (what the policy is given) and a worked solution (scratchpad, then
 * the end-of-thinking marker, then the answer) used for pretraining traces. A completion is what
 * the policy writes after the prompt; the verifier reads the answer after the last
 * end-of-thinking marker and returns 1 or 0.
 *
 * After parsing, specs and splits are read-only: task_draw, task_verify, split_train_draw and
 * split_is_val allocate nothing and may be called from many threads at once.
 *
 * Errors: errbuf.h's convention (0 ok, 1 bad input, 2 I/O; a one-line message in err). */
#ifndef SCALERL_TASKS_H
#define SCALERL_TASKS_H

#include <stddef.h>
#include <stdint.h>

#include "errbuf.h"

#define TASK_PROMPT_MAX 96    /* bytes, including the terminating 0 */
#define TASK_SOLUTION_MAX 256 /* bytes, including the terminating 0 */

/* ---- tokenizer: one token per character, plus specials ---- */
enum {
    TOK_PAD = 0,      /* padding, never generated */
    TOK_BOS = 1,      /* starts every prompt */
    TOK_EOS = 2,      /* ends every completion */
    TOK_THINK_END = 3 /* end-of-thinking marker: the answer follows */
};

int tok_vocab_size(void);
/* Names the character table ("chars-v1"); checkpoints record it so that a model is never
 * decoded with another vocabulary. Changes whenever an id's character changes. */
const char *tok_vocab_version(void);
/* The character a token is written as in text (specials have their own characters, documented
 * in tasks/README.md), and a printable name for CSV headers and dumps ("<eos>", "7", "+"). */
char tok_char(int id);
const char *tok_name(int id);
/* Encodes text (which may contain the special characters) into out[0..max-1]. Returns the
 * number of tokens, or -1 with err naming the first character outside the vocabulary (and its
 * byte offset) or saying that max was too small. */
int tok_encode(const char *text, int *out, int max, char *err);
/* Decodes n tokens into text (0-terminated, cut to cap-1 bytes). Returns the length written.
 * Ids outside the vocabulary are written as '?'. */
size_t tok_decode(const int *tokens, int n, char *out, size_t cap);

/* ---- problems ---- */
typedef struct {
    int family; /* index into the family table (task_family_name) */
    char prompt[TASK_PROMPT_MAX];
    char solution[TASK_SOLUTION_MAX]; /* scratchpad, end-of-thinking marker, answer; no EOS */
    /* What the verifier needs. Arithmetic: the exact answer as canonical decimal text.
     * Countdown: the numbers and the target; answer holds one valid expression (the verifier
     * accepts any expression that reaches the target). */
    char answer[48];
    int n_nums;
    long nums[8];
    long target;
} Problem;

typedef struct TaskSpec TaskSpec; /* a parsed spec: one family or a weighted mixture */

/* Parses "add:digits=3-5" or "add:digits=2-4@0.7,mul:digits=2@0.3". Returns 0, or 1 with err
 * naming the bad part and what was expected. */
int task_spec_parse(const char *spec, TaskSpec **out, char *err);
void task_spec_free(TaskSpec *s);
/* The spec in canonical form (for config files and metrics). */
const char *task_spec_string(const TaskSpec *s);
/* The longest prompt and completion (solution + EOS) the spec can produce, in tokens including
 * BOS, so callers can check them against a model's context. */
int task_max_prompt_tokens(const TaskSpec *s);
int task_max_solution_tokens(const TaskSpec *s);
/* The longest answer (the text the verifier compares, after the last '#') the spec can produce. */
int task_max_answer_tokens(const TaskSpec *s);
const char *task_family_name(int family);
/* Family indices are below TASK_MAX_FAMILIES. task_spec_family_mask: bit f is set when a part of
 * the spec draws from family f (a mixture of two families has two bits). */
#define TASK_MAX_FAMILIES 8
unsigned task_spec_family_mask(const TaskSpec *s);
/* How many distinct prompts the spec can produce: exact for the arithmetic families, an upper
 * bound for countdown (not every tuple of numbers and target is solvable), summed over the
 * parts of a mixture. split_new uses it to refuse validation sets too large for the space. */
double task_space_size(const TaskSpec *s);

/* Draws problem number `index` of the stream keyed by (seed, stream): a pure function. */
void task_draw(const TaskSpec *s, uint64_t seed, uint64_t stream, uint64_t index, Problem *out);

/* Reward of a completion (text after the prompt; may contain anything, need not be
 * 0-terminated, any length): 1 if the answer after the last end-of-thinking marker is correct,
 * else 0. Never reads past len, never crashes. */
int task_verify(const Problem *p, const char *completion, size_t len);

/* ---- splits ---- */
typedef struct TaskSplit TaskSplit;

/* Builds the validation set: the first n_val distinct prompts of the validation stream of seed.
 * The training sampler below never serves one of them. Returns 1 with err if the spec's problem
 * space is too small to hold n_val distinct prompts and leave training prompts (validation may
 * take at most half of task_space_size), 2 when out of memory. The split keeps a pointer to s:
 * keep s alive until split_free. */
int split_new(const TaskSpec *s, uint64_t seed, int n_val, TaskSplit **out, char *err);
/* The same with the validation set drawn from another spec, vs (a held-out distribution):
 * training draws still come from s and never serve a validation prompt, so the two are disjoint
 * wherever the specs overlap. split_new(s, ...) is split_new_for(s, s, ...). Keep both alive. */
int split_new_for(const TaskSpec *s, const TaskSpec *vs, uint64_t seed, int n_val, TaskSplit **out, char *err);
void split_free(TaskSplit *sp);
int split_val_count(const TaskSplit *sp);
const Problem *split_val(const TaskSplit *sp, int i);
/* Training problem number `index` (a pure function of seed and index), never a validation
 * prompt. */
void split_train_draw(const TaskSplit *sp, uint64_t index, Problem *out);
int split_is_val(const TaskSplit *sp, const char *prompt);
/* The spec the training draws come from, and the one the validation set was drawn from. */
const TaskSpec *split_spec(const TaskSplit *sp);
const TaskSpec *split_val_spec(const TaskSplit *sp);

#endif
