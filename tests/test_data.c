/* The training pool (ref/rl/data.h): distinct prompts, every pool prompt once per epoch, a fresh
 * permutation each epoch, No-Positive-Resampling taking effect from the next epoch (never inside
 * the current one), refusal of a pool larger than the task, and exhaustion. */
#include <stdlib.h>
#include <string.h>

#include "errbuf.h"
#include "ref/rl/data.h"
#include "tests/test.h"

enum { POOL = 40 };

static TaskSplit *make_split(const char *task, TaskSpec **spec)
{
    char err[ERR_LEN];
    TaskSplit *split = NULL;
    if (task_spec_parse(task, spec, err) || split_new(*spec, 7, 20, &split, err)) {
        printf("FAIL data setup: %s\n", err);
        exit(1);
    }
    return split;
}

/* Serves one epoch (n prompts) into keys[]; returns how many of them were distinct. */
static int serve(DataSource *d, const PromptFilter *pf, int n, uint64_t *keys)
{
    char err[ERR_LEN];
    int distinct = 0;
    for (int i = 0; i < n; i++) {
        Problem p;
        if (data_next(d, pf, &p, &keys[i], err)) return -1;
        int seen = 0;
        for (int j = 0; j < i; j++) seen |= keys[j] == keys[i];
        distinct += !seen;
    }
    return distinct;
}

static int contains(const uint64_t *keys, int n, uint64_t k)
{
    for (int i = 0; i < n; i++)
        if (keys[i] == k) return 1;
    return 0;
}

static void test_epochs_and_retirement(void)
{
    TaskSpec *spec;
    TaskSplit *split = make_split("add:digits=2", &spec);
    char err[ERR_LEN];
    int rc;
    enum { HALF = POOL / 2 };
    /* A twin source with the same seed and no filter gives epoch 0's order. */
    DataSource *twin = data_new(split, POOL, 3, &rc, err), *d = data_new(split, POOL, 3, &rc, err);
    PromptFilter *pf = prompt_filter_new(0.9, err);
    if (!twin || !d || !pf) {
        printf("FAIL data_new: %s\n", err);
        exit(1);
    }
    uint64_t order0[POOL], e0[POOL], e1[POOL], e2[2 * POOL];
    const int n0 = serve(twin, NULL, POOL, order0);
    CHECK(n0 == POOL && data_epoch(twin) == 0, "epoch 0 serves the pool's prompts once each", "%d distinct of %d",
          n0, POOL);
    /* Epoch 0 of d: the first half, then one served and one not yet served prompt retire. */
    serve(d, pf, HALF, e0);
    const uint64_t early = order0[3], late = order0[HALF + 1];
    prompt_filter_record(pf, early, 16, 16, NULL, err);
    prompt_filter_record(pf, late, 15, 16, NULL, err);
    serve(d, pf, HALF, e0 + HALF);
    CHECK(memcmp(e0, order0, sizeof e0) == 0,
          "a prompt retired during an epoch is still served in that epoch (retirement starts at the next)",
          "epoch 0 with retirements differs from epoch 0 without");
    /* Epoch 1: both retired prompts left out, everything else once, in another order. */
    const int n1 = serve(d, pf, POOL - 2, e1);
    CHECK(n1 == POOL - 2 && data_epoch(d) == 1 && data_epoch_size(d) == POOL - 2 && !contains(e1, POOL - 2, early) &&
              !contains(e1, POOL - 2, late),
          "the next epoch leaves out the prompts retired before it began", "distinct %d epoch %ld size %ld", n1,
          data_epoch(d), data_epoch_size(d));
    int reordered = 0;
    for (int i = 0; i < POOL - 2; i++) reordered |= e1[i] != order0[i];
    CHECK(reordered, "each epoch is a fresh permutation", "epoch 1 served in epoch 0's order");
    /* Without a filter (prompt_filter=0) every prompt comes every epoch. */
    serve(twin, NULL, POOL, e2);
    CHECK(serve(twin, NULL, POOL, e2 + POOL) == POOL && data_epoch(twin) == 2 &&
              data_epochs(twin) > 2.99 && data_epochs(twin) <= 3.0,
          "without a filter every prompt every epoch; epochs counts passes", "epoch %ld epochs %g", data_epoch(twin),
          data_epochs(twin));
    /* Every prompt retired: the next epoch has nothing to serve, and says so. */
    for (int i = 0; i < POOL; i++) prompt_filter_record(pf, order0[i], 16, 16, NULL, err);
    Problem p;
    uint64_t k;
    CHECK(data_next(d, pf, &p, &k, err) == 1 && strstr(err, "retired"), "every prompt retired: an error says so",
          "err '%s'", err);
    data_free(twin);
    data_free(d);
    prompt_filter_free(pf);
    split_free(split);
    task_spec_free(spec);
}

/* add:digits=1 has 100 sums, some of them validation prompts: a pool of 500 takes every
 * training prompt, distinct, and says how many. */
static void test_pool_larger_than_task(void)
{
    TaskSpec *spec;
    TaskSplit *split = make_split("add:digits=1", &spec);
    char err[ERR_LEN];
    int rc = 0;
    DataSource *d = data_new(split, 500, 1, &rc, err);
    const long n = d ? data_pool_size(d) : 0;
    uint64_t keys[100];
    const int distinct = d && n <= 100 ? serve(d, NULL, (int)n, keys) : -1;
    CHECK(d && n == 100 - split_val_count(split) && distinct == n,
          "a task smaller than train_pool gives all its distinct training prompts", "pool %ld, %d distinct, %d val",
          n, distinct, split_val_count(split));
    data_free(d);
    split_free(split);
    task_spec_free(spec);
}

int main(void)
{
    test_epochs_and_retirement();
    test_pool_larger_than_task();
    return test_main_result();
}
