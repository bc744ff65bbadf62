/* Checkpoints: one file per model, format documented in models/README.md ("Checkpoint format"):
 * magic, version, config, tensor table, zlib-compressed payload with CRC32. Written to a
 * temporary file and renamed; loading validates every field and refuses anything inconsistent
 * with a one-line error. */
#ifndef SCALERL_CHECKPOINT_H
#define SCALERL_CHECKPOINT_H

#include "models/model.h"

#define CHECKPOINT_META_MAX 4096

/* with_optimizer: also store the Adam moments and step, for resuming training. meta: free text
 * (key=value lines by convention, e.g. the tokenizer's identity, the pretraining task, the RL
 * step), stored verbatim; NULL for none. At most CHECKPOINT_META_MAX-1 bytes. */
int checkpoint_save(const char *path, const Model *m, int with_optimizer, const char *meta, char *err);
/* Creates *m from the file (model_create with the stored config, then the stored values; the
 * moments too when stored, else zero). If meta is not NULL it receives the stored text
 * (0-terminated, "" when none; meta must hold CHECKPOINT_META_MAX bytes).
 * Returns 0, 1 (bad file: corrupt, truncated, foreign, mismatched) or 2 (cannot read). */
int checkpoint_load(const char *path, Model *m, char *meta, char *err);

#endif
