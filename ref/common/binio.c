#include "ref/common/binio.h"

#include <string.h>

void bw_bytes(BinWriter *w, const void *p, size_t n)
{
    if (!w->bad && n && fwrite(p, 1, n, w->f) != n) w->bad = 1;
}

void bw_i64(BinWriter *w, int64_t v)
{
    bw_bytes(w, &v, sizeof v);
}

void bw_f64(BinWriter *w, double v)
{
    bw_bytes(w, &v, sizeof v);
}

void br_bytes(BinReader *r, void *p, size_t n)
{
    if (r->bad || (size_t)(r->end - r->p) < n) {
        r->bad = 1;
        memset(p, 0, n);
        return;
    }
    memcpy(p, r->p, n);
    r->p += n;
}

int64_t br_i64(BinReader *r)
{
    int64_t v;
    br_bytes(r, &v, sizeof v);
    return v;
}

double br_f64(BinReader *r)
{
    double v;
    br_bytes(r, &v, sizeof v);
    return v;
}

int64_t br_count(BinReader *r, int64_t max)
{
    const int64_t v = br_i64(r);
    if (v < 0 || v > max) {
        r->bad = 1;
        return 0;
    }
    return v;
}
