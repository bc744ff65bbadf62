/* The reward: the rules every family shares, then the family's own check of the answer.
 *
 * A completion ends at its first EOS ('$') or at len. It scores 0 when it is 10,000 or more
 * characters long, when it holds any byte outside the vocabulary (NUL, non-ASCII, '?', ...) or
 * a PAD or BOS, or when it has no end-of-thinking marker. The answer is the text after the
 * LAST marker; the family decides whether it is right (arithmetic: exactly the canonical
 * answer text; countdown: an expression reaching the target). */
#include "tasks/family.h"
#include "tasks/tokenizer.h"

#include <string.h>

#define VERIFY_MAX_CHARS 10000

int task_verify(const Problem *p, const char *completion, size_t len)
{
    if (!p || !completion) return 0;
    const Family *f = task_family(p->family);
    if (!f) return 0;
    const char *eos = memchr(completion, tok_char(TOK_EOS), len);
    size_t n = eos ? (size_t)(eos - completion) : len;
    if (n >= VERIFY_MAX_CHARS) return 0;
    size_t answer_at = 0;
    int marked = 0;
    for (size_t i = 0; i < n; i++) {
        int id = tok_id_of((unsigned char)completion[i]);
        if (id < 0 || id == TOK_PAD || id == TOK_BOS) return 0;
        if (id == TOK_THINK_END) {
            marked = 1;
            answer_at = i + 1;
        }
    }
    if (!marked || answer_at == n) return 0;
    return f->verify(p, completion + answer_at, n - answer_at);
}
