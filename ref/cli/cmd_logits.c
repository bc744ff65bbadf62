/* `scalerl logits`: the next-token logits a checkpoint gives at every position of a text, as CSV,
 * for inspection and for checking the model against other implementations. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/decode.h"
#include "models/model.h"
#include "ref/common/args.h"
#include "ref/cli/commands.h"
#include "ref/rl/runfiles.h"
#include "ref/common/util.h"
#include "tasks/tasks.h"

typedef struct {
    char ckpt[OPT_STR_LEN];
    char text[OPT_STR_LEN];
    int precision;
} LogitsOptions;

static const OptSpec logits_specs[] = {
    {"ckpt", OPT_STR, offsetof(LogitsOptions, ckpt), NULL, 0, 0, NULL, "checkpoint file to read"},
    {"text", OPT_STR, offsetof(LogitsOptions, text), NULL, 0, 0, NULL,
     "input text, encoded character by character; no BOS is added (write ^ for it)"},
    {"precision", OPT_CHOICE, offsetof(LogitsOptions, precision), "fp32", 0, 0, "fp32|bf16|bf16_head",
     "fp32; bf16: every matmul's inputs and the logits rounded to bfloat16; bf16_head: only the head's"},
    {NULL, 0, 0, NULL, 0, 0, NULL, NULL},
};

/* A CSV field, quoted (RFC 4180) only when it holds a comma, a quote or a line break. */
static void csv_field(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static int print_logits(const LogitsOptions *o, char *err)
{
    Model m;
    int rc = load_base_model(o->ckpt, &m, err);
    if (rc) return rc;
    const int V = m.cfg.vocab, ctx = m.cfg.ctx;
    int *tokens = malloc((size_t)ctx * sizeof *tokens);
    float *logits = malloc((size_t)V * sizeof *logits);
    DecodeState *s = NULL;
    if (!tokens || !logits) {
        snprintf(err, ERR_LEN, "out of memory");
        rc = 2;
        goto out;
    }
    char terr[ERR_LEN];
    const int n = tok_encode(o->text, tokens, ctx, terr);
    if (n < 0) {
        snprintf(err, ERR_LEN, "bad text: %s", terr);
        rc = 1;
        goto out;
    }
    if (n == 0) {
        snprintf(err, ERR_LEN, "bad text '': expected at least one character");
        rc = 1;
        goto out;
    }
    if (!(s = decode_new(&m.cfg, 1, err))) {
        rc = 2;
        goto out;
    }
    const Precision prec = {o->precision == 1, o->precision >= 1};
    /* Header: the position, the input token there, then one column per vocabulary entry. */
    fputs("pos,token", stdout);
    for (int v = 0; v < V; v++) {
        fputc(',', stdout);
        csv_field(stdout, tok_name(v));
    }
    fputc('\n', stdout);
    /* One position at a time through the KV cache: row t holds the logits after tokens 0..t,
     * which match the training forward's to float rounding. */
    const int slot = 0;
    for (int t = 0; t < n; t++) {
        decode_step(s, m.params, &slot, &tokens[t], 1, prec, logits);
        printf("%d,", t);
        csv_field(stdout, tok_name(tokens[t]));
        for (int v = 0; v < V; v++) printf(",%.9g", (double)logits[v]);
        fputc('\n', stdout);
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        snprintf(err, ERR_LEN, "cannot write the CSV to standard output");
        rc = 2;
    }
out:
    decode_free(s);
    free(tokens);
    free(logits);
    model_free(&m);
    return rc;
}

int cmd_logits(int argc, char **argv)
{
    static const CommandSpec spec = {
        "logits",
        "usage: scalerl logits ckpt=FILE text=TEXT [precision=fp32|bf16|bf16_head]\n\n"
        "Prints CSV: a header (pos, token, then the name of every vocabulary entry), then one row per\n"
        "position of TEXT with the next-token logits there (before any temperature). TEXT is encoded\n"
        "as written: no BOS is added, so start it with ^ to match what the model sees in training.\n",
        logits_specs, 0, NULL};
    char err[ERR_LEN];
    Args a;
    LogitsOptions o;
    int rc;
    if (!command_args(&spec, &a, &o, argc, argv, &rc)) return rc;
    model_set_threads(1); /* one sequence, one token at a time: nothing to share between threads */
    rc = print_logits(&o, err);
    return rc ? report_error(spec.name, rc, err) : 0;
}
