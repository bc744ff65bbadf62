#include "ref/rl/rows.h"

#include "tasks/tasks.h"

int rows_pack(int *tok_row, int *tgt_row, const int *tok, int n, int n_prompt, const unsigned char *forced, int T)
{
    int targets = 0;
    for (int p = 0; p < T; p++) {
        const int next = p + 1;
        tok_row[p] = p < n - 1 ? tok[p] : TOK_PAD;
        const int scored = next >= n_prompt && next < n && !(forced && forced[next]);
        tgt_row[p] = scored ? tok[next] : -1;
        targets += scored;
    }
    return targets;
}
