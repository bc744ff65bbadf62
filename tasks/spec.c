/* Task specs: parsing, canonical form, limits, and drawing a problem from a (mixture) spec.
 *
 * Grammar (no spaces):
 *   spec   := part (',' part)*
 *   part   := family (':' key '=' value)* ('@' weight)?
 *   value  := N | LO '-' HI          (non-negative integers)
 *   weight := a positive decimal number; weights are relative (default 1)
 * Keys a part leaves out take the family's defaults; the canonical form spells every key out
 * in table order, and the weights when there is more than one part. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tasks/family.h"

static const Family *const families[] = {&family_add, &family_sub, &family_mul, &family_sum,
                                         &family_countdown, &family_pair};
#define N_FAMILIES ((int)(sizeof families / sizeof families[0]))
_Static_assert(N_FAMILIES <= TASK_MAX_FAMILIES, "raise TASK_MAX_FAMILIES");

#define SPEC_TEXT_MAX 1024

const Family *task_family(int i)
{
    return i >= 0 && i < N_FAMILIES ? families[i] : NULL;
}

unsigned task_spec_family_mask(const TaskSpec *s)
{
    unsigned mask = 0;
    for (int i = 0; i < s->n; i++) mask |= 1u << s->part[i].family;
    return mask;
}

const char *task_family_name(int family)
{
    return family >= 0 && family < N_FAMILIES ? families[family]->name : "unknown";
}

void text_append(char *buf, size_t cap, size_t *len, const char *text)
{
    while (*text && *len + 1 < cap) buf[(*len)++] = *text++;
    buf[*len] = 0;
}

void text_append_char(char *buf, size_t cap, size_t *len, char c)
{
    if (*len + 1 < cap) buf[(*len)++] = c;
    buf[*len] = 0;
}

int digits_of(long v)
{
    int n = 1;
    while (v >= 10) {
        v /= 10;
        n++;
    }
    return n;
}

static void list_families(char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = 0;
    for (int i = 0; i < N_FAMILIES; i++) {
        if (i) text_append(buf, cap, &len, ", ");
        text_append(buf, cap, &len, families[i]->name);
    }
}

static void list_keys(const Family *f, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = 0;
    for (int i = 0; i < f->n_keys; i++) {
        if (i) text_append(buf, cap, &len, ", ");
        text_append(buf, cap, &len, f->keys[i].name);
    }
}

/* A non-negative decimal integer of at most 9 digits filling [s, end). */
static int parse_count(const char *s, const char *end, long *v)
{
    if (s == end || end - s > 9) return 0;
    long x = 0;
    for (; s < end; s++) {
        if (*s < '0' || *s > '9') return 0;
        x = 10 * x + (*s - '0');
    }
    *v = x;
    return 1;
}

static int parse_value(const FamKey *k, const char *val, long *lo, long *hi)
{
    const char *dash = strchr(val, '-'), *end = val + strlen(val);
    if (!dash) {
        if (!parse_count(val, end, lo)) return 0;
        *hi = *lo;
    } else if (!k->range_ok || !parse_count(val, dash, lo) || !parse_count(dash + 1, end, hi)) {
        return 0;
    }
    return k->lo <= *lo && *lo <= *hi && *hi <= k->hi;
}

static int parse_weight(const char *text, double *w)
{
    if (!*text || strspn(text, "0123456789.eE+-") != strlen(text)) return 0;
    char *end;
    *w = strtod(text, &end);
    return *end == 0 && isfinite(*w) && *w > 0 && *w <= 1e9;
}

/* Parses one part (text is a writable copy); shown is the part as the user wrote it. */
static int parse_part(char *text, const char *shown, SpecPart *sp, char *err)
{
    char list[256];
    sp->weight = 1;
    char *at = strchr(text, '@');
    if (at) {
        *at = 0;
        if (!parse_weight(at + 1, &sp->weight)) {
            snprintf(err, ERR_LEN, "task spec part '%s': bad weight '%s' (expected a positive number after '@', e.g. @0.7)",
                     shown, at + 1);
            return 1;
        }
    }
    char *colon = strchr(text, ':');
    if (colon) *colon = 0;
    sp->family = -1;
    for (int i = 0; i < N_FAMILIES; i++)
        if (strcmp(text, families[i]->name) == 0) sp->family = i;
    if (sp->family < 0) {
        list_families(list, sizeof list);
        snprintf(err, ERR_LEN, "task spec part '%s': unknown family '%s' (expected one of: %s)", shown,
                 text, list);
        return 1;
    }
    const Family *f = families[sp->family];
    for (int i = 0; i < f->n_keys; i++) {
        sp->prm.lo[i] = f->keys[i].def_lo;
        sp->prm.hi[i] = f->keys[i].def_hi;
    }
    unsigned seen = 0;
    for (char *item = colon ? colon + 1 : NULL; item;) {
        char *next = strchr(item, ':');
        if (next) *next++ = 0;
        char *eq = strchr(item, '=');
        if (!eq || eq == item) {
            snprintf(err, ERR_LEN, "task spec part '%s': bad parameter '%s' (expected key=value, e.g. %s=%ld)",
                     shown, item, f->keys[0].name, f->keys[0].def_lo);
            return 1;
        }
        *eq = 0;
        int k = -1;
        for (int i = 0; i < f->n_keys; i++)
            if (strcmp(item, f->keys[i].name) == 0) k = i;
        if (k < 0) {
            list_keys(f, list, sizeof list);
            snprintf(err, ERR_LEN, "task spec part '%s': unknown parameter '%s' for family %s (expected one of: %s)",
                     shown, item, f->name, list);
            return 1;
        }
        if (seen & (1u << k)) {
            snprintf(err, ERR_LEN, "task spec part '%s': parameter '%s' given twice (expected each key at most once)",
                     shown, item);
            return 1;
        }
        seen |= 1u << k;
        const FamKey *key = &f->keys[k];
        if (!parse_value(key, eq + 1, &sp->prm.lo[k], &sp->prm.hi[k])) {
            if (key->range_ok)
                snprintf(err, ERR_LEN, "task spec part '%s': bad value '%s' for %s (expected N or LO-HI with %ld <= LO <= HI <= %ld)",
                         shown, eq + 1, key->name, key->lo, key->hi);
            else
                snprintf(err, ERR_LEN, "task spec part '%s': bad value '%s' for %s (expected one integer in %ld..%ld)",
                         shown, eq + 1, key->name, key->lo, key->hi);
            return 1;
        }
        item = next;
    }

    f->limits(&sp->prm, &sp->lim);
    if (sp->lim.prompt_chars > TASK_PROMPT_MAX - 1) {
        snprintf(err, ERR_LEN, "task spec part '%s': prompts of up to %d characters exceed the limit of %d (expected fewer digits or terms)",
                 shown, sp->lim.prompt_chars, TASK_PROMPT_MAX - 1);
        return 1;
    }
    if (sp->lim.answer_chars > TASK_ANSWER_MAX - 1) {
        snprintf(err, ERR_LEN, "task spec part '%s': answers of up to %d characters exceed the limit of %d (expected fewer digits)",
                 shown, sp->lim.answer_chars, TASK_ANSWER_MAX - 1);
        return 1;
    }
    if (sp->lim.solution_chars > TASK_SOLUTION_MAX - 1) {
        snprintf(err, ERR_LEN, "task spec part '%s': solutions of up to %d characters exceed the limit of %d (expected fewer digits, or scratch=0)",
                 shown, sp->lim.solution_chars, TASK_SOLUTION_MAX - 1);
        return 1;
    }
    if (f->check) {
        char why[ERR_LEN];
        if (f->check(&sp->prm, why)) {
            snprintf(err, ERR_LEN, "task spec part '%s': %s", shown, why);
            return 1;
        }
    }
    return 0;
}

static void write_canonical(TaskSpec *s)
{
    size_t len = 0;
    char item[64];
    s->canon[0] = 0;
    for (int p = 0; p < s->n; p++) {
        const SpecPart *sp = &s->part[p];
        const Family *f = families[sp->family];
        if (p) text_append_char(s->canon, sizeof s->canon, &len, ',');
        text_append(s->canon, sizeof s->canon, &len, f->name);
        for (int k = 0; k < f->n_keys; k++) {
            if (sp->prm.lo[k] == sp->prm.hi[k])
                snprintf(item, sizeof item, ":%s=%ld", f->keys[k].name, sp->prm.lo[k]);
            else
                snprintf(item, sizeof item, ":%s=%ld-%ld", f->keys[k].name, sp->prm.lo[k], sp->prm.hi[k]);
            text_append(s->canon, sizeof s->canon, &len, item);
        }
        if (s->n > 1) {
            snprintf(item, sizeof item, "@%.6g", sp->weight);
            text_append(s->canon, sizeof s->canon, &len, item);
        }
    }
}

int task_spec_parse(const char *spec, TaskSpec **out, char *err)
{
    char dummy[ERR_LEN];
    if (!err) err = dummy;
    if (out) *out = NULL;
    if (!spec || !*spec) {
        snprintf(err, ERR_LEN, "empty task spec (expected e.g. add:digits=3 or add:digits=2-4@0.7,mul:digits=2@0.3)");
        return 1;
    }
    size_t n = strlen(spec);
    if (n >= SPEC_TEXT_MAX) {
        snprintf(err, ERR_LEN, "task spec is %zu characters long (expected at most %d)", n, SPEC_TEXT_MAX - 1);
        return 1;
    }
    /* Specs are printable ASCII; anything else is refused before a message could echo it. */
    for (size_t i = 0; i < n; i++)
        if (spec[i] < 0x20 || spec[i] > 0x7e) {
            snprintf(err, ERR_LEN, "task spec has byte 0x%02x at position %zu (expected printable characters, e.g. "
                     "add:digits=3)", (unsigned char)spec[i], i + 1);
            return 1;
        }
    TaskSpec *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, ERR_LEN, "out of memory for a task spec (%zu bytes)", sizeof *s);
        return 2;
    }
    char text[SPEC_TEXT_MAX], shown[SPEC_TEXT_MAX];
    memcpy(text, spec, n + 1);
    memcpy(shown, spec, n + 1);
    char *part = text;
    for (;;) {
        char *comma = strchr(part, ',');
        if (comma) *comma = 0;
        shown[comma ? (size_t)(comma - text) : n] = 0;
        const char *part_shown = shown + (part - text);
        if (!*part) {
            snprintf(err, ERR_LEN, "task spec '%s': empty part (expected family[:key=value...][@weight] between commas)", spec);
            free(s);
            return 1;
        }
        if (s->n == SPEC_MAX_PARTS) {
            snprintf(err, ERR_LEN, "task spec '%s' has more than %d parts (expected at most %d)", spec,
                     SPEC_MAX_PARTS, SPEC_MAX_PARTS);
            free(s);
            return 1;
        }
        if (parse_part(part, part_shown, &s->part[s->n], err)) {
            free(s);
            return 1;
        }
        s->n++;
        if (!comma) break;
        part = comma + 1;
    }
    double cum = 0;
    for (int i = 0; i < s->n; i++) s->cum[i] = cum += s->part[i].weight;
    write_canonical(s);
    if (out)
        *out = s;
    else
        free(s);
    return 0;
}

void task_spec_free(TaskSpec *s)
{
    free(s);
}

const char *task_spec_string(const TaskSpec *s)
{
    return s->canon;
}

int task_max_prompt_tokens(const TaskSpec *s)
{
    int m = 0;
    for (int i = 0; i < s->n; i++)
        if (s->part[i].lim.prompt_chars > m) m = s->part[i].lim.prompt_chars;
    return m;
}

int task_max_solution_tokens(const TaskSpec *s)
{
    int m = 0;
    for (int i = 0; i < s->n; i++)
        if (s->part[i].lim.solution_chars + 1 > m) m = s->part[i].lim.solution_chars + 1;
    return m;
}

int task_max_answer_tokens(const TaskSpec *s)
{
    int m = 0;
    for (int i = 0; i < s->n; i++)
        if (s->part[i].lim.answer_chars > m) m = s->part[i].lim.answer_chars;
    return m;
}

double task_space_size(const TaskSpec *s)
{
    double total = 0;
    for (int i = 0; i < s->n; i++) total += s->part[i].lim.space;
    return total;
}

void task_draw_attempt(const TaskSpec *s, uint64_t seed, uint64_t stream, uint64_t index,
                       uint64_t attempt, Problem *out)
{
    TRng r = trng_new(seed, stream, index, attempt);
    int k = 0;
    if (s->n > 1) {
        double u = trng_uniform(&r) * s->cum[s->n - 1];
        while (k < s->n - 1 && u >= s->cum[k]) k++;
    }
    memset(out, 0, sizeof *out);
    families[s->part[k].family]->draw(&s->part[k].prm, &r, out);
    out->family = s->part[k].family;
}

void task_draw(const TaskSpec *s, uint64_t seed, uint64_t stream, uint64_t index, Problem *out)
{
    task_draw_attempt(s, seed, stream, index, 0, out);
}
