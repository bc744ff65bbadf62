/* KV-cache decoding, sampling and generation.
 *
 * The contract exposes no full logits from model_forward, so the reference distribution at every
 * position is built from the public API: model_forward scored once per vocabulary entry (targets
 * all set to v) gives log softmax(logits)[v] at every position. Decode logits are compared after
 * the same log-softmax (which removes only a per-row constant). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/decode.h"
#include "models/model.h"
#include "models/rng.h"
#include "tests/rounding.h"
#include "tests/test.h"

static const ModelConfig CFG = {.vocab = 11, .ctx = 16, .d_model = 32, .n_layer = 2, .n_head = 4, .d_ff = 48};


static void make_model(Model *m, uint64_t seed)
{
    char err[ERR_LEN];
    if (model_create(m, &CFG, seed, err)) {
        printf("FAIL model_create: %s\n", err);
        exit(1);
    }
    /* Weights well away from the near-uniform GPT-2 initialization, so that attention and the
     * output distribution are peaked and a wrong cache entry changes the logits visibly. */
    for (size_t i = 0; i < m->n_params; i++)
        m->params[i] += (float)(0.5 * (rng_uniform(seed, 99, 0, i) - 0.5));
}

/* logp[t*V + v] = log softmax(logits at position t)[v] for one sequence, from model_forward. */
static void full_logp(Model *m, const int *seq, int len, float temperature, Precision prec, float *logp)
{
    const int V = m->cfg.vocab;
    int tgt[64];
    float lp[64];
    char err[ERR_LEN];
    for (int v = 0; v < V; v++) {
        for (int t = 0; t < len; t++) tgt[t] = v;
        if (model_forward(m, seq, tgt, 1, len, temperature, prec, lp, NULL, err)) {
            printf("FAIL forward: %s\n", err);
            exit(1);
        }
        for (int t = 0; t < len; t++) logp[t * V + v] = lp[t];
    }
}

static void log_softmax_row(const float *logits, int V, float *out)
{
    double mx = logits[0], s = 0.0;
    for (int v = 1; v < V; v++) mx = logits[v] > mx ? logits[v] : mx;
    for (int v = 0; v < V; v++) s += exp((double)logits[v] - mx);
    for (int v = 0; v < V; v++) out[v] = (float)((double)logits[v] - mx - log(s));
}

/* Four sequences of different lengths in a 3-slot cache: sequence 1 starts two steps late, and
 * when it ends its slot is reset and reused by sequence 3, while the others keep going. Every
 * decode log-softmax value goes into *sp against model_forward's, with sp->tol set to FP32_ULPS ulps
 * of the largest |logit| or |log-prob| (tests/rounding.h). Returns 1 when every slot ends at the
 * position it should. */
static int ragged_decode(Model *m, Precision prec, Spread *sp)
{
    enum { NSEQ = 4, V = 11 };
    const int len[NSEQ] = {13, 5, 9, 11}, start[NSEQ] = {0, 2, 0, -1}, slot_of[NSEQ] = {0, 1, 2, 1};
    int seq[NSEQ][16];
    for (int i = 0; i < NSEQ; i++)
        for (int t = 0; t < len[i]; t++) seq[i][t] = (int)(rng_u64(5, (uint64_t)i, 0, (uint64_t)t) % V);
    char err[ERR_LEN];
    DecodeState *s = decode_new(&m->cfg, 3, err);
    static float dec[NSEQ][16][V], ref[NSEQ][16 * V];
    int fed[NSEQ] = {0}, begun[NSEQ] = {0};
    for (int step = 0; step < 40; step++) {
        int slots[NSEQ], toks[NSEQ], who[NSEQ], k = 0;
        for (int i = 0; i < NSEQ; i++) {
            if (fed[i] == len[i]) continue;
            if (i == 3 && fed[1] < len[1]) continue; /* waits for sequence 1's slot */
            if (i != 3 && step < start[i]) continue;
            if (!begun[i]) {
                decode_reset(s, slot_of[i]);
                begun[i] = 1;
            }
            slots[k] = slot_of[i];
            toks[k] = seq[i][fed[i]];
            who[k++] = i;
        }
        if (k == 0) break;
        float logits[NSEQ * V];
        decode_step(s, m->params, slots, toks, k, prec, logits);
        for (int j = 0; j < k; j++) memcpy(dec[who[j]][fed[who[j]]++], logits + j * V, sizeof(float) * V);
    }
    const int pos_ok = decode_pos(s, 0) == len[0] && decode_pos(s, 1) == len[3] && decode_pos(s, 2) == len[2];
    decode_free(s);
    double scale = 0.0;
    for (int i = 0; i < NSEQ; i++) {
        full_logp(m, seq[i], len[i], 1.0f, prec, ref[i]);
        for (int n = 0; n < len[i] * V; n++) scale = fmax(scale, fmax(fabs(dec[i][n / V][n % V]), fabs(ref[i][n])));
    }
    *sp = spread_at(scale);
    for (int i = 0; i < NSEQ; i++)
        for (int t = 0; t < len[i]; t++) {
            float got[V];
            log_softmax_row(dec[i][t], V, got);
            for (int v = 0; v < V; v++) spread_add(sp, got[v], ref[i][t * V + v]);
        }
    return pos_ok;
}

static void test_decode_matches_forward(void)
{
    Model m;
    make_model(&m, 1);
    /* FP32: both paths run the same kernels on the same values, in other row blockings (one row
     * per decode step against a whole sequence), which OpenBLAS rounds differently: every value
     * within the FP32 tolerance. A cache entry at the wrong position or slot moves log-probs by
     * O(0.1). */
    Spread sp, sp16;
    const int pos_ok = ragged_decode(&m, (Precision){0, 0}, &sp);
    CHECK(pos_ok, "decode_ragged_positions", "a slot did not end at its sequence's length");
    CHECK_TOL(sp.worst, sp.tol, "decode_matches_forward_ragged_reset", "max |log-softmax diff| %.3g > %.3g",
              sp.worst, sp.tol);
    /* bf16: both paths round the same values to bfloat16, but an ulp of difference just before a
     * rounding can flip a value by a bf16 step (tests/rounding.h). A flip moves one sequence from
     * its position on, and no sequence here holds half of the values: at most half may lie beyond
     * the FP32 tolerance (measured: none), and none beyond one bf16 step of the largest logit. A
     * decode that rounded otherwise would move nearly all (bf16_emulation_rounds shows it). */
    ragged_decode(&m, (Precision){1, 1}, &sp16);
    CHECK_TOL((double)sp16.beyond / sp16.n, 0.5, "decode_matches_forward_bf16_flips",
              "%ld of %ld log-softmax values beyond the FP32 tolerance %.3g", sp16.beyond, sp16.n, sp16.tol);
    CHECK_TOL(sp16.worst, BF16_STEP * sp16.scale, "decode_matches_forward_bf16",
              "max |log-softmax diff| %.3g > one bf16 step of %.3g", sp16.worst, sp16.scale);
    /* The emulation must actually round: bf16 keeps 8 significant bits, so it moves nearly every
     * log-prob beyond the FP32 tolerance; more than half, so that the bf16 check above would see a
     * decode that did not emulate, or emulated otherwise. */
    enum { T = 12, V = 11 };
    int seq[T];
    for (int t = 0; t < T; t++) seq[t] = (t * 5 + 1) % V;
    float f32[T * V], b16[T * V], head16[T * V];
    full_logp(&m, seq, T, 1.0f, (Precision){0, 0}, f32);
    full_logp(&m, seq, T, 1.0f, (Precision){1, 1}, b16);
    full_logp(&m, seq, T, 1.0f, (Precision){0, 1}, head16);
    double gap = 0.0, gap_head = 0.0;
    int moved = 0, moved_head = 0;
    for (int i = 0; i < T * V; i++) {
        gap = fmax(gap, fabs(f32[i] - b16[i]));
        gap_head = fmax(gap_head, fabs(f32[i] - head16[i]));
        moved += fabs(f32[i] - b16[i]) > sp.tol;
        moved_head += fabs(f32[i] - head16[i]) > sp.tol;
    }
    CHECK_ATLEAST((double)moved / (T * V), 0.5, "bf16_emulation_rounds",
                  "bf16 moves %d of %d log-probs beyond the FP32 tolerance %.3g", moved, T * V, sp.tol);
    CHECK_ATLEAST((double)moved_head / (T * V), 0.5, "bf16_head_emulation_rounds",
                  "a bf16 head moves %d of %d log-probs beyond the FP32 tolerance %.3g", moved_head, T * V, sp.tol);
    CHECK(gap_head < gap, "bf16_head_moves_less_than_all",
          "max |logp fp32 - bf16| %.3g (all matmuls), %.3g (head only): expected head only smaller", gap, gap_head);
    model_free(&m);
}

/* The entropy model_forward reports is that of the distribution its logp come from. */
static void test_entropy(void)
{
    Model m;
    make_model(&m, 2);
    enum { T = 9, V = 11 };
    int seq[T], tgt[T];
    for (int t = 0; t < T; t++) {
        seq[t] = (t * 4 + 3) % V;
        tgt[t] = (t * 7) % V;
    }
    float ref[T * V], lp[T], ent[T];
    char err[ERR_LEN];
    full_logp(&m, seq, T, 0.6f, (Precision){0, 0}, ref);
    model_forward(&m, seq, tgt, 1, T, 0.6f, (Precision){0, 0}, lp, ent, err);
    double worst = 0.0, scale = 0.0;
    for (int t = 0; t < T; t++) {
        double h = 0.0;
        for (int v = 0; v < V; v++) {
            h -= exp(ref[t * V + v]) * ref[t * V + v];
            scale = fmax(scale, fabs(ref[t * V + v]));
        }
        worst = fmax(worst, fabs(h - ent[t]));
    }
    /* The same logits on both sides (one forward, run once per target), the entropy summed in FP32
     * by the kernel and in double here from FP32 log-probs: each term p (-log p) carries rounding
     * in proportion to |log p|, so FP32_ULPS ulps of the largest |log p|. A wrong distribution
     * (another temperature, another row) is off by O(0.1). */
    CHECK_TOL(worst, fp32_tolerance(scale), "entropy_of_scored_distribution",
              "max |entropy diff| %.3g > %g ulps of max|logp| %.3g", worst, FP32_ULPS, scale);
    model_free(&m);
}

static void test_sample_token(void)
{
    /* probabilities 0.2, 0.3, 0.5: the CDF steps at 0.2 and 0.5 */
    const float logits[3] = {logf(0.2f), logf(0.3f), logf(0.5f)};
    const struct {
        double u;
        int want;
    } cases[] = {{0.0, 0}, {0.1999, 0}, {0.2001, 1}, {0.4999, 1}, {0.5001, 2}, {1.0 - 0x1p-53, 2}};
    int ok = 1;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        float lp;
        int tok = sample_token(logits, 3, 1.0f, cases[i].u, &lp);
        if (tok != cases[i].want) {
            ok = 0;
            printf("NOTE u=%.17g gave %d, want %d\n", cases[i].u, tok, cases[i].want);
        }
    }
    CHECK(ok, "sample_inverse_cdf_boundaries", "a boundary u picked the wrong token");
    float lp;
    int tok = sample_token(logits, 3, 1.0f, 0.3, &lp);
    CHECK_CLOSE(lp, log(0.3), 1e-6, "sample_logp_is_log_prob"); /* float logits: 1e-6 */
    /* At temperature 2 the logits 2 log p give back p. */
    const float hot[3] = {2.0f * logits[0], 2.0f * logits[1], 2.0f * logits[2]};
    tok = sample_token(hot, 3, 2.0f, 0.4, &lp);
    CHECK(tok == 1, "sample_temperature_divides", "temperature 2 on 2 log p: u=0.4 gave %d, want 1", tok);
    CHECK_CLOSE(lp, log(0.3), 1e-6, "sample_temperature_logp");
    tok = sample_token(logits, 3, 0.0f, 0.01, &lp);
    CHECK(tok == 2 && lp == 0.0f, "sample_temperature0_argmax", "got token %d logp %g, want 2 and 0", tok, lp);
    const float masked[4] = {-INFINITY, 1.0f, -INFINITY, 1.0f};
    int never = 1;
    for (int i = 0; i < 1000; i++) {
        int t = sample_token(masked, 4, 1.0f, rng_uniform(1, 2, 3, (uint64_t)i), NULL);
        if (t != 1 && t != 3) never = 0;
    }
    CHECK(never, "sample_never_picks_zero_probability", "a -inf logit was sampled");
    /* Frequencies over 30000 counter-based draws: within 5 standard deviations (sd <= 0.003). */
    int count[3] = {0};
    const int n = 30000;
    for (int i = 0; i < n; i++) count[sample_token(logits, 3, 1.0f, rng_uniform(7, 1, 0, (uint64_t)i), NULL)]++;
    int freq_ok = 1;
    const double p[3] = {0.2, 0.3, 0.5};
    for (int v = 0; v < 3; v++)
        if (fabs(count[v] / (double)n - p[v]) > 5.0 * sqrt(p[v] * (1 - p[v]) / n)) freq_ok = 0;
    CHECK(freq_ok, "sample_frequencies", "counts %d %d %d for p 0.2 0.3 0.5 of %d", count[0], count[1], count[2], n);
    /* One prepared row, many draws (a lead's followers): each draw sample_token's token and logp,
     * bit for bit, over a vocabulary past the kept weights (SOFTMAX_KEEP) at temperatures 0.7
     * and 0. */
    enum { BIG = SOFTMAX_KEEP + 44 };
    float big[BIG];
    for (int v = 0; v < BIG; v++) big[v] = 3.0f * (float)rng_uniform(5, 6, 7, (uint64_t)v);
    big[BIG - 1] = 3.5f; /* mass past the kept weights, where the walk recomputes them */
    int same = 1, past_keep = 0;
    for (int k = 0; k < 2; k++) {
        const float temp = k ? 0.0f : 0.7f;
        SoftmaxRow row;
        softmax_prepare(&row, big, BIG, temp);
        for (int i = 0; i < 400; i++) {
            const double u = rng_uniform(8, 9, 10, (uint64_t)i);
            float lp1, lp2;
            const int t1 = softmax_draw(&row, u, &lp1), t2 = sample_token(big, BIG, temp, u, &lp2);
            same &= t1 == t2 && memcmp(&lp1, &lp2, sizeof lp1) == 0;
            past_keep += t1 >= SOFTMAX_KEEP;
        }
    }
    CHECK(same && past_keep > 0, "softmax_prepare_then_draw_is_sample_token",
          "%s (%d draws past the kept weights)", same ? "same" : "a draw differs", past_keep);
}

enum { NG = 6, MAX_NEW = 12 };

typedef struct {
    int tokens[NG * MAX_NEW];
    float logp[NG * MAX_NEW];
    int len[NG];
} GenOut;

static int prompts_store[NG][8];
static const int prompt_len[NG] = {3, 1, 6, 2, 5, 8};

static int generate(const Model *m, const int *which, int n, float temperature, uint64_t seed, GenOut *o)
{
    const int *prompts[NG];
    int plen[NG];
    uint64_t ids[NG];
    for (int i = 0; i < n; i++) {
        prompts[i] = prompts_store[which[i]];
        plen[i] = prompt_len[which[i]];
        ids[i] = 1000 + (uint64_t)which[i];
    }
    GenerateRequest r = {.n = n,
                         .prompts = prompts,
                         .prompt_len = plen,
                         .seq_ids = ids,
                         .max_new = MAX_NEW,
                         .stop_token = 2,
                         .temperature = temperature,
                         .seed = seed,
                         .stream = 4,
                         .prec = {0, 0},
                         .out_tokens = o->tokens,
                         .out_logp = o->logp,
                         .out_len = o->len};
    char err[ERR_LEN];
    int rc = model_generate(m, &r, err);
    if (rc) printf("NOTE generate: %s\n", err);
    return rc;
}

/* Same lengths, and the same tokens and log-prob bytes within them. */
static int same_gen(const GenOut *a, const GenOut *b, int n)
{
    for (int i = 0; i < n; i++) {
        size_t len = (size_t)a->len[i];
        if (a->len[i] != b->len[i] || memcmp(a->tokens + i * MAX_NEW, b->tokens + i * MAX_NEW, len * sizeof(int)) ||
            memcmp(a->logp + i * MAX_NEW, b->logp + i * MAX_NEW, len * sizeof(float)))
            return 0;
    }
    return 1;
}

static void test_generate(void)
{
    Model m;
    make_model(&m, 3);
    for (int i = 0; i < NG; i++)
        for (int t = 0; t < 8; t++) prompts_store[i][t] = (int)(rng_u64(8, (uint64_t)i, 0, (uint64_t)t) % 11);
    const int all[NG] = {0, 1, 2, 3, 4, 5};
    static GenOut a, b, one;
    model_set_threads(2);
    int rc = generate(&m, all, NG, 1.0f, 77, &a);
    CHECK(rc == 0, "generate_runs", "rc %d", rc);
    rc = generate(&m, all, NG, 1.0f, 77, &b);
    CHECK(rc == 0 && same_gen(&a, &b, NG), "generate_same_seed_identical", "two runs differ");

    /* Ends: at the stop token, at max_new, or when prompt + completion fill the context. */
    int ends_ok = 1, stopped = 0;
    for (int i = 0; i < NG; i++) {
        int L = a.len[i];
        int last = L > 0 ? a.tokens[i * MAX_NEW + L - 1] : -1;
        int stop_inside = 0;
        for (int j = 0; j + 1 < L; j++) stop_inside |= a.tokens[i * MAX_NEW + j] == 2;
        if (L < 1 || stop_inside || !(last == 2 || L == MAX_NEW || prompt_len[i] + L == CFG.ctx)) ends_ok = 0;
        if (prompt_len[i] + L > CFG.ctx) ends_ok = 0;
        stopped += last == 2;
    }
    CHECK(ends_ok, "generate_stops_correctly", "a sequence ended early, late or past the context");
    CHECK(stopped > 0, "generate_some_stop_at_stop_token", "no sequence emitted the stop token");

    /* Each sequence alone samples the same tokens as in the batch (exact). Its log-probs may
     * differ in the last bits: OpenBLAS rounds a 1-row product differently from a 6-row one, so
     * FP32_ULPS ulps of the largest |logit| or |log-prob| on the sequences. */
    int same_tokens = 1, seqs[NG][16], seq_len[NG];
    double worst = 0.0;
    for (int i = 0; i < NG; i++) {
        int which[1] = {i};
        generate(&m, which, 1, 1.0f, 77, &one);
        if (one.len[0] != a.len[i] || memcmp(one.tokens, a.tokens + i * MAX_NEW, sizeof(int) * (size_t)one.len[0]))
            same_tokens = 0;
        for (int j = 0; j < one.len[0] && j < a.len[i]; j++)
            worst = fmax(worst, fabs(one.logp[j] - a.logp[i * MAX_NEW + j]));
        seq_len[i] = prompt_len[i] + a.len[i];
        for (int t = 0; t < seq_len[i]; t++)
            seqs[i][t] = t < prompt_len[i] ? prompts_store[i][t] : a.tokens[i * MAX_NEW + t - prompt_len[i]];
    }
    CHECK(same_tokens, "generate_independent_of_batch_tokens", "a sequence alone sampled other tokens than in the batch");
    const double scale = rounding_scale(&m, &seqs[0][0], 16, seq_len, NG);
    CHECK_TOL(worst, fp32_tolerance(scale), "generate_independent_of_batch_logp",
              "max |logp diff| %.3g > %g ulps of the scale %.3g", worst, FP32_ULPS, scale);
    /* Reordered batch: the same per-sequence results. */
    const int rev[NG] = {5, 4, 3, 2, 1, 0};
    generate(&m, rev, NG, 1.0f, 77, &b);
    int same_rev = 1;
    for (int i = 0; i < NG; i++)
        if (b.len[i] != a.len[rev[i]] ||
            memcmp(b.tokens + i * MAX_NEW, a.tokens + rev[i] * MAX_NEW, sizeof(int) * (size_t)b.len[i]))
            same_rev = 0;
    CHECK(same_rev, "generate_independent_of_order", "reversing the batch changed a sequence's tokens");

    /* Threads: every kernel splits outputs into tiles fixed by the shapes, so 1 and 2 threads are
     * byte-identical (tolerance 0). */
    model_set_threads(1);
    generate(&m, all, NG, 1.0f, 77, &b);
    model_set_threads(2);
    CHECK(same_gen(&a, &b, NG), "generate_threads_1_vs_2_identical", "1 and 2 threads differ");

    /* Temperature 0: argmax decoding, logp 0. */
    generate(&m, all, NG, 0.0f, 77, &b);
    int greedy_ok = 1;
    for (int i = 0; i < NG * MAX_NEW; i++)
        if (i % MAX_NEW < b.len[i / MAX_NEW] && b.logp[i] != 0.0f) greedy_ok = 0;
    CHECK(greedy_ok, "generate_greedy_logp_zero", "temperature 0 gave a nonzero logp");
    model_free(&m);
}

static void test_generate_bad_requests(void)
{
    Model m;
    make_model(&m, 4);
    int p_ok[3] = {1, 2, 3}, p_bad[2] = {1, 11};
    const int *prompts[1] = {p_ok};
    int plen[1] = {3}, out_tok[4], out_len[1];
    uint64_t ids[1] = {1};
    float out_lp[4];
    GenerateRequest r = {.n = 1, .prompts = prompts, .prompt_len = plen, .seq_ids = ids, .max_new = 4,
                         .stop_token = -1, .temperature = 1.0f, .out_tokens = out_tok, .out_logp = out_lp,
                         .out_len = out_len};
    char err[ERR_LEN];
    plen[0] = 16;
    int rc = model_generate(&m, &r, err);
    CHECK(rc == 1 && strstr(err, "16 tokens"), "generate_refuses_long_prompt", "rc %d err '%s'", rc, err);
    plen[0] = 2;
    prompts[0] = p_bad;
    rc = model_generate(&m, &r, err);
    CHECK(rc == 1 && strstr(err, "is 11"), "generate_refuses_bad_token", "rc %d err '%s'", rc, err);
    prompts[0] = p_ok;
    r.temperature = -1.0f;
    rc = model_generate(&m, &r, err);
    CHECK(rc == 1 && strstr(err, "temperature"), "generate_refuses_negative_temperature", "rc %d err '%s'", rc, err);
    r.temperature = 1.0f;
    r.stop_token = 11;
    rc = model_generate(&m, &r, err);
    CHECK(rc == 1 && strstr(err, "stop_token"), "generate_refuses_bad_stop_token", "rc %d err '%s'", rc, err);
    model_free(&m);
}

/* Many rows in one step (so the step splits into several chunks of rows), ragged positions:
 * the logits are byte-identical on 1 and 2 threads, in FP32 and in bf16. */
static void test_decode_threads_identical(void)
{
    Model m;
    make_model(&m, 6);
    enum { N = 150, V = 11, STEPS = 5 };
    char err[ERR_LEN];
    static float out[2][2][N * V];
    for (int k = 0; k < 2; k++) {
        const Precision prec = {k, k};
        for (int th = 1; th <= 2; th++) {
            model_set_threads(th);
            DecodeState *s = decode_new(&m.cfg, N, err);
            int slots[N], toks[N];
            for (int i = 0; i < N; i++) slots[i] = N - 1 - i;
            for (int step = 0; step < STEPS; step++) {
                /* Row i joins at step i % STEPS, so positions differ across rows. */
                int n = 0;
                for (int i = 0; i < N; i++)
                    if (i % STEPS <= step) {
                        slots[n] = i;
                        toks[n++] = (i * 3 + step) % V;
                    }
                decode_step(s, m.params, slots, toks, n, prec, out[k][th - 1]);
            }
            decode_free(s);
        }
        CHECK(memcmp(out[k][0], out[k][1], sizeof out[k][0]) == 0,
              k ? "decode_threads_1_vs_2_identical_bf16" : "decode_threads_1_vs_2_identical",
              "decode logits differ between 1 and 2 threads");
    }
    model_set_threads(2);
    model_free(&m);
}

int main(void)
{
    model_set_threads(2);
    test_decode_matches_forward();
    test_decode_threads_identical();
    test_entropy();
    test_sample_token();
    test_generate();
    test_generate_bad_requests();
    return test_main_result();
}
