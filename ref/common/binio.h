/* Native-layout binary records for resume state (ref/rl/resume.h): a writer that remembers
 * whether any write failed, and a bounds-checked reader over a buffer that remembers whether
 * any read ran past its end. The layout is the machine's own (byte order, sizes): such files
 * resume a run with the same build on the same kind of machine, which is what they are for. */
#ifndef SCALERL_BINIO_H
#define SCALERL_BINIO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct {
    FILE *f;
    int bad; /* a write failed */
} BinWriter;

void bw_i64(BinWriter *w, int64_t v);
void bw_f64(BinWriter *w, double v);
void bw_bytes(BinWriter *w, const void *p, size_t n);

typedef struct {
    const unsigned char *p, *end;
    int bad; /* a read ran past the end (every later read gives zeros) */
} BinReader;

int64_t br_i64(BinReader *r);
double br_f64(BinReader *r);
void br_bytes(BinReader *r, void *p, size_t n);
/* A count read and checked against [0, max]; sets bad when outside. */
int64_t br_count(BinReader *r, int64_t max);

#endif
