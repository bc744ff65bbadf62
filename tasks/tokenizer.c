/* The character tokenizer: one token per character of a fixed 22-symbol vocabulary
 * ("chars-v1"). Specials are written as characters of their own, so a problem, a completion or
 * a dump is plain text that encodes back to the same tokens. */
#include <stdio.h>

#include "tasks/tasks.h"
#include "tasks/tokenizer.h"

/* Id order is part of the checkpoint format: change it only together with the version string. */
static const char vocab_chars[] = "_^$#0123456789+-*()=,:";

/* Names for CSV headers and dumps; ',' is "<comma>" so a name never splits a CSV field. */
static const char *const vocab_names[] = {
    "<pad>", "<bos>", "<eos>", "<think_end>", "0", "1", "2", "3", "4", "5", "6",
    "7",     "8",     "9",     "+",           "-", "*", "(", ")", "=", "<comma>", ":",
};

#define VOCAB_SIZE ((int)(sizeof vocab_chars - 1))

_Static_assert(sizeof vocab_names / sizeof vocab_names[0] == sizeof vocab_chars - 1,
               "one name per vocabulary character");
_Static_assert(TOK_PAD == 0 && TOK_BOS == 1 && TOK_EOS == 2 && TOK_THINK_END == 3,
               "specials lead the table in tasks.h order");

const char *tok_vocab_version(void)
{
    return "chars-v1";
}

int tok_vocab_size(void)
{
    return VOCAB_SIZE;
}

char tok_char(int id)
{
    return id >= 0 && id < VOCAB_SIZE ? vocab_chars[id] : '?';
}

const char *tok_name(int id)
{
    return id >= 0 && id < VOCAB_SIZE ? vocab_names[id] : "<invalid>";
}

int tok_id_of(unsigned char c)
{
    /* The table is 22 bytes: a scan is as fast as a 256-entry table and cannot disagree with it. */
    if (c == 0) return -1;
    for (int i = 0; i < VOCAB_SIZE; i++)
        if ((unsigned char)vocab_chars[i] == c) return i;
    return -1;
}

int tok_encode(const char *text, int *out, int max, char *err)
{
    int n = 0;
    if (!text) {
        if (err) snprintf(err, ERR_LEN, "no text to encode (expected a 0-terminated string)");
        return -1;
    }
    for (size_t i = 0; text[i]; i++) {
        unsigned char c = (unsigned char)text[i];
        int id = tok_id_of(c);
        if (id < 0) {
            char shown[8];
            if (c >= 0x20 && c < 0x7F)
                snprintf(shown, sizeof shown, "'%c'", c);
            else
                snprintf(shown, sizeof shown, "\\x%02X", c);
            if (err)
                snprintf(err, ERR_LEN,
                         "character %s at byte offset %zu is not in the %s vocabulary (expected one of %s)",
                         shown, i, tok_vocab_version(), vocab_chars);
            return -1;
        }
        if (n >= max) {
            if (err) snprintf(err, ERR_LEN, "text needs more than the %d tokens allowed", max);
            return -1;
        }
        out[n++] = id;
    }
    return n;
}

size_t tok_decode(const int *tokens, int n, char *out, size_t cap)
{
    if (cap == 0) return 0;
    size_t len = 0;
    for (int i = 0; i < n && len + 1 < cap; i++) out[len++] = tok_char(tokens[i]);
    out[len] = 0;
    return len;
}
