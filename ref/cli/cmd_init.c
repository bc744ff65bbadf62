/* `scalerl init`: a freshly initialized model, saved as a checkpoint (no optimizer state). */
#include <stddef.h>
#include <stdio.h>

#include "models/checkpoint.h"
#include "models/model.h"
#include "ref/common/args.h"
#include "ref/cli/commands.h"
#include "ref/common/util.h"
#include "tasks/tasks.h"

/* The tokenizer a model's token ids refer to, recorded in every checkpoint's metadata so that a
 * model is never silently decoded with another vocabulary. Bump it when tasks/ changes the
 * character table. */
#define TOKENIZER_ID "chars-v1"

typedef struct {
    char out[OPT_STR_LEN];
    long seed, vocab, ctx, d_model, n_layer, n_head, d_ff;
} InitOptions;

int cmd_init(int argc, char **argv)
{
    const char *cmd = "init";
    char err[ERR_LEN], vocab_def[32];
    const long tok_vocab = tok_vocab_size();
    snprintf(vocab_def, sizeof vocab_def, "%ld", tok_vocab);
    /* vocab may exceed the tokenizer's (unused rows) but never fall short of it. */
    const OptSpec specs[] = {
        {"out", OPT_STR, offsetof(InitOptions, out), NULL, 0, 0, NULL, "checkpoint file to write"},
        {"seed", OPT_INT, offsetof(InitOptions, seed), "1", 0, 9e15, NULL, "initialization seed"},
        {"vocab", OPT_INT, offsetof(InitOptions, vocab), vocab_def, (double)tok_vocab, 65536, NULL,
         "token ids; at least the tokenizer's vocabulary"},
        {"ctx", OPT_INT, offsetof(InitOptions, ctx), "128", 1, 4096, NULL, "context length in tokens"},
        {"d_model", OPT_INT, offsetof(InitOptions, d_model), "64", 1, 4096, NULL, "residual width"},
        {"n_layer", OPT_INT, offsetof(InitOptions, n_layer), "2", 1, 64, NULL, "transformer blocks"},
        {"n_head", OPT_INT, offsetof(InitOptions, n_head), "4", 1, 256, NULL, "attention heads (divides d_model)"},
        {"d_ff", OPT_INT, offsetof(InitOptions, d_ff), "0", 0, 16384, NULL, "MLP hidden width; 0 means 4*d_model"},
        {NULL, 0, 0, NULL, 0, 0, NULL, NULL},
    };
    const CommandSpec spec = {cmd,
                              "usage: scalerl init out=FILE [key=value ...]\n\n"
                              "Writes a freshly initialized model (GPT-2 initialization from seed) as a checkpoint.\n",
                              specs, 0, NULL};
    Args a;
    InitOptions o;
    int rc;
    if (!command_args(&spec, &a, &o, argc, argv, &rc)) return rc;
    /* model_config_check bounds the product: 4 * 4096 is within d_ff's limit today. */
    const long d_ff = o.d_ff ? o.d_ff : 4 * o.d_model;
    ModelConfig cfg = {(int)o.vocab, (int)o.ctx, (int)o.d_model, (int)o.n_layer, (int)o.n_head, (int)d_ff};
    if (model_config_check(&cfg, err)) return report_error(cmd, 1, err);
    Model m;
    if ((rc = model_create(&m, &cfg, (uint64_t)o.seed, err))) return report_error(cmd, rc, err);
    char meta[256];
    snprintf(meta, sizeof meta, "tokenizer=%s\ninit_seed=%ld\n", TOKENIZER_ID, o.seed);
    rc = checkpoint_save(o.out, &m, 0, meta, err);
    if (!rc)
        printf("wrote %s: %zu parameters (vocab=%d ctx=%d d_model=%d n_layer=%d n_head=%d d_ff=%d)\n", o.out,
               m.n_params, cfg.vocab, cfg.ctx, cfg.d_model, cfg.n_layer, cfg.n_head, cfg.d_ff);
    if (!rc) rc = flush_stdout(err);
    model_free(&m);
    return rc ? report_error(cmd, rc, err) : 0;
}
