/* Private to models/: the training activations saved by model_forward for model_backward.
 * All activation memory lives in the one buffer `buf` (grown on demand), with named pointers
 * into it, so that model_free only has to free buf and the struct. */
#ifndef SCALERL_ACTS_H
#define SCALERL_ACTS_H

#include <stddef.h>

struct ModelActs {
    int B, T;        /* shape of the last forward */
    size_t capacity; /* floats allocated in buf */
    float *buf;
    /* named views into buf, set by forward.c */
    float *named[64];
};

#endif
