/* A sequence as one row of the model's batched forward (models/model.h, model_forward): the one
 * packing rule shared by the RL trainer, pretraining, the benchmarks and the tests.
 *
 * Row position p reads token tok[p] (p < n - 1; TOK_PAD beyond) and is scored on the next token
 * tok[p + 1] when that token is part of the completion (p + 1 >= n_prompt), exists (p + 1 < n)
 * and was sampled rather than inserted by length control (forced[p + 1] == 0; forced may be
 * NULL); every other position has target -1 (not scored). */
#ifndef SCALERL_ROWS_H
#define SCALERL_ROWS_H

/* Writes tok_row[0..T-1] and tgt_row[0..T-1] (T >= n - 1). Returns the number of targets. */
int rows_pack(int *tok_row, int *tgt_row, const int *tok, int n, int n_prompt, const unsigned char *forced, int T);

#endif
