/*
 * test_meta_io.c - the metadata seam (src/repo/meta_io.c) on a posix storage in a temp
 * directory: without a key the bytes are exactly the plaintext (unencrypted repositories are
 * unchanged); with the vectors' key they round trip, whole and streamed, hold no plaintext,
 * and every tampering (flipped bit, cut, extended, renamed onto another path, plaintext in an
 * encrypted repository) is PGP_ERR_CORRUPT naming the path; readers refuse oversized objects.
 */
#include "pgpitr/repo/meta_io.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "fx_crypto.h"
#include "fx_dir.h"
#include "pgpitr/crypto/stream.h"

#define MARKER "MARKER-4f1c-plaintext"
#define P1 "backup/b1/manifest.json"
#define P2 "backup/b2/manifest.json"

typedef struct Fx {
    char dir[128];
    Storage *st;
    CryptoRepoKey *key;
} Fx;

static void fx_open(Fx *fx)
{
    PgpErr err = {0};
    fx_dir_make(fx->dir, sizeof fx->dir, "meta_io");
    ck_assert_msg(storage_posix_new(fx->dir, false, &fx->st, &err) == 0, "%s", err.msg);
    fx->key = fx_crypto_repo_key();
}

static void fx_close(Fx *fx)
{
    storage_free(fx->st);
    crypto_repo_key_free(fx->key);
    fx_dir_remove(fx->dir);
}

static char *raw(Fx *fx, const char *path, size_t *len)
{
    char *text = NULL;
    PgpErr err = {0};
    ck_assert_msg(storage_get_all(fx->st, path, 1u << 24, &text, len, &err) == 0, "%s", err.msg);
    return text;
}

static void put_raw(Fx *fx, const char *path, const void *buf, size_t len)
{
    PgpErr err = {0};
    ck_assert_msg(storage_put_all(fx->st, path, STORAGE_WRITE_REPLACE, buf, len, &err) == 0,
                  "%s", err.msg);
}

static bool has_marker(const char *buf, size_t len)
{
    return memmem(buf, len, MARKER, strlen(MARKER)) != NULL;
}

/* A text of n bytes with the marker every 1000 bytes. */
static char *sample(size_t n)
{
    char *t = malloc(n + 1);
    ck_assert_ptr_nonnull(t);
    for (size_t i = 0; i < n; i++)
        t[i] = (char)('a' + i % 26);
    for (size_t i = 0; i + strlen(MARKER) <= n; i += 1000)
        memcpy(t + i, MARKER, strlen(MARKER));
    t[n] = '\0';
    return t;
}

/* meta_get_all's result, asserted to be 0 or code; message checked to name path on error. */
static void expect_get(Fx *fx, const CryptoRepoKey *key, const char *path, size_t max,
                       int code, const char *want)
{
    char *text = NULL;
    size_t len = 0;
    PgpErr err = {0};
    int rc = meta_get_all(fx->st, key, path, max, &text, &len, &err);
    ck_assert_msg(rc == code, "%s: rc %d (%s), expected %d", path, rc, err.msg, code);
    if (code == 0) {
        ck_assert_uint_eq(len, strlen(want));
        ck_assert_mem_eq(text, want, len);
        ck_assert_int_eq(text[len], '\0');
    } else {
        ck_assert_ptr_null(text);
        ck_assert_msg(strstr(err.msg, path) != NULL, "\"%s\" does not name %s", err.msg, path);
    }
    free(text);
}

/* Streams want through a reader reading step bytes at a time: 0 and the bytes, or the error. */
static int stream_read(Fx *fx, const CryptoRepoKey *key, const char *path, size_t step,
                       const char *want, PgpErr *err)
{
    MetaReader *r = NULL;
    int rc = meta_reader_open(fx->st, key, path, &r, err);
    size_t off = 0, got = 0, wlen = strlen(want);
    char *buf = malloc(step);
    ck_assert_ptr_nonnull(buf);
    while (rc == 0 && (rc = meta_read(r, buf, step, &got, err)) == 0 && got > 0) {
        ck_assert_uint_le(off + got, wlen);
        ck_assert_mem_eq(buf, want + off, got);
        off += got;
    }
    if (rc == 0)
        ck_assert_uint_eq(off, wlen);
    else   /* an error is sticky: never an end of file after it */
        ck_assert_int_eq(meta_read(r, buf, step, &got, &(PgpErr){0}), rc);
    free(buf);
    meta_reader_close(r);
    return rc;
}

static void stream_write(Fx *fx, const CryptoRepoKey *key, const char *path, const char *text,
                         size_t step)
{
    MetaWriter *w = NULL;
    PgpErr err = {0};
    ck_assert_msg(meta_writer_open(fx->st, key, path, 0, &w, &err) == 0, "%s", err.msg);
    size_t n = strlen(text);
    for (size_t off = 0; off < n; off += step)
        ck_assert_msg(meta_write(w, text + off, n - off < step ? n - off : step, &err) == 0, "%s",
                      err.msg);
    ck_assert_msg(meta_writer_commit(w, &err) == 0, "%s", err.msg);
}

START_TEST(without_key_the_bytes_are_the_plaintext)
{
    Fx fx;
    fx_open(&fx);
    PgpErr err = {0};
    char *t = sample(3000);
    ck_assert_int_eq(meta_put_all(fx.st, NULL, P1, 0, t, strlen(t), &err), 0);
    size_t len = 0;
    char *got = raw(&fx, P1, &len);
    ck_assert_uint_eq(len, strlen(t));
    ck_assert_mem_eq(got, t, len);
    free(got);
    expect_get(&fx, NULL, P1, 3000, 0, t);
    /* streamed the same */
    stream_write(&fx, NULL, P2, t, 7);
    got = raw(&fx, P2, &len);
    ck_assert_mem_eq(got, t, len);
    free(got);
    ck_assert_int_eq(stream_read(&fx, NULL, P2, 100, t, &err), 0);
    /* storage's rules hold: never replaces, absent is NOT_FOUND */
    ck_assert_int_eq(meta_put_all(fx.st, NULL, P1, 0, "x", 1, &err), PGP_ERR_CONFLICT);
    ck_assert_int_eq(meta_get_all(fx.st, NULL, "none.json", 10, &got, &len, &err),
                     PGP_ERR_NOT_FOUND);
    MetaReader *r = NULL;
    ck_assert_int_eq(meta_reader_open(fx.st, NULL, "none.json", &r, &err), PGP_ERR_NOT_FOUND);
    ck_assert_ptr_null(r);
    ck_assert_uint_eq(meta_stored_max(NULL, 4096), 4096);
    free(t);
    fx_close(&fx);
}
END_TEST

START_TEST(with_key_round_trip_without_plaintext)
{
    Fx fx;
    fx_open(&fx);
    PgpErr err = {0};
    char *t = sample(200000);   /* several 64 KiB chunks */
    ck_assert_int_eq(meta_put_all(fx.st, fx.key, P1, 0, t, strlen(t), &err), 0);
    size_t len = 0;
    char *got = raw(&fx, P1, &len);
    ck_assert(!has_marker(got, len));
    ck_assert_mem_eq(got, CRYPTO_STREAM_MAGIC, strlen(CRYPTO_STREAM_MAGIC));
    ck_assert_uint_le(len, meta_stored_max(fx.key, strlen(t)));
    free(got);
    expect_get(&fx, fx.key, P1, 200000, 0, t);
    ck_assert_int_eq(stream_read(&fx, fx.key, P1, 1000, t, &err), 0);
    /* streamed, in odd pieces, read whole and streamed */
    stream_write(&fx, fx.key, P2, t, 333);
    got = raw(&fx, P2, &len);
    ck_assert(!has_marker(got, len));
    free(got);
    expect_get(&fx, fx.key, P2, 200000, 0, t);
    ck_assert_int_eq(stream_read(&fx, fx.key, P2, 70000, t, &err), 0);
    /* empty */
    ck_assert_int_eq(meta_put_all(fx.st, fx.key, "drill/e.json", 0, "", 0, &err), 0);
    expect_get(&fx, fx.key, "drill/e.json", 10, 0, "");
    ck_assert_int_eq(stream_read(&fx, fx.key, "drill/e.json", 10, "", &err), 0);
    free(t);
    fx_close(&fx);
}
END_TEST

/* The stored bytes of a fresh encrypted P1 with text t. */
static char *sealed(Fx *fx, const char *t, size_t *len)
{
    PgpErr err = {0};
    storage_remove(fx->st, P1, NULL);
    ck_assert_int_eq(meta_put_all(fx->st, fx->key, P1, 0, t, strlen(t), &err), 0);
    return raw(fx, P1, len);
}

/* Stores bytes under path and checks both readers call it corrupt, naming path. */
static void expect_corrupt(Fx *fx, const char *path, const void *bytes, size_t len,
                           const char *t)
{
    put_raw(fx, path, bytes, len);
    expect_get(fx, fx->key, path, 1u << 20, PGP_ERR_CORRUPT, t);
    PgpErr err = {0};
    ck_assert_int_eq(stream_read(fx, fx->key, path, 4096, t, &err), PGP_ERR_CORRUPT);
    ck_assert_msg(strstr(err.msg, path) != NULL, "\"%s\" does not name %s", err.msg, path);
}

START_TEST(tampering_is_corruption_naming_the_path)
{
    Fx fx;
    fx_open(&fx);
    char *t = sample(150000);
    size_t len = 0;
    char *s = sealed(&fx, t, &len);
    /* renamed: authentic bytes under another path */
    expect_corrupt(&fx, P2, s, len, t);
    /* a bit flipped: in the header, in a chunk's body, in the last tag */
    size_t offs[] = {20, len / 2, len - 1};
    for (size_t i = 0; i < sizeof offs / sizeof *offs; i++) {
        s[offs[i]] ^= 0x10;
        expect_corrupt(&fx, P1, s, len, t);
        s[offs[i]] ^= 0x10;
    }
    /* cut: inside the last chunk, at a chunk boundary (after two full chunks), the header */
    expect_corrupt(&fx, P1, s, len - 1, t);
    expect_corrupt(&fx, P1, s, CRYPTO_STREAM_HEADER_LEN + 2 * (65536 + CRYPTO_STREAM_TAG_LEN),
                   t);
    expect_corrupt(&fx, P1, s, 20, t);
    expect_corrupt(&fx, P1, s, 0, t);
    /* extended */
    char *longer = malloc(len + 1);
    ck_assert_ptr_nonnull(longer);
    memcpy(longer, s, len);
    longer[len] = 'x';
    expect_corrupt(&fx, P1, longer, len + 1, t);
    free(longer);
    /* plaintext in an encrypted repository */
    expect_corrupt(&fx, P1, t, strlen(t), t);
    /* and the untouched bytes still read */
    put_raw(&fx, P1, s, len);
    expect_get(&fx, fx.key, P1, 1u << 20, 0, t);
    free(s);
    free(t);
    fx_close(&fx);
}
END_TEST

START_TEST(readers_refuse_oversized_objects)
{
    Fx fx;
    fx_open(&fx);
    PgpErr err = {0};
    char *t = sample(5000);
    ck_assert_int_eq(meta_put_all(fx.st, NULL, P1, 0, t, strlen(t), &err), 0);
    ck_assert_int_eq(meta_put_all(fx.st, fx.key, P2, 0, t, strlen(t), &err), 0);
    expect_get(&fx, NULL, P1, 4999, PGP_ERR_CORRUPT, t);
    expect_get(&fx, fx.key, P2, 4999, PGP_ERR_CORRUPT, t);
    expect_get(&fx, fx.key, P2, 5000, 0, t);
    /* stored bytes beyond what max_len of plaintext can take are refused before decryption */
    size_t big = meta_stored_max(fx.key, 100) + 1;
    char *junk = calloc(1, big);
    ck_assert_ptr_nonnull(junk);
    put_raw(&fx, "drill/big.json", junk, big);
    expect_get(&fx, fx.key, "drill/big.json", 100, PGP_ERR_CORRUPT, t);
    free(junk);
    ck_assert_uint_eq(meta_stored_max(fx.key, SIZE_MAX), SIZE_MAX);
    ck_assert_uint_gt(meta_stored_max(fx.key, 0), CRYPTO_STREAM_HEADER_LEN);
    free(t);
    fx_close(&fx);
}
END_TEST

Suite *suite_meta_io(void)
{
    Suite *s = suite_create("meta_io");
    TCase *tc = tcase_create("meta_io");
    tcase_add_test(tc, without_key_the_bytes_are_the_plaintext);
    tcase_add_test(tc, with_key_round_trip_without_plaintext);
    tcase_add_test(tc, tampering_is_corruption_naming_the_path);
    tcase_add_test(tc, readers_refuse_oversized_objects);
    suite_add_tcase(s, tc);
    return s;
}
