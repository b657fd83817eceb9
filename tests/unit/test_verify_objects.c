/*
 * test_verify_objects.c - the object checker of `pgpitr verify` (src/repo/verify_objects.c):
 * a real posix Storage in a mkdtemp directory, objects written through the real codecs, then
 * damaged on disk (flipped bit, truncation, removal) and checked one by one and by the pool.
 */
#include "fx_dir.h"
#include "pgpitr/repo/verify_objects.h"

#include <check.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pgpitr/pipe/pipe.h"
#include "pgpitr/repo/repo.h"

#define LEN (300u * 1024u + 17u)

static char tdir[128];
static char root[256];
static Storage *st;

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static void setup(void)
{
    snprintf(tdir, sizeof tdir, "/tmp/pgpitr_test_verify.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tdir));
    snprintf(root, sizeof root, "%s/repo", tdir);
    PgpErr err = {0};
    st = NULL;
    ck_assert_int_eq(storage_posix_new(root, true, &st, &err), 0);
}

static void teardown(void)
{
    storage_free(st);
    st = NULL;
    nftw(tdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int mem_write(void *ud, const void *buf, size_t len, PgpErr *err)
{
    (void)err;
    ck_assert_uint_eq(fwrite(buf, 1, len, ud), len);
    return 0;
}

static unsigned char *make_content(size_t len, unsigned seed)
{
    unsigned char *p = malloc(len + 1);
    ck_assert_ptr_nonnull(p);
    for (size_t i = 0; i < len; i++)
        p[i] = (unsigned char)((i / 7 + seed * 31) ^ (i % 13 == 0 ? seed : 0));
    return p;
}

/* Compresses data with codec into a content-addressed object and describes it in o. */
static void put_object(const void *data, size_t len, PipeCodec codec, VerifyObject *o,
                       char path[REPO_PATH_MAX])
{
    PgpErr err = {0};
    char *out = NULL;
    size_t out_len = 0;
    FILE *mem = open_memstream(&out, &out_len);
    ck_assert_ptr_nonnull(mem);
    PipeFilter *c = NULL;
    ck_assert_int_eq(pipe_compress_new(codec, codec == PIPE_CODEC_ZSTD ? 1 : 0, 0,
                                       (PipeSink){mem_write, mem}, &c, &err), 0);
    ck_assert_int_eq(pipe_filter_push(c, data, len, &err), 0);
    ck_assert_int_eq(pipe_filter_finish(c, &err), 0);
    pipe_filter_free(c);
    fclose(mem);
    uint8_t d[PIPE_SHA256_LEN];
    ck_assert_int_eq(pipe_sha256_buf(data, len, d, NULL), 0);
    /* o->sha256 is not owned: up to 64 live objects a test (NPOOL), each with its own text */
    static char shas[64][PIPE_SHA256_HEX_LEN + 1];
    static uint8_t heads[64][VERIFY_HEAD_LEN];
    static unsigned next;
    char *sha = shas[next % 64];
    memset(o, 0, sizeof *o);
    o->head = heads[next++ % 64];
    pipe_hex(d, PIPE_SHA256_LEN, sha);
    o->sha256 = sha;
    repo_object_path(o->sha256, codec, path, NULL);
    ck_assert_int_eq(storage_put_all(st, path, 0, out, out_len, &err), 0);
    free(out);
    o->path = path;
    o->codec = codec;
    o->size = len;
}

static void full_path(const char *rel, char out[512])
{
    snprintf(out, 512, "%s/%s", root, rel);
}

static void truncate_to(const char *rel, off_t keep)
{
    char p[512];
    full_path(rel, p);
    ck_assert_int_eq(truncate(p, keep), 0);
}

static VerifyStatus check_one(VerifyObject *o)
{
    static unsigned char buf[64 * 1024];
    PgpErr err = {0};
    ck_assert_int_eq(verify_object(st, NULL, o, buf, sizeof buf, &err), 0);
    ck_assert_ptr_null(strchr(verify_object_reason(o), '\n'));
    return o->status;
}

static void assert_reason(const VerifyObject *o, const char *needle)
{
    ck_assert_msg(strstr(verify_object_reason(o), needle) != NULL, "\"%s\" not in \"%s\"",
                  needle, verify_object_reason(o));
}

START_TEST(test_good_objects_every_codec)
{
    unsigned char *data = make_content(LEN, 3);
    PipeCodec codecs[] = {PIPE_CODEC_ZSTD, PIPE_CODEC_LZ4, PIPE_CODEC_NONE};
    for (size_t i = 0; i < 3; i++) {
        data[0] = (unsigned char)i;   /* a distinct object per codec */
        VerifyObject o;
        char path[REPO_PATH_MAX];
        put_object(data, LEN, codecs[i], &o, path);
        ck_assert_int_eq(check_one(&o), VERIFY_OK);
        ck_assert_ptr_null(o.reason);
        ck_assert_uint_eq(o.original, LEN);
        ck_assert_uint_gt(o.stored_read, 0);
        ck_assert_uint_eq(o.head_len, VERIFY_HEAD_LEN);
        ck_assert_mem_eq(o.head, data, VERIFY_HEAD_LEN);
        o.size = VERIFY_SIZE_UNKNOWN;
        ck_assert_int_eq(check_one(&o), VERIFY_OK);
    }
    /* an empty object */
    VerifyObject e;
    char path[REPO_PATH_MAX];
    put_object("", 0, PIPE_CODEC_ZSTD, &e, path);
    ck_assert_int_eq(check_one(&e), VERIFY_OK);
    ck_assert_uint_eq(e.head_len, 0);
    free(data);
}
END_TEST

START_TEST(test_flipped_bit)
{
    unsigned char *data = make_content(LEN, 5);
    VerifyObject z, n;
    char zp[REPO_PATH_MAX], np[REPO_PATH_MAX];
    put_object(data, LEN, PIPE_CODEC_ZSTD, &z, zp);
    data[0] ^= 1;
    put_object(data, LEN, PIPE_CODEC_NONE, &n, np);
    /* in the middle of the zstd frame: it no longer decodes or no longer matches */
    fx_flip_bit(root, zp, -40);
    ck_assert_int_eq(check_one(&z), VERIFY_CORRUPT);
    ck_assert_msg(strstr(verify_object_reason(&z), "does not decode") != NULL ||
                      strstr(verify_object_reason(&z), "checksum mismatch") != NULL,
                  "%s", verify_object_reason(&z));
    /* uncompressed: the size is right, the checksum is not */
    fx_flip_bit(root, np, 1000);
    ck_assert_int_eq(check_one(&n), VERIFY_CORRUPT);
    assert_reason(&n, "checksum mismatch");
    assert_reason(&n, n.sha256);
    verify_object_clear(&z);
    verify_object_clear(&n);
    free(data);
}
END_TEST

START_TEST(test_truncated)
{
    unsigned char *data = make_content(LEN, 7);
    VerifyObject z, l, n;
    char zp[REPO_PATH_MAX], lp[REPO_PATH_MAX], np[REPO_PATH_MAX];
    put_object(data, LEN, PIPE_CODEC_ZSTD, &z, zp);
    data[0] ^= 1;
    put_object(data, LEN, PIPE_CODEC_LZ4, &l, lp);
    data[0] ^= 2;
    put_object(data, LEN, PIPE_CODEC_NONE, &n, np);
    truncate_to(zp, 100);
    truncate_to(lp, 100);
    truncate_to(np, LEN - 1);
    ck_assert_int_eq(check_one(&z), VERIFY_CORRUPT);
    assert_reason(&z, "does not decode");
    ck_assert_int_eq(check_one(&l), VERIFY_CORRUPT);
    assert_reason(&l, "does not decode");
    ck_assert_int_eq(check_one(&n), VERIFY_CORRUPT);
    assert_reason(&n, "size mismatch");
    /* without an expected size the checksum still catches it */
    n.size = VERIFY_SIZE_UNKNOWN;
    ck_assert_int_eq(check_one(&n), VERIFY_CORRUPT);
    assert_reason(&n, "checksum mismatch");
    verify_object_clear(&z);
    verify_object_clear(&l);
    verify_object_clear(&n);
    free(data);
}
END_TEST

START_TEST(test_missing_and_wrong_size)
{
    unsigned char *data = make_content(LEN, 9);
    VerifyObject o;
    char path[REPO_PATH_MAX];
    put_object(data, LEN, PIPE_CODEC_ZSTD, &o, path);
    o.size = LEN - 10;      /* the content is larger than claimed: stops at the excess */
    ck_assert_int_eq(check_one(&o), VERIFY_CORRUPT);
    assert_reason(&o, "larger than the expected");
    ck_assert_uint_le(o.original, LEN);
    o.size = LEN + 10;
    ck_assert_int_eq(check_one(&o), VERIFY_CORRUPT);
    assert_reason(&o, "size mismatch");
    o.size = LEN;
    PgpErr err = {0};
    ck_assert_int_eq(storage_remove(st, path, &err), 0);
    ck_assert_int_eq(check_one(&o), VERIFY_MISSING);
    assert_reason(&o, "missing");
    verify_object_clear(&o);
    free(data);
}
END_TEST

/* A storage error other than "not found": a directory where the object should be (works
 * as root too, unlike a mode 000 file). */
START_TEST(test_unreadable)
{
    unsigned char *data = make_content(1000, 1);
    VerifyObject o;
    char path[REPO_PATH_MAX], p[512];
    put_object(data, 1000, PIPE_CODEC_NONE, &o, path);
    full_path(path, p);
    ck_assert_int_eq(unlink(p), 0);
    ck_assert_int_eq(mkdir(p, 0700), 0);
    ck_assert_int_eq(check_one(&o), VERIFY_UNREADABLE);
    assert_reason(&o, "cannot read");
    verify_object_clear(&o);
    free(data);
}
END_TEST

#define NPOOL 40

/* Every outcome at once through the pool; the same answers with 1 and 4 workers. */
START_TEST(test_pool_mixed)
{
    static VerifyObject objs[NPOOL];
    static char paths[NPOOL][REPO_PATH_MAX];
    uint64_t expect_bytes = 0;
    for (unsigned i = 0; i < NPOOL; i++) {
        size_t len = 1000 + i * 3001;
        unsigned char *data = make_content(len, i + 11);
        put_object(data, len, (PipeCodec)(i % 3), &objs[i], paths[i]);
        free(data);
        expect_bytes += len;
    }
    truncate_to(paths[5], 20);
    fx_flip_bit(root, paths[9], 30);            /* codec none (9 % 3 == 0) */
    PgpErr err = {0};
    ck_assert_int_eq(storage_remove(st, paths[17], &err), 0);
    for (int workers = 1; workers <= 4; workers += 3) {
        VerifyPoolOptions opt = {.workers = workers};
        VerifyPoolResult res;
        ck_assert_int_eq(verify_objects_run(st, objs, NPOOL, &opt, &res, &err), 0);
        ck_assert_uint_eq(res.objects, NPOOL);
        ck_assert_uint_eq(res.bad, 3);
        ck_assert_uint_lt(res.bytes_original, expect_bytes);
        for (unsigned i = 0; i < NPOOL; i++) {
            VerifyStatus want = i == 5 || i == 9 ? VERIFY_CORRUPT
                                : i == 17        ? VERIFY_MISSING
                                                 : VERIFY_OK;
            ck_assert_msg(objs[i].status == want, "object %u with %d workers: %s (%s)", i,
                          workers, verify_status_name(objs[i].status), verify_object_reason(&objs[i]));
        }
    }
}
END_TEST

static unsigned progress_calls;
static uint64_t progress_last;

static void on_progress(void *ud, uint64_t done, uint64_t bytes)
{
    (void)ud, (void)bytes;
    progress_calls++;
    progress_last = done;
}

START_TEST(test_pool_progress_cancel_empty)
{
    static VerifyObject objs[4];
    static char paths[4][REPO_PATH_MAX];
    for (unsigned i = 0; i < 4; i++) {
        unsigned char *data = make_content(5000, i);
        put_object(data, 5000, PIPE_CODEC_ZSTD, &objs[i], paths[i]);
        free(data);
    }
    PgpErr err = {0};
    VerifyPoolResult res;
    VerifyPoolOptions opt = {.workers = 8, .progress = on_progress};
    ck_assert_int_eq(verify_objects_run(st, objs, 4, &opt, &res, &err), 0);
    ck_assert_uint_ge(progress_calls, 1);
    ck_assert_uint_eq(progress_last, 4);

    volatile sig_atomic_t cancel = 1;
    VerifyPoolOptions copt = {.workers = 2, .cancel = &cancel};
    ck_assert_int_eq(verify_objects_run(st, objs, 4, &copt, &res, &err), PGP_ERR_IO);
    ck_assert_ptr_nonnull(strstr(err.msg, "interrupted"));
    ck_assert_int_eq(objs[0].status, VERIFY_PENDING);

    ck_assert_int_eq(verify_objects_run(st, NULL, 0, &opt, &res, &err), 0);
    ck_assert_uint_eq(res.objects, 0);
}
END_TEST

Suite *suite_verify_objects(void)
{
    Suite *s = suite_create("verify_objects");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_good_objects_every_codec);
    tcase_add_test(tc, test_flipped_bit);
    tcase_add_test(tc, test_truncated);
    tcase_add_test(tc, test_missing_and_wrong_size);
    tcase_add_test(tc, test_unreadable);
    tcase_add_test(tc, test_pool_mixed);
    tcase_add_test(tc, test_pool_progress_cancel_empty);
    suite_add_tcase(s, tc);
    return s;
}
