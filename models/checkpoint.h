/* Checkpoints: one file per model, format documented in README.md ("Checkpoint format"):
 * magic, version, config, tensor table, zlib-compressed payload with CRC32. Written to a
 * temporary file and renamed; loading validates every field and refuses anything inconsistent
 * with a one-line error. */
#ifndef SCALERL_CHECKPOINT_H
#define SCALERL_CHECKPOINT_H

#include "models/model.h"

/* with_optimizer: also store the Adam moments and step, for resuming training. */
int checkpoint_save(const char *path, const Model *m, int with_optimizer, char *err);
/* Creates *m from the file (model_create with the stored config, then the stored values).
 * Returns 0, 1 (bad file: corrupt, truncated, foreign, mismatched) or 2 (cannot read). */
int checkpoint_load(const char *path, Model *m, char *err);

#endif
