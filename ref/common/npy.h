/* NumPy .npy output (format version 1.0), so that tensors can be inspected and checked with
 * numpy.load outside scalerl. */
#ifndef SCALERL_NPY_H
#define SCALERL_NPY_H

#include <stdio.h>

#define NPY_MAX_DIMS 8

/* Writes n = prod(shape) floats to f as a little-endian float32 ('<f4') C-order array of the given
 * shape (ndim 0..NPY_MAX_DIMS; ndim 0 is a scalar); path names the file in messages. f is the
 * caller's to close (atomic_commit, or atomic_close when several files are to appear together),
 * which catches any write error through ferror. Returns 0, or 1 for a bad shape with a one-line
 * message in err (ERR_LEN). */
int npy_put_f32(FILE *f, const char *path, const float *data, int ndim, const int *shape, char *err);

#endif
