/* Checkpoints: byte-identical round trips, and every kind of damaged or hostile file refused with
 * its own message and the right exit class (1 bad file, 2 cannot read). The byte offsets used
 * here are the documented format (models/README.md, "Checkpoint format"). */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "models/checkpoint.h"
#include "models/model.h"
#include "models/optim.h"
#include "models/rng.h"
#include "tests/test.h"

static const ModelConfig cfg = {13, 8, 8, 2, 2, 16};

typedef struct {
    unsigned char *b;
    size_t n;
} Bytes;

static void path_in(char *buf, const char *dir, const char *name)
{
    snprintf(buf, 256, "%s/%s", dir, name);
}

static Bytes read_all(const char *path)
{
    Bytes r = {NULL, 0};
    FILE *f = fopen(path, "rb");
    if (!f) return r;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    r.b = malloc((size_t)n + 1);
    r.n = fread(r.b, 1, (size_t)n, f);
    fclose(f);
    return r;
}

static void write_all(const char *path, const unsigned char *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(b, 1, n, f) != n || fclose(f) != 0) {
        printf("FAIL test setup: cannot write %s\n", path);
        exit(1);
    }
}

static uint32_t get_u32(const unsigned char *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}
static void put_u32(unsigned char *b, uint32_t v)
{
    for (int i = 0; i < 4; i++) b[i] = (unsigned char)(v >> (8 * i));
}
static void put_u64(unsigned char *b, uint64_t v)
{
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (8 * i));
}

/* Field offsets of the format. */
#define HEADER_LEN_AT 12
#define FLAGS_AT 16
#define CONFIG_AT 20
#define N_TENSORS_AT 44
#define TABLE_AT 48
static size_t header_len(const Bytes *f) { return get_u32(f->b + HEADER_LEN_AT); }
static size_t trailer_at(const Bytes *f) { return header_len(f) - 24; }
static size_t meta_len_at(const Bytes *f) { return TABLE_AT + 64 * get_u32(f->b + N_TENSORS_AT); }

/* A hostile writer keeps the header CRC valid, so that the checks behind it are reached. */
static void fix_header_crc(Bytes *f)
{
    size_t h = header_len(f);
    put_u32(f->b + h - 4, (uint32_t)crc32(0L, f->b, (uInt)(h - 4)));
}

static Model make_model(void)
{
    Model m;
    char err[ERR_LEN];
    if (model_create(&m, &cfg, 3, err)) {
        printf("FAIL model_create: %s\n", err);
        exit(1);
    }
    /* Nonzero, distinct moments and step, so a round trip that dropped any of them shows. */
    for (size_t i = 0; i < m.n_params; i++) {
        m.adam_m[i] = (float)(rng_uniform(9, 1, 0, i) - 0.5);
        m.adam_v[i] = (float)rng_uniform(9, 2, 0, i);
    }
    m.adam_step = 1234567;
    return m;
}

/* Loads path expecting failure with return code rc and a message containing want. */
static void expect_refused(const char *path, int rc_want, const char *want, const char *name)
{
    Model m;
    char err[ERR_LEN] = "", meta[CHECKPOINT_META_MAX];
    int rc = checkpoint_load(path, &m, meta, err);
    CHECK(rc == rc_want && strstr(err, want) != NULL && strchr(err, '\n') == NULL, name,
          "rc %d (want %d), message \"%s\" (want it to contain \"%s\")", rc, rc_want, err, want);
    if (rc == 0) model_free(&m);
}

static void expect_refused_bytes(const char *dir, const Bytes *f, const char *want, const char *name)
{
    char path[256];
    path_in(path, dir, "bad.ckpt");
    write_all(path, f->b, f->n);
    expect_refused(path, 1, want, name);
}

static void test_round_trip(const char *dir, const char *meta_text)
{
    char p1[256], p2[256], p3[256], p4[256], err[ERR_LEN], meta[CHECKPOINT_META_MAX];
    path_in(p1, dir, "a.ckpt");
    path_in(p2, dir, "b.ckpt");
    path_in(p3, dir, "c.ckpt");
    path_in(p4, dir, "d.ckpt");
    Model m = make_model();
    int rc = checkpoint_save(p1, &m, 1, meta_text, err);
    CHECK(rc == 0, "save with optimizer state", "rc %d: %s", rc, err);
    Model l;
    rc = checkpoint_load(p1, &l, meta, err);
    CHECK(rc == 0, "load with optimizer state", "rc %d: %s", rc, err);
    if (rc) return;
    size_t bytes = m.n_params * sizeof(float);
    CHECK(memcmp(&l.cfg, &m.cfg, sizeof m.cfg) == 0 && l.n_params == m.n_params, "round trip keeps the config",
          "config or size differs");
    CHECK(memcmp(l.params, m.params, bytes) == 0, "round trip keeps parameters bit for bit", "differ");
    CHECK(memcmp(l.adam_m, m.adam_m, bytes) == 0 && memcmp(l.adam_v, m.adam_v, bytes) == 0,
          "round trip keeps both Adam moments bit for bit", "differ");
    CHECK(l.adam_step == m.adam_step, "round trip keeps the Adam step", "%ld vs %ld", l.adam_step, m.adam_step);
    CHECK(strcmp(meta, meta_text) == 0, "round trip keeps the metadata verbatim", "got \"%s\"", meta);
    rc = checkpoint_save(p2, &l, 1, meta, err);
    Bytes a = read_all(p1), b = read_all(p2);
    CHECK(rc == 0 && a.n == b.n && a.n > 0 && memcmp(a.b, b.b, a.n) == 0, "save, load, save: identical files",
          "rc %d, sizes %zu and %zu", rc, a.n, b.n);

    rc = checkpoint_save(p3, &m, 0, NULL, err);
    Model w;
    int rc2 = rc ? rc : checkpoint_load(p3, &w, meta, err);
    CHECK(rc2 == 0, "save and load without optimizer state", "rc %d: %s", rc2, err);
    if (!rc2) {
        int zero = w.adam_step == 0;
        for (size_t i = 0; i < w.n_params; i++) zero = zero && w.adam_m[i] == 0 && w.adam_v[i] == 0;
        CHECK(zero && memcmp(w.params, m.params, bytes) == 0 && meta[0] == 0,
              "without optimizer state: same parameters, zero moments and step, empty metadata",
              "step %ld, meta \"%s\"", w.adam_step, meta);
        model_free(&w);
    }
    free(a.b);
    free(b.b);
    model_free(&l);
    model_free(&m);
}

/* Byte-level damage to a valid file: each refused with its own message. */
static void test_damaged_files(const char *dir)
{
    char good[256], path[256], err[ERR_LEN];
    path_in(good, dir, "good.ckpt");
    Model m = make_model();
    if (checkpoint_save(good, &m, 1, "tokenizer=test\n", err)) {
        printf("FAIL save: %s\n", err);
        exit(1);
    }
    const Bytes f = read_all(good);
    const size_t h = header_len(&f);
    Bytes c = {malloc(f.n + 64), f.n};
#define RESET() (memcpy(c.b, f.b, f.n), c.n = f.n)

    RESET();
    c.b[h + (f.n - h) / 2] ^= 0x20;
    expect_refused_bytes(dir, &c, "corrupt payload", "flipped payload byte refused");
    RESET();
    c.b[f.n - 1] ^= 0x01; /* the zlib stream's own checksum */
    expect_refused_bytes(dir, &c, "corrupt payload", "flipped last byte refused");
    const size_t header_bytes[] = {CONFIG_AT + 2, TABLE_AT + 1, TABLE_AT + 64 * 3 + 40, meta_len_at(&f) + 5,
                                   trailer_at(&f) + 3, h - 2};
    for (size_t i = 0; i < sizeof header_bytes / sizeof header_bytes[0]; i++) {
        RESET();
        c.b[header_bytes[i]] ^= 0x04;
        char name[80];
        snprintf(name, sizeof name, "flipped header byte %zu refused", header_bytes[i]);
        expect_refused_bytes(dir, &c, "header CRC32", name);
    }
    const size_t cuts[] = {8, 20, TABLE_AT - 1, TABLE_AT, h - 1, h, h + 1, (h + f.n) / 2, f.n - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        RESET();
        c.n = cuts[i];
        char name[80];
        snprintf(name, sizeof name, "file truncated to %zu of %zu bytes refused", cuts[i], f.n);
        expect_refused_bytes(dir, &c, "truncated", name);
    }
    RESET();
    c.n = 5;
    expect_refused_bytes(dir, &c, "not a scalerl checkpoint", "file shorter than the magic refused");
    RESET();
    c.b[0] = 'X';
    expect_refused_bytes(dir, &c, "not a scalerl checkpoint", "wrong magic refused");
    RESET();
    put_u32(c.b + 8, 2);
    expect_refused_bytes(dir, &c, "format version 2", "wrong version refused");
    RESET();
    memcpy(c.b + f.n, "junk", 4);
    c.n = f.n + 4;
    expect_refused_bytes(dir, &c, "trailing garbage", "trailing garbage refused");
    c.n = 0;
    expect_refused_bytes(dir, &c, "is empty", "empty file refused");
    path_in(path, dir, "absent.ckpt");
    expect_refused(path, 2, "cannot open", "nonexistent file refused with the I/O class");
    expect_refused(dir, 2, "cannot read", "a directory refused with the I/O class");

    /* A sweep of single-bit flips over the whole file. Each must be refused, or decode to exactly
     * the saved values: deflate has bits that do not change the output (a back-reference into a
     * run of zeros may point anywhere in that run, padding after the last block), and the CRCs
     * rightly accept those. */
    int sweep_ok = 1;
    size_t bad_at = 0;
    for (size_t i = 0; i < f.n; i += 1 + f.n / 300) {
        RESET();
        c.b[i] ^= (unsigned char)(1u << (i % 8));
        path_in(path, dir, "bad.ckpt");
        write_all(path, c.b, c.n);
        Model l;
        int rc = checkpoint_load(path, &l, NULL, err);
        if (rc == 0) {
            size_t bytes = m.n_params * sizeof(float);
            int same = l.adam_step == m.adam_step && !memcmp(l.params, m.params, bytes) &&
                       !memcmp(l.adam_m, m.adam_m, bytes) && !memcmp(l.adam_v, m.adam_v, bytes);
            model_free(&l);
            if (!same) sweep_ok = 0, bad_at = i;
        } else if (rc != 1) {
            sweep_ok = 0, bad_at = i;
        }
    }
    CHECK(sweep_ok, "single-bit flips across the file refused or harmless", "flip at byte %zu", bad_at);

    /* A foreign file with the text a human might mistake for one. */
    const char *text = "SCALERL checkpoint? no.\n";
    write_all(path, (const unsigned char *)text, strlen(text));
    expect_refused(path, 1, "not a scalerl checkpoint", "text file refused");
    free(c.b);
    free(f.b);
    model_free(&m);
}

/* Files whose header CRC is valid but whose fields lie: refused before any absurd allocation. */
static void test_hostile_headers(const char *dir)
{
    char good[256], err[ERR_LEN];
    path_in(good, dir, "good.ckpt");
    const Bytes f = read_all(good);
    const size_t tr = trailer_at(&f);
    Bytes c = {malloc(f.n + 64), f.n};
    struct {
        size_t at;
        int width; /* 4 or 8 bytes */
        uint64_t value;
        const char *want, *name;
    } lies[] = {
        {CONFIG_AT + 16, 4, 3, "not a multiple of n_head", "config with d_model % n_head != 0 refused"},
        {CONFIG_AT + 8, 4, 0xFFFFFFFFu, "bad model config d_model", "config with d_model 2^32-1 refused"},
        {CONFIG_AT, 4, 14, "does not match the layout", "config disagreeing with the table refused"},
        {TABLE_AT + 64 * 2, 4, 0x78787878u, "does not match the layout", "renamed tensor refused"},
        {TABLE_AT + 64 * 4 + 40, 4, 9, "does not match the layout", "reshaped tensor refused"},
        {N_TENSORS_AT, 4, 1000, "1000 tensors", "absurd tensor count refused"},
        {N_TENSORS_AT, 4, 16, "16 tensors", "short tensor table refused"},
        {HEADER_LEN_AT, 4, 0xFFFFFFF0u, "header length", "absurd header length refused"},
        {FLAGS_AT, 4, 6, "unknown header flags", "unknown flag bits refused"},
        {meta_len_at(&f), 4, 0x7FFFFFFFu, "metadata length", "absurd metadata length refused"},
        {tr, 8, (uint64_t)1 << 40, "payload length", "absurd payload length refused"},
        {tr + 8, 8, (uint64_t)1 << 40, "truncated", "absurd compressed length refused"},
        {tr + 8, 8, 10, "cannot inflate", "compression ratio beyond deflate's refused"},
        {tr + 16, 4, 0x12345678u, "CRC32 ", "wrong payload CRC refused"},
    };
    for (size_t i = 0; i < sizeof lies / sizeof lies[0]; i++) {
        memcpy(c.b, f.b, f.n);
        c.n = f.n;
        if (lies[i].width == 4) put_u32(c.b + lies[i].at, (uint32_t)lies[i].value);
        else put_u64(c.b + lies[i].at, lies[i].value);
        if (lies[i].at == tr + 8 && lies[i].value == 10) c.n = header_len(&c) + 10; /* consistent size */
        if (lies[i].at != HEADER_LEN_AT) fix_header_crc(&c);
        expect_refused_bytes(dir, &c, lies[i].want, lies[i].name);
    }

    /* A NUL inside the metadata would cut it short for every reader. */
    memcpy(c.b, f.b, f.n);
    c.n = f.n;
    c.b[meta_len_at(&f) + 4 + 2] = 0;
    fix_header_crc(&c);
    expect_refused_bytes(dir, &c, "NUL", "metadata with a NUL byte refused");

    /* Payload streams of the other kind: longer and shorter than the header declares. */
    char with_opt[256], without[256];
    path_in(with_opt, dir, "opt.ckpt");
    path_in(without, dir, "noopt.ckpt");
    Model m = make_model();
    if (checkpoint_save(with_opt, &m, 1, "", err) || checkpoint_save(without, &m, 0, "", err)) {
        printf("FAIL save: %s\n", err);
        exit(1);
    }
    Bytes o = read_all(with_opt), n = read_all(without);
    for (int swap = 0; swap < 2; swap++) {
        const Bytes *head = swap ? &o : &n, *body = swap ? &n : &o;
        size_t hl = header_len(head), body_len = body->n - header_len(body);
        Bytes x = {malloc(hl + body_len), hl + body_len};
        memcpy(x.b, head->b, hl);
        memcpy(x.b + hl, body->b + header_len(body), body_len);
        put_u64(x.b + trailer_at(&x) + 8, body_len);
        fix_header_crc(&x);
        expect_refused_bytes(dir, &x, swap ? "stream shorter" : "stream longer",
                             swap ? "payload stream shorter than declared refused"
                                  : "payload stream longer than declared refused");
        free(x.b);
    }
    free(o.b);
    free(n.b);
    free(c.b);
    free(f.b);
    model_free(&m);
}

static int count_entries(const char *d)
{
    DIR *dp = opendir(d);
    int n = 0;
    for (struct dirent *e; dp && (e = readdir(dp));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    if (dp) closedir(dp);
    return n;
}

static void test_failed_saves(const char *dir)
{
    char sub[256], path[256], err[ERR_LEN] = "";
    Model m = make_model();
    path_in(sub, dir, "fresh");
    mkdir(sub, 0777);
    /* The target is a directory: the temporary file is written, the rename fails. */
    snprintf(path, sizeof path, "%s/target", sub);
    mkdir(path, 0777);
    int rc = checkpoint_save(path, &m, 1, "", err);
    CHECK(rc == 2 && strstr(err, "cannot rename") && count_entries(sub) == 1,
          "failed rename leaves no temporary file", "rc %d, %d entries, \"%s\"", rc, count_entries(sub), err);
    rmdir(path);
    snprintf(path, sizeof path, "%s/no/such/dir/x.ckpt", dir);
    rc = checkpoint_save(path, &m, 0, "", err);
    CHECK(rc == 2 && strstr(err, "cannot write"), "save into a missing directory fails with the I/O class",
          "rc %d, \"%s\"", rc, err);
    char *long_meta = malloc(CHECKPOINT_META_MAX + 1);
    memset(long_meta, 'x', CHECKPOINT_META_MAX);
    long_meta[CHECKPOINT_META_MAX] = 0;
    snprintf(path, sizeof path, "%s/x.ckpt", sub);
    rc = checkpoint_save(path, &m, 0, long_meta, err);
    CHECK(rc == 1 && strstr(err, "metadata") && count_entries(sub) == 0,
          "oversized metadata refused with no file written", "rc %d, %d entries, \"%s\"", rc, count_entries(sub),
          err);
    long_meta[CHECKPOINT_META_MAX - 1] = 0; /* the largest allowed */
    rc = checkpoint_save(path, &m, 0, long_meta, err);
    Model l;
    char meta[CHECKPOINT_META_MAX];
    int rc2 = rc ? rc : checkpoint_load(path, &l, meta, err);
    CHECK(rc2 == 0 && strcmp(meta, long_meta) == 0, "largest metadata round-trips", "rc %d: %s", rc2, err);
    if (!rc2) model_free(&l);
    remove(path);
    rmdir(sub);
    free(long_meta);
    model_free(&m);
}

static void remove_dir(const char *d)
{
    DIR *dp = opendir(d);
    char p[512];
    for (struct dirent *e; dp && (e = readdir(dp));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(p, sizeof p, "%s/%s", d, e->d_name);
        remove(p);
    }
    if (dp) closedir(dp);
    rmdir(d);
}

int main(void)
{
    char dir[] = "/tmp/scalerl-test-ckpt-XXXXXX";
    if (!mkdtemp(dir)) {
        printf("FAIL test setup: mkdtemp\n");
        return 1;
    }
    test_round_trip(dir, "tokenizer=chars-v1\ntask=add:digits=3\nstep=42\n");
    test_damaged_files(dir);
    test_hostile_headers(dir);
    test_failed_saves(dir);
    remove_dir(dir);
    return test_main_result();
}
