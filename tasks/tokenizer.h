/* What the rest of tasks/ needs from the tokenizer beyond tasks.h: the character -> id lookup,
 * used by the verifier to reject completions holding anything outside the vocabulary. */
#ifndef SCALERL_TASKS_TOKENIZER_H
#define SCALERL_TASKS_TOKENIZER_H

/* The token id written as character c, or -1 when c is not in the vocabulary. */
int tok_id_of(unsigned char c);

#endif
