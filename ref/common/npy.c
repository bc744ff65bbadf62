/* The .npy layout: the magic "\x93NUMPY", version bytes 1 0, a little-endian u16 header length,
 * then the header, a Python dict literal padded with spaces and ended by '\n' so that the data
 * starts at a multiple of 64 bytes (what numpy itself writes, for aligned memory mapping). */
#include "ref/common/npy.h"

#include <stdint.h>
#include <string.h>

#include "ref/common/util.h"

#define NPY_ALIGN 64

/* Fills buf with magic, version, length and padded dict; returns the total preamble length. */
static size_t npy_preamble(char *buf, size_t cap, int ndim, const int *shape)
{
    char dims[NPY_MAX_DIMS * 12 + 4] = "";
    size_t used = 0;
    for (int d = 0; d < ndim; d++)
        used += (size_t)snprintf(dims + used, sizeof dims - used, d ? ", %d" : "%d", shape[d]);
    if (ndim == 1) snprintf(dims + used, sizeof dims - used, ","); /* (n,) is a tuple, (n) is not */
    char dict[sizeof dims + 80];
    int dict_len = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }", dims);
    size_t total = 10 + (size_t)dict_len + 1; /* + the closing newline */
    total = (total + NPY_ALIGN - 1) / NPY_ALIGN * NPY_ALIGN;
    if (total > cap) return 0;
    size_t header_len = total - 10;
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (char)(header_len & 0xff);
    buf[9] = (char)(header_len >> 8);
    memset(buf + 10, ' ', header_len);
    memcpy(buf + 10, dict, (size_t)dict_len);
    buf[total - 1] = '\n';
    return total;
}

int npy_put_f32(FILE *f, const char *path, const float *data, int ndim, const int *shape, char *err)
{
    if (ndim < 0 || ndim > NPY_MAX_DIMS) {
        snprintf(err, ERR_LEN, "cannot write '%s': %d dimensions, expected 0..%d", path, ndim, NPY_MAX_DIMS);
        return 1;
    }
    size_t n = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0) {
            snprintf(err, ERR_LEN, "cannot write '%s': dimension %d is %d, expected >= 0", path, d, shape[d]);
            return 1;
        }
        n *= (size_t)shape[d];
    }
    char pre[512];
    size_t pre_len = npy_preamble(pre, sizeof pre, ndim, shape);
    if (pre_len == 0) {
        snprintf(err, ERR_LEN, "cannot write '%s': shape too long for a .npy header", path);
        return 1;
    }
    fwrite(pre, 1, pre_len, f);
    /* Little-endian bytes whatever the host, in blocks to keep the writes large. */
    unsigned char block[4096];
    for (size_t i = 0; i < n;) {
        size_t k = 0;
        for (; k < sizeof block / 4 && i < n; k++, i++) {
            uint32_t bits;
            memcpy(&bits, &data[i], 4);
            for (int j = 0; j < 4; j++) block[4 * k + j] = (unsigned char)(bits >> (8 * j));
        }
        if (fwrite(block, 4, k, f) != k) break;
    }
    return 0;
}
