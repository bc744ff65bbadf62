/* `scalerl dump`: a checkpoint's tensors as NumPy .npy files, its config as JSON and its
 * metadata as text, for inspection and for checking against other implementations. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

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

static void write_config_json(FILE *f, const Model *m)
{
    const ModelConfig *c = &m->cfg;
    fprintf(f,
            "{\"vocab\": %d, \"ctx\": %d, \"d_model\": %d, \"n_layer\": %d, \"n_head\": %d, \"d_ff\": %d, "
            "\"n_params\": %zu, \"adam_step\": %ld}\n",
            c->vocab, c->ctx, c->d_model, c->n_layer, c->n_head, c->d_ff, m->n_params, m->adam_step);
}

/* The name of output k in out=: the tensors' NAME.npy, then config.json and meta.txt. */
static int output_path(const DumpOptions *o, const Model *m, int k, char *path, size_t n, char *err)
{
    char file[64];
    if (k < m->n_tensors) snprintf(file, sizeof file, "%s.npy", m->tensors[k].name);
    else snprintf(file, sizeof file, "%s", k == m->n_tensors ? "config.json" : "meta.txt");
    return path_join(path, n, o->out, file, err);
}

/* 1 with err when the checkpoint is one of the outputs: the rename would replace it. */
static int refuse_input_as_output(const DumpOptions *o, const Model *m, int n_files, char *err)
{
    char path[OPT_STR_LEN + 64];
    for (int k = 0; k < n_files; k++) {
        int rc = output_path(o, m, k, path, sizeof path, err);
        if (rc) return rc;
        if (path_replaces(path, o->ckpt)) {
            snprintf(err, ERR_LEN, "ckpt='%s' is '%s', an output of this dump: writing it would replace the checkpoint "
                     "(choose another out=)", o->ckpt, path);
            return 1;
        }
    }
    return 0;
}

/* Every file is written to a temporary name first and renamed only when all of them are complete,
 * so that a failure (a full disk) leaves out= as it was, never one checkpoint's tensors beside
 * another's. Only a rename that fails part-way (the directory itself failing) can mix them. */
static int dump(const DumpOptions *o, char *err)
{
    Model m;
    char meta[CHECKPOINT_META_MAX], path[OPT_STR_LEN + 64];
    int rc = checkpoint_load(o->ckpt, &m, meta, err);
    if (rc) return rc;
    const int n_files = m.n_tensors + 2;
    AtomicFile *af = calloc((size_t)n_files, sizeof *af); /* zeroed: atomic_abort of one not opened does nothing */
    if (!af) {
        snprintf(err, ERR_LEN, "out of memory");
        rc = 2;
    }
    if (!rc) rc = refuse_input_as_output(o, &m, n_files, err);
    if (!rc) rc = mkdir_p(o->out, err);
    for (int k = 0; !rc && k < n_files; k++) {
        if ((rc = output_path(o, &m, k, path, sizeof path, err)) || (rc = atomic_open(&af[k], path, err))) break;
        if (k < m.n_tensors) {
            const TensorInfo *t = &m.tensors[k];
            rc = npy_put_f32(af[k].f, path, m.params + t->offset, t->ndim, t->shape, err);
        } else if (k == m.n_tensors) {
            write_config_json(af[k].f, &m);
        } else {
            fputs(meta, af[k].f);
        }
        if (!rc) rc = atomic_close(&af[k], err); /* checks the writes through ferror */
    }
    for (int k = 0; !rc && k < n_files; k++) rc = atomic_rename(&af[k], err);
    if (rc && af)
        for (int k = 0; k < n_files; k++) atomic_abort(&af[k]);
    if (!rc) printf("wrote %d tensors, config.json and meta.txt to %s\n", m.n_tensors, o->out);
    if (!rc) rc = flush_stdout(err);
    free(af);
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
