#include "ref/rl/runfiles.h"

#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "models/checkpoint.h"
#include "ref/common/util.h"
#include "tasks/tasks.h"

void tokenizer_meta(char *buf, size_t n)
{
    snprintf(buf, n, "tokenizer=%s", tok_vocab_version());
}

int load_base_model(const char *path, Model *m, char *err)
{
    char meta[CHECKPOINT_META_MAX];
    int rc = checkpoint_load(path, m, meta, err);
    if (rc) return rc;
    char want[128];
    tokenizer_meta(want, sizeof want);
    /* The tokenizer line must be present as a whole line. */
    const char *at = strstr(meta, want);
    size_t wl = strlen(want);
    int whole = at && (at == meta || at[-1] == '\n') && (at[wl] == 0 || at[wl] == '\n');
    if (m->cfg.vocab != tok_vocab_size() || !whole) {
        snprintf(err, ERR_LEN, "'%s' was not made for this tokenizer (%s, %d tokens; the checkpoint has vocab=%d)",
                 path, want, tok_vocab_size(), m->cfg.vocab);
        model_free(m);
        return 1;
    }
    return 0;
}

int remove_run_checkpoint(const char *dir, char *err)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/final.ckpt", dir);
    if (unlink(path) != 0 && errno != ENOENT) {
        snprintf(err, ERR_LEN, "cannot remove the earlier run's '%s': %s", path, strerror(errno));
        return 2;
    }
    return 0;
}

int write_run_config(const TrainConfig *c, char *err)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/config.txt", c->out);
    AtomicFile af;
    int rc = atomic_open(&af, path, err);
    if (rc) return rc;
    recipe_write(c, af.f);
    return atomic_commit(&af, err);
}

int open_metrics(const char *dir, int append, FILE **f, char *err)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    *f = fopen(path, append ? "a" : "w");
    if (!*f) {
        snprintf(err, ERR_LEN, "cannot write '%s': %s", path, strerror(errno));
        return 2;
    }
    return 0;
}

int save_run_checkpoint(const TrainConfig *c, const Model *m, long step, char *err)
{
    char path[1100], meta[512], tok[128];
    snprintf(path, sizeof path, "%s/final.ckpt", c->out);
    tokenizer_meta(tok, sizeof tok);
    snprintf(meta, sizeof meta, "%s\nrecipe=%s\ntask=%s\nstep=%ld\nseed=%ld\n", tok, c->recipe, c->task, step,
             c->seed);
    return checkpoint_save(path, m, 1, meta, err);
}

int remove_resume_checkpoints(const char *dir, int keep_complete, char *err)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/ckpt", dir);
    DIR *d = opendir(path);
    if (!d) return 0;
    int rc = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL && !rc;) {
        if (strncmp(e->d_name, "step-", 5) != 0 || (keep_complete && !strstr(e->d_name, ".tmp."))) continue;
        char f[1400];
        snprintf(f, sizeof f, "%s/%s", path, e->d_name);
        if (unlink(f) != 0 && errno != ENOENT) {
            snprintf(err, ERR_LEN, "cannot remove the earlier run's '%s': %s", f, strerror(errno));
            rc = 2;
        }
    }
    closedir(d);
    return rc;
}
