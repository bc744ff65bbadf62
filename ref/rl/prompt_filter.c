/* No-Positive-Resampling table: open addressing, linear probing, doubling at half load. */
#include "ref/rl/prompt_filter.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/rng.h"
#include "errbuf.h"

typedef struct {
    uint64_t key;
    int32_t n_pass, n_samples;
    uint8_t used, retired;
} Slot;

struct PromptFilter {
    double retire_at;
    size_t capacity; /* a power of two */
    size_t n_used;
    long n_retired;
    Slot *slots;
};

#define INITIAL_CAPACITY 1024

uint64_t prompt_key(const char *text)
{
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a offset basis and prime */
    for (const unsigned char *c = (const unsigned char *)text; *c; c++) h = (h ^ *c) * 0x100000001b3ULL;
    return rng_mix64(h);
}

PromptFilter *prompt_filter_new(double retire_at, char *err)
{
    if (!(retire_at > 0.0 && retire_at <= 1.0)) {
        snprintf(err, ERR_LEN, "bad prompt filter threshold %g: expected a pass rate in (0, 1]", retire_at);
        return NULL;
    }
    PromptFilter *pf = calloc(1, sizeof *pf);
    Slot *slots = calloc(INITIAL_CAPACITY, sizeof *slots);
    if (!pf || !slots) {
        free(pf);
        free(slots);
        snprintf(err, ERR_LEN, "out of memory allocating the prompt filter");
        return NULL;
    }
    pf->retire_at = retire_at;
    pf->capacity = INITIAL_CAPACITY;
    pf->slots = slots;
    return pf;
}

void prompt_filter_free(PromptFilter *pf)
{
    if (!pf) return;
    free(pf->slots);
    free(pf);
}

/* The slot holding key, or the empty slot where it would go. The table is never full (half
 * load at most), so the probe ends. */
static Slot *find_slot(Slot *slots, size_t capacity, uint64_t key)
{
    size_t mask = capacity - 1;
    for (size_t i = (size_t)key & mask;; i = (i + 1) & mask)
        if (!slots[i].used || slots[i].key == key) return &slots[i];
}

static int grow(PromptFilter *pf, char *err)
{
    size_t cap = pf->capacity * 2;
    Slot *slots = calloc(cap, sizeof *slots);
    if (!slots) {
        snprintf(err, ERR_LEN, "out of memory growing the prompt filter to %zu prompts", cap);
        return 2;
    }
    for (size_t i = 0; i < pf->capacity; i++)
        if (pf->slots[i].used) *find_slot(slots, cap, pf->slots[i].key) = pf->slots[i];
    free(pf->slots);
    pf->slots = slots;
    pf->capacity = cap;
    return 0;
}

/* Inserts or overwrites one prompt's record; the retired flag only ever goes from 0 to 1. */
static int store(PromptFilter *pf, uint64_t key, int n_pass, int n_samples, int retired, int *retired_now,
                 char *err)
{
    if ((pf->n_used + 1) * 2 > pf->capacity) {
        int rc = grow(pf, err);
        if (rc) return rc;
    }
    Slot *s = find_slot(pf->slots, pf->capacity, key);
    if (!s->used) {
        s->used = 1;
        s->key = key;
        pf->n_used++;
    }
    s->n_pass = n_pass;
    s->n_samples = n_samples;
    int now = retired && !s->retired;
    if (now) {
        s->retired = 1;
        pf->n_retired++;
    }
    if (retired_now) *retired_now = now;
    return 0;
}

int prompt_filter_record(PromptFilter *pf, uint64_t key, int n_pass, int n_samples, int *retired_now,
                         char *err)
{
    if (retired_now) *retired_now = 0;
    if (n_samples < 1 || n_pass < 0 || n_pass > n_samples) {
        snprintf(err, ERR_LEN, "bad prompt filter record: %d passes of %d samples (expected 0 <= passes <= samples, samples >= 1)",
                 n_pass, n_samples);
        return 1;
    }
    int retire = (double)n_pass / n_samples >= pf->retire_at - PROMPT_FILTER_TOL;
    return store(pf, key, n_pass, n_samples, retire, retired_now, err);
}

static const Slot *lookup(const PromptFilter *pf, uint64_t key)
{
    const Slot *s = find_slot(pf->slots, pf->capacity, key);
    return s->used ? s : NULL;
}

int prompt_filter_is_retired(const PromptFilter *pf, uint64_t key)
{
    const Slot *s = lookup(pf, key);
    return s && s->retired;
}

double prompt_filter_pass_rate(const PromptFilter *pf, uint64_t key)
{
    const Slot *s = lookup(pf, key);
    return s ? (double)s->n_pass / s->n_samples : -1.0;
}

long prompt_filter_n_retired(const PromptFilter *pf) { return pf->n_retired; }
long prompt_filter_n_tracked(const PromptFilter *pf) { return (long)pf->n_used; }

static int by_key(const void *a, const void *b)
{
    uint64_t x = ((const Slot *)a)->key, y = ((const Slot *)b)->key;
    return (x > y) - (x < y);
}

#define FILE_HEADER "scalerl prompt_filter v1"

int prompt_filter_write(const PromptFilter *pf, FILE *f, char *err)
{
    Slot *sorted = malloc((pf->n_used ? pf->n_used : 1) * sizeof *sorted);
    if (!sorted) {
        snprintf(err, ERR_LEN, "out of memory writing the prompt filter");
        return 2;
    }
    size_t n = 0;
    for (size_t i = 0; i < pf->capacity; i++)
        if (pf->slots[i].used) sorted[n++] = pf->slots[i];
    qsort(sorted, n, sizeof *sorted, by_key);
    int bad = fprintf(f, "%s %zu\n", FILE_HEADER, n) < 0;
    for (size_t i = 0; i < n && !bad; i++)
        bad = fprintf(f, "%016" PRIx64 " %d %d %d\n", sorted[i].key, sorted[i].n_pass, sorted[i].n_samples,
                      sorted[i].retired) < 0;
    free(sorted);
    if (bad) {
        snprintf(err, ERR_LEN, "cannot write the prompt filter: %s", strerror(errno));
        return 2;
    }
    return 0;
}

int prompt_filter_read(PromptFilter *pf, FILE *f, char *err)
{
    char line[256];
    size_t n = 0;
    if (!fgets(line, sizeof line, f) || sscanf(line, FILE_HEADER " %zu", &n) != 1) {
        if (ferror(f)) {
            snprintf(err, ERR_LEN, "cannot read the prompt filter: %s", strerror(errno));
            return 2;
        }
        snprintf(err, ERR_LEN, "bad prompt filter state: expected a first line '%s COUNT'", FILE_HEADER);
        return 1;
    }
    /* Build into a fresh table so a bad file leaves pf as it was. */
    PromptFilter fresh = {pf->retire_at, INITIAL_CAPACITY, 0, 0, calloc(INITIAL_CAPACITY, sizeof(Slot))};
    if (!fresh.slots) {
        snprintf(err, ERR_LEN, "out of memory reading the prompt filter");
        return 2;
    }
    int rc = 0;
    for (size_t k = 0; k < n && rc == 0; k++) {
        uint64_t key;
        int n_pass, n_samples, retired;
        char extra;
        if (!fgets(line, sizeof line, f)) {
            if (ferror(f)) {
                snprintf(err, ERR_LEN, "cannot read the prompt filter: %s", strerror(errno));
                rc = 2;
            } else {
                snprintf(err, ERR_LEN, "bad prompt filter state: %zu entries promised, the file ends after %zu", n, k);
                rc = 1;
            }
            break;
        }
        line[strcspn(line, "\n")] = 0;
        if (sscanf(line, "%" SCNx64 " %d %d %d %c", &key, &n_pass, &n_samples, &retired, &extra) != 4 ||
            n_samples < 1 || n_pass < 0 || n_pass > n_samples || (retired != 0 && retired != 1) ||
            lookup(&fresh, key)) {
            snprintf(err, ERR_LEN, "bad prompt filter state at entry %zu: '%.60s' (expected 'HEXKEY PASSES SAMPLES 0|1', unique keys)",
                     k + 1, line);
            rc = 1;
            break;
        }
        rc = store(&fresh, key, n_pass, n_samples, retired, NULL, err);
    }
    if (rc) {
        free(fresh.slots);
        return rc;
    }
    free(pf->slots);
    *pf = fresh;
    return 0;
}
