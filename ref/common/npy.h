/* NumPy .npy output (format version 1.0), so that tensors can be inspected and checked with
 * numpy.load outside scalerl. */
#ifndef SCALERL_NPY_H
#define SCALERL_NPY_H

#define NPY_MAX_DIMS 8

/* Writes n = prod(shape) floats as a little-endian float32 ('<f4') C-order array of the given
 * shape (ndim 0..NPY_MAX_DIMS; ndim 0 is a scalar), atomically (temporary file, then rename).
 * Returns 0, 1 for a bad shape, 2 for an I/O failure, with a one-line message in err (ERR_LEN). */
int npy_write_f32(const char *path, const float *data, int ndim, const int *shape, char *err);

#endif
