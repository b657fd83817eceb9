/*
 * test_chunker.c - the chunking filter (src/pipe/chunker.c): chunk boundaries and digests
 * whatever the sizes of the pushes (byte by byte, odd sizes, whole chunks in place, one big
 * push), the shorter last chunk, no chunk for an empty stream and no empty last chunk for an
 * exact multiple, bytes passed on unchanged, and a callback's error stopping the stream.
 */
#include "pgpitr/pipe/chunker.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK 8192u

typedef struct Seen {
    uint64_t n;
    uint64_t offset;                /* bytes of chunks seen so far */
    const uint8_t *stream;          /* what was pushed, to check each chunk against */
    size_t sizes[64];
    int fail_at;                    /* chunk index whose callback fails; -1 never */
} Seen;

static int on_chunk(void *ud, uint64_t index, const void *data, size_t len,
                    const uint8_t digest[PIPE_SHA256_LEN], PgpErr *err)
{
    Seen *s = ud;
    ck_assert_uint_eq(index, s->n);
    ck_assert_mem_eq(data, s->stream + s->offset, len);
    uint8_t want[PIPE_SHA256_LEN];
    ck_assert_int_eq(pipe_sha256_buf(data, len, want, err), 0);
    ck_assert_mem_eq(digest, want, PIPE_SHA256_LEN);
    if ((int)index == s->fail_at)
        return PGP_FAIL(err, PGP_ERR_IO, "cannot store chunk %llu", (unsigned long long)index);
    if (s->n < 64)
        s->sizes[s->n] = len;
    s->n++;
    s->offset += len;
    return 0;
}

typedef struct Copy {
    uint8_t *buf;
    size_t len;
} Copy;

static int copy_write(void *ud, const void *buf, size_t len, PgpErr *err)
{
    (void)err;
    Copy *c = ud;
    memcpy(c->buf + c->len, buf, len);
    c->len += len;
    return 0;
}

static uint8_t *random_bytes(size_t n)
{
    uint8_t *p = malloc(n ? n : 1);
    ck_assert_ptr_nonnull(p);
    srand(1234);
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)rand();
    return p;
}

/* Pushes total bytes in pieces of the sizes in steps (cycled); checks chunks and pass-through. */
static void run(size_t total, const size_t *steps, size_t n_steps)
{
    uint8_t *data = random_bytes(total), *copy = malloc(total ? total : 1);
    Seen s = { .stream = data, .fail_at = -1 };
    Copy c = { copy, 0 };
    PipeFilter *f = NULL;
    PgpErr err = {0};
    ck_assert_int_eq(pipe_chunker_new(CHUNK, on_chunk, &s, (PipeSink){ copy_write, &c }, &f,
                                      &err), 0);
    for (size_t done = 0, k = 0; done < total; k++) {
        size_t n = steps[k % n_steps] < total - done ? steps[k % n_steps] : total - done;
        ck_assert_int_eq(pipe_filter_push(f, data + done, n, &err), 0);
        done += n;
    }
    ck_assert_int_eq(pipe_filter_finish(f, &err), 0);
    uint64_t want = total / CHUNK + (total % CHUNK != 0);
    ck_assert_uint_eq(s.n, want);
    ck_assert_uint_eq(pipe_chunker_count(f), want);
    ck_assert_uint_eq(s.offset, total);
    for (uint64_t i = 0; i + 1 < want && i < 64; i++)
        ck_assert_uint_eq(s.sizes[i], CHUNK);
    if (want > 0 && want <= 64)
        ck_assert_uint_eq(s.sizes[want - 1], total % CHUNK ? total % CHUNK : CHUNK);
    ck_assert_uint_eq(c.len, total);
    ck_assert_mem_eq(copy, data, total);
    pipe_filter_free(f);
    free(copy);
    free(data);
}

START_TEST(test_push_patterns)
{
    static const size_t one[] = {1}, odd[] = {7, 8191, 3, 20000}, whole[] = {2 * CHUNK},
                        big[] = {1 << 20};
    run(3 * CHUNK + 100, odd, 4);
    run(5 * CHUNK, whole, 1);             /* in place, the last one in place too */
    run(5 * CHUNK + 1, whole, 1);         /* a last chunk of one byte */
    run(300000, big, 1);
    run(CHUNK + 5, one, 1);               /* byte by byte */
    run(CHUNK - 1, odd, 4);               /* a single short chunk */
}
END_TEST

START_TEST(test_empty_and_exact)
{
    static const size_t any[] = {4096};
    run(0, any, 1);                       /* no chunk at all */
    run(2 * CHUNK, any, 1);               /* no empty third chunk */
}
END_TEST

START_TEST(test_callback_error)
{
    uint8_t *data = random_bytes(4 * CHUNK);
    Seen s = { .stream = data, .fail_at = 2 };
    PipeFilter *f = NULL;
    PgpErr err = {0};
    ck_assert_int_eq(pipe_chunker_new(CHUNK, on_chunk, &s, (PipeSink){ NULL, NULL }, &f, &err),
                     0);
    ck_assert_int_eq(pipe_filter_push(f, data, 2 * CHUNK + 10, &err), 0);
    ck_assert_int_eq(pipe_filter_push(f, data + 2 * CHUNK + 10, CHUNK, &err), PGP_ERR_IO);
    ck_assert_str_eq(err.msg, "cannot store chunk 2");
    ck_assert_int_eq(pipe_filter_push(f, data, 1, &err), PGP_ERR_IO);   /* stays failed */
    ck_assert_int_eq(pipe_filter_finish(f, &err), PGP_ERR_IO);
    ck_assert_uint_eq(pipe_chunker_count(f), 2);
    pipe_filter_free(f);

    /* The last, short chunk fails in finish. */
    s = (Seen){ .stream = data, .fail_at = 1 };
    ck_assert_int_eq(pipe_chunker_new(CHUNK, on_chunk, &s, (PipeSink){ NULL, NULL }, &f, &err),
                     0);
    ck_assert_int_eq(pipe_filter_push(f, data, CHUNK + 1, &err), 0);
    ck_assert_int_eq(pipe_filter_finish(f, &err), PGP_ERR_IO);
    pipe_filter_free(f);
    free(data);
}
END_TEST

START_TEST(test_bad_arguments)
{
    PipeFilter *f = (PipeFilter *)1;
    PgpErr err = {0};
    ck_assert_int_eq(pipe_chunker_new(0, on_chunk, NULL, (PipeSink){ NULL, NULL }, &f, &err),
                     PGP_ERR_INTERNAL);
    ck_assert_ptr_null(f);
    ck_assert_int_eq(pipe_chunker_new(PIPE_CHUNK_MAX + 1, on_chunk, NULL,
                                      (PipeSink){ NULL, NULL }, &f, &err), PGP_ERR_INTERNAL);
    ck_assert_int_eq(pipe_chunker_new(CHUNK, NULL, NULL, (PipeSink){ NULL, NULL }, &f, &err),
                     PGP_ERR_INTERNAL);
}
END_TEST

Suite *suite_chunker(void)
{
    Suite *s = suite_create("chunker");
    TCase *tc = tcase_create("chunker");
    tcase_add_test(tc, test_push_patterns);
    tcase_add_test(tc, test_empty_and_exact);
    tcase_add_test(tc, test_callback_error);
    tcase_add_test(tc, test_bad_arguments);
    suite_add_tcase(s, tc);
    return s;
}
