/* Non-finite steps: a step whose loss or gradient norm is not finite is skipped (no update),
 * counted in the step rows' bad_steps, and max_bad_steps of them in a row stop the run with a
 * message saying so. The base model has a NaN embedding for the digit 9, so every sequence that
 * feeds a 9 to the trainer's forward gives a NaN loss, and the others a finite one: a run mixes
 * bad and good steps, deterministically. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "models/checkpoint.h"
#include "models/model.h"
#include "ref/common/args.h"
#include "ref/common/jsonl.h"
#include "ref/rl/runfiles.h"
#include "ref/rl/recipe.h"
#include "ref/rl/train.h"
#include "tasks/tasks.h"
#include "tasks/tokenizer.h"
#include "tests/test.h"

/* The step rows' bad_steps, in order, into v (at most n); returns how many rows. */
static int read_bad_steps(const char *dir, long *v, int n)
{
    char path[600], line[8192], err[ERR_LEN];
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    JsonObj *o = malloc(sizeof *o);
    int k = 0;
    while (o && fgets(line, sizeof line, f)) {
        double b;
        const char *kind;
        if (jsonl_parse(line, o, err) || !(kind = jsonl_str(o, "kind")) || strcmp(kind, "step") != 0) continue;
        if (k < n) v[k] = jsonl_num(o, "bad_steps", &b) ? (long)b : -1;
        k++;
    }
    free(o);
    fclose(f);
    return k;
}

/* Runs train with the keys in words (space-separated) on top of the test's own. */
static int run(const char *base, const char *out, const char *words, char *err)
{
    char line[2048];
    snprintf(line, sizeof line,
             "base=%s out=%s task=add:digits=1 steps=12 prompts_per_step=1 gens_per_prompt=2 zero_var_filter=0 "
             "prompt_filter=0 adv_norm=none think_budget=2-3 answer_budget=2 eval_n=8 eval_samples=1 eval_every=100 "
             "warmup=0 threads=1 progress=0 %s",
             base, out, words);
    char *argv[64];
    int argc = 0;
    for (char *save = NULL, *w = strtok_r(line, " ", &save); w && argc < 64; w = strtok_r(NULL, " ", &save))
        argv[argc++] = w;
    Args a;
    TrainConfig c;
    int rc = args_parse(&a, "train", argc, argv, err);
    if (!rc) rc = recipe_resolve(&c, &a, err);
    if (!rc) rc = args_check_unused(&a, err);
    TrainControl ctl = {1, 0, NULL}; /* each run from step 0, replacing an earlier one */
    TrainStop stopped;
    if (!rc) rc = train_run(&c, &ctl, &stopped, err);
    return rc;
}

int main(void)
{
    char dir[] = "/tmp/scalerl-test-badsteps-XXXXXX", base[128], out[128], err[ERR_LEN] = "", meta[256];
    if (!mkdtemp(dir)) {
        printf("FAIL bad steps setup: mkdtemp\n");
        return 1;
    }
    snprintf(base, sizeof base, "%s/nan9.ckpt", dir);
    ModelConfig cfg = {tok_vocab_size(), 24, 16, 1, 2, 32};
    Model m;
    int rc = model_create(&m, &cfg, 7, err);
    if (!rc) {
        int nine = tok_id_of('9');
        for (int j = 0; j < cfg.d_model; j++) m.p.tok_emb[(size_t)nine * cfg.d_model + j] = NAN;
        char tok[128];
        tokenizer_meta(tok, sizeof tok);
        snprintf(meta, sizeof meta, "%s\n", tok);
        rc = checkpoint_save(base, &m, 0, meta, err);
        model_free(&m);
    }
    if (rc) {
        printf("FAIL bad steps setup: %s\n", err);
        return 1;
    }

    long bad[64];
    snprintf(out, sizeof out, "%s/mixed", dir);
    rc = run(base, out, "max_bad_steps=100", err);
    int n = read_bad_steps(out, bad, 64);
    int rises = 0, flat = 0, monotone = 1;
    for (int i = 0; i < n && i < 64; i++) {
        long prev = i ? bad[i - 1] : 0;
        if (bad[i] == prev + 1) rises++;
        else if (bad[i] == prev) flat++;
        else monotone = 0;
    }
    CHECK(rc == 0 && n == 12, "a run with non-finite steps goes on to the end", "rc %d, %d step rows: %s", rc, n, err);
    CHECK(monotone && rises > 0 && flat > 0, "bad_steps counts the skipped steps: it rises on some steps, not on others",
          "%d rises, %d flat, monotone %d", rises, flat, monotone);
    Model r;
    char path[300], rmeta[CHECKPOINT_META_MAX];
    snprintf(path, sizeof path, "%s/final.ckpt", out);
    rc = checkpoint_load(path, &r, rmeta, err);
    int finite = 0;
    if (!rc) {
        /* Every weight but the poisoned row stays finite: no NaN update was ever applied. */
        const float *row9 = r.p.tok_emb + (size_t)tok_id_of('9') * cfg.d_model;
        finite = 1;
        for (size_t i = 0; i < r.n_params; i++) {
            if (r.params + i >= row9 && r.params + i < row9 + cfg.d_model) continue;
            if (!isfinite(r.params[i])) finite = 0;
        }
        model_free(&r);
    }
    CHECK(rc == 0 && finite, "no skipped step touched the weights: all finite but the poisoned row", "rc %d: %s", rc, err);

    snprintf(out, sizeof out, "%s/stop", dir);
    rc = run(base, out, "max_bad_steps=1", err);
    n = read_bad_steps(out, bad, 64);
    CHECK(rc == 1 && strstr(err, "max_bad_steps=1") && strstr(err, "non-finite"),
          "max_bad_steps in a row stop the run, exit class 1, with a message naming the key", "rc %d: %s", rc, err);
    CHECK(n >= 1 && bad[n - 1] == 1 && (n == 1 || bad[n - 2] == 0),
          "the stopping step's row is written, with its bad_steps", "%d rows, last %ld", n, n ? bad[n - 1] : -1);
    snprintf(path, sizeof path, "%s/final.ckpt", out);
    CHECK(access(path, F_OK) != 0, "a stopped run has no final.ckpt (it did not finish)", "%s exists", path);

    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) printf("NOTE could not remove %s\n", dir);
    return test_main_result();
}
