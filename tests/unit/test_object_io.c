/*
 * test_object_io.c - writing and reading repository objects (src/repo/object_io.c) on a
 * fabricated repository (fx_repo.h): a round trip through every codec, then objects damaged
 * on disk (a flipped byte, a truncation), read under a wrong name or missing, each refused
 * with its error; and a write failing at each step (fx_fail_storage) leaves no temp file and
 * nothing under the final name. Encoding ahead (object_io_encode, archive-push's path): the
 * bytes stored later read back verified, a stop ends it early with nothing kept, and a store
 * failing at each step leaves nothing either.
 */
#include "pgpitr/repo/object_io.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fx_dir.h"
#include "fx_repo.h"

#define LEN (700u * 1024u + 13u)   /* several read buffers and write chunks */

static FxRepo fx;
static uint8_t *data;

static void setup(void)
{
    fx_repo_init(&fx, "object_io");
    data = malloc(LEN);
    ck_assert_ptr_nonnull(data);
    for (size_t i = 0; i < LEN; i++)   /* compressible, but not trivially */
        data[i] = (uint8_t)((i * 7919u) >> 9 ^ (i % 251u));
}

static void teardown(void)
{
    free(data);
    fx_repo_free(&fx);
}

typedef struct Mem {
    uint8_t *buf;
    size_t len;
} Mem;

static int mem_write(void *ud, const void *buf, size_t len, PgpErr *err)
{
    (void)err;
    Mem *m = ud;
    m->buf = realloc(m->buf, m->len + len + 1);
    ck_assert_ptr_nonnull(m->buf);
    memcpy(m->buf + m->len, buf, len);
    m->len += len;
    return 0;
}

typedef struct Name {
    PipeCodec codec;
    int calls;
} Name;

/* Content-addressed in the directory the writer was opened in (the final name must be in the
 * same directory, as archived WAL's is): "objects/t/<sha><ext>". */
static int name_object(void *ud, const char *sha, char out[REPO_PATH_MAX], PgpErr *err)
{
    Name *n = ud;
    n->calls++;
    char base[128];
    snprintf(base, sizeof base, "%s%s", sha, pipe_codec_ext(n->codec));
    return repo_layout_join("objects/t", base, out, err);
}

static void final_path(const char *hex, PipeCodec codec, char out[REPO_PATH_MAX])
{
    Name n = {codec, 0};
    ck_assert_int_eq(name_object(&n, hex, out, NULL), 0);
}

static int name_fails(void *ud, const char *sha, char out[REPO_PATH_MAX], PgpErr *err)
{
    (void)ud, (void)sha, (void)out;
    return PGP_FAIL(err, PGP_ERR_INVALID_NAME, "no name for it");
}

static void expected_sha(char hex[PIPE_SHA256_HEX_LEN + 1])
{
    uint8_t d[PIPE_SHA256_LEN];
    ck_assert_int_eq(pipe_sha256_buf(data, LEN, d, NULL), 0);
    pipe_hex(d, sizeof d, hex);
}

/* Writes data content-addressed with codec; path gets where it landed. */
static void write_object(PipeCodec codec, char path[REPO_PATH_MAX])
{
    ObjectWriteOptions opt = {.codec = codec, .level = codec == PIPE_CODEC_ZSTD ? 3 : 0,
                              .verify = true};
    Name n = {codec, 0};
    ObjectWriteResult res;
    PgpErr err = {0};
    ck_assert_int_eq(object_io_write(fx.st, "objects/t/pending", &opt, data, LEN, name_object, &n,
                                     &res, &err), 0);
    ck_assert_int_eq(n.calls, 1);
    char hex[PIPE_SHA256_HEX_LEN + 1];
    expected_sha(hex);
    ck_assert_str_eq(res.sha256_hex, hex);
    char want[REPO_PATH_MAX];
    final_path(hex, codec, want);
    ck_assert_str_eq(res.path, want);
    ck_assert(fx_exists(&fx, res.path));
    ck_assert(!fx_exists(&fx, "objects/t/pending"));
    ck_assert_int_eq(fx_count_temp(&fx), 0);
    if (codec != PIPE_CODEC_NONE)
        ck_assert_uint_lt(res.stored_size, LEN);
    else
        ck_assert_uint_eq(res.stored_size, LEN);
    memcpy(path, res.path, REPO_PATH_MAX);
}

static int read_object(const char *path, PipeCodec codec, const char *expect, bool thread,
                       Mem *m, ObjectReadResult *res, PgpErr *err)
{
    ObjectReadOptions opt = {.codec = codec, .expect_sha256 = expect, .hash_thread = thread};
    return object_io_read_verify(fx.st, path, &opt, (PipeSink){mem_write, m}, res, err);
}

START_TEST(test_round_trip_every_codec)
{
    const PipeCodec codecs[] = {PIPE_CODEC_NONE, PIPE_CODEC_ZSTD, PIPE_CODEC_LZ4};
    char hex[PIPE_SHA256_HEX_LEN + 1];
    expected_sha(hex);
    for (size_t i = 0; i < 3; i++) {
        char path[REPO_PATH_MAX];
        write_object(codecs[i], path);
        for (int thread = 0; thread < 2; thread++) {
            Mem m = {0};
            ObjectReadResult res;
            PgpErr err = {0};
            ck_assert_int_eq(read_object(path, codecs[i], hex, thread, &m, &res, &err), 0);
            ck_assert_uint_eq(m.len, LEN);
            ck_assert(memcmp(m.buf, data, LEN) == 0);
            ck_assert_uint_eq(res.size, LEN);
            ck_assert_str_eq(res.sha256_hex, hex);
            ck_assert(!res.mismatch);
            StorageInfo info;
            ck_assert_int_eq(storage_stat(fx.st, path, &info, &err), 0);
            ck_assert_uint_eq(res.stored, info.size);
            free(m.buf);
        }
    }
}
END_TEST

/* Writing the same content again: the commit never replaces, it reports the existing one. */
START_TEST(test_write_existing_is_conflict)
{
    char path[REPO_PATH_MAX];
    write_object(PIPE_CODEC_ZSTD, path);
    ObjectWriteOptions opt = {.codec = PIPE_CODEC_ZSTD, .level = 3};
    Name n = {PIPE_CODEC_ZSTD, 0};
    ObjectWriteResult res;
    PgpErr err = {0};
    ck_assert_int_eq(object_io_write(fx.st, "objects/t/pending", &opt, data, LEN, name_object, &n,
                                     &res, &err), PGP_ERR_CONFLICT);
    ck_assert_str_eq(res.path, path);
    ck_assert_int_eq(fx_count_temp(&fx), 0);
}
END_TEST

START_TEST(test_corrupted_byte)
{
    char hex[PIPE_SHA256_HEX_LEN + 1];
    expected_sha(hex);
    /* Stored as is: the decoder cannot notice, the checksum must. */
    char path[REPO_PATH_MAX];
    write_object(PIPE_CODEC_NONE, path);
    fx_flip_bit(fx.root, path, LEN / 2);
    Mem m = {0};
    ObjectReadResult res;
    PgpErr err = {0};
    ck_assert_int_eq(read_object(path, PIPE_CODEC_NONE, hex, true, &m, &res, &err),
                     PGP_ERR_CORRUPT);
    ck_assert(res.mismatch);
    ck_assert_str_ne(res.sha256_hex, hex);
    ck_assert_ptr_nonnull(strstr(err.msg, "checksum mismatch"));
    ck_assert_ptr_nonnull(strstr(err.msg, hex));
    free(m.buf);
    /* Compressed: refused, by the decoder or the checksum, never accepted. */
    write_object(PIPE_CODEC_ZSTD, path);
    fx_flip_bit(fx.root, path, 40);
    m = (Mem){0};
    pgp_err_clear(&err);
    int rc = read_object(path, PIPE_CODEC_ZSTD, hex, false, &m, &res, &err);
    ck_assert_msg(rc == PGP_ERR_CORRUPT || rc == PGP_ERR_CODEC, "rc %d: %s", rc, err.msg);
    free(m.buf);
}
END_TEST

START_TEST(test_wrong_name)
{
    char path[REPO_PATH_MAX];
    write_object(PIPE_CODEC_LZ4, path);
    const char *other = "0000000000000000000000000000000000000000000000000000000000000000";
    Mem m = {0};
    ObjectReadResult res;
    PgpErr err = {0};
    ck_assert_int_eq(read_object(path, PIPE_CODEC_LZ4, other, false, &m, &res, &err),
                     PGP_ERR_CORRUPT);
    ck_assert(res.mismatch);
    ck_assert_uint_eq(res.size, LEN);   /* read completely: only the name is wrong */
    ck_assert_ptr_nonnull(strstr(err.msg, "checksum mismatch"));
    ck_assert_ptr_nonnull(strstr(err.msg, other));
    free(m.buf);
}
END_TEST

START_TEST(test_truncated_and_missing)
{
    char hex[PIPE_SHA256_HEX_LEN + 1], path[REPO_PATH_MAX], full[512];
    expected_sha(hex);
    write_object(PIPE_CODEC_ZSTD, path);
    snprintf(full, sizeof full, "%s/%s", fx.root, path);
    StorageInfo info;
    PgpErr err = {0};
    ck_assert_int_eq(storage_stat(fx.st, path, &info, &err), 0);
    ck_assert_int_eq(truncate(full, (off_t)(info.size / 2)), 0);
    Mem m = {0};
    ObjectReadResult res;
    ck_assert_int_eq(read_object(path, PIPE_CODEC_ZSTD, hex, true, &m, &res, &err),
                     PGP_ERR_CORRUPT);
    ck_assert(!res.mismatch);   /* the decoder said it: the stream stops mid-frame */
    ck_assert_uint_lt(res.size, LEN);
    free(m.buf);
    /* Stored as is and truncated: only the checksum can tell. */
    write_object(PIPE_CODEC_NONE, path);
    snprintf(full, sizeof full, "%s/%s", fx.root, path);
    ck_assert_int_eq(truncate(full, LEN - 1), 0);
    m = (Mem){0};
    ck_assert_int_eq(read_object(path, PIPE_CODEC_NONE, hex, false, &m, &res, &err),
                     PGP_ERR_CORRUPT);
    ck_assert(res.mismatch);
    free(m.buf);
    /* Gone. */
    ck_assert_int_eq(storage_remove(fx.st, path, &err), 0);
    m = (Mem){0};
    ck_assert_int_eq(read_object(path, PIPE_CODEC_NONE, hex, false, &m, &res, &err),
                     PGP_ERR_NOT_FOUND);
    ck_assert_uint_eq(m.len, 0);
    free(m.buf);
}
END_TEST

/* A failure at each step of a write: nothing under the final name, no temp file. */
START_TEST(test_write_failures_leave_nothing)
{
    const FxFailStep steps[] = {FX_FAIL_OPEN, FX_FAIL_WRITE, FX_FAIL_COMMIT};
    const int codes[] = {PGP_ERR_IO, PGP_ERR_NO_SPACE, PGP_ERR_IO};
    char hex[PIPE_SHA256_HEX_LEN + 1], final[REPO_PATH_MAX];
    expected_sha(hex);
    final_path(hex, PIPE_CODEC_ZSTD, final);
    for (size_t i = 0; i < 3; i++) {
        Storage *s = fx_fail_storage(&fx, steps[i]);
        ObjectWriteOptions opt = {.codec = PIPE_CODEC_ZSTD, .level = 3, .verify = true};
        Name n = {PIPE_CODEC_ZSTD, 0};
        ObjectWriteResult res;
        PgpErr err = {0};
        ck_assert_int_eq(object_io_write(s, "objects/t/pending", &opt, data, LEN, name_object, &n,
                                         &res, &err), codes[i]);
        ck_assert_ptr_nonnull(strstr(err.msg, "fx: "));
        ck_assert(!fx_exists(&fx, final));
        ck_assert(!fx_exists(&fx, "objects/t/pending"));
        ck_assert_int_eq(fx_count_temp(&fx), 0);
        storage_free(s);
    }
    /* The name cannot be made: aborted too. */
    ObjectWriteOptions opt = {.codec = PIPE_CODEC_NONE};
    ObjectWriteResult res;
    PgpErr err = {0};
    ck_assert_int_eq(object_io_write(fx.st, "objects/t/pending", &opt, data, LEN, name_fails, NULL,
                                     &res, &err), PGP_ERR_INVALID_NAME);
    ck_assert(!fx_exists(&fx, "objects/t/pending"));
    ck_assert_int_eq(fx_count_temp(&fx), 0);
    /* Without a name: committed where it was opened. */
    ck_assert_int_eq(object_io_write(fx.st, "objects/plain", &opt, data, 10, NULL, NULL, &res,
                                     &err), 0);
    ck_assert_str_eq(res.path, "objects/plain");
    ck_assert_str_eq(res.sha256_hex, "");
    ck_assert(fx_exists(&fx, "objects/plain"));
}
END_TEST

/* Written piece by piece (PostgreSQL's backup_manifest as it arrives): reads back whole; an
 * abort or a failure at any step leaves nothing; it never replaces, and neither verifies nor
 * batches. */
START_TEST(test_piecewise_writer)
{
    ObjectWriteOptions opt = {.codec = PIPE_CODEC_ZSTD, .level = 1};
    ObjectWriter *w = NULL;
    PgpErr err = {0};
    ck_assert_int_eq(object_io_writer_open(fx.st, "objects/pieces", &opt, &w, &err), 0);
    for (size_t off = 0; off < LEN; off += 1000)
        ck_assert_int_eq(object_io_writer_write(w, data + off, LEN - off < 1000 ? LEN - off : 1000,
                                                &err), 0);
    ck_assert(!fx_exists(&fx, "objects/pieces"));        /* nothing before the commit */
    uint64_t stored = 0;
    ck_assert_int_eq(object_io_writer_commit(w, &stored, &err), 0);
    ck_assert_uint_gt(stored, 0);
    ck_assert_uint_lt(stored, LEN);
    char hex[PIPE_SHA256_HEX_LEN + 1];
    expected_sha(hex);
    Mem m = {0};
    ObjectReadResult res;
    ck_assert_int_eq(read_object("objects/pieces", PIPE_CODEC_ZSTD, hex, false, &m, &res, &err), 0);
    ck_assert_uint_eq(m.len, LEN);
    ck_assert_uint_eq(res.stored, stored);
    free(m.buf);
    ck_assert_int_eq(object_io_writer_open(fx.st, "objects/pieces", &opt, &w, &err), 0);
    ck_assert_int_eq(object_io_writer_write(w, data, 10, &err), 0);
    ck_assert_int_eq(object_io_writer_commit(w, NULL, &err), PGP_ERR_CONFLICT);
    ck_assert_int_eq(object_io_writer_open(fx.st, "objects/aborted", &opt, &w, &err), 0);
    ck_assert_int_eq(object_io_writer_write(w, data, LEN, &err), 0);
    object_io_writer_abort(w);
    object_io_writer_abort(NULL);
    ck_assert(!fx_exists(&fx, "objects/aborted"));
    const FxFailStep steps[] = {FX_FAIL_OPEN, FX_FAIL_WRITE, FX_FAIL_COMMIT};
    for (size_t i = 0; i < 3; i++) {
        Storage *s = fx_fail_storage(&fx, steps[i]);
        int rc = object_io_writer_open(s, "objects/failed", &opt, &w, &err);
        for (size_t off = 0; rc == 0 && off < LEN; off += 65536)
            rc = object_io_writer_write(w, data + off, LEN - off < 65536 ? LEN - off : 65536, &err);
        if (rc == 0)
            rc = object_io_writer_commit(w, NULL, &err);
        else if (w != NULL)
            object_io_writer_abort(w);
        ck_assert_int_ne(rc, 0);
        ck_assert_ptr_nonnull(strstr(err.msg, "fx: "));
        ck_assert(!fx_exists(&fx, "objects/failed"));
        storage_free(s);
        w = NULL;
    }
    ck_assert_int_eq(fx_count_temp(&fx), 0);
    opt.verify = true;
    ck_assert_int_eq(object_io_writer_open(fx.st, "objects/v", &opt, &w, &err), PGP_ERR_INTERNAL);
    ck_assert_ptr_null(w);
}
END_TEST

/* Encoded in memory first, stored later under its final name: reads back verified. */
START_TEST(test_encode_then_store)
{
    ObjectWriteOptions opt = {.codec = PIPE_CODEC_ZSTD, .level = 1, .verify = true};
    ObjectEncoded enc;
    PgpErr err = {0};
    ck_assert_int_eq(object_io_encode(&opt, data, LEN, NULL, &enc, &err), 0);
    ck_assert_uint_gt(enc.len, 0);
    ck_assert_uint_lt(enc.len, LEN);
    char hex[PIPE_SHA256_HEX_LEN + 1], final[REPO_PATH_MAX];
    expected_sha(hex);
    final_path(hex, PIPE_CODEC_ZSTD, final);
    ck_assert_int_eq(object_io_store_encoded(fx.st, "objects/t/pending", &enc, final, &err), 0);
    ck_assert(!fx_exists(&fx, "objects/t/pending"));
    ck_assert_int_eq(fx_count_temp(&fx), 0);
    Mem m = {0};
    ObjectReadResult res;
    ck_assert_int_eq(read_object(final, PIPE_CODEC_ZSTD, hex, true, &m, &res, &err), 0);
    ck_assert_uint_eq(m.len, LEN);
    ck_assert(memcmp(m.buf, data, LEN) == 0);
    ck_assert_uint_eq(res.stored, enc.len);
    free(m.buf);
    /* Storing it again never replaces. */
    ck_assert_int_eq(object_io_store_encoded(fx.st, "objects/t/pending", &enc, final, &err),
                     PGP_ERR_CONFLICT);
    ck_assert_int_eq(fx_count_temp(&fx), 0);
    object_io_encoded_free(&enc);
    ck_assert_ptr_null(enc.data);
}
END_TEST

/* A stop set before (or while) encoding ends it with an error and nothing kept. */
START_TEST(test_encode_stopped)
{
    ObjectWriteOptions opt = {.codec = PIPE_CODEC_ZSTD, .level = 1, .verify = true};
    atomic_bool stop;
    atomic_init(&stop, true);
    ObjectEncoded enc;
    PgpErr err = {0};
    ck_assert_int_eq(object_io_encode(&opt, data, LEN, &stop, &enc, &err), PGP_ERR_INTERNAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "stopped"));
    ck_assert_ptr_null(enc.data);
    ck_assert_uint_eq(enc.len, 0);
}
END_TEST

static void flip_middle(uint8_t *buf, size_t len)
{
    buf[len / 2] ^= 0x08;
}

/* The compressed stream is verified before it is returned: damaged between compression and
 * verification (the test seam), it is refused as corrupt and nothing is kept; undamaged, the
 * next encodings reuse the codec contexts the first made (none made per segment). */
START_TEST(test_encode_damaged_caught)
{
    PipeCodec codec = _i == 0 ? PIPE_CODEC_ZSTD : PIPE_CODEC_LZ4;
    ObjectWriteOptions opt = {.codec = codec, .level = 1, .verify = true};
    ObjectEncoded enc;
    PgpErr err = {0};
    object_io_set_encode_damage(flip_middle);
    ck_assert_int_eq(object_io_encode(&opt, data, LEN, NULL, &enc, &err), PGP_ERR_CORRUPT);
    ck_assert_ptr_nonnull(strstr(err.msg, "verification of the compressed object failed"));
    ck_assert_ptr_null(enc.data);
    object_io_set_encode_damage(NULL);
    ck_assert_int_eq(object_io_encode(&opt, data, LEN, NULL, &enc, &err), 0);
    object_io_encoded_free(&enc);
    size_t made = pipe_mem_ctx_made();
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(object_io_encode(&opt, data, LEN, NULL, &enc, &err), 0);
        object_io_encoded_free(&enc);
    }
    ck_assert_uint_eq(pipe_mem_ctx_made(), made);
}
END_TEST

/* Storing encoded bytes failing at each step: nothing under either name, no temp file. */
START_TEST(test_store_encoded_failures_leave_nothing)
{
    ObjectWriteOptions opt = {.codec = PIPE_CODEC_LZ4, .verify = true};
    ObjectEncoded enc;
    PgpErr err = {0};
    ck_assert_int_eq(object_io_encode(&opt, data, LEN, NULL, &enc, &err), 0);
    const FxFailStep steps[] = {FX_FAIL_OPEN, FX_FAIL_WRITE, FX_FAIL_COMMIT};
    for (size_t i = 0; i < 3; i++) {
        Storage *s = fx_fail_storage(&fx, steps[i]);
        ck_assert_int_ne(object_io_store_encoded(s, "objects/t/pending", &enc, "objects/t/final",
                                                 &err), 0);
        ck_assert_ptr_nonnull(strstr(err.msg, "fx: "));
        ck_assert(!fx_exists(&fx, "objects/t/final"));
        ck_assert(!fx_exists(&fx, "objects/t/pending"));
        ck_assert_int_eq(fx_count_temp(&fx), 0);
        storage_free(s);
    }
    object_io_encoded_free(&enc);
}
END_TEST

Suite *suite_object_io(void)
{
    Suite *s = suite_create("object_io");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_round_trip_every_codec);
    tcase_add_test(tc, test_write_existing_is_conflict);
    tcase_add_test(tc, test_corrupted_byte);
    tcase_add_test(tc, test_wrong_name);
    tcase_add_test(tc, test_truncated_and_missing);
    tcase_add_test(tc, test_write_failures_leave_nothing);
    tcase_add_test(tc, test_encode_then_store);
    tcase_add_test(tc, test_piecewise_writer);
    tcase_add_test(tc, test_encode_stopped);
    tcase_add_loop_test(tc, test_encode_damaged_caught, 0, 2);
    tcase_add_test(tc, test_store_encoded_failures_leave_nothing);
    suite_add_tcase(s, tc);
    return s;
}
