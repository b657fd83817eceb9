/*
 * test_pipe.c - unit tests of src/pipe: codec table, round trips of every codec at several
 * levels and push sizes, corruption detection (garbage, truncation, trailing bytes),
 * SHA-256 (known vectors, filter, async), size, tee, thread and compare. Compressed output
 * is also checked against the libraries' own one-shot functions, so a filter pair that
 * agreed with itself but wrote a non-standard format would still fail.
 */
#include <check.h>
#include <lz4frame.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "fx_tool.h"
#include "pgpitr/common/hexstr.h"
#include "pgpitr/pipe/pipe.h"

/* ---------- helpers ---------- */

typedef struct MemBuf {
    unsigned char *data;
    size_t len, cap;
    size_t fail_after;      /* fail a write that would pass this many bytes; 0 = never */
    PgpErrCode fail_code;
    pthread_t writer;       /* thread of the last write */
    size_t writes;
} MemBuf;

static int mem_write(void *ud, const void *buf, size_t len, PgpErr *err)
{
    MemBuf *m = ud;
    m->writer = pthread_self();
    m->writes++;
    if (m->fail_after > 0 && m->len + len > m->fail_after)
        return PGP_FAIL(err, m->fail_code, "test sink broke");
    if (m->len + len > m->cap) {
        size_t cap = m->cap ? m->cap : 4096;
        while (cap < m->len + len)
            cap *= 2;
        m->data = realloc(m->data, cap);
        ck_assert_ptr_nonnull(m->data);
        m->cap = cap;
    }
    if (len > 0)
        memcpy(m->data + m->len, buf, len);
    m->len += len;
    return 0;
}

static PipeSink mem_sink(MemBuf *m)
{
    return (PipeSink){ mem_write, m };
}

static void mem_free(MemBuf *m)
{
    free(m->data);
    memset(m, 0, sizeof *m);
}

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static unsigned char *gen_random(size_t n, uint64_t seed)
{
    unsigned char *b = malloc(n + 8);
    ck_assert_ptr_nonnull(b);
    for (size_t i = 0; i < n; i += 8) {
        uint64_t v = rng_next(&seed);
        memcpy(b + i, &v, 8);
    }
    return b;
}

/* WAL-like: records of low-entropy headers, repeated text, a few random bytes, zero runs. */
static unsigned char *gen_compressible(size_t n, uint64_t seed)
{
    static const char *const words[] = {
        "UPDATE pgbench_accounts SET abalance = abalance + ",
        "INSERT INTO pgbench_history (tid, bid, aid, delta) ",
        "SELECT abalance FROM pgbench_accounts WHERE aid = ",
        "UPDATE pgbench_tellers SET tbalance = tbalance + ",
    };
    unsigned char *b = malloc(n + 256);
    ck_assert_ptr_nonnull(b);
    size_t i = 0;
    for (uint32_t rec = 0; i < n; rec++) {
        uint64_t r = rng_next(&seed);
        memcpy(b + i, &rec, 4);
        memset(b + i + 4, (int)(rec & 7), 20);
        i += 24;
        const char *w = words[r & 3];
        size_t wl = strlen(w);
        memcpy(b + i, w, wl);
        i += wl;
        for (int k = 0; k < 2; k++) {
            uint64_t v = rng_next(&seed);
            memcpy(b + i, &v, 8);
            i += 8;
        }
        size_t z = (r >> 8) & 63;
        memset(b + i, 0, z);
        i += z;
    }
    return b;
}

static const size_t odd_sizes[] = { 1, 7, 4093, 65537, 1048577, 3, 500000 };

/* mode 0: one push; 1: odd sizes cycling; 2: one byte at a time */
static int push_chunked(PipeFilter *f, const unsigned char *d, size_t len, int mode, PgpErr *err)
{
    size_t off = 0, k = 0;
    if (len == 0)
        return pipe_filter_push(f, d, 0, err);
    while (off < len) {
        size_t n = mode == 0 ? len : mode == 2 ? 1 : odd_sizes[k++ % 7];
        if (n > len - off)
            n = len - off;
        int rc = pipe_filter_push(f, d + off, n, err);
        if (rc != 0)
            return rc;
        off += n;
    }
    return 0;
}

static int run_filter(PipeFilter *f, const unsigned char *d, size_t len, int mode, PgpErr *err)
{
    int rc = push_chunked(f, d, len, mode, err);
    if (rc == 0)
        rc = pipe_filter_finish(f, err);
    pipe_filter_free(f);
    return rc;
}

static void compress_to(PipeCodec c, int level, int workers, const unsigned char *d, size_t len,
                        int mode, MemBuf *out)
{
    PgpErr err = { 0 };
    PipeFilter *f = NULL;
    ck_assert_int_eq(pipe_compress_new(c, level, workers, mem_sink(out), &f, &err), 0);
    ck_assert_msg(run_filter(f, d, len, mode, &err) == 0, "compress: %s", err.msg);
}

static int decompress_to(PipeCodec c, const unsigned char *d, size_t len, int mode, MemBuf *out,
                         PgpErr *err)
{
    PipeFilter *f = NULL;
    ck_assert_int_eq(pipe_decompress_new(c, mem_sink(out), &f, err), 0);
    return run_filter(f, d, len, mode, err);
}

/* Decode with the libraries directly, not through src/pipe. */
static void check_reference_decode(PipeCodec c, const MemBuf *z, const unsigned char *d,
                                   size_t len)
{
    unsigned char *out = malloc(len + 1);
    ck_assert_ptr_nonnull(out);
    size_t got = 0;
    if (c == PIPE_CODEC_ZSTD) {
        static const unsigned char magic[4] = { 0x28, 0xb5, 0x2f, 0xfd };
        ck_assert(z->len >= 4 && memcmp(z->data, magic, 4) == 0);
        got = ZSTD_decompress(out, len + 1, z->data, z->len);
        ck_assert_msg(!ZSTD_isError(got), "%s", ZSTD_getErrorName(got));
    } else if (c == PIPE_CODEC_LZ4) {
        static const unsigned char magic[4] = { 0x04, 0x22, 0x4d, 0x18 };
        ck_assert(z->len >= 4 && memcmp(z->data, magic, 4) == 0);
        LZ4F_dctx *dctx = NULL;
        ck_assert(!LZ4F_isError(LZ4F_createDecompressionContext(&dctx, LZ4F_VERSION)));
        size_t dst = len + 1, src = z->len;
        size_t ret = LZ4F_decompress(dctx, out, &dst, z->data, &src, NULL);
        ck_assert_msg(ret == 0, "lz4 reference decode: %zu", ret);
        ck_assert_uint_eq(src, z->len);
        got = dst;
        LZ4F_freeDecompressionContext(dctx);
    } else {
        got = z->len;
        if (z->len > 0)
            memcpy(out, z->data, z->len);
    }
    ck_assert_uint_eq(got, len);
    ck_assert(len == 0 || memcmp(out, d, len) == 0);
    free(out);
}

/* ---------- codec table ---------- */

START_TEST(test_codec_parse)
{
    PgpErr err = { 0 };
    PipeCodec c = PIPE_CODEC_NONE;
    ck_assert_int_eq(pipe_codec_parse("zstd", &c, &err), 0);
    ck_assert_int_eq(c, PIPE_CODEC_ZSTD);
    ck_assert_int_eq(pipe_codec_parse("lz4", &c, &err), 0);
    ck_assert_int_eq(c, PIPE_CODEC_LZ4);
    ck_assert_int_eq(pipe_codec_parse("none", &c, &err), 0);
    ck_assert_int_eq(c, PIPE_CODEC_NONE);
    c = PIPE_CODEC_LZ4;
    ck_assert_int_eq(pipe_codec_parse("gzip", &c, &err), PGP_ERR_CONFIG);
    ck_assert_int_eq(err.code, PGP_ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(err.msg, "\"gzip\""));
    ck_assert_int_eq(c, PIPE_CODEC_LZ4);
    ck_assert_int_eq(pipe_codec_parse("", &c, &err), PGP_ERR_CONFIG);
    ck_assert_int_eq(pipe_codec_parse("zstd ", &c, &err), PGP_ERR_CONFIG);
    ck_assert_int_eq(pipe_codec_parse("gzip", &c, NULL), PGP_ERR_CONFIG);
}
END_TEST

START_TEST(test_codec_names)
{
    ck_assert_str_eq(pipe_codec_name(PIPE_CODEC_ZSTD), "zstd");
    ck_assert_str_eq(pipe_codec_name(PIPE_CODEC_LZ4), "lz4");
    ck_assert_str_eq(pipe_codec_name(PIPE_CODEC_NONE), "none");
    ck_assert_str_eq(pipe_codec_ext(PIPE_CODEC_ZSTD), ".zst");
    ck_assert_str_eq(pipe_codec_ext(PIPE_CODEC_LZ4), ".lz4");
    ck_assert_str_eq(pipe_codec_ext(PIPE_CODEC_NONE), "");
    PipeCodec all[] = { PIPE_CODEC_NONE, PIPE_CODEC_ZSTD, PIPE_CODEC_LZ4 };
    for (int i = 0; i < 3; i++) {
        PipeCodec c = (PipeCodec)-1, p = (PipeCodec)-1;
        ck_assert(pipe_codec_from_ext(pipe_codec_ext(all[i]), &c));
        ck_assert_int_eq(c, all[i]);
        ck_assert_int_eq(pipe_codec_parse(pipe_codec_name(all[i]), &p, NULL), 0);
        ck_assert_int_eq(p, all[i]);
    }
    PipeCodec c = PIPE_CODEC_ZSTD;
    ck_assert(!pipe_codec_from_ext(".gz", &c));
    ck_assert(!pipe_codec_from_ext(".zstd", &c));
    ck_assert_int_eq(c, PIPE_CODEC_ZSTD);
    int lo, hi;
    pipe_codec_level_range(PIPE_CODEC_ZSTD, &lo, &hi);
    ck_assert(lo == 1 && hi == 19);
    pipe_codec_level_range(PIPE_CODEC_LZ4, &lo, &hi);
    ck_assert(lo == 0 && hi == 12);
    pipe_codec_level_range(PIPE_CODEC_NONE, &lo, &hi);
    ck_assert(lo == 0 && hi == 0);
}
END_TEST

START_TEST(test_level_out_of_range)
{
    static const struct { PipeCodec c; int level; } bad[] = {
        { PIPE_CODEC_ZSTD, 0 }, { PIPE_CODEC_ZSTD, 20 }, { PIPE_CODEC_ZSTD, -1 },
        { PIPE_CODEC_LZ4, -1 }, { PIPE_CODEC_LZ4, 13 }, { PIPE_CODEC_NONE, 1 },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        PgpErr err = { 0 };
        MemBuf m = { 0 };
        PipeFilter *f = (PipeFilter *)&m;
        ck_assert_int_eq(pipe_compress_new(bad[i].c, bad[i].level, 0, mem_sink(&m), &f, &err),
                         PGP_ERR_CONFIG);
        ck_assert_ptr_null(f);
        ck_assert_ptr_nonnull(strstr(err.msg, "out of range"));
    }
}
END_TEST

/* ---------- round trips ---------- */

static const struct { PipeCodec c; int level; bool slow; } rt_cases[] = {
    { PIPE_CODEC_NONE, 0, false }, { PIPE_CODEC_ZSTD, 1, false }, { PIPE_CODEC_ZSTD, 3, false },
    { PIPE_CODEC_ZSTD, 19, true }, { PIPE_CODEC_LZ4, 0, false }, { PIPE_CODEC_LZ4, 1, false },
    { PIPE_CODEC_LZ4, 9, true },   { PIPE_CODEC_LZ4, 12, true },
};

static void roundtrip_one(PipeCodec c, int level, const unsigned char *d, size_t len, int cmode,
                          int dmode, bool expect_small)
{
    MemBuf z = { 0 }, out = { 0 };
    PgpErr err = { 0 };
    compress_to(c, level, 0, d, len, cmode, &z);
    if (c == PIPE_CODEC_NONE) {
        ck_assert_uint_eq(z.len, len);
    } else {
        ck_assert_uint_gt(z.len, 0);    /* even empty input is a frame */
        if (expect_small)
            ck_assert_msg(z.len < len / 3, "%s level %d: %zu -> %zu", pipe_codec_name(c),
                          level, len, z.len);
    }
    check_reference_decode(c, &z, d, len);
    ck_assert_msg(decompress_to(c, z.data, z.len, dmode, &out, &err) == 0, "%s level %d: %s",
                  pipe_codec_name(c), level, err.msg);
    ck_assert_uint_eq(out.len, len);
    ck_assert(len == 0 || memcmp(out.data, d, len) == 0);
    mem_free(&z);
    mem_free(&out);
}

START_TEST(test_roundtrip)
{
    PipeCodec c = rt_cases[_i].c;
    int level = rt_cases[_i].level;
    /* The slow levels on less under a memory tool (zstd -19 on 300 KiB took 38 s there). */
    size_t slow = fx_under_memory_tool() ? 48 * 1024 : 300 * 1024;
    size_t big = rt_cases[_i].slow ? slow : 3 * 1024 * 1024 + 5;
    size_t mid = big < 100 * 1024 ? big : 100 * 1024;
    unsigned char *rnd = gen_random(big, 42 + (uint64_t)_i);
    unsigned char *txt = gen_compressible(big, 7);
    unsigned char one = 0xA5;

    for (int mode = 0; mode < 3; mode++) {
        roundtrip_one(c, level, rnd, 0, mode, (mode + 1) % 3, false);
        roundtrip_one(c, level, &one, 1, mode, (mode + 2) % 3, false);
        roundtrip_one(c, level, txt, mid, mode, (mode + 1) % 3, true);
    }
    for (int mode = 0; mode < 2; mode++) {
        roundtrip_one(c, level, rnd, big, mode, 1 - mode, false);
        roundtrip_one(c, level, txt, big, mode, 1 - mode, true);
    }
    free(rnd);
    free(txt);
}
END_TEST

START_TEST(test_zstd_workers)
{
    size_t len = 12 * 1024 * 1024;
    unsigned char *d = gen_compressible(len, 99);
    MemBuf z = { 0 }, out = { 0 };
    PgpErr err = { 0 };
    compress_to(PIPE_CODEC_ZSTD, 3, 2, d, len, 1, &z);
    check_reference_decode(PIPE_CODEC_ZSTD, &z, d, len);
    ck_assert_int_eq(decompress_to(PIPE_CODEC_ZSTD, z.data, z.len, 0, &out, &err), 0);
    ck_assert_uint_eq(out.len, len);
    ck_assert(memcmp(out.data, d, len) == 0);
    /* Whether the bytes differ from single-threaded output is libzstd's business, not ours:
     * only that the frame is standard and round-trips is asserted. */
    mem_free(&z);
    mem_free(&out);
    free(d);
}
END_TEST

/* One thread decoding objects one after another reuses one zstd context (zstd_dctx.c): a
 * context per object allocated its window buffers again for every object fed in pieces, which
 * made an encrypted restore several times slower than a plain one. The reused context still
 * decodes correctly after a frame that failed halfway and one that was left unfinished. */
START_TEST(test_zstd_dctx_reused)
{
    size_t len = 2 * 1024 * 1024 + 3;
    unsigned char *a = gen_compressible(len, 11), *b = gen_random(len, 12);
    MemBuf za = { 0 }, zb = { 0 };
    compress_to(PIPE_CODEC_ZSTD, 1, 0, a, len, 0, &za);
    compress_to(PIPE_CODEC_ZSTD, 1, 0, b, len, 0, &zb);
    size_t made = pipe_zstd_dctx_made();
    for (int round = 0; round < 3; round++) {
        MemBuf out = { 0 };
        PgpErr err = { 0 };
        /* odd-sized pieces: the context decodes through its own window buffers */
        ck_assert_int_eq(decompress_to(PIPE_CODEC_ZSTD, za.data, za.len, 1, &out, &err), 0);
        ck_assert_uint_eq(out.len, len);
        ck_assert(memcmp(out.data, a, len) == 0);
        mem_free(&out);
        /* a frame with a flipped byte in its middle fails; one cut short is left unfinished */
        za.data[za.len / 2] ^= 0x40;
        ck_assert_int_eq(decompress_to(PIPE_CODEC_ZSTD, za.data, za.len, 1, &out, &err),
                         PGP_ERR_CORRUPT);
        za.data[za.len / 2] ^= 0x40;
        mem_free(&out);
        PipeFilter *f = NULL;
        ck_assert_int_eq(pipe_decompress_new(PIPE_CODEC_ZSTD, mem_sink(&out), &f, &err), 0);
        ck_assert_int_eq(pipe_filter_push(f, zb.data, zb.len / 3, &err), 0);
        pipe_filter_free(f);
        mem_free(&out);
        ck_assert_int_eq(decompress_to(PIPE_CODEC_ZSTD, zb.data, zb.len, 1, &out, &err), 0);
        ck_assert_uint_eq(out.len, len);
        ck_assert(memcmp(out.data, b, len) == 0);
        mem_free(&out);
    }
    /* at most one context made for all of these (none if this thread kept one already) */
    ck_assert_uint_le(pipe_zstd_dctx_made() - made, 1);
    mem_free(&za);
    mem_free(&zb);
    free(a);
    free(b);
}
END_TEST

/* Frames written by the libraries' own one-shot encoders decode through our filters. */
START_TEST(test_decode_reference_frames)
{
    size_t len = 2 * 1024 * 1024;
    unsigned char *d = gen_compressible(len, 5);
    MemBuf out = { 0 };
    PgpErr err = { 0 };

    size_t zcap = ZSTD_compressBound(len);
    unsigned char *z = malloc(zcap);
    size_t zn = ZSTD_compress(z, zcap, d, len, 1);
    ck_assert(!ZSTD_isError(zn));
    ck_assert_int_eq(decompress_to(PIPE_CODEC_ZSTD, z, zn, 1, &out, &err), 0);
    ck_assert(out.len == len && memcmp(out.data, d, len) == 0);
    mem_free(&out);

    size_t lcap = LZ4F_compressFrameBound(len, NULL);
    unsigned char *l = malloc(lcap);
    size_t ln = LZ4F_compressFrame(l, lcap, d, len, NULL);
    ck_assert(!LZ4F_isError(ln));
    ck_assert_int_eq(decompress_to(PIPE_CODEC_LZ4, l, ln, 1, &out, &err), 0);
    ck_assert(out.len == len && memcmp(out.data, d, len) == 0);
    mem_free(&out);
    free(z);
    free(l);
    free(d);
}
END_TEST

/* ---------- corruption ---------- */

static const PipeCodec real_codecs[] = { PIPE_CODEC_ZSTD, PIPE_CODEC_LZ4 };

START_TEST(test_truncated)
{
    PipeCodec c = real_codecs[_i];
    size_t len = 200 * 1024;
    unsigned char *d = gen_compressible(len, 3);
    MemBuf z = { 0 };
    compress_to(c, c == PIPE_CODEC_ZSTD ? 1 : 0, 0, d, len, 0, &z);
    size_t cuts[] = { z.len - 1, z.len - 4, z.len / 2, 12, 4, 1 };
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        for (int mode = 0; mode < 2; mode++) {
            MemBuf out = { 0 };
            PgpErr err = { 0 };
            ck_assert_int_eq(decompress_to(c, z.data, cuts[i], mode, &out, &err),
                             PGP_ERR_CORRUPT);
            ck_assert_ptr_nonnull(strstr(err.msg, "truncated"));
            ck_assert_ptr_nonnull(strstr(err.msg, pipe_codec_name(c)));
            if (cuts[i] <= z.len / 2)   /* cuts in the checksum still decode every byte */
                ck_assert_uint_lt(out.len, len);
            mem_free(&out);
        }
    }
    /* A cut inside the trailing checksum: every push succeeds, finish says truncated. */
    PipeFilter *f = NULL;
    MemBuf out = { 0 };
    PgpErr err = { 0 };
    ck_assert_int_eq(pipe_decompress_new(c, mem_sink(&out), &f, &err), 0);
    ck_assert_int_eq(pipe_filter_push(f, z.data, z.len - 1, &err), 0);
    ck_assert_int_eq(pipe_filter_finish(f, &err), PGP_ERR_CORRUPT);
    ck_assert_ptr_nonnull(strstr(err.msg, "truncated"));
    /* the error is sticky */
    ck_assert_int_eq(pipe_filter_finish(f, &err), PGP_ERR_CORRUPT);
    ck_assert_int_eq(pipe_filter_push(f, z.data + z.len - 1, 1, &err), PGP_ERR_CORRUPT);
    pipe_filter_free(f);
    mem_free(&out);
    mem_free(&z);
    free(d);
}
END_TEST

START_TEST(test_empty_input_is_truncated)
{
    PipeCodec c = real_codecs[_i];
    MemBuf out = { 0 };
    PgpErr err = { 0 };
    ck_assert_int_eq(decompress_to(c, NULL, 0, 0, &out, &err), PGP_ERR_CORRUPT);
    ck_assert_ptr_nonnull(strstr(err.msg, "truncated"));
    /* while for none, zero bytes are a valid empty object */
    ck_assert_int_eq(decompress_to(PIPE_CODEC_NONE, NULL, 0, 0, &out, &err), 0);
    ck_assert_uint_eq(out.len, 0);
    mem_free(&out);
}
END_TEST

START_TEST(test_garbage)
{
    PipeCodec c = real_codecs[_i];
    unsigned char *g = gen_random(4096, 1234);
    PipeFilter *f = NULL;
    MemBuf out = { 0 };
    PgpErr err = { 0 };
    ck_assert_int_eq(pipe_decompress_new(c, mem_sink(&out), &f, &err), 0);
    ck_assert_int_eq(pipe_filter_push(f, g, 4096, &err), PGP_ERR_CORRUPT);
    ck_assert_ptr_nonnull(strstr(err.msg, "decompression failed"));
    ck_assert_uint_eq(out.len, 0);
    pipe_filter_free(f);
    /* text that is not a frame, in small pushes */
    const char *txt = "this is not compressed at all";
    ck_assert_int_eq(decompress_to(c, (const unsigned char *)txt, strlen(txt), 2, &out, &err),
                     PGP_ERR_CORRUPT);
    mem_free(&out);
    free(g);
}
END_TEST

START_TEST(test_trailing_garbage)
{
    PipeCodec c = real_codecs[_i];
    size_t len = 50000;
    unsigned char *d = gen_compressible(len, 11);
    MemBuf z = { 0 };
    compress_to(c, 1, 0, d, len, 0, &z);
    size_t zn = z.len;
    /* frame + "xyz", frame + one zero byte, frame + the same frame again */
    const struct { const void *tail; size_t n; } tails[] = {
        { "xyz", 3 }, { "", 1 }, { NULL, zn },
    };
    for (size_t i = 0; i < 3; i++) {
        for (int mode = 0; mode < 3; mode += 2) {
            MemBuf in = { 0 }, out = { 0 };
            PgpErr err = { 0 };
            mem_write(&in, z.data, zn, NULL);
            mem_write(&in, tails[i].tail != NULL ? tails[i].tail : z.data, tails[i].n, NULL);
            ck_assert_int_eq(decompress_to(c, in.data, in.len, mode, &out, &err),
                             PGP_ERR_CORRUPT);
            mem_free(&in);
            mem_free(&out);
        }
    }
    /* the frame alone is fine */
    MemBuf out = { 0 };
    PgpErr err = { 0 };
    ck_assert_int_eq(decompress_to(c, z.data, zn, 2, &out, &err), 0);
    ck_assert_uint_eq(out.len, len);
    mem_free(&out);
    mem_free(&z);
    free(d);
}
END_TEST

START_TEST(test_bitflip)
{
    PipeCodec c = real_codecs[_i];
    size_t len = 300 * 1024;
    unsigned char *d = gen_compressible(len, 17);
    MemBuf z = { 0 };
    compress_to(c, 1, 0, d, len, 0, &z);
    for (size_t pos = z.len / 3; pos < z.len - 1; pos += z.len / 3) {
        z.data[pos] ^= 0x10;
        MemBuf out = { 0 };
        PgpErr err = { 0 };
        ck_assert_int_eq(decompress_to(c, z.data, z.len, 1, &out, &err), PGP_ERR_CORRUPT);
        z.data[pos] ^= 0x10;
        mem_free(&out);
    }
    mem_free(&z);
    free(d);
}
END_TEST

/* A failing next sink: its error comes back from push or finish and stays. */
START_TEST(test_sink_error_propagates)
{
    PipeCodec c = rt_cases[_i].c;
    size_t len = 2 * 1024 * 1024;
    unsigned char *d = gen_random(len, 8);
    MemBuf m = { .fail_after = 100000, .fail_code = PGP_ERR_NO_SPACE };
    PipeFilter *f = NULL;
    PgpErr err = { 0 };
    ck_assert_int_eq(pipe_compress_new(c, rt_cases[_i].level, 0, mem_sink(&m), &f, &err), 0);
    int rc = push_chunked(f, d, len, 1, &err);
    if (rc == 0)
        rc = pipe_filter_finish(f, &err);
    ck_assert_int_eq(rc, PGP_ERR_NO_SPACE);
    ck_assert_str_eq(err.msg, "test sink broke");
    pgp_err_clear(&err);
    ck_assert_int_eq(pipe_filter_push(f, d, 10, &err), PGP_ERR_NO_SPACE);
    ck_assert_str_eq(err.msg, "test sink broke");
    ck_assert_int_eq(pipe_filter_finish(f, NULL), PGP_ERR_NO_SPACE);
    pipe_filter_free(f);
    mem_free(&m);
    free(d);
}
END_TEST

START_TEST(test_filter_lifecycle)
{
    pipe_filter_free(NULL);
    pipe_compare_free(NULL);
    MemBuf m = { 0 };
    PipeFilter *f = NULL;
    PgpErr err = { 0 };
    ck_assert_int_eq(pipe_compress_new(PIPE_CODEC_ZSTD, 1, 0, mem_sink(&m), &f, &err), 0);
    ck_assert_int_eq(pipe_filter_push(f, "abc", 3, &err), 0);
    ck_assert_int_eq(pipe_filter_finish(f, &err), 0);
    ck_assert_int_eq(pipe_filter_push(f, "abc", 3, &err), PGP_ERR_INTERNAL);
    ck_assert_int_eq(pipe_filter_finish(f, &err), PGP_ERR_INTERNAL);
    pipe_filter_free(f);
    /* freed mid-stream without finish: no leak (checked by valgrind / ASan) */
    ck_assert_int_eq(pipe_compress_new(PIPE_CODEC_LZ4, 0, 0, mem_sink(&m), &f, &err), 0);
    ck_assert_int_eq(pipe_filter_push(f, "abc", 3, &err), 0);
    pipe_filter_free(f);
    ck_assert_int_eq(pipe_decompress_new(PIPE_CODEC_ZSTD, mem_sink(&m), &f, &err), 0);
    pipe_filter_free(f);
    mem_free(&m);
}
END_TEST

/* ---------- sha256 ---------- */

static const char *hex_of(const uint8_t *d, char *buf)
{
    pipe_hex(d, PIPE_SHA256_LEN, buf);
    return buf;
}

#define SHA_EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SHA_ABC "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define SHA_MILLION_A "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"

START_TEST(test_sha256_vectors)
{
    uint8_t d[PIPE_SHA256_LEN];
    char hex[PIPE_SHA256_HEX_LEN + 1];
    ck_assert_int_eq(pipe_sha256_buf("", 0, d, NULL), 0);
    ck_assert_str_eq(hex_of(d, hex), SHA_EMPTY);
    ck_assert_int_eq(pipe_sha256_buf("abc", 3, d, NULL), 0);
    ck_assert_str_eq(hex_of(d, hex), SHA_ABC);
    ck_assert_uint_eq(strlen(hex), PIPE_SHA256_HEX_LEN);

    /* the filter on the same vectors: empty, "abc" a byte at a time, a million 'a' */
    PipeFilter *f = NULL;
    MemBuf m = { 0 };
    ck_assert_int_eq(pipe_sha256_new(mem_sink(&m), &f, NULL), 0);
    ck_assert_int_eq(pipe_filter_finish(f, NULL), 0);
    pipe_sha256_result(f, d);
    ck_assert_str_eq(hex_of(d, hex), SHA_EMPTY);
    pipe_filter_free(f);
    ck_assert_int_eq(pipe_sha256_new(mem_sink(&m), &f, NULL), 0);
    ck_assert_int_eq(push_chunked(f, (const unsigned char *)"abc", 3, 2, NULL), 0);
    ck_assert_int_eq(pipe_filter_finish(f, NULL), 0);
    pipe_sha256_result(f, d);
    ck_assert_str_eq(hex_of(d, hex), SHA_ABC);
    ck_assert_uint_eq(m.len, 3);
    ck_assert(memcmp(m.data, "abc", 3) == 0);
    pipe_filter_free(f);
    char a[1000];
    memset(a, 'a', sizeof a);
    mem_free(&m);
    ck_assert_int_eq(pipe_sha256_new(mem_sink(&m), &f, NULL), 0);
    for (int i = 0; i < 1000; i++)
        ck_assert_int_eq(pipe_filter_push(f, a, sizeof a, NULL), 0);
    ck_assert_int_eq(pipe_filter_finish(f, NULL), 0);
    pipe_sha256_result(f, d);
    ck_assert_str_eq(hex_of(d, hex), SHA_MILLION_A);
    ck_assert_uint_eq(m.len, 1000000);
    pipe_filter_free(f);
    mem_free(&m);
}
END_TEST

START_TEST(test_sha256_filter_matches_buf)
{
    size_t len = 5 * 1024 * 1024 + 3;
    unsigned char *d = gen_random(len, 77);
    uint8_t want[PIPE_SHA256_LEN], got[PIPE_SHA256_LEN];
    ck_assert_int_eq(pipe_sha256_buf(d, len, want, NULL), 0);
    for (int mode = 0; mode < 2; mode++) {
        PipeFilter *f = NULL;
        MemBuf m = { 0 };
        PgpErr err = { 0 };
        ck_assert_int_eq(pipe_sha256_new(mem_sink(&m), &f, &err), 0);
        ck_assert_int_eq(push_chunked(f, d, len, mode, &err), 0);
        ck_assert_int_eq(pipe_filter_finish(f, &err), 0);
        pipe_sha256_result(f, got);
        ck_assert(memcmp(got, want, sizeof want) == 0);
        ck_assert(m.len == len && memcmp(m.data, d, len) == 0);
        pipe_filter_free(f);
        mem_free(&m);
    }
    /* one changed byte changes the digest */
    d[len / 2] ^= 1;
    ck_assert_int_eq(pipe_sha256_buf(d, len, got, NULL), 0);
    ck_assert(memcmp(got, want, sizeof want) != 0);
    free(d);
}
END_TEST

START_TEST(test_sha256_async)
{
    size_t len = 6 * 1024 * 1024;
    unsigned char *d = gen_random(len, 5150);
    uint8_t sync[PIPE_SHA256_LEN], a1[PIPE_SHA256_LEN], a2[PIPE_SHA256_LEN];
    char hex[PIPE_SHA256_HEX_LEN + 1];
    ck_assert_int_eq(pipe_sha256_buf(d, len, sync, NULL), 0);
    PipeHashJob *j1 = NULL, *j2 = NULL;
    PgpErr err = { 0 };
    ck_assert_int_eq(pipe_sha256_async(d, len, &j1, &err), 0);
    ck_assert_int_eq(pipe_sha256_async("abc", 3, &j2, &err), 0);
    ck_assert_int_eq(pipe_sha256_join(j1, a1, NULL), 0);
    ck_assert_int_eq(pipe_sha256_join(j2, a2, NULL), 0);
    ck_assert(memcmp(a1, sync, sizeof sync) == 0);
    ck_assert_str_eq(hex_of(a2, hex), SHA_ABC);
    free(d);
}
END_TEST

START_TEST(test_hex)
{
    uint8_t b[] = { 0x00, 0x01, 0xab, 0xff, 0x7e };
    char out[11];
    memset(out, 'x', sizeof out);
    pipe_hex(b, 5, out);
    ck_assert_str_eq(out, "0001abff7e");
    /* what pipe_hex writes passes the validator (its own cases: test_hexstr.c) */
    ck_assert(hexstr_exact(out, 10, HEX_LOWER));
}
END_TEST

/* ---------- size, tee ---------- */

START_TEST(test_size)
{
    size_t len = 1000003;
    unsigned char *d = gen_random(len, 1);
    for (int mode = 0; mode < 2; mode++) {
        PipeFilter *f = NULL;
        MemBuf m = { 0 };
        ck_assert_int_eq(pipe_size_new(mem_sink(&m), &f, NULL), 0);
        ck_assert_int_eq(push_chunked(f, d, len, mode, NULL), 0);
        ck_assert_int_eq(pipe_filter_finish(f, NULL), 0);
        ck_assert_uint_eq(pipe_size_result(f), len);
        ck_assert(m.len == len && memcmp(m.data, d, len) == 0);
        pipe_filter_free(f);
        mem_free(&m);
    }
    PipeFilter *f = NULL;
    MemBuf m = { 0 };
    ck_assert_int_eq(pipe_size_new(mem_sink(&m), &f, NULL), 0);
    ck_assert_int_eq(pipe_filter_finish(f, NULL), 0);
    ck_assert_uint_eq(pipe_size_result(f), 0);
    ck_assert_uint_eq(m.writes, 0);
    pipe_filter_free(f);
    free(d);
}
END_TEST

START_TEST(test_tee)
{
    size_t len = 300001;
    unsigned char *d = gen_random(len, 2);
    MemBuf a = { 0 }, b = { 0 };
    PipeFilter *f = NULL;
    PgpErr err = { 0 };
    ck_assert_int_eq(pipe_tee_new(mem_sink(&a), mem_sink(&b), &f, &err), 0);
    ck_assert_int_eq(run_filter(f, d, len, 1, &err), 0);
    ck_assert(a.len == len && memcmp(a.data, d, len) == 0);
    ck_assert(b.len == len && memcmp(b.data, d, len) == 0);
    mem_free(&a);
    mem_free(&b);
    /* a fails: the error comes back and b does not get that chunk */
    a.fail_after = 10;
    a.fail_code = PGP_ERR_IO;
    ck_assert_int_eq(pipe_tee_new(mem_sink(&a), mem_sink(&b), &f, &err), 0);
    ck_assert_int_eq(pipe_filter_push(f, d, 8, &err), 0);
    ck_assert_int_eq(pipe_filter_push(f, d + 8, 8, &err), PGP_ERR_IO);
    ck_assert_uint_eq(b.len, 8);
    pipe_filter_free(f);
    /* b fails */
    MemBuf a2 = { 0 }, b2 = { .fail_after = 1, .fail_code = PGP_ERR_NO_SPACE };
    ck_assert_int_eq(pipe_tee_new(mem_sink(&a2), mem_sink(&b2), &f, &err), 0);
    ck_assert_int_eq(pipe_filter_push(f, d, 8, &err), PGP_ERR_NO_SPACE);
    pipe_filter_free(f);
    mem_free(&a);
    mem_free(&b);
    mem_free(&a2);
    mem_free(&b2);
    free(d);
}
END_TEST

/* ---------- thread ---------- */

START_TEST(test_thread_order)
{
    /* 3 MiB under a memory tool, where the thread hand-offs are serialised (8 MiB: 41 s) */
    size_t len = fx_under_memory_tool() ? 3 * 1024 * 1024 : 8 * 1024 * 1024;
    unsigned char *d = gen_random(len, 3);
    size_t queues[] = { 4096, 1000, 0 };  /* 0: default size */
    for (size_t q = 0; q < 3; q++) {
        MemBuf m = { 0 };
        PipeFilter *f = NULL;
        PgpErr err = { 0 };
        ck_assert_int_eq(pipe_thread_new(mem_sink(&m), queues[q], &f, &err), 0);
        /* many small chunks of varying size, then some bigger than the queue */
        uint64_t s = 9;
        size_t off = 0, chunks = 0;
        while (off < len) {
            size_t n = off < len / 2 ? 1 + rng_next(&s) % 3000 : 1 + rng_next(&s) % 300000;
            if (n > len - off)
                n = len - off;
            ck_assert_int_eq(pipe_filter_push(f, d + off, n, &err), 0);
            off += n;
            chunks++;
        }
        ck_assert_uint_gt(chunks, len / 4096);   /* mostly small pushes */
        ck_assert_int_eq(pipe_filter_finish(f, &err), 0);
        ck_assert_uint_eq(m.len, len);
        ck_assert(memcmp(m.data, d, len) == 0);
        ck_assert(!pthread_equal(m.writer, pthread_self()));   /* really on another thread */
        pipe_filter_free(f);
        mem_free(&m);
    }
    free(d);
}
END_TEST

START_TEST(test_thread_error)
{
    size_t len = 1024 * 1024;
    unsigned char *d = gen_random(len, 4);
    /* the worker fails after 100000 bytes; with a 4096-byte queue, a push must see it */
    MemBuf m = { .fail_after = 100000, .fail_code = PGP_ERR_CODEC };
    PipeFilter *f = NULL;
    PgpErr err = { 0 };
    ck_assert_int_eq(pipe_thread_new(mem_sink(&m), 4096, &f, &err), 0);
    int rc = push_chunked(f, d, len, 1, &err);
    ck_assert_int_eq(rc, PGP_ERR_CODEC);
    ck_assert_str_eq(err.msg, "test sink broke");
    pgp_err_clear(&err);
    ck_assert_int_eq(pipe_filter_push(f, d, 1, &err), PGP_ERR_CODEC);
    ck_assert_str_eq(err.msg, "test sink broke");
    ck_assert_int_eq(pipe_filter_finish(f, &err), PGP_ERR_CODEC);
    ck_assert_uint_le(m.len, 100000);
    pipe_filter_free(f);
    mem_free(&m);

    /* everything fits in the queue: push succeeds, finish reports the worker's error */
    MemBuf m2 = { .fail_after = 10, .fail_code = PGP_ERR_IO };
    ck_assert_int_eq(pipe_thread_new(mem_sink(&m2), 65536, &f, &err), 0);
    ck_assert_int_eq(pipe_filter_push(f, d, 50000, &err), 0);
    pgp_err_clear(&err);
    ck_assert_int_eq(pipe_filter_finish(f, &err), PGP_ERR_IO);
    ck_assert_str_eq(err.msg, "test sink broke");
    pipe_filter_free(f);
    mem_free(&m2);

    /* freed without finish while the worker has data: no hang, no leak */
    MemBuf m3 = { 0 };
    ck_assert_int_eq(pipe_thread_new(mem_sink(&m3), 8192, &f, &err), 0);
    ck_assert_int_eq(pipe_filter_push(f, d, 100000, &err), 0);
    pipe_filter_free(f);
    ck_assert_uint_le(m3.len, 100000);
    mem_free(&m3);
    free(d);
}
END_TEST

/* ---------- compare ---------- */

START_TEST(test_compare)
{
    size_t len = 100000;
    unsigned char *d = gen_random(len, 6);
    unsigned char *e = malloc(len + 10);
    memcpy(e, d, len);
    PipeCompare *c = NULL;
    PgpErr err = { 0 };

    ck_assert_int_eq(pipe_compare_new(d, len, &c, &err), 0);
    PipeSink s = pipe_compare_sink(c);
    ck_assert_int_eq(s.write(s.ud, e, 777, &err), 0);
    ck_assert(!pipe_compare_complete(c));
    ck_assert_int_eq(s.write(s.ud, e + 777, len - 777, &err), 0);
    ck_assert(pipe_compare_complete(c));
    pipe_compare_free(c);

    e[12345] ^= 0x40;   /* a differing byte, in the second chunk */
    ck_assert_int_eq(pipe_compare_new(d, len, &c, &err), 0);
    s = pipe_compare_sink(c);
    ck_assert_int_eq(s.write(s.ud, e, 10000, &err), 0);
    ck_assert_int_eq(s.write(s.ud, e + 10000, len - 10000, &err), PGP_ERR_CORRUPT);
    ck_assert_ptr_nonnull(strstr(err.msg, "12345"));
    ck_assert(!pipe_compare_complete(c));
    pipe_compare_free(c);
    e[12345] ^= 0x40;

    e[len] = 0;         /* one excess byte */
    ck_assert_int_eq(pipe_compare_new(d, len, &c, &err), 0);
    s = pipe_compare_sink(c);
    ck_assert_int_eq(s.write(s.ud, e, len + 1, &err), PGP_ERR_CORRUPT);
    ck_assert(!pipe_compare_complete(c));
    pipe_compare_free(c);
    ck_assert_int_eq(pipe_compare_new(d, len, &c, &err), 0);
    s = pipe_compare_sink(c);
    ck_assert_int_eq(s.write(s.ud, e, len, &err), 0);
    ck_assert(pipe_compare_complete(c));
    ck_assert_int_eq(s.write(s.ud, e + len, 1, &err), PGP_ERR_CORRUPT);
    ck_assert(!pipe_compare_complete(c));
    pipe_compare_free(c);

    /* short input: no error, but not complete */
    ck_assert_int_eq(pipe_compare_new(d, len, &c, &err), 0);
    s = pipe_compare_sink(c);
    ck_assert_int_eq(s.write(s.ud, e, len - 1, &err), 0);
    ck_assert(!pipe_compare_complete(c));
    pipe_compare_free(c);

    /* empty expectation */
    ck_assert_int_eq(pipe_compare_new(d, 0, &c, &err), 0);
    ck_assert(pipe_compare_complete(c));
    s = pipe_compare_sink(c);
    ck_assert_int_eq(s.write(s.ud, e, 1, &err), PGP_ERR_CORRUPT);
    pipe_compare_free(c);
    free(e);
    free(d);
}
END_TEST

/* ---------- a whole chain ---------- */

/* sha256 -> zstd -> thread -> size -> zstd decompress -> compare, like archive-push's
 * verify-after-write path. */
START_TEST(test_chain)
{
    size_t len = 16 * 1024 * 1024;
    unsigned char *d = gen_compressible(len, 2024);
    PipeCompare *cmp = NULL;
    PipeFilter *dec = NULL, *size = NULL, *thr = NULL, *comp = NULL, *sha = NULL;
    PgpErr err = { 0 };
    ck_assert_int_eq(pipe_compare_new(d, len, &cmp, &err), 0);
    ck_assert_int_eq(pipe_decompress_new(PIPE_CODEC_ZSTD, pipe_compare_sink(cmp), &dec, &err), 0);
    ck_assert_int_eq(pipe_size_new(pipe_filter_sink(dec), &size, &err), 0);
    ck_assert_int_eq(pipe_thread_new(pipe_filter_sink(size), 1 << 20, &thr, &err), 0);
    ck_assert_int_eq(pipe_compress_new(PIPE_CODEC_ZSTD, 1, 0, pipe_filter_sink(thr), &comp, &err),
                     0);
    ck_assert_int_eq(pipe_sha256_new(pipe_filter_sink(comp), &sha, &err), 0);
    ck_assert_int_eq(push_chunked(sha, d, len, 1, &err), 0);
    /* finishing the head finishes every stage, in order: each is then already finished */
    ck_assert_msg(pipe_filter_finish(sha, &err) == 0, "%s", err.msg);
    PipeFilter *order[] = { sha, comp, thr, size, dec };
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(pipe_filter_finish(order[i], NULL), PGP_ERR_INTERNAL);
    ck_assert(pipe_compare_complete(cmp));
    ck_assert_uint_gt(pipe_size_result(size), 0);
    ck_assert_uint_lt(pipe_size_result(size), len / 3);
    uint8_t got[PIPE_SHA256_LEN], want[PIPE_SHA256_LEN];
    pipe_sha256_result(sha, got);
    ck_assert_int_eq(pipe_sha256_buf(d, len, want, NULL), 0);
    ck_assert(memcmp(got, want, sizeof got) == 0);
    for (int i = 0; i < 5; i++)
        pipe_filter_free(order[i]);
    pipe_compare_free(cmp);
    free(d);
}
END_TEST

/* The cascade: a tee finishes both branches; an error in a middle stage stops it there,
 * comes back from the head's finish and is kept by the head. */
START_TEST(test_finish_cascade)
{
    MemBuf a = { 0 }, b = { 0 };
    PipeFilter *tee = NULL, *sa = NULL, *sb = NULL, *head = NULL;
    PgpErr err = { 0 };
    ck_assert_int_eq(pipe_size_new(mem_sink(&a), &sa, &err), 0);
    ck_assert_int_eq(pipe_sha256_new(mem_sink(&b), &sb, &err), 0);
    ck_assert_int_eq(pipe_tee_new(pipe_filter_sink(sa), pipe_filter_sink(sb), &tee, &err), 0);
    ck_assert_int_eq(pipe_size_new(pipe_filter_sink(tee), &head, &err), 0);
    ck_assert_int_eq(pipe_filter_push(head, "abc", 3, &err), 0);
    ck_assert_int_eq(pipe_filter_finish(head, &err), 0);
    ck_assert_uint_eq(pipe_size_result(sa), 3);     /* asserts sa is finished */
    uint8_t d[PIPE_SHA256_LEN];
    char hex[PIPE_SHA256_HEX_LEN + 1];
    pipe_sha256_result(sb, d);                      /* asserts sb is finished */
    ck_assert_str_eq(hex_of(d, hex), SHA_ABC);
    ck_assert_int_eq(pipe_filter_finish(tee, NULL), PGP_ERR_INTERNAL);
    pipe_filter_free(head);
    pipe_filter_free(tee);
    pipe_filter_free(sa);
    pipe_filter_free(sb);
    mem_free(&a);
    mem_free(&b);

    /* zstd -> thread -> lz4 decompress: zstd bytes are not an lz4 frame, the error surfaces
     * in the decompressor (on push or finish) and the head's finish returns it */
    PipeFilter *comp = NULL, *thr = NULL, *dec = NULL;
    MemBuf m = { 0 };
    ck_assert_int_eq(pipe_decompress_new(PIPE_CODEC_LZ4, mem_sink(&m), &dec, &err), 0);
    ck_assert_int_eq(pipe_thread_new(pipe_filter_sink(dec), 4096, &thr, &err), 0);
    ck_assert_int_eq(pipe_compress_new(PIPE_CODEC_ZSTD, 1, 0, pipe_filter_sink(thr), &comp, &err),
                     0);
    ck_assert_int_eq(pipe_filter_push(comp, "abc", 3, &err), 0);
    ck_assert_int_eq(pipe_filter_finish(comp, &err), PGP_ERR_CORRUPT);
    ck_assert_int_eq(pipe_filter_finish(comp, NULL), PGP_ERR_CORRUPT);   /* kept */
    pipe_filter_free(comp);
    pipe_filter_free(thr);
    pipe_filter_free(dec);
    mem_free(&m);
}
END_TEST

Suite *suite_pipe(void)
{
    Suite *s = suite_create("pipe");
    TCase *tc = tcase_create("codec");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_codec_parse);
    tcase_add_test(tc, test_codec_names);
    tcase_add_test(tc, test_level_out_of_range);
    tcase_add_test(tc, test_filter_lifecycle);
    suite_add_tcase(s, tc);

    tc = tcase_create("roundtrip");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, test_roundtrip, 0, sizeof rt_cases / sizeof rt_cases[0]);
    tcase_add_loop_test(tc, test_sink_error_propagates, 0, sizeof rt_cases / sizeof rt_cases[0]);
    tcase_add_test(tc, test_zstd_workers);
    tcase_add_test(tc, test_zstd_dctx_reused);
    tcase_add_test(tc, test_decode_reference_frames);
    tcase_add_test(tc, test_chain);
    tcase_add_test(tc, test_finish_cascade);
    suite_add_tcase(s, tc);

    tc = tcase_create("corrupt");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_truncated, 0, 2);
    tcase_add_loop_test(tc, test_empty_input_is_truncated, 0, 2);
    tcase_add_loop_test(tc, test_garbage, 0, 2);
    tcase_add_loop_test(tc, test_trailing_garbage, 0, 2);
    tcase_add_loop_test(tc, test_bitflip, 0, 2);
    suite_add_tcase(s, tc);

    tc = tcase_create("filters");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_sha256_vectors);
    tcase_add_test(tc, test_sha256_filter_matches_buf);
    tcase_add_test(tc, test_sha256_async);
    tcase_add_test(tc, test_hex);
    tcase_add_test(tc, test_size);
    tcase_add_test(tc, test_tee);
    tcase_add_test(tc, test_thread_order);
    tcase_add_test(tc, test_thread_error);
    tcase_add_test(tc, test_compare);
    suite_add_tcase(s, tc);
    return s;
}
