/* The rollout engine (ref/rl/rollout.h) driven directly: forced interruption and the budgets, the
 * per-token records (forced flags, generator log-probs, policy versions), independence from the
 * slot count, length=none and length=penalty, FLOP accounting, the bf16 generator against the
 * FP32 trainer, and an evaluator's generator kept between evaluations.
 *
 * Two models: a random-initialized one (nearly uniform over the 22 tokens, so it almost never
 * emits the end-of-thinking marker or EOS on its own: good for the budget mechanics) and one
 * pretrained here for a few hundred steps on add:digits=1-2 (peaked distributions, a mix of right
 * and wrong answers: needed for the length penalty and the precision tests). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/model.h"
#include "models/optim.h"
#include "ref/rl/evaluate.h"
#include "ref/rl/rollout.h"
#include "ref/rl/rows.h"
#include "tasks/tasks.h"
#include "tests/rounding.h"
#include "tests/test.h"

#define CTX 48
#define TASK "add:digits=1-2"
#define N_VAL 64 /* validation prompts; the groups below are the first n of them */

typedef struct {
    TaskSpec *spec;
    TaskSplit *split;
} World;

static void die(const char *what, const char *err)
{
    printf("FAIL %s: %s\n", what, err);
    exit(1);
}

static void make_model(Model *m, uint64_t seed)
{
    char err[ERR_LEN];
    ModelConfig cfg = {.vocab = tok_vocab_size(), .ctx = CTX, .d_model = 32, .n_layer = 2, .n_head = 4, .d_ff = 128};
    if (model_create(m, &cfg, seed, err)) die("model_create", err);
}

/* Supervised training on prompt + worked solution + EOS with the loss on the completion only, as
 * `scalerl pretrain` does it (its loop is private to the command), on the training stream. */
static void pretrain(Model *m, const TaskSplit *split, int steps, int B)
{
    char err[ERR_LEN], text[TASK_PROMPT_MAX + TASK_SOLUTION_MAX + 2];
    int *seq = malloc((size_t)B * CTX * sizeof(int)), *len = malloc((size_t)B * sizeof(int));
    int *n_prompt = malloc((size_t)B * sizeof(int)), *tok = malloc((size_t)B * CTX * sizeof(int));
    int *tgt = malloc((size_t)B * CTX * sizeof(int));
    float *logp = malloc((size_t)B * CTX * sizeof(float)), *dlogp = malloc((size_t)B * CTX * sizeof(float));
    if (!seq || !len || !n_prompt || !tok || !tgt || !logp || !dlogp) die("pretrain", "out of memory");
    AdamWConfig opt = {0.9, 0.999, 1e-8, 0.01};
    for (int step = 0; step < steps; step++) {
        int T = 1;
        for (int i = 0; i < B; i++) {
            Problem p;
            split_train_draw(split, (uint64_t)step * B + i, &p);
            snprintf(text, sizeof text, "%s%s%c", p.prompt, p.solution, tok_char(TOK_EOS));
            n_prompt[i] = tok_encode(p.prompt, seq + (size_t)i * CTX, CTX, err);
            len[i] = tok_encode(text, seq + (size_t)i * CTX, CTX, err);
            if (n_prompt[i] < 1 || len[i] < 2) die("pretrain encode", err);
            if (len[i] - 1 > T) T = len[i] - 1;
        }
        long n_tgt = 0;
        for (int i = 0; i < B; i++)
            for (int t = 0; t < T; t++) {
                tok[i * T + t] = t < len[i] - 1 ? seq[i * CTX + t] : TOK_PAD;
                tgt[i * T + t] = t + 1 >= n_prompt[i] && t + 1 < len[i] ? seq[i * CTX + t + 1] : -1;
                n_tgt += tgt[i * T + t] >= 0;
            }
        if (model_forward(m, tok, tgt, B, T, 1.0f, (Precision){0, 0}, logp, NULL, err)) die("pretrain forward", err);
        for (int i = 0; i < B * T; i++) dlogp[i] = tgt[i] >= 0 ? -1.0f / (float)n_tgt : 0.0f;
        model_zero_grad(m);
        model_backward(m, dlogp);
        grad_clip(m, 1.0);
        adamw_step(m, &opt, lr_at(step, 3e-3, 20, steps, LR_COSINE, 3e-4));
    }
    free(seq);
    free(len);
    free(n_prompt);
    free(tok);
    free(tgt);
    free(logp);
    free(dlogp);
}

static GenConfig gen_config(const Model *m, LengthMode length, int think_lo, int think_hi, int answer_budget,
                            Precision prec)
{
    GenConfig gc = {0};
    gc.mcfg = m->cfg;
    gc.G = 4;
    gc.max_groups = 16;
    gc.slots = 64;
    gc.temperature = 1.0f;
    gc.prec = prec;
    gc.seed = 7;
    gc.stream = 0x51;
    gc.length = length;
    gc.think_lo = think_lo;
    gc.think_hi = think_hi;
    gc.answer_budget = answer_budget;
    gc.penalty_cache = 0;
    return gc;
}

/* Queues validation prompts 0..max_groups-1 (group key = prompt index) and decodes until
 * everything is done, feeding step s (0, 1, 2, ...) as policy version s. Returns the generator
 * holding the finished groups (group i at index gi[i]); *flops gets the generator's count. */
static Generator *run_groups(const GenConfig *gc, const float *params, const World *w, int *gi, double *flops)
{
    char err[ERR_LEN];
    Generator *g = gen_new(gc, err);
    if (!g) die("gen_new", err);
    for (int i = 0; i < gc->max_groups; i++) {
        gi[i] = gen_add_group(g, split_val(w->split, i), (uint64_t)i, 0, i, err);
        if (gi[i] < 0) die("gen_add_group", err);
    }
    *flops = 0;
    for (long step = 0; gen_busy(g); step++)
        if (gen_step(g, params, step, flops) == 0) die("gen_step", "busy generator fed no token");
    return g;
}

static const Completion *completion(Generator *g, const int *gi, int G, int i)
{
    return &gen_group(g, gi[i / G])->c[i % G];
}

/* rounding_scale (tests/rounding.h) over the N completions' tokens (prompt included). */
static double completions_scale(const Model *m, Generator *g, const int *gi, int G, int N)
{
    int *seqs = malloc((size_t)N * CTX * sizeof *seqs), *len = malloc((size_t)N * sizeof *len);
    if (!seqs || !len) die("completions_scale", "out of memory");
    for (int i = 0; i < N; i++) {
        const Completion *c = completion(g, gi, G, i);
        len[i] = c->n;
        memcpy(seqs + (size_t)i * CTX, c->tok, (size_t)c->n * sizeof *seqs);
    }
    const double scale = rounding_scale(m, seqs, CTX, len, N);
    free(seqs);
    free(len);
    return scale;
}

/* ---- interruption, forced flags, answer budget (random-init model) ---- */

static void test_interruption(const Model *m, const World *w)
{
    const int lo = 2, hi = 5, answer = 3;
    GenConfig gc = gen_config(m, LENGTH_INTERRUPT, lo, hi, answer, (Precision){0, 0});
    int gi[16];
    double flops;
    Generator *g = run_groups(&gc, m->params, w, gi, &flops);
    const int N = gc.max_groups * gc.G;
    int bad_budget = 0, bad_marker = 0, bad_forced = 0, over_answer = 0, bad_logp = 0, bad_trunc = 0;
    int n_interrupted = 0, n_full_answer = 0, budgets_seen = 0;
    for (int i = 0; i < N; i++) {
        const Completion *c = completion(g, gi, gc.G, i);
        if (c->think_budget < lo || c->think_budget > hi) bad_budget++;
        budgets_seen |= 1 << c->think_budget;
        const int budget_pos = c->n_prompt + c->think_budget;
        /* The marker is forced exactly at the budget when the model has not written it before. */
        int sampled_marker_before = 0;
        for (int p = c->n_prompt; p < c->n && p < budget_pos; p++)
            sampled_marker_before |= c->tok[p] == TOK_THINK_END || c->tok[p] == TOK_EOS;
        if (c->interrupted) {
            n_interrupted++;
            if (sampled_marker_before || c->think_end != budget_pos || c->tok[budget_pos] != TOK_THINK_END) bad_marker++;
        } else if (!sampled_marker_before) {
            bad_marker++; /* reached the budget without a marker, yet not interrupted */
        }
        for (int p = c->n_prompt; p < c->n; p++) {
            int want_forced = c->interrupted && p == budget_pos;
            if (c->forced[p] != want_forced) bad_forced++;
            /* forced tokens carry no generator log-prob; sampled ones a negative one */
            if (want_forced ? c->logp[p] != 0.0f : !(c->logp[p] < 0.0f)) bad_logp++;
        }
        if (c->think_end >= 0) {
            int after = c->n - (c->think_end + 1);
            if (after > answer) over_answer++;
            if (after == answer) n_full_answer++;
            /* stopped without EOS exactly when the answer budget ran out */
            int eos = c->tok[c->n - 1] == TOK_EOS;
            if (c->truncated != !eos || (!eos && after != answer)) bad_trunc++;
        }
    }
    CHECK(bad_budget == 0 && budgets_seen == ((1 << 2) | (1 << 3) | (1 << 4) | (1 << 5)),
          "interrupt: thinking budgets drawn per completion in [lo, hi], every value used",
          "%d out of range, values seen mask 0x%x", bad_budget, budgets_seen);
    CHECK(n_interrupted >= N / 2 && bad_marker == 0,
          "interrupt: TOK_THINK_END at exactly n_prompt + think_budget when the model did not write it",
          "%d of %d interrupted, %d misplaced", n_interrupted, N, bad_marker);
    CHECK(bad_forced == 0, "interrupt: forced=1 only on the inserted marker, 0 on sampled tokens", "%d wrong flags",
          bad_forced);
    CHECK(bad_logp == 0, "interrupt: forced tokens record logp 0, sampled tokens logp < 0", "%d wrong", bad_logp);
    CHECK(over_answer == 0 && n_full_answer > 0, "interrupt: never more than answer_budget tokens after the marker",
          "%d over the budget, %d reaching it", over_answer, n_full_answer);
    CHECK(bad_trunc == 0, "interrupt: truncated exactly when the answer budget ended it without EOS", "%d wrong",
          bad_trunc);
    gen_free(g);
}

/* ---- length=none (random-init model) ---- */

static void test_length_none(const Model *m, const World *w)
{
    const int think_hi = 10, answer = 3, cap = think_hi + answer;
    GenConfig gc = gen_config(m, LENGTH_NONE, 4, think_hi, answer, (Precision){0, 0});
    CHECK(gen_max_new(&gc) == cap, "length=none: gen_max_new = think_hi + answer_budget", "got %d, want %d",
          gen_max_new(&gc), cap);
    int gi[16];
    double flops;
    Generator *g = run_groups(&gc, m->params, w, gi, &flops);
    const int N = gc.max_groups * gc.G;
    int over = 0, at_cap = 0, forced = 0, bad_trunc = 0, interrupted = 0;
    for (int i = 0; i < N; i++) {
        const Completion *c = completion(g, gi, gc.G, i);
        int len = c->n - c->n_prompt, eos = c->tok[c->n - 1] == TOK_EOS;
        over += len > cap;
        at_cap += len == cap && !eos;
        interrupted += c->interrupted;
        for (int p = c->n_prompt; p < c->n; p++) forced += c->forced[p];
        if (c->truncated != !eos || (!eos && len != cap)) bad_trunc++;
    }
    CHECK(over == 0 && at_cap > 0, "length=none: completions capped at think_hi + answer_budget tokens",
          "%d over the cap of %d, %d stopped at it", over, cap, at_cap);
    CHECK(forced == 0 && interrupted == 0, "length=none: nothing forced", "%d forced tokens, %d interrupted", forced,
          interrupted);
    CHECK(bad_trunc == 0, "length=none: truncated exactly when the cap ended a completion without EOS", "%d wrong",
          bad_trunc);
    gen_free(g);
}

/* ---- records against the trainer's forward, versions, FLOPs (pretrained model) ---- */

/* logp_fwd[i*T + p-1] = model_forward's log-prob of completion i's token at position p. */
static int forward_logp(Model *m, Generator *g, const int *gi, int G, int N, float temperature, Precision prec,
                        float *logp_fwd)
{
    char err[ERR_LEN];
    int T = 1;
    for (int i = 0; i < N; i++) {
        const Completion *c = completion(g, gi, G, i);
        if (c->n - 1 > T) T = c->n - 1;
    }
    int *tok = malloc((size_t)N * T * sizeof(int)), *tgt = malloc((size_t)N * T * sizeof(int));
    if (!tok || !tgt) die("forward_logp", "out of memory");
    for (int i = 0; i < N; i++) {
        const Completion *c = completion(g, gi, G, i);
        rows_pack(tok + (size_t)i * T, tgt + (size_t)i * T, c->tok, c->n, c->n_prompt, c->forced, T);
    }
    if (model_forward(m, tok, tgt, N, T, temperature, prec, logp_fwd, NULL, err)) die("forward_logp", err);
    free(tok);
    free(tgt);
    return T;
}

static void test_records(Model *m, const World *w)
{
    GenConfig gc = gen_config(m, LENGTH_INTERRUPT, 4, 8, 6, (Precision){0, 0});
    gc.temperature = 0.7f; /* the records must use the sampling temperature, not 1 */
    gc.slots = 24;         /* fewer slots than completions: continuous batching refills them */
    int gi[16];
    double flops;
    Generator *g = run_groups(&gc, m->params, w, gi, &flops);
    const int N = gc.max_groups * gc.G;
    float *lp = malloc((size_t)N * CTX * sizeof(float));
    if (!lp) die("test_records", "out of memory");
    const int T = forward_logp(m, g, gi, gc.G, N, gc.temperature, gc.prec, lp);
    double max_diff = 0, want_flops = 0;
    long n_tok = 0;
    int bad_version = 0, interrupted = 0, late_start = 0;
    for (int i = 0; i < N; i++) {
        const Completion *c = completion(g, gi, gc.G, i);
        interrupted += c->interrupted;
        for (int p = c->n_prompt; p < c->n; p++) {
            /* one token per decode step while the completion holds its slot: versions (= step
             * index here) rise by one per position */
            if (c->version[p] != c->version[c->n_prompt] + (p - c->n_prompt)) bad_version++;
            if (c->forced[p]) continue;
            double d = fabs((double)c->logp[p] - lp[i * T + p - 1]);
            if (d > max_diff) max_diff = d;
            n_tok++;
        }
        /* the first completion token is sampled at the step that feeds the last prompt token */
        if (c->version[c->n_prompt] < c->n_prompt - 1) bad_version++;
        late_start += c->version[c->n_prompt] > c->n_prompt - 1;
        for (int p = 0; p < c->n - 1; p++) want_flops += model_flops_token(&m->cfg, p);
    }
    /* Decode and the training forward run the same FP32 kernels in other row blockings (a row
     * per step against whole sequences), which OpenBLAS rounds differently: FP32_ULPS ulps of the
     * largest |logit| or |log-prob| at this temperature. A wrong position, temperature or token
     * is off by 0.1 or more. */
    const double tol = fp32_tolerance(completions_scale(m, g, gi, gc.G, N) / gc.temperature);
    CHECK_TOL(n_tok > 0 ? max_diff : INFINITY, tol,
              "records: generator logp = log-softmax(logits/T) at the sampled id by model_forward",
              "max |diff| %.3g over %ld tokens (tol %.3g)", max_diff, n_tok, tol);
    CHECK(bad_version == 0 && late_start > 0, "records: each token carries the version of the step that produced it",
          "%d wrong, %d completions started after a slot freed", bad_version, late_start);
    CHECK(interrupted > 0, "records: forced markers were skipped as targets", "no completion was interrupted");
    /* every fed token costs one forward; a completion feeds positions 0..n-2 (its last token is
     * sampled, never fed). Integers below 2^53: exact in any order. */
    CHECK(flops == want_flops, "records: generator FLOPs = forward FLOPs of every fed position", "got %.17g, want %.17g",
          flops, want_flops);
    free(lp);
    gen_free(g);
}

/* ---- same key, same completion, whatever the slot count (pretrained model) ---- */

static void test_slots(const Model *m, const World *w)
{
    GenConfig a = gen_config(m, LENGTH_INTERRUPT, 3, 9, 6, (Precision){1, 0});
    GenConfig b = a;
    b.slots = 1;
    GenConfig c = a;
    c.slots = 7;
    int ga[16], gb[16], gcx[16];
    double fa, fb, fc;
    Generator *A = run_groups(&a, m->params, w, ga, &fa);
    Generator *B = run_groups(&b, m->params, w, gb, &fb);
    Generator *C = run_groups(&c, m->params, w, gcx, &fc);
    const int N = a.max_groups * a.G;
    int tok_diff = 0;
    /* The batch size changes the BLAS blocking (and which rows decode shares), so the order of
     * float sums: FP32 rounding, FP32_ULPS ulps of the largest |logit| or |log-prob|; and this
     * generator rounds matmul inputs to bfloat16, where an ulp of difference can flip an input by
     * a bf16 step (tests/rounding.h), moving a few log-probs by more. Within a run the schedule is
     * fixed, so this costs no determinism. */
    Spread sp = spread_at(completions_scale(m, A, ga, a.G, N));
    for (int i = 0; i < N; i++) {
        const Completion *x = completion(A, ga, a.G, i), *y = completion(B, gb, a.G, i), *z = completion(C, gcx, a.G, i);
        if (x->n != y->n || x->n != z->n || x->reward != y->reward || x->reward != z->reward ||
            memcmp(x->tok, y->tok, (size_t)x->n * sizeof(int)) || memcmp(x->tok, z->tok, (size_t)x->n * sizeof(int))) {
            tok_diff++;
            continue;
        }
        for (int p = x->n_prompt; p < x->n; p++) {
            spread_add(&sp, x->logp[p], y->logp[p]);
            spread_add(&sp, x->logp[p], z->logp[p]);
        }
    }
    CHECK(tok_diff == 0, "slots: same key gives the same completion and reward with slots=64, 7 and 1",
          "%d of %d completions differ", tok_diff, N);
    /* A flip moves one completion from its position on, out of 64: at most half of the log-probs
     * beyond the FP32 tolerance, and none by more than one bf16 step of the scale. A wrong cache
     * or position moves nearly all, by 0.1 and more. */
    CHECK_TOL(sp.n ? (double)sp.beyond / sp.n : INFINITY, 0.5, "slots: the same generator log-probs (flips)",
              "%ld of %ld log-probs beyond the FP32 tolerance %.3g", sp.beyond, sp.n, sp.tol);
    CHECK_TOL(sp.worst, BF16_STEP * sp.scale, "slots: the same generator log-probs to bf16 rounding",
              "max |diff| %.3g > one bf16 step of the scale %.3g", sp.worst, sp.scale);
    CHECK(fa == fb && fa == fc, "slots: and the same FLOP count", "%.17g %.17g %.17g", fa, fb, fc);
    gen_free(A);
    gen_free(B);
    gen_free(C);
}

/* ---- length=penalty (pretrained model) ---- */

static void test_penalty(const Model *m, const World *w)
{
    char err[ERR_LEN], text[CTX + 1];
    /* Completions of add:digits=1-2 are 5 to 10 tokens: with L_max = 10 and L_cache = 4 lengths 7..10
     * are penalized -0.25 .. -1 when correct. */
    const int l_max = 10, l_cache = 4;
    GenConfig gc = gen_config(m, LENGTH_PENALTY, 7, 7, 3, (Precision){0, 0});
    gc.penalty_cache = l_cache;
    CHECK(gen_max_new(&gc) == l_max, "penalty: L_max = think_hi + answer_budget", "got %d", gen_max_new(&gc));
    int gi[16];
    double flops;
    Generator *g = run_groups(&gc, m->params, w, gi, &flops);
    const int N = gc.max_groups * gc.G;
    int bad = 0, bad_correct = 0, partial = 0, unpenalized = 0, wrong = 0, over = 0, forced = 0;
    for (int i = 0; i < N; i++) {
        const Completion *c = completion(g, gi, gc.G, i);
        const Group *gr = gen_group(g, gi[i / gc.G]);
        int len = c->n - c->n_prompt;
        over += len > l_max;
        for (int p = c->n_prompt; p < c->n; p++) forced += c->forced[p];
        size_t tl = tok_decode(c->tok + c->n_prompt, len, text, sizeof text);
        if (task_verify(&gr->prob, text, tl) != c->correct) bad_correct++;
        /* DAPO's overlong shaping, written out: clip((L_max - L) / L_cache - 1, -1, 0) */
        double pen = (double)(l_max - len) / l_cache - 1.0;
        pen = pen < -1.0 ? -1.0 : pen > 0.0 ? 0.0 : pen;
        double want = c->correct ? 1.0 + pen : 0.0;
        if (fabs(c->reward - want) > 1e-6) bad++; /* float reward of a value exact in binary */
        if (c->correct && pen < 0 && pen > -1) partial++;
        if (c->correct && pen == 0) unpenalized++;
        wrong += !c->correct;
    }
    (void)err;
    CHECK(bad_correct == 0, "penalty: correct = task_verify of the decoded completion", "%d disagree", bad_correct);
    CHECK(bad == 0 && partial > 0 && unpenalized > 0 && wrong > 0,
          "penalty: reward = correct + clip((L_max-L)/L_cache - 1, -1, 0), wrong ones 0",
          "%d wrong rewards; %d partly penalized, %d unpenalized correct, %d wrong", bad, partial, unpenalized, wrong);
    CHECK(over == 0 && forced == 0, "penalty: no completion beyond L_max, nothing forced", "%d over, %d forced", over,
          forced);
    gen_free(g);
}

/* ---- bf16 generator vs FP32 trainer (pretrained model) ---- */

/* k3 = r - 1 - log r with r = exp(logp_train - logp_gen), as ref/rl/loss.c measures mismatch_kl, over
 * the sampled tokens of the completions whose tokens `same` marks. */
static double mismatch_k3(Model *m, Generator *g, const int *gi, int G, int N, Precision train_prec,
                          const unsigned char *same, long *n_tok)
{
    float *lp = malloc((size_t)N * CTX * sizeof(float));
    if (!lp) die("mismatch_k3", "out of memory");
    int T = forward_logp(m, g, gi, G, N, 1.0f, train_prec, lp);
    double kl = 0;
    *n_tok = 0;
    for (int i = 0; i < N; i++) {
        if (!same[i]) continue;
        const Completion *c = completion(g, gi, G, i);
        for (int p = c->n_prompt; p < c->n; p++) {
            if (c->forced[p]) continue;
            double d = (double)lp[i * T + p - 1] - c->logp[p];
            kl += expm1(d) - d;
            (*n_tok)++;
        }
    }
    free(lp);
    return *n_tok ? kl / *n_tok : NAN;
}

static int same_tokens(const Completion *x, const Completion *y)
{
    return x->n == y->n && memcmp(x->tok, y->tok, (size_t)x->n * sizeof(int)) == 0;
}

static void test_precision(Model *m, const World *w)
{
    /* Four generators on the same keys: fp32, bf16 body with the FP32 head (ScaleRL), bf16 body and
     * head. Sampling draws are the same uniforms, so most completions come out token for token
     * identical; comparisons are made on those, i.e. on the same tokens. */
    GenConfig g32 = gen_config(m, LENGTH_INTERRUPT, 10, 10, 6, (Precision){0, 0});
    g32.max_groups = N_VAL; /* ~2000 sampled tokens: the KL means are not at the mercy of a few */
    GenConfig gfh = g32, gbh = g32;
    gfh.prec = (Precision){1, 0};
    gbh.prec = (Precision){1, 1};
    int a[N_VAL], b[N_VAL], c[N_VAL];
    double f;
    Generator *A = run_groups(&g32, m->params, w, a, &f);
    Generator *B = run_groups(&gfh, m->params, w, b, &f);
    Generator *C = run_groups(&gbh, m->params, w, c, &f);
    const int G = g32.G, N = g32.max_groups * G;
    unsigned char same[N_VAL * 4];
    int n_same = 0;
    long n_cmp = 0, n_differ = 0;
    double max_diff = 0;
    for (int i = 0; i < N; i++) {
        const Completion *x = completion(A, a, G, i), *y = completion(B, b, G, i), *z = completion(C, c, G, i);
        same[i] = same_tokens(x, y) && same_tokens(x, z);
        n_same += same[i];
        if (!same_tokens(x, y)) continue;
        for (int p = x->n_prompt; p < x->n; p++) {
            if (x->forced[p]) continue;
            double d = fabs((double)x->logp[p] - y->logp[p]);
            n_differ += d > 0;
            max_diff = d > max_diff ? d : max_diff;
            n_cmp++;
        }
    }
    CHECK_ATLEAST((double)n_same / N, 0.5, "precision: most completions are token-identical across fp32/bf16 generators",
                  "%d of %d", n_same, N);
    /* The two generators run the same kernels on the same batches, so without the emulation their
     * log-probs would be identical. bf16 keeps 8 significant bits: inputs move by up to 2^-9
     * relative, and the log-probs with them. More than half of them moved, and one beyond the FP32
     * tolerance (tests/rounding.h), says the emulation is on. */
    const double tol = fp32_tolerance(completions_scale(m, A, a, G, N));
    CHECK_ATLEAST(n_cmp ? (double)n_differ / n_cmp : 0.0, 0.5, "precision: the bf16 generator moves most logp",
                  "%ld of %ld tokens differ", n_differ, n_cmp);
    CHECK_ATLEAST(max_diff, tol, "precision: the bf16 generator moves a logp beyond FP32 rounding",
                  "max |diff| %.3g", max_diff);

    /* Trainer: FP32 body; its head is FP32 with head=fp32 and bf16 with head=bf16 (ref/rl/train.c). */
    long nt_f, nt_b;
    double kl_fp32_head = mismatch_k3(m, B, b, G, N, (Precision){0, 0}, same, &nt_f);
    double kl_bf16_head = mismatch_k3(m, C, c, G, N, (Precision){0, 1}, same, &nt_b);
    double kl_fp32_gen = mismatch_k3(m, A, a, G, N, (Precision){0, 0}, same, &nt_f);
    printf("NOTE precision: mismatch k3 over %ld tokens: fp32 generator %.3g, bf16 + FP32 head %.3g, bf16 + bf16 "
           "head %.3g\n",
           nt_b, kl_fp32_gen, kl_fp32_head, kl_bf16_head);
    /* k3 = r - 1 - log r is d^2 / 2 to leading order in d = logp_train - logp_gen, and an FP32
     * generator and trainer differ by rounding alone: d within the FP32 tolerance, so k3 below
     * tol^2 / 2. */
    CHECK_TOL(kl_fp32_gen, tol * tol / 2, "precision: an fp32 generator and the fp32 trainer agree",
              "k3 %.3g > tol^2 / 2 = %.3g", kl_fp32_gen, tol * tol / 2);
    /* The margin. Most of the mismatch of this small model comes from the bf16 body, which the
     * head's precision cannot remove; the bf16 head adds its rounding of the logits (2^-9
     * relative) on top. Measured over ~2000 tokens: 1.65x here (2.1x, 1.65x, 1.45x after 250,
     * 500, 1000 pretraining steps; ~1x for a near-deterministic model; 1.5x to 1.9x over the
     * kernel sets of tests/README.md, whose roundings pretrain slightly different models). We ask
     * for 1.25x. */
    CHECK(kl_fp32_head > 0, "precision: a bf16 generator mismatches the FP32 trainer", "k3 %.3g", kl_fp32_head);
    CHECK_ATLEAST(kl_bf16_head / kl_fp32_head, 1.25,
                  "precision: the FP32 head shrinks mismatch_kl against a bf16 head by more than 1.25x",
                  "k3 FP32 head %.3g, bf16 head %.3g", kl_fp32_head, kl_bf16_head);
    gen_free(A);
    gen_free(B);
    gen_free(C);
}

/* ---- errors ---- */

static void test_errors(const Model *m, const World *w)
{
    char err[ERR_LEN] = "";
    GenConfig gc = gen_config(m, LENGTH_INTERRUPT, 40, 44, 8, (Precision){0, 0});
    int rc = gen_config_check(&gc, task_max_prompt_tokens(w->spec), err);
    CHECK(rc == 1 && strstr(err, "ctx=48"), "errors: budgets beyond the context are refused, naming ctx", "rc %d: %s",
          rc, err);
    gc = gen_config(m, LENGTH_INTERRUPT, 4, 4, 4, (Precision){0, 0});
    gc.max_groups = 1;
    Generator *g = gen_new(&gc, err);
    if (!g) die("gen_new", err);
    int first = gen_add_group(g, split_val(w->split, 0), 0, 0, 0, err);
    int second = gen_add_group(g, split_val(w->split, 1), 1, 0, 1, err);
    CHECK(first == 0 && second == -1 && strstr(err, "full"), "errors: a full generator refuses a group", "%d %d: %s",
          first, second, err);
    gen_free(g);
}

/* ---- an evaluator's kept generator: the results of a new one, bit for bit ---- */

static int same_eval(const EvalResult *a, const EvalResult *b)
{
    int same = a->n == b->n && a->samples == b->samples && a->pass_rate == b->pass_rate &&
               a->pass_rate_lo == b->pass_rate_lo && a->pass_rate_hi == b->pass_rate_hi && a->n_pass_k == b->n_pass_k &&
               a->len_mean == b->len_mean && a->len_sd_prompt == b->len_sd_prompt &&
               a->interrupt_frac == b->interrupt_frac && a->truncate_frac == b->truncate_frac &&
               a->gen_flops == b->gen_flops;
    for (int k = 0; same && k < a->n_pass_k; k++) same = a->pass_at_k[k] == b->pass_at_k[k];
    return same;
}

/* The pretrained model evaluated by a new generator (evaluate) and by an evaluator whose
 * generator has just evaluated the random model (its KV cache full of that model's keys), then
 * another configuration (2 samples: a new generator), then the first again. Exact equality: the
 * same work in the same order, whatever the cache held before (evaluate.c). */
static void test_evaluator(const Model *pre, const Model *rnd, const World *w)
{
    char err[ERR_LEN];
    GenConfig gc = gen_config(pre, LENGTH_INTERRUPT, 3, 9, 6, (Precision){1, 0});
    gc.G = gc.max_groups = 0; /* set by the evaluation */
    gc.slots = 16;
    EvalResult fresh, kept, other;
    if (evaluate(pre->params, &gc, w->split, 48, 4, 0, &fresh, err)) die("evaluate", err);
    Evaluator *e = evaluator_new();
    if (!e) die("evaluator_new", "out of memory");
    int ok = 1;
    for (int round = 0; round < 2 && ok; round++) {
        if (evaluator_run(e, rnd->params, &gc, w->split, 48, 4, 0, &other, err) ||
            evaluator_run(e, pre->params, &gc, w->split, 48, 4, 0, &kept, err))
            die("evaluator_run", err);
        ok = same_eval(&fresh, &kept);
        if (evaluator_run(e, pre->params, &gc, w->split, 40, 2, 0, &other, err)) die("evaluator_run", err);
    }
    CHECK(ok && fresh.pass_rate > 0 && fresh.pass_rate < 1, "evaluator: a kept generator evaluates as a new one",
          "pass rate %.17g against %.17g, length %.17g against %.17g", kept.pass_rate, fresh.pass_rate, kept.len_mean,
          fresh.len_mean);
    evaluator_free(e);
}

int main(void)
{
    char err[ERR_LEN];
    World w;
    if (task_spec_parse(TASK, &w.spec, err) || split_new(w.spec, 1234, N_VAL, &w.split, err)) die("task", err);
    model_set_threads(1);
    Model rnd, pre;
    make_model(&rnd, 11);
    make_model(&pre, 12);
    test_interruption(&rnd, &w);
    test_length_none(&rnd, &w);
    test_errors(&rnd, &w);
    pretrain(&pre, w.split, 500, 32);
    test_records(&pre, &w);
    test_slots(&pre, &w);
    test_penalty(&pre, &w);
    test_precision(&pre, &w);
    test_evaluator(&pre, &rnd, &w);
    model_free(&rnd);
    model_free(&pre);
    split_free(w.split);
    task_spec_free(w.spec);
    return test_main_result();
}
