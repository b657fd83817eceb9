/*
 * test_object_seal.c - encrypted objects through object_io (src/repo/object_io.c): compress
 * then encrypt on write, decrypt then decompress on read, for object_io_write (with a content
 * name: the keyed name) and for object_io_encode + object_io_store_encoded_in (archive-push's
 * path, sealed when stored). An object read under another associated data or another key, a
 * flipped bit, or content whose keyed name is not the one expected are all refused; the
 * stored bytes never hold the plaintext.
 */
#include "pgpitr/repo/object_io.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "fx_crypto.h"
#include "fx_dir.h"
#include "fx_repo.h"

#define LEN (300u * 1024u + 5u)     /* several 64 KiB chunks */
#define MARK "pgpitr-plaintext-marker"

static FxRepo fx;
static uint8_t *data;
static CryptoRepoKey *key;

static void setup(void)
{
    fx_repo_init(&fx, "object_seal");
    data = malloc(LEN);
    ck_assert_ptr_nonnull(data);
    for (size_t i = 0; i < LEN; i++)
        data[i] = (uint8_t)((i * 7919u) >> 9 ^ (i % 251u));
    memcpy(data + 1000, MARK, strlen(MARK));
    key = fx_crypto_repo_key();
}

static void teardown(void)
{
    crypto_repo_key_free(key);
    free(data);
    fx_repo_free(&fx);
}

static int name_fn(void *ud, const char *hex, char out[REPO_PATH_MAX], PgpErr *err)
{
    (void)ud;
    return repo_object_path(hex, PIPE_CODEC_NONE, out, err);
}

/* What a read handed on. */
typedef struct Mem {
    char *buf;
    size_t len;
} Mem;

/* Reads path with opt; returns the code, the bytes read in *m (freed by the caller). */
static int read_back(const char *path, ObjectReadOptions opt, Mem *m, PgpErr *err)
{
    return fx_read_object_with(&fx, path, &opt, &m->buf, &m->len, err);
}

static bool stored_holds_mark(const char *path)
{
    char *text = NULL;
    size_t len = 0;
    PgpErr err;
    ck_assert_int_eq(storage_get_all(fx.st, path, 64u << 20, &text, &len, &err), 0);
    bool found = memmem(text, len, MARK, strlen(MARK)) != NULL;
    ck_assert_int_eq(memcmp(text, CRYPTO_STREAM_MAGIC, 7), 0);
    free(text);
    return found;
}

START_TEST(content_named)
{
    /* codec none: without encryption the marker would be stored as is */
    ObjectWriteOptions w = {.codec = PIPE_CODEC_NONE, .verify = true,
                            .seal = {key, OBJECT_AD_CONTENT}};
    ObjectWriteResult res;
    PgpErr err;
    ck_assert_int_eq(object_io_write(fx.st, REPO_PENDING_OBJECT, &w, data, LEN, name_fn, NULL,
                                     &res, &err), 0);
    uint8_t digest[32];
    char plain[65], keyed[65];
    ck_assert_int_eq(pipe_sha256_buf(data, LEN, digest, &err), 0);
    pipe_hex(digest, 32, plain);
    ck_assert_int_eq(crypto_keyed_name(key, digest, keyed, &err), 0);
    ck_assert_str_eq(res.sha256_hex, keyed);
    ck_assert_ptr_nonnull(strstr(res.path, keyed));
    ck_assert_ptr_null(strstr(res.path, plain));
    ck_assert(!stored_holds_mark(res.path));

    Mem m;
    ObjectReadOptions r = {.codec = PIPE_CODEC_NONE, .expect_sha256 = keyed, .expect_name = true,
                           .seal = {key, OBJECT_AD_CONTENT}};
    ck_assert_msg(read_back(res.path, r, &m, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(m.len, LEN);
    ck_assert_int_eq(memcmp(m.buf, data, LEN), 0);
    free(m.buf);
    /* the plain digest, as manifests record it */
    r.expect_sha256 = plain;
    r.expect_name = false;
    ck_assert_int_eq(read_back(res.path, r, &m, &err), 0);
    free(m.buf);
    /* a name that is not this content's keyed name */
    r.expect_sha256 = plain;
    r.expect_name = true;
    ck_assert_int_eq(read_back(res.path, r, &m, &err), PGP_ERR_CORRUPT);
    free(m.buf);
    /* another associated data, another key, no key at all */
    r.expect_sha256 = keyed;
    r.seal.ad = "000000010000000000000001";
    ck_assert_int_eq(read_back(res.path, r, &m, &err), PGP_ERR_CORRUPT);
    free(m.buf);
    uint8_t other[CRYPTO_KEY_LEN] = {9};
    CryptoRepoKey *k2 = NULL;
    ck_assert_int_eq(crypto_repo_key_from_bytes(other, &k2, &err), 0);
    r.seal = (ObjectSeal){k2, OBJECT_AD_CONTENT};
    ck_assert_int_eq(read_back(res.path, r, &m, &err), PGP_ERR_CORRUPT);
    free(m.buf);
    crypto_repo_key_free(k2);
    r.seal = (ObjectSeal){0};
    ck_assert_int_ne(read_back(res.path, r, &m, &err), 0);
    free(m.buf);
    /* a flipped bit */
    r.seal = (ObjectSeal){key, OBJECT_AD_CONTENT};
    fx_flip_bit(fx.root, res.path, FX_FLIP_MIDDLE);
    ck_assert_int_eq(read_back(res.path, r, &m, &err), PGP_ERR_CORRUPT);
    free(m.buf);
    /* the error names the object by its path, not by the constant it is read under */
    char want[REPO_PATH_MAX + 32];
    snprintf(want, sizeof want, "decryption of \"%s\": chunk ", res.path);
    ck_assert_msg(strstr(err.msg, want) != NULL, "%s", err.msg);
    ck_assert_ptr_nonnull(strstr(err.msg, "fails authentication"));
    ck_assert_ptr_null(strstr(err.msg, OBJECT_AD_CONTENT));
}
END_TEST

START_TEST(encoded_then_sealed)
{
    ObjectWriteOptions w = {.codec = PIPE_CODEC_ZSTD, .level = 1, .verify = true,
                            .seal = {key, "000000010000000000000007"}};
    ObjectEncoded enc;
    PgpErr err;
    ck_assert_int_eq(object_io_encode(&w, data, LEN, NULL, &enc, &err), 0);
    ck_assert_int_ne(memcmp(enc.data, CRYPTO_STREAM_MAGIC, 7), 0);   /* not sealed yet */
    uint64_t stored = 0;
    const char *path = "archive/wal/0000000100000000/000000010000000000000007";
    ck_assert_int_eq(object_io_store_encoded_in(fx.st, NULL, path, &enc, NULL, &w.seal, &stored,
                                                &err), 0);
    ck_assert_uint_gt(stored, enc.len);
    object_io_encoded_free(&enc);
    Mem m;
    ObjectReadOptions r = {.codec = PIPE_CODEC_ZSTD, .seal = w.seal};
    ck_assert_msg(read_back(path, r, &m, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(m.len, LEN);
    ck_assert_int_eq(memcmp(m.buf, data, LEN), 0);
    free(m.buf);
    /* read under another WAL name: refused */
    r.seal.ad = "000000010000000000000008";
    ck_assert_int_eq(read_back(path, r, &m, &err), PGP_ERR_CORRUPT);
    free(m.buf);
    /* a key without associated data is a programming error */
    r.seal.ad = NULL;
    ck_assert_int_eq(read_back(path, r, &m, &err), PGP_ERR_INTERNAL);
    free(m.buf);
}
END_TEST

Suite *suite_object_seal(void)
{
    Suite *s = suite_create("object_seal");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, content_named);
    tcase_add_test(tc, encoded_then_sealed);
    suite_add_tcase(s, tc);
    return s;
}
