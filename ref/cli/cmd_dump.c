/* `scalerl dump`: a checkpoint's tensors as NumPy .npy files, its config as JSON and its
 * metadata as text, for inspection and for checking against other implementations. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "models/checkpoint.h"
#include "models/model.h"
#include "ref/common/args.h"
#include "ref/cli/commands.h"
#include "ref/common/npy.h"
#include "ref/common/util.h"

typedef struct {
    char ckpt[OPT_STR_LEN];
    char out[OPT_STR_LEN];
} DumpOptions;

static const OptSpec dump_specs[] = {
    {"ckpt", OPT_STR, offsetof(DumpOptions, ckpt), NULL, 0, 0, NULL, "checkpoint file to read"},
    {"out", OPT_STR, offsetof(DumpOptions, out), NULL, 0, 0, NULL, "directory to write (created if missing)"},
    {NULL, 0, 0, NULL, 0, 0, NULL, NULL},
};

static int write_config_json(const char *path, const Model *m, char *err)
{
    AtomicFile af;
    int rc = atomic_open(&af, path, err);
    if (rc) return rc;
    const ModelConfig *c = &m->cfg;
    fprintf(af.f,
            "{\"vocab\": %d, \"ctx\": %d, \"d_model\": %d, \"n_layer\": %d, \"n_head\": %d, \"d_ff\": %d, "
            "\"n_params\": %zu, \"adam_step\": %ld}\n",
            c->vocab, c->ctx, c->d_model, c->n_layer, c->n_head, c->d_ff, m->n_params, m->adam_step);
    return atomic_commit(&af, err); /* checks the write through ferror */
}

static int write_text(const char *path, const char *text, char *err)
{
    AtomicFile af;
    int rc = atomic_open(&af, path, err);
    if (rc) return rc;
    fputs(text, af.f);
    return atomic_commit(&af, err);
}

static int dump(const DumpOptions *o, char *err)
{
    Model m;
    char meta[CHECKPOINT_META_MAX], path[OPT_STR_LEN + 64];
    int rc = checkpoint_load(o->ckpt, &m, meta, err);
    if (rc) return rc;
    rc = mkdir_p(o->out, err);
    for (int k = 0; !rc && k < m.n_tensors; k++) {
        const TensorInfo *t = &m.tensors[k];
        char file[64];
        snprintf(file, sizeof file, "%s.npy", t->name);
        rc = path_join(path, sizeof path, o->out, file, err);
        if (!rc) rc = npy_write_f32(path, m.params + t->offset, t->ndim, t->shape, err);
    }
    if (!rc) rc = path_join(path, sizeof path, o->out, "config.json", err);
    if (!rc) rc = write_config_json(path, &m, err);
    if (!rc) rc = path_join(path, sizeof path, o->out, "meta.txt", err);
    if (!rc) rc = write_text(path, meta, err);
    if (!rc) printf("wrote %d tensors, config.json and meta.txt to %s\n", m.n_tensors, o->out);
    if (!rc) rc = flush_stdout(err);
    model_free(&m);
    return rc;
}

int cmd_dump(int argc, char **argv)
{
    static const CommandSpec spec = {
        "dump",
        "usage: scalerl dump ckpt=FILE out=DIR\n\n"
        "Writes every tensor of the checkpoint as DIR/NAME.npy (float32, C order), the model config\n"
        "as DIR/config.json and the checkpoint's metadata text as DIR/meta.txt.\n",
        dump_specs, 0, NULL};
    char err[ERR_LEN];
    Args a;
    DumpOptions o;
    int rc;
    if (!command_args(&spec, &a, &o, argc, argv, &rc)) return rc;
    rc = dump(&o, err);
    return rc ? report_error(spec.name, rc, err) : 0;
}
