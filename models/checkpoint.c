/* Checkpoint files. The byte-exact layout is in models/README.md, "Checkpoint format"; in short:
 *
 *   header:  magic "SCALERLC", version, header length, flags, model config, tensor table,
 *            metadata text, payload lengths, payload CRC32, header CRC32
 *   payload: one zlib stream of the little-endian float32 parameters, then (flag bit 0) the Adam
 *            first and second moments and the step as u64
 *
 * Every integer is little-endian and written byte by byte, so files are portable across hosts.
 * Saving streams the payload through deflate into a temporary file, then rewrites the header
 * with the final lengths and CRCs and renames the file into place. Loading reads the whole header
 * (its length bounded before anything is allocated), checks it, and inflates the payload
 * straight into the new model's buffers. */
#include "models/checkpoint.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <zlib.h>

#define CKPT_MAGIC "SCALERLC"
#define CKPT_VERSION 1u
#define CKPT_FLAG_OPTIMIZER 1u
#define CKPT_NAME_LEN 32    /* bytes per tensor name, NUL-padded */
#define CKPT_PREFIX_LEN 48  /* magic .. n_tensors */
#define CKPT_RECORD_LEN 64  /* name[32], ndim, shape[3], offset u64, count u64 */
#define CKPT_TRAILER_LEN 24 /* payload_len u64, compressed_len u64, payload CRC, header CRC */
#define CKPT_HEADER_MAX \
    (CKPT_PREFIX_LEN + MODEL_MAX_TENSORS * CKPT_RECORD_LEN + 4 + CHECKPOINT_META_MAX + CKPT_TRAILER_LEN)
/* Offsets of the fields a reader needs before it has the whole header. */
#define OFF_VERSION 8
#define OFF_HEADER_LEN 12
/* deflate cannot expand data by more than ~1032:1; a header claiming a larger ratio lies, and is
 * refused before the payload buffers are allocated. */
#define INFLATE_MAX_RATIO 1100u
#define IO_CHUNK 65536

/* ---- little-endian fields ---- */

static void put_u32(unsigned char *b, uint32_t v)
{
    for (int i = 0; i < 4; i++) b[i] = (unsigned char)(v >> (8 * i));
}
static void put_u64(unsigned char *b, uint64_t v)
{
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (8 * i));
}
static uint32_t get_u32(const unsigned char *b)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v |= (uint32_t)b[i] << (8 * i);
    return v;
}
static uint64_t get_u64(const unsigned char *b)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)b[i] << (8 * i);
    return v;
}

/* ---- header ---- */

static size_t header_len_for(int n_tensors, size_t meta_len)
{
    return CKPT_PREFIX_LEN + (size_t)n_tensors * CKPT_RECORD_LEN + 4 + meta_len + CKPT_TRAILER_LEN;
}

/* Serializes the header into b (header_len_for bytes), CRC included. */
static size_t header_build(unsigned char *b, const Model *m, uint32_t flags, const char *meta, size_t meta_len,
                           uint64_t payload_len, uint64_t compressed_len, uint32_t payload_crc)
{
    const size_t len = header_len_for(m->n_tensors, meta_len);
    memset(b, 0, len);
    memcpy(b, CKPT_MAGIC, 8);
    put_u32(b + OFF_VERSION, CKPT_VERSION);
    put_u32(b + OFF_HEADER_LEN, (uint32_t)len);
    put_u32(b + 16, flags);
    const int cfg[6] = {m->cfg.vocab, m->cfg.ctx, m->cfg.d_model, m->cfg.n_layer, m->cfg.n_head, m->cfg.d_ff};
    for (int i = 0; i < 6; i++) put_u32(b + 20 + 4 * i, (uint32_t)cfg[i]);
    put_u32(b + 44, (uint32_t)m->n_tensors);
    unsigned char *r = b + CKPT_PREFIX_LEN;
    for (int k = 0; k < m->n_tensors; k++, r += CKPT_RECORD_LEN) {
        const TensorInfo *t = &m->tensors[k];
        memcpy(r, t->name, strlen(t->name)); /* names are far shorter than CKPT_NAME_LEN */
        put_u32(r + 32, (uint32_t)t->ndim);
        for (int d = 0; d < 3; d++) put_u32(r + 36 + 4 * d, (uint32_t)(d < t->ndim ? t->shape[d] : 0));
        put_u64(r + 48, t->offset);
        put_u64(r + 56, t->size);
    }
    put_u32(r, (uint32_t)meta_len);
    memcpy(r + 4, meta, meta_len);
    unsigned char *tr = r + 4 + meta_len;
    put_u64(tr, payload_len);
    put_u64(tr + 8, compressed_len);
    put_u32(tr + 16, payload_crc);
    put_u32(tr + 20, (uint32_t)crc32(0L, b, (uInt)(len - 4)));
    return len;
}

/* ---- saving ---- */

typedef struct {
    FILE *f;
    z_stream z;
    uLong crc;
    uint64_t raw_len, compressed_len;
    unsigned char in[IO_CHUNK], out[IO_CHUNK];
} Deflater;

/* Compresses in[0..n) (flush: Z_FINISH for the last call) and writes what deflate produced.
 * Returns 0, or 2 on a write error. */
static int deflate_chunk(Deflater *d, size_t n, int flush)
{
    d->crc = crc32(d->crc, d->in, (uInt)n);
    d->raw_len += n;
    d->z.next_in = d->in;
    d->z.avail_in = (uInt)n;
    int zrc;
    do {
        d->z.next_out = d->out;
        d->z.avail_out = IO_CHUNK;
        zrc = deflate(&d->z, flush);
        if (zrc == Z_STREAM_ERROR) return 2; /* inconsistent stream state; never loops on it */
        size_t have = IO_CHUNK - d->z.avail_out;
        if (have && fwrite(d->out, 1, have, d->f) != have) return 2;
        d->compressed_len += have;
    } while (d->z.avail_out == 0 || (flush == Z_FINISH && zrc != Z_STREAM_END));
    return 0;
}

/* Streams n floats as little-endian bytes through the deflater. */
static int deflate_floats(Deflater *d, const float *x, size_t n)
{
    const size_t per_chunk = IO_CHUNK / 4;
    for (size_t i = 0; i < n; i += per_chunk) {
        size_t k = n - i < per_chunk ? n - i : per_chunk;
        for (size_t j = 0; j < k; j++) {
            uint32_t bits;
            memcpy(&bits, &x[i + j], 4);
            put_u32(d->in + 4 * j, bits);
        }
        if (deflate_chunk(d, 4 * k, Z_NO_FLUSH)) return 2;
    }
    return 0;
}

/* Writes the payload after a placeholder header, then the final header over it. */
static int write_checkpoint(FILE *f, const Model *m, int with_optimizer, const char *meta, size_t meta_len,
                            const char *tmp, char *err)
{
    const char *what = "cannot write";
    unsigned char *header = malloc(CKPT_HEADER_MAX);
    Deflater *d = calloc(1, sizeof *d);
    if (!header || !d) {
        free(header);
        free(d);
        snprintf(err, ERR_LEN, "out of memory writing '%s'", tmp);
        return 2;
    }
    const uint32_t flags = with_optimizer ? CKPT_FLAG_OPTIMIZER : 0;
    size_t hlen = header_build(header, m, flags, meta, meta_len, 0, 0, 0);
    int rc = fwrite(header, 1, hlen, f) == hlen ? 0 : 2;
    d->f = f;
    d->crc = crc32(0L, Z_NULL, 0);
    /* Level 1: float32 weights barely compress (a few percent) at any level, so speed wins. */
    int zinit = !rc && deflateInit(&d->z, 1) == Z_OK;
    if (!rc && !zinit) {
        what = "zlib cannot initialize deflate for";
        rc = 2;
    }
    if (!rc) rc = deflate_floats(d, m->params, m->n_params);
    if (!rc && with_optimizer) rc = deflate_floats(d, m->adam_m, m->n_params);
    if (!rc && with_optimizer) rc = deflate_floats(d, m->adam_v, m->n_params);
    if (!rc && with_optimizer) put_u64(d->in, (uint64_t)m->adam_step);
    if (!rc) rc = deflate_chunk(d, with_optimizer ? 8 : 0, Z_FINISH);
    if (zinit) deflateEnd(&d->z);
    if (!rc) {
        header_build(header, m, flags, meta, meta_len, d->raw_len, d->compressed_len, (uint32_t)d->crc);
        rc = (fseek(f, 0, SEEK_SET) == 0 && fwrite(header, 1, hlen, f) == hlen) ? 0 : 2;
    }
    if (rc) snprintf(err, ERR_LEN, "%s '%s': %s", what, tmp, strerror(errno));
    free(header);
    free(d);
    return rc;
}

int checkpoint_save(const char *path, const Model *m, int with_optimizer, const char *meta, char *err)
{
    if (!meta) meta = "";
    size_t meta_len = strlen(meta);
    if (meta_len >= CHECKPOINT_META_MAX) {
        snprintf(err, ERR_LEN, "checkpoint metadata is %zu bytes: at most %d", meta_len,
                 CHECKPOINT_META_MAX - 1);
        return 1;
    }
    /* Process and thread id make the temporary name unique among concurrent writers. */
    char tmp[1200];
    int n = snprintf(tmp, sizeof tmp, "%s.tmp.%ld.%ld", path, (long)getpid(), (long)syscall(SYS_gettid));
    if (n < 0 || (size_t)n >= sizeof tmp) {
        snprintf(err, ERR_LEN, "checkpoint path too long: '%.100s...'", path);
        return 1;
    }
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        snprintf(err, ERR_LEN, "cannot write '%s': %s", tmp, strerror(errno));
        return 2;
    }
    int rc = write_checkpoint(f, m, with_optimizer, meta, meta_len, tmp, err);
    if (fclose(f) != 0 && !rc) {
        snprintf(err, ERR_LEN, "cannot write '%s': %s", tmp, strerror(errno));
        rc = 2;
    }
    if (!rc && rename(tmp, path) != 0) {
        snprintf(err, ERR_LEN, "cannot rename '%s' to '%s': %s", tmp, path, strerror(errno));
        rc = 2;
    }
    if (rc) remove(tmp);
    return rc;
}

/* ---- loading ---- */

/* Reads exactly n bytes. Returns 0, 1 when the file ends first (truncated), 2 on a read error. */
static int read_exact(FILE *f, void *buf, size_t n)
{
    if (fread(buf, 1, n, f) == n) return 0;
    return ferror(f) ? 2 : 1;
}

/* Checks the tensor table against model_layout for the stored config. */
static int check_table(const unsigned char *rec, int n_stored, const ModelConfig *cfg, const char *path,
                       char *err)
{
    TensorInfo t[MODEL_MAX_TENSORS];
    int n;
    model_layout(cfg, t, &n);
    if (n_stored != n) {
        snprintf(err, ERR_LEN, "'%s': tensor table has %d tensors, expected %d for this config", path,
                 n_stored, n);
        return 1;
    }
    for (int k = 0; k < n; k++, rec += CKPT_RECORD_LEN) {
        char name[CKPT_NAME_LEN + 1];
        memcpy(name, rec, CKPT_NAME_LEN);
        name[CKPT_NAME_LEN] = 0;
        int ok = strcmp(name, t[k].name) == 0 && strlen(name) < CKPT_NAME_LEN;
        for (size_t i = strlen(name); i < CKPT_NAME_LEN; i++) ok = ok && rec[i] == 0;
        ok = ok && get_u32(rec + 32) == (uint32_t)t[k].ndim;
        for (int d = 0; d < 3; d++)
            ok = ok && get_u32(rec + 36 + 4 * d) == (uint32_t)(d < t[k].ndim ? t[k].shape[d] : 0);
        ok = ok && get_u64(rec + 48) == t[k].offset && get_u64(rec + 56) == t[k].size;
        if (!ok) {
            /* %.32s with a sanitized copy: a hostile name must not garble the terminal. */
            for (char *c = name; *c; c++)
                if (*c < 32 || *c > 126) *c = '?';
            snprintf(err, ERR_LEN,
                     "'%s': tensor %d ('%.32s', %u-d %ux%ux%u at %llu, %llu floats) does not match the layout "
                     "of the stored config (expected '%s')",
                     path, k, name, get_u32(rec + 32), get_u32(rec + 36), get_u32(rec + 40), get_u32(rec + 44),
                     (unsigned long long)get_u64(rec + 48), (unsigned long long)get_u64(rec + 56), t[k].name);
            return 1;
        }
    }
    return 0;
}

typedef struct {
    ModelConfig cfg;
    uint32_t flags;
    char *meta; /* points into the header buffer; meta_len bytes, not terminated */
    size_t meta_len;
    uint64_t payload_len, compressed_len;
    uint32_t payload_crc;
} Header;

/* Reads and validates the header: magic, version, length, CRC, flags, config, table, metadata,
 * payload lengths against the config and against the file's size. */
static int read_header(FILE *f, const char *path, long file_size, unsigned char *b, Header *h, char *err)
{
    if (file_size == 0) {
        snprintf(err, ERR_LEN, "'%s' is empty, not a scalerl checkpoint", path);
        return 1;
    }
    size_t first = file_size < 8 ? (size_t)file_size : 8;
    int rc = read_exact(f, b, first);
    if (rc == 2) goto read_error;
    if (first < 8 || memcmp(b, CKPT_MAGIC, 8) != 0) {
        snprintf(err, ERR_LEN, "'%s' is not a scalerl checkpoint (bad magic bytes)", path);
        return 1;
    }
    if ((rc = read_exact(f, b + 8, CKPT_PREFIX_LEN - 8))) goto short_header;
    uint32_t version = get_u32(b + OFF_VERSION);
    if (version != CKPT_VERSION) {
        snprintf(err, ERR_LEN, "'%s': checkpoint format version %u, this build reads version %u", path,
                 version, CKPT_VERSION);
        return 1;
    }
    uint32_t hlen = get_u32(b + OFF_HEADER_LEN);
    if (hlen < header_len_for(0, 0) || hlen > CKPT_HEADER_MAX) {
        snprintf(err, ERR_LEN, "'%s': corrupt header (header length %u, expected %d..%d)", path, hlen,
                 (int)header_len_for(0, 0), (int)CKPT_HEADER_MAX);
        return 1;
    }
    if ((rc = read_exact(f, b + CKPT_PREFIX_LEN, hlen - CKPT_PREFIX_LEN))) goto short_header;
    uint32_t stored_crc = get_u32(b + hlen - 4), crc = (uint32_t)crc32(0L, b, hlen - 4);
    if (stored_crc != crc) {
        snprintf(err, ERR_LEN, "'%s': corrupt header (header CRC32 %08x, computed %08x)", path, stored_crc,
                 crc);
        return 1;
    }
    /* From here the header is what the writer wrote; what follows checks it is also consistent. */
    h->flags = get_u32(b + 16);
    if (h->flags & ~CKPT_FLAG_OPTIMIZER) {
        snprintf(err, ERR_LEN, "'%s': unknown header flags 0x%x (this build knows 0x%x)", path, h->flags,
                 CKPT_FLAG_OPTIMIZER);
        return 1;
    }
    uint32_t c[6];
    for (int i = 0; i < 6; i++) {
        c[i] = get_u32(b + 20 + 4 * i);
        if (c[i] > 1000000000u) c[i] = 1000000000u; /* keeps the int conversion defined; the check refuses it */
    }
    h->cfg = (ModelConfig){(int)c[0], (int)c[1], (int)c[2], (int)c[3], (int)c[4], (int)c[5]};
    char cfg_err[ERR_LEN];
    if (model_config_check(&h->cfg, cfg_err)) {
        snprintf(err, ERR_LEN, "'%s': stored %s", path, cfg_err);
        return 1;
    }
    uint32_t n_tensors = get_u32(b + 44);
    if (n_tensors > MODEL_MAX_TENSORS || header_len_for((int)n_tensors, 0) > hlen) {
        snprintf(err, ERR_LEN, "'%s': corrupt header (%u tensors in a %u-byte header)", path, n_tensors,
                 hlen);
        return 1;
    }
    if (check_table(b + CKPT_PREFIX_LEN, (int)n_tensors, &h->cfg, path, err)) return 1;
    unsigned char *r = b + CKPT_PREFIX_LEN + (size_t)n_tensors * CKPT_RECORD_LEN;
    h->meta_len = get_u32(r);
    if (h->meta_len >= CHECKPOINT_META_MAX || header_len_for((int)n_tensors, h->meta_len) != hlen) {
        snprintf(err, ERR_LEN, "'%s': corrupt header (metadata length %zu in a %u-byte header)", path,
                 h->meta_len, hlen);
        return 1;
    }
    h->meta = (char *)r + 4;
    if (memchr(h->meta, 0, h->meta_len)) {
        snprintf(err, ERR_LEN, "'%s': metadata contains a NUL byte", path);
        return 1;
    }
    unsigned char *tr = r + 4 + h->meta_len;
    h->payload_len = get_u64(tr);
    h->compressed_len = get_u64(tr + 8);
    h->payload_crc = get_u32(tr + 16);
    TensorInfo t[MODEL_MAX_TENSORS];
    int n;
    uint64_t n_params = model_layout(&h->cfg, t, &n);
    uint64_t want = (h->flags & CKPT_FLAG_OPTIMIZER) ? 12 * n_params + 8 : 4 * n_params;
    if (h->payload_len != want) {
        snprintf(err, ERR_LEN, "'%s': payload length %llu, expected %llu for this config and flags", path,
                 (unsigned long long)h->payload_len, (unsigned long long)want);
        return 1;
    }
    uint64_t have = (uint64_t)file_size - hlen;
    if (have < h->compressed_len) {
        snprintf(err, ERR_LEN, "'%s' is truncated: %llu payload bytes, the header says %llu", path,
                 (unsigned long long)have, (unsigned long long)h->compressed_len);
        return 1;
    }
    if (have > h->compressed_len) {
        snprintf(err, ERR_LEN, "'%s': %llu bytes of trailing garbage after the payload", path,
                 (unsigned long long)(have - h->compressed_len));
        return 1;
    }
    if (h->payload_len / INFLATE_MAX_RATIO > h->compressed_len) {
        snprintf(err, ERR_LEN, "'%s': corrupt header (%llu payload bytes cannot inflate from %llu)", path,
                 (unsigned long long)h->payload_len, (unsigned long long)h->compressed_len);
        return 1;
    }
    return 0;

short_header:
    if (rc == 1) {
        snprintf(err, ERR_LEN, "'%s' is truncated inside the header (%ld bytes)", path, file_size);
        return 1;
    }
read_error:
    snprintf(err, ERR_LEN, "cannot read '%s': %s", path, strerror(errno));
    return 2;
}

/* Inflates the payload into the given destinations, in order, checking its length and CRC. */
static int read_payload(FILE *f, const char *path, const Header *h, unsigned char *const dst[4],
                        const size_t dst_len[4], char *err)
{
    unsigned char *in = malloc(IO_CHUNK);
    if (!in) {
        snprintf(err, ERR_LEN, "out of memory reading '%s'", path);
        return 2;
    }
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit(&z) != Z_OK) {
        free(in);
        snprintf(err, ERR_LEN, "zlib cannot initialize inflate for '%s'", path);
        return 2;
    }
    uLong crc = crc32(0L, Z_NULL, 0);
    uint64_t left_in = h->compressed_len;
    size_t pos = 0; /* bytes filled in the current destination */
    int seg = 0, zrc = Z_OK, rc = 0, too_long = 0;
    while (seg < 4 && dst_len[seg] == 0) seg++;
    for (;;) {
        unsigned char extra; /* past the last destination: any output at all is too much */
        if (seg < 4) {
            size_t want = dst_len[seg] - pos;
            z.next_out = dst[seg] + pos;
            z.avail_out = want < (1u << 30) ? (uInt)want : (1u << 30);
        } else {
            z.next_out = &extra;
            z.avail_out = 1;
        }
        if (z.avail_in == 0 && left_in > 0) {
            size_t k = left_in < IO_CHUNK ? (size_t)left_in : IO_CHUNK;
            if ((rc = read_exact(f, in, k))) break;
            left_in -= k;
            z.next_in = in;
            z.avail_in = (uInt)k;
        }
        uInt avail_before = z.avail_out;
        zrc = inflate(&z, Z_NO_FLUSH);
        size_t produced = avail_before - z.avail_out;
        if (seg == 4) {
            if (produced) {
                too_long = 1;
                break;
            }
        } else {
            crc = crc32_z(crc, dst[seg] + pos, produced);
            pos += produced;
            if (pos == dst_len[seg]) {
                pos = 0;
                do seg++;
                while (seg < 4 && dst_len[seg] == 0);
            }
        }
        /* Z_BUF_ERROR: no progress possible, i.e. the input ran out before the stream ended. */
        if (zrc != Z_OK) break;
    }
    const int unused_input = zrc == Z_STREAM_END && (z.avail_in > 0 || left_in > 0);
    const char *zmsg = z.msg ? z.msg : "data error";
    if (rc == 0 && zrc != Z_STREAM_END) zmsg = too_long ? "stream longer than the header says"
                                          : zrc == Z_BUF_ERROR ? "stream cut short"
                                          : zrc == Z_MEM_ERROR ? "out of memory"
                                          : zmsg;
    else if (zrc == Z_STREAM_END && seg < 4) zmsg = "stream shorter than the header says";
    else if (unused_input) zmsg = "stream ends before the payload does";
    int corrupt = rc == 0 && (zrc != Z_STREAM_END || seg < 4 || unused_input);
    if (corrupt) snprintf(err, ERR_LEN, "'%s': corrupt payload (zlib: %s)", path, zmsg);
    inflateEnd(&z);
    free(in);
    if (rc == 2) {
        snprintf(err, ERR_LEN, "cannot read '%s': %s", path, strerror(errno));
        return 2;
    }
    if (rc == 1) {
        snprintf(err, ERR_LEN, "'%s' is truncated inside the payload", path);
        return 1;
    }
    if (corrupt) return zrc == Z_MEM_ERROR ? 2 : 1;
    if ((uint32_t)crc != h->payload_crc) {
        snprintf(err, ERR_LEN, "'%s': corrupt payload (CRC32 %08x, header says %08x)", path, (uint32_t)crc,
                 h->payload_crc);
        return 1;
    }
    return 0;
}

/* The payload holds little-endian float32; turn the bytes into host floats in place. */
static void floats_from_le(float *x, size_t n)
{
    unsigned char *b = (unsigned char *)x;
    for (size_t i = 0; i < n; i++) {
        uint32_t bits = get_u32(b + 4 * i);
        memcpy(&x[i], &bits, 4);
    }
}

int checkpoint_load(const char *path, Model *m, char *meta, char *err)
{
    memset(m, 0, sizeof *m);
    if (meta) meta[0] = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, ERR_LEN, "cannot open '%s': %s", path, strerror(errno));
        return 2;
    }
    long file_size = -1;
    if (fseek(f, 0, SEEK_END) == 0) file_size = ftell(f);
    if (file_size < 0 || fseek(f, 0, SEEK_SET) != 0) {
        snprintf(err, ERR_LEN, "cannot read '%s': %s", path, strerror(errno));
        fclose(f);
        return 2;
    }
    unsigned char *b = malloc(CKPT_HEADER_MAX);
    if (!b) {
        snprintf(err, ERR_LEN, "out of memory reading '%s'", path);
        fclose(f);
        return 2;
    }
    Header h;
    int rc = read_header(f, path, file_size, b, &h, err);
    if (!rc) rc = model_create(m, &h.cfg, 0, err);
    if (!rc) {
        const int opt = (h.flags & CKPT_FLAG_OPTIMIZER) != 0;
        const size_t bytes = m->n_params * sizeof(float);
        unsigned char step[8];
        unsigned char *const dst[4] = {(unsigned char *)m->params, (unsigned char *)m->adam_m,
                                       (unsigned char *)m->adam_v, step};
        const size_t dst_len[4] = {bytes, opt ? bytes : 0, opt ? bytes : 0, opt ? 8 : 0};
        rc = read_payload(f, path, &h, dst, dst_len, err);
        if (!rc) {
            floats_from_le(m->params, m->n_params);
            if (opt) {
                floats_from_le(m->adam_m, m->n_params);
                floats_from_le(m->adam_v, m->n_params);
                uint64_t s = get_u64(step);
                if (s > (uint64_t)1 << 62) {
                    snprintf(err, ERR_LEN, "'%s': optimizer step %llu is out of range", path,
                             (unsigned long long)s);
                    rc = 1;
                }
                m->adam_step = (long)s;
            }
        }
        if (!rc && meta) {
            memcpy(meta, h.meta, h.meta_len);
            meta[h.meta_len] = 0;
        }
        if (rc) model_free(m);
    }
    free(b);
    fclose(f);
    return rc;
}
