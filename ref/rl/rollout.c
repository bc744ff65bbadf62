#include "ref/rl/rollout.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/bigbuf.h"
#include "models/rng.h"
#include "errbuf.h"
#include "ref/rl/length_penalty.h"

/* Streams of the counter-based generator used here (the caller's stream is for sampling). */
enum { STREAM_BUDGET = 0xb0d6e7 };

struct Generator {
    GenConfig cfg;
    DecodeState *ds;
    Group *groups;          /* max_groups */
    Completion *comp;       /* max_groups * G, group gi owns [gi*G, gi*G+G) */
    int *tok_store, *ver_store;
    float *logp_store;
    unsigned char *forced_store;
    int *queue;             /* FIFO of completion indices waiting for a slot (ring) */
    int q_head, q_len, q_cap;
    int *slot_comp;         /* completion in each slot, -1 free */
    /* Completions of one group that start in the same step read the same prompt, and as long as
     * they then sample the same tokens they stay in the same state: only one of them (the lead)
     * is fed, the others (its followers) sample their own tokens from its logits, and one that
     * samples another token takes a copy of the lead's cache (decode_fork), or follows the first
     * follower that sampled that same token. slot_lead[s]: the lead of follower s, else -1; a
     * lead's slot is always below its followers'. */
    int *slot_lead;
    /* per-step scratch, -1 when unused: the row of the step's logits of each fed slot; per lead,
     * the followers that left it in this step with distinct tokens (a chain) */
    int *slot_row, *split_head, *split_next;
    int *finished;          /* groups completed since the last gen_take_finished */
    int n_finished;
    int n_active;
    /* per-step scratch */
    int *step_slots, *step_tokens, *step_comp;
    float *logits;
    /* The softmax of the row of logits last drawn from in this step (smx_row; NULL: none yet):
     * a lead's followers draw from its row, and prepare it once for all of them. */
    SoftmaxRow smx;
    const float *smx_row;
    char *text; /* decoded completion for the verifier */
};

GenConfig gen_config_from_keys(const ModelConfig *mc, double temperature, int gen_precision, int head, long seed,
                               uint64_t stream, int length, const long think_budget[2], long answer_budget,
                               long penalty_cache)
{
    GenConfig gc;
    memset(&gc, 0, sizeof gc);
    gc.mcfg = *mc;
    gc.temperature = (float)temperature;
    gc.prec = (Precision){gen_precision == PREC_BF16, head == PREC_BF16};
    gc.seed = (uint64_t)seed;
    gc.stream = stream;
    gc.length = (LengthMode)length;
    gc.think_lo = (int)think_budget[0];
    gc.think_hi = (int)think_budget[1];
    gc.answer_budget = (int)answer_budget;
    gc.penalty_cache = (int)penalty_cache;
    return gc;
}

int gen_max_new(const GenConfig *c)
{
    return c->length == LENGTH_INTERRUPT ? c->think_hi + 1 + c->answer_budget : c->think_hi + c->answer_budget;
}

int gen_config_check(const GenConfig *c, int max_prompt_tokens, char *err)
{
    if (c->G < 1 || c->max_groups < 1 || c->slots < 1 || c->think_lo < 1 || c->think_hi < c->think_lo ||
        c->answer_budget < 1) {
        snprintf(err, ERR_LEN, "internal: bad generator config");
        return 1;
    }
    int need = max_prompt_tokens + gen_max_new(c);
    if (need > c->mcfg.ctx) {
        snprintf(err, ERR_LEN,
                 "prompt (%d tokens) plus completion budget (%d) exceeds the model context ctx=%d: "
                 "lower think_budget/answer_budget or use a model with a larger ctx",
                 max_prompt_tokens, gen_max_new(c), c->mcfg.ctx);
        return 1;
    }
    return 0;
}

void gen_note_answer_budget(const GenConfig *c, int max_answer_tokens, const char *cmd)
{
    /* A note, not a refusal: a budget that cuts the longest answers still lets the shorter ones
     * score, which a user may want; but the cut ones can never score, and nothing else says so. */
    if (max_answer_tokens > c->answer_budget)
        fprintf(stderr, "scalerl %s: note: answer_budget=%d is shorter than this task's longest answers (%d tokens): "
                        "those are cut and cannot score (raise answer_budget to at least %d)\n",
                cmd, c->answer_budget, max_answer_tokens, max_answer_tokens);
}

Generator *gen_new(const GenConfig *cfg, char *err)
{
    Generator *g = calloc(1, sizeof *g);
    if (!g) goto oom;
    g->cfg = *cfg;
    const int G = cfg->G, ctx = cfg->mcfg.ctx, V = cfg->mcfg.vocab;
    const size_t nc = (size_t)cfg->max_groups * G;
    g->ds = decode_new(&cfg->mcfg, cfg->slots, err);
    if (!g->ds) {
        free(g);
        return NULL;
    }
    g->groups = calloc((size_t)cfg->max_groups, sizeof *g->groups);
    g->comp = calloc(nc, sizeof *g->comp);
    g->tok_store = bigbuf_alloc(nc * ctx * sizeof(int));
    g->ver_store = bigbuf_alloc(nc * ctx * sizeof(int));
    g->logp_store = bigbuf_alloc(nc * ctx * sizeof(float));
    g->forced_store = bigbuf_alloc(nc * ctx);
    g->q_cap = (int)nc;
    g->queue = malloc(nc * sizeof(int));
    g->slot_comp = malloc((size_t)cfg->slots * sizeof(int));
    g->slot_lead = malloc((size_t)cfg->slots * sizeof(int));
    g->slot_row = malloc((size_t)cfg->slots * sizeof(int));
    g->split_head = malloc((size_t)cfg->slots * sizeof(int));
    g->split_next = malloc((size_t)cfg->slots * sizeof(int));
    g->finished = malloc((size_t)cfg->max_groups * sizeof(int));
    g->step_slots = malloc((size_t)cfg->slots * sizeof(int));
    g->step_tokens = malloc((size_t)cfg->slots * sizeof(int));
    g->step_comp = malloc((size_t)cfg->slots * sizeof(int));
    g->logits = malloc((size_t)cfg->slots * V * sizeof(float));
    g->text = malloc((size_t)ctx + 1);
    if (!g->groups || !g->comp || !g->tok_store || !g->ver_store || !g->logp_store || !g->forced_store ||
        !g->queue || !g->slot_comp || !g->slot_lead || !g->slot_row || !g->split_head || !g->split_next ||
        !g->finished || !g->step_slots || !g->step_tokens || !g->step_comp || !g->logits || !g->text) {
        gen_free(g);
        goto oom;
    }
    for (size_t i = 0; i < nc; i++) {
        Completion *c = &g->comp[i];
        c->tok = g->tok_store + i * ctx;
        c->version = g->ver_store + i * ctx;
        c->logp = g->logp_store + i * ctx;
        c->forced = g->forced_store + i * ctx;
    }
    for (int gi = 0; gi < cfg->max_groups; gi++) g->groups[gi].c = g->comp + (size_t)gi * G;
    for (int s = 0; s < cfg->slots; s++)
        g->slot_comp[s] = g->slot_lead[s] = g->slot_row[s] = g->split_head[s] = g->split_next[s] = -1;
    return g;
oom:
    snprintf(err, ERR_LEN, "out of memory creating the generator (%d groups of %d, %d slots)", cfg->max_groups,
             cfg->G, cfg->slots);
    return NULL;
}

void gen_free(Generator *g)
{
    if (!g) return;
    decode_free(g->ds);
    free(g->groups);
    free(g->comp);
    free(g->tok_store);
    free(g->ver_store);
    free(g->logp_store);
    free(g->forced_store);
    free(g->queue);
    free(g->slot_comp);
    free(g->slot_lead);
    free(g->slot_row);
    free(g->split_head);
    free(g->split_next);
    free(g->finished);
    free(g->step_slots);
    free(g->step_tokens);
    free(g->step_comp);
    free(g->logits);
    free(g->text);
    free(g);
}

int gen_add_group(Generator *g, const Problem *p, uint64_t key, uint64_t prompt_key, long tag, char *err)
{
    int gi = -1;
    for (int i = 0; i < g->cfg.max_groups; i++)
        if (!g->groups[i].in_use) {
            gi = i;
            break;
        }
    if (gi < 0) {
        snprintf(err, ERR_LEN, "internal: generator full (%d groups)", g->cfg.max_groups);
        return -1;
    }
    Group *gr = &g->groups[gi];
    const int G = g->cfg.G, ctx = g->cfg.mcfg.ctx;
    int n_prompt = tok_encode(p->prompt, gr->c[0].tok, ctx, err);
    if (n_prompt < 1) {
        if (n_prompt == 0) snprintf(err, ERR_LEN, "empty prompt");
        return -1;
    }
    if (n_prompt + gen_max_new(&g->cfg) > ctx) {
        snprintf(err, ERR_LEN, "prompt '%s' (%d tokens) plus completion budget %d exceed ctx=%d", p->prompt,
                 n_prompt, gen_max_new(&g->cfg), ctx);
        return -1;
    }
    gr->prob = *p;
    gr->key = key;
    gr->prompt_key = prompt_key;
    gr->tag = tag;
    gr->n_done = 0;
    gr->in_use = 1;
    for (int j = 0; j < G; j++) {
        Completion *c = &gr->c[j];
        if (j > 0) memcpy(c->tok, gr->c[0].tok, (size_t)n_prompt * sizeof(int));
        memset(c->forced, 0, (size_t)ctx);
        /* Nothing reads them at prompt positions, but the resume state writes them (gen_save):
         * zeros there keep checkpoint files free of whatever the buffer held before. */
        memset(c->logp, 0, (size_t)n_prompt * sizeof *c->logp);
        memset(c->version, 0, (size_t)n_prompt * sizeof *c->version);
        c->n_prompt = c->n = n_prompt;
        uint64_t ckey = key * (uint64_t)G + (uint64_t)j;
        int span = g->cfg.think_hi - g->cfg.think_lo + 1;
        c->think_budget = g->cfg.think_lo + (int)(rng_uniform(g->cfg.seed, STREAM_BUDGET, ckey, 0) * span);
        c->think_end = -1;
        c->interrupted = c->truncated = c->done = c->correct = 0;
        c->reward = 0;
        g->queue[(g->q_head + g->q_len) % g->q_cap] = gi * G + j;
        g->q_len++;
    }
    return gi;
}

Group *gen_group(Generator *g, int gi)
{
    return &g->groups[gi];
}

void gen_release(Generator *g, int gi)
{
    g->groups[gi].in_use = 0;
}

int gen_take_finished(Generator *g, int *groups, int max)
{
    int n = g->n_finished < max ? g->n_finished : max;
    memcpy(groups, g->finished, (size_t)n * sizeof(int));
    memmove(g->finished, g->finished + n, (size_t)(g->n_finished - n) * sizeof(int));
    g->n_finished -= n;
    return n;
}

int gen_busy(const Generator *g)
{
    return g->q_len + g->n_active;
}

static void finish(Generator *g, Completion *c, Group *gr)
{
    c->done = 1;
    /* Callers drain the list with gen_take_finished; it holds every group at most once. */
    if (++gr->n_done == g->cfg.G && g->n_finished < g->cfg.max_groups)
        g->finished[g->n_finished++] = (int)(gr - g->groups);
    size_t len = tok_decode(c->tok + c->n_prompt, c->n - c->n_prompt, g->text, (size_t)g->cfg.mcfg.ctx + 1);
    c->correct = task_verify(&gr->prob, g->text, len);
    c->reward = (float)c->correct;
    if (g->cfg.length == LENGTH_PENALTY)
        c->reward = length_penalized_reward(c->reward, c->n - c->n_prompt, gen_max_new(&g->cfg), g->cfg.penalty_cache);
}

/* Decides the token at position c->n: returns 1 and the token to sample (or force), or 0 when
 * the completion must stop before it. */
static int next_action(const Generator *g, const Completion *c, int *force)
{
    const int ctx = g->cfg.mcfg.ctx, produced = c->n - c->n_prompt;
    *force = -1;
    if (c->n >= ctx) return 0;
    if (g->cfg.length == LENGTH_INTERRUPT) {
        if (c->think_end < 0) {
            if (produced >= c->think_budget) *force = TOK_THINK_END;
            return 1;
        }
        return c->n - (c->think_end + 1) < g->cfg.answer_budget;
    }
    return produced < gen_max_new(&g->cfg);
}

/* After the step that fed position c->n - 1 of completion ci (in slot s): samples (or forces)
 * its next token from logits, or stops it. */
static void advance(Generator *g, int s, int ci, const float *logits, long version)
{
    const int G = g->cfg.G, V = g->cfg.mcfg.vocab;
    Completion *c = &g->comp[ci];
    Group *gr = &g->groups[ci / G];
    int force;
    int stop = !next_action(g, c, &force);
    if (!stop) {
        int p = c->n, t;
        float lp = 0;
        if (force >= 0) {
            t = force;
            c->forced[p] = 1;
            c->interrupted = 1;
        } else {
            uint64_t ckey = gr->key * (uint64_t)G + (uint64_t)(ci % G);
            double u = rng_uniform(g->cfg.seed, g->cfg.stream, ckey, (uint64_t)p);
            if (g->smx_row != logits) {
                softmax_prepare(&g->smx, logits, V, g->cfg.temperature);
                g->smx_row = logits;
            }
            t = softmax_draw(&g->smx, u, &lp);
        }
        c->tok[p] = t;
        c->logp[p] = lp;
        c->version[p] = (int)version;
        c->n++;
        if (t == TOK_THINK_END && c->think_end < 0) c->think_end = p;
        if (t == TOK_EOS) stop = 1;
        else {
            int dummy;
            stop = !next_action(g, c, &dummy);
            c->truncated = stop;
        }
    } else {
        c->truncated = 1;
    }
    if (stop) {
        finish(g, c, gr);
        g->slot_comp[s] = -1;
        g->n_active--;
    }
}

int gen_step(Generator *g, const float *params, long version, double *flops)
{
    const int G = g->cfg.G, V = g->cfg.mcfg.vocab;
    /* Refill free slots in FIFO order; consecutive completions of one group share a lead. */
    int lead = -1, lead_group = -1;
    for (int s = 0; s < g->cfg.slots && g->q_len > 0; s++) {
        if (g->slot_comp[s] >= 0) continue;
        const int ci = g->queue[g->q_head];
        g->slot_comp[s] = ci;
        g->q_head = (g->q_head + 1) % g->q_cap;
        g->q_len--;
        g->n_active++;
        decode_reset(g->ds, s);
        if (ci / G == lead_group) {
            g->slot_lead[s] = lead;
        } else {
            lead = s;
            lead_group = ci / G;
            g->slot_lead[s] = -1;
        }
    }
    int n = 0, fed = 0;
    double f = 0;
    for (int s = 0; s < g->cfg.slots; s++) {
        int ci = g->slot_comp[s];
        if (ci < 0) continue;
        fed++;
        if (g->slot_lead[s] >= 0) { /* in its lead's state: fed through it */
            f += model_flops_token(&g->cfg.mcfg, decode_pos(g->ds, g->slot_lead[s]));
            continue;
        }
        Completion *c = &g->comp[ci];
        int pos = decode_pos(g->ds, s);
        g->step_slots[n] = s;
        g->step_tokens[n] = c->tok[pos];
        g->step_comp[n] = ci;
        f += model_flops_token(&g->cfg.mcfg, pos);
        n++;
    }
    if (n == 0) return 0;
    decode_step(g->ds, params, g->step_slots, g->step_tokens, n, g->cfg.prec, g->logits);
    if (flops) *flops += f;
    /* Every slot in order, as if all were fed: a follower samples from its lead's logits (the
     * lead, in a lower slot, has already taken its own token), then keeps following it if both
     * go on with the same token, else goes its own way (see slot_lead). */
    for (int i = 0; i < n; i++) g->slot_row[g->step_slots[i]] = i;
    g->smx_row = NULL; /* the logits are this step's */
    for (int s = 0; s < g->cfg.slots; s++) {
        const int ci = g->slot_comp[s], lead = g->slot_lead[s];
        if (ci < 0) continue;
        const int from = lead >= 0 ? lead : s;
        if (decode_pos(g->ds, from) < g->comp[ci].n) continue; /* still reading the prompt */
        advance(g, s, ci, g->logits + (size_t)g->slot_row[from] * V, version);
        if (lead < 0) continue;
        if (g->slot_comp[s] < 0) { /* finished */
            g->slot_lead[s] = -1;
            continue;
        }
        const Completion *c = &g->comp[ci];
        const int tok = c->tok[c->n - 1], lc = g->slot_comp[lead];
        if (lc >= 0 && g->comp[lc].tok[g->comp[lc].n - 1] == tok) continue; /* same state as its lead */
        int other = g->split_head[lead];
        while (other >= 0 && g->comp[g->slot_comp[other]].tok[g->comp[g->slot_comp[other]].n - 1] != tok)
            other = g->split_next[other];
        if (other >= 0) {
            g->slot_lead[s] = other;
        } else {
            decode_fork(g->ds, s, lead);
            g->slot_lead[s] = -1;
            g->split_next[s] = g->split_head[lead];
            g->split_head[lead] = s;
        }
    }
    for (int s = 0; s < g->cfg.slots; s++) g->slot_row[s] = g->split_head[s] = g->split_next[s] = -1;
    return fed;
}

int gen_idle(const Generator *g)
{
    return g->q_len == 0 && g->n_active == 0 && g->n_finished == 0;
}

void gen_save(const Generator *g, BinWriter *w)
{
    const int G = g->cfg.G;
    bw_i64(w, g->cfg.max_groups);
    bw_i64(w, G);
    for (int gi = 0; gi < g->cfg.max_groups; gi++) {
        const Group *gr = &g->groups[gi];
        bw_i64(w, gr->in_use);
        if (!gr->in_use) continue;
        bw_bytes(w, &gr->prob, sizeof gr->prob);
        bw_i64(w, (int64_t)gr->key);
        bw_i64(w, (int64_t)gr->prompt_key);
        bw_i64(w, gr->tag);
        bw_i64(w, gr->n_done);
        for (int j = 0; j < G; j++) {
            const Completion *c = &gr->c[j];
            const int64_t fields[] = {c->n_prompt, c->n, c->think_budget, c->think_end, c->interrupted,
                                      c->truncated, c->done, c->correct};
            bw_bytes(w, fields, sizeof fields);
            bw_f64(w, c->reward);
            bw_bytes(w, c->tok, (size_t)c->n * sizeof *c->tok);
            bw_bytes(w, c->logp, (size_t)c->n * sizeof *c->logp);
            bw_bytes(w, c->version, (size_t)c->n * sizeof *c->version);
            bw_bytes(w, c->forced, (size_t)c->n);
        }
    }
}

int gen_load(Generator *g, BinReader *r, char *err)
{
    const int G = g->cfg.G, ctx = g->cfg.mcfg.ctx;
    if (br_i64(r) != g->cfg.max_groups || br_i64(r) != G) {
        snprintf(err, ERR_LEN, "resume state: the generator's size differs from this config's");
        return 1;
    }
    for (int gi = 0; gi < g->cfg.max_groups && !r->bad; gi++) {
        Group *gr = &g->groups[gi];
        gr->in_use = (int)br_count(r, 1);
        if (!gr->in_use) continue;
        br_bytes(r, &gr->prob, sizeof gr->prob);
        gr->prob.prompt[sizeof gr->prob.prompt - 1] = 0;
        gr->prob.solution[sizeof gr->prob.solution - 1] = 0;
        gr->prob.answer[sizeof gr->prob.answer - 1] = 0;
        gr->key = (uint64_t)br_i64(r);
        gr->prompt_key = (uint64_t)br_i64(r);
        gr->tag = (long)br_i64(r);
        gr->n_done = (int)br_count(r, G);
        for (int j = 0; j < G && !r->bad; j++) {
            Completion *c = &gr->c[j];
            int64_t fields[8];
            br_bytes(r, fields, sizeof fields);
            if (fields[1] < 0 || fields[1] > ctx || fields[0] < 1 || fields[0] > fields[1]) r->bad = 1;
            if (r->bad) break;
            c->n_prompt = (int)fields[0];
            c->n = (int)fields[1];
            c->think_budget = (int)fields[2];
            c->think_end = (int)fields[3];
            c->interrupted = (int)fields[4];
            c->truncated = (int)fields[5];
            c->done = (int)fields[6];
            c->correct = (int)fields[7];
            c->reward = (float)br_f64(r);
            br_bytes(r, c->tok, (size_t)c->n * sizeof *c->tok);
            br_bytes(r, c->logp, (size_t)c->n * sizeof *c->logp);
            br_bytes(r, c->version, (size_t)c->n * sizeof *c->version);
            memset(c->forced, 0, (size_t)ctx);
            br_bytes(r, c->forced, (size_t)c->n);
        }
    }
    if (r->bad) {
        snprintf(err, ERR_LEN, "resume state: the generator's records are truncated or inconsistent");
        return 1;
    }
    return 0;
}
