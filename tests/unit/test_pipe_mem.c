/*
 * test_pipe_mem.c - unit tests of src/pipe/mem_codec.c (in-memory encoding, archive-push's
 * path): each codec's one-go frame decodes to the source with the streaming decoder (what
 * archive-get and older readers use) and with the library's own one-shot decoder; the
 * verification fails on a flipped byte, a sound frame of other bytes, a frame cut short, a
 * byte after it and a wrong source length; the codec contexts are kept and reused between
 * calls, from any thread, and at most CTX_POOL_KEEP of a kind are kept.
 */
#include <check.h>
#include <lz4frame.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "pgpitr/pipe/pipe.h"
#include "../../src/pipe/ctx_pool.h"     /* the bound, tested directly */

#define LEN (3u * 1024 * 1024 + 17)

/* WAL-like: runs of text and zeros with some noise, compresses several to one. */
static uint8_t *gen(size_t len, unsigned seed)
{
    uint8_t *p = malloc(len);
    ck_assert_ptr_nonnull(p);
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < len; i++) {
        x = x * 1103515245u + 12345u;
        p[i] = (i / 4096) % 3 == 0 ? 0 : (i % 97 < 80 ? (uint8_t)("pgpitr wal "[i % 11])
                                                         : (uint8_t)(x >> 24));
    }
    return p;
}

typedef struct Enc {
    uint8_t *data;
    size_t len, cap;
} Enc;

static void encode(PipeCodec c, int level, const uint8_t *src, size_t n, size_t first, Enc *e)
{
    PgpErr err = {0};
    e->cap = first;
    e->data = malloc(first);
    ck_assert_ptr_nonnull(e->data);
    ck_assert_int_eq(pipe_mem_compress(c, level, src, n, &e->data, &e->cap, &e->len, &err), 0);
    ck_assert_uint_le(e->len, e->cap);
}

/* Decoded by the streaming filter, as archive-get decodes a stored object. */
static int sink_append(void *ud, const void *buf, size_t len, PgpErr *err)
{
    Enc *o = ud;
    (void)err;
    ck_assert_uint_le(o->len + len, o->cap);
    memcpy(o->data + o->len, buf, len);
    o->len += len;
    return 0;
}

static void check_stream_decodes(PipeCodec c, const Enc *e, const uint8_t *src, size_t n)
{
    Enc out = {malloc(n + 1), 0, n + 1};
    PipeFilter *f = NULL;
    PgpErr err = {0};
    ck_assert_int_eq(pipe_decompress_new(c, (PipeSink){sink_append, &out}, &f, &err), 0);
    ck_assert_int_eq(pipe_filter_push(f, e->data, e->len, &err), 0);
    ck_assert_int_eq(pipe_filter_finish(f, &err), 0);
    pipe_filter_free(f);
    ck_assert_uint_eq(out.len, n);
    ck_assert(memcmp(out.data, src, n) == 0);
    free(out.data);
}

/* Both codecs (and none), into a buffer big enough and into one far too small (it grows; for
 * zstd that is the compression again into room for the worst case). */
START_TEST(test_roundtrip)
{
    static const PipeCodec codecs[] = {PIPE_CODEC_ZSTD, PIPE_CODEC_LZ4, PIPE_CODEC_NONE};
    PipeCodec c = codecs[_i / 2];
    size_t first = _i % 2 == 0 ? LEN / 4 : 64;
    uint8_t *src = gen(LEN, 1);
    Enc e;
    encode(c, c == PIPE_CODEC_LZ4 ? 0 : (c == PIPE_CODEC_ZSTD ? 1 : 0), src, LEN, first, &e);
    if (c != PIPE_CODEC_NONE)
        ck_assert_uint_lt(e.len, LEN / 2);
    check_stream_decodes(c, &e, src, LEN);
    PgpErr err = {0};
    ck_assert_int_eq(pipe_mem_verify(c, e.data, e.len, src, LEN, &err), 0);
    if (c == PIPE_CODEC_ZSTD) {
        /* the library's own reader: one frame, checksummed, of the source */
        uint8_t *back = malloc(LEN);
        ck_assert_uint_eq(ZSTD_decompress(back, LEN, e.data, e.len), LEN);
        ck_assert(memcmp(back, src, LEN) == 0);
        ck_assert_uint_eq(ZSTD_findFrameCompressedSize(e.data, e.len), e.len);
        /* Frame_Header_Descriptor (the byte after the magic): Content_Checksum_flag, bit 2 */
        ck_assert(e.data[4] & 0x04);
        free(back);
    }
    if (c == PIPE_CODEC_LZ4) {
        /* the streaming compressor's frame, byte for byte (same preferences) */
        Enc ref = {malloc(LEN * 2), 0, LEN * 2};
        PipeFilter *f = NULL;
        ck_assert_int_eq(pipe_compress_new(c, 0, 0, (PipeSink){sink_append, &ref}, &f, &err), 0);
        ck_assert_int_eq(pipe_filter_push(f, src, LEN, &err), 0);
        ck_assert_int_eq(pipe_filter_finish(f, &err), 0);
        pipe_filter_free(f);
        ck_assert_uint_eq(ref.len, e.len);
        ck_assert(memcmp(ref.data, e.data, e.len) == 0);
        free(ref.data);
    }
    free(e.data);
    free(src);
}
END_TEST

/* Everything that is not exactly the source's frame fails the verification as corrupt. */
START_TEST(test_verify_catches)
{
    PipeCodec c = _i == 0 ? PIPE_CODEC_ZSTD : PIPE_CODEC_LZ4;
    uint8_t *src = gen(LEN, 2), *other = gen(LEN, 3);
    Enc e, o;
    encode(c, 1, src, LEN, LEN / 4, &e);
    encode(c, 1, other, LEN, LEN / 4, &o);
    PgpErr err = {0};
    /* a byte flipped anywhere: header, middle, checksum */
    size_t at[] = {6, e.len / 2, e.len - 1};
    for (size_t i = 0; i < 3; i++) {
        e.data[at[i]] ^= 0x10;
        ck_assert_int_eq(pipe_mem_verify(c, e.data, e.len, src, LEN, &err), PGP_ERR_CORRUPT);
        e.data[at[i]] ^= 0x10;
    }
    /* a sound frame (its checksum right) of other bytes: only the comparison sees it */
    ck_assert_int_eq(pipe_mem_verify(c, o.data, o.len, src, LEN, &err), PGP_ERR_CORRUPT);
    ck_assert_ptr_nonnull(strstr(err.msg, "differs from the source"));
    /* cut short, a byte after the frame, a source of another length */
    ck_assert_int_eq(pipe_mem_verify(c, e.data, e.len - 9, src, LEN, &err), PGP_ERR_CORRUPT);
    ck_assert_int_eq(pipe_mem_verify(c, e.data, e.len / 2, src, LEN, &err), PGP_ERR_CORRUPT);
    e.data = realloc(e.data, e.len + 1);
    e.data[e.len] = 0;
    ck_assert_int_eq(pipe_mem_verify(c, e.data, e.len + 1, src, LEN, &err), PGP_ERR_CORRUPT);
    ck_assert_int_eq(pipe_mem_verify(c, e.data, e.len, src, LEN - 1, &err), PGP_ERR_CORRUPT);
    ck_assert_int_eq(pipe_mem_verify(c, e.data, e.len, src, LEN + 0, &err), 0);
    /* a source longer than the frame's content: fewer bytes */
    uint8_t *longer = malloc(LEN + 5);
    memcpy(longer, src, LEN);
    ck_assert_int_eq(pipe_mem_verify(c, e.data, e.len, longer, LEN + 5, &err),
                     PGP_ERR_CORRUPT);
    ck_assert_ptr_nonnull(strstr(err.msg, "fewer bytes"));
    /* and the kept context decodes correctly after all those failures */
    ck_assert_int_eq(pipe_mem_verify(c, e.data, e.len, src, LEN, &err), 0);
    free(longer);
    free(e.data);
    free(o.data);
    free(src);
    free(other);
}
END_TEST

typedef struct Job {
    const uint8_t *src;
    PipeCodec codec;
    int rc;
} Job;

static void *push_like(void *arg)
{
    Job *j = arg;
    Enc e = {malloc(LEN / 4), 0, LEN / 4};
    PgpErr err = {0};
    j->rc = pipe_mem_compress(j->codec, 1, j->src, LEN, &e.data, &e.cap, &e.len, &err);
    if (j->rc == 0)
        j->rc = pipe_mem_verify(j->codec, e.data, e.len, j->src, LEN, &err);
    free(e.data);
    return NULL;
}

/* archive-push encodes each segment on a thread of its own: twenty pushes, each on a fresh
 * thread, make each kind of context once (a context per push was the cost this removes). */
START_TEST(test_contexts_kept_across_threads)
{
    uint8_t *src = gen(LEN, 4);
    pipe_mem_release();
    ck_assert_uint_eq(pipe_mem_ctx_kept(), 0);
    size_t made = pipe_mem_ctx_made();
    for (int i = 0; i < 20; i++) {
        Job j = {src, i % 2 == 0 ? PIPE_CODEC_ZSTD : PIPE_CODEC_LZ4, -1};
        pthread_t t;
        ck_assert_int_eq(pthread_create(&t, NULL, push_like, &j), 0);
        pthread_join(t, NULL);
        ck_assert_int_eq(j.rc, 0);
    }
    /* zstd and lz4, a compression and a decompression context each */
    ck_assert_uint_eq(pipe_mem_ctx_made() - made, 4);
    ck_assert_uint_eq(pipe_mem_ctx_kept(), 4);
    pipe_mem_release();
    ck_assert_uint_eq(pipe_mem_ctx_kept(), 0);
    free(src);
}
END_TEST

static int freed;
static void count_free(void *p)
{
    free(p);
    freed++;
}

/* At most CTX_POOL_KEEP contexts of a kind are kept (more given back are freed): bounded
 * memory in a process that runs for weeks; release frees the kept ones. */
START_TEST(test_pool_bounded)
{
    pipe_mem_release();
    freed = 0;
    for (int i = 0; i < CTX_POOL_KEEP + 3; i++)
        ctx_pool_give(CTX_LZ4_C, malloc(8), count_free);
    ck_assert_int_eq(freed, 3);
    ck_assert_uint_eq(pipe_mem_ctx_kept(), CTX_POOL_KEEP);
    void *one = ctx_pool_take(CTX_LZ4_C);
    ck_assert_ptr_nonnull(one);
    ck_assert_ptr_null(ctx_pool_take(CTX_ZSTD_C));
    ctx_pool_give(CTX_LZ4_C, one, count_free);
    pipe_mem_release();
    ck_assert_int_eq(freed, 3 + CTX_POOL_KEEP);
    ck_assert_uint_eq(pipe_mem_ctx_kept(), 0);
}
END_TEST

Suite *suite_pipe_mem(void)
{
    Suite *s = suite_create("pipe_mem");
    TCase *tc = tcase_create("mem");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_roundtrip, 0, 6);
    tcase_add_loop_test(tc, test_verify_catches, 0, 2);
    tcase_add_test(tc, test_contexts_kept_across_threads);
    tcase_add_test(tc, test_pool_bounded);
    suite_add_tcase(s, tc);
    return s;
}
