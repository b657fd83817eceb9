/*
 * test_repo_crypto.c - an encrypted repository's key plumbing (src/repo/repo.c):
 * repo_bind writes keys/repo-key.json before repo.json and records the encryption;
 * repo_open_crypto unwraps the key, refuses a missing or wrong master key (PGP_ERR_KEY) and an
 * encryption mismatch (PGP_ERR_CONFIG) without writing anything; a binder that loses the race
 * for the key document uses the winner's key.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fx_dir.h"
#include "fx_err.h"
#include "pgpitr/archive/wal_push.h"
#include "pgpitr/crypto/secmem.h"
#include "pgpitr/repo/repo.h"

static const RepoIdentity fx_id = {.system_identifier = 7, .pg_major = 15,
                                   .wal_segsize = 16u << 20};

static CryptoMaster *master(uint8_t fill)
{
    uint8_t k[CRYPTO_KEY_LEN];
    memset(k, fill, sizeof k);
    CryptoMaster *m = NULL;
    PgpErr err;
    ck_assert_int_eq(crypto_master_from_bytes(k, &m, &err), 0);
    return m;
}

static Storage *store(const char *root)
{
    Storage *st = NULL;
    PgpErr err;
    ck_assert_int_eq(storage_posix_new(root, true, &st, &err), 0);
    return st;
}

/* The keyed name of a fixed digest: the same repository key gives the same one. */
static void keyed(const Repo *r, char out[CRYPTO_NAME_HEX_LEN + 1])
{
    uint8_t digest[32] = {1, 2, 3};
    PgpErr err;
    ck_assert_ptr_nonnull(repo_crypto_key(r));
    ck_assert_int_eq(crypto_keyed_name(repo_crypto_key(r), digest, out, &err), 0);
}

static Repo *open_with(Storage *st, bool encrypt, CryptoMaster *m, int want, PgpErr *err)
{
    Repo *r = NULL;
    int rc = repo_open_crypto(st, (RepoCryptoConfig){.encrypt = encrypt, .master = m}, &r, err);
    ck_assert_msg(rc == want, "rc %d (%s), want %d", rc, err->msg, want);
    if (rc != 0)
        fx_assert_printable_err(err, NULL);
    return r;
}

/* Each test's repository directory and storage. */
static char dir[256];
static Storage *st;

static void setup(void)
{
    fx_dir_make(dir, sizeof dir, "repo_crypto");
    st = store(dir);
}

static void teardown(void)
{
    ck_assert_int_eq(secmem_live(), 0);   /* every key and master wiped and unmapped */
    storage_free(st);
    fx_dir_remove(dir);
}

/* A repository bound with encryption (encrypt: configured) and master key fill. */
static void bound(bool encrypt, uint8_t fill)
{
    PgpErr err;
    Repo *r = open_with(st, encrypt, encrypt ? master(fill) : NULL, 0, &err);
    ck_assert_int_eq(repo_bind(r, &fx_id, &err), 0);
    ck_assert(repo_identity(r)->encrypted == encrypt);
    ck_assert(encrypt == (repo_crypto_key(r) != NULL));
    repo_free(r);
}

START_TEST(bind_then_open)
{
    PgpErr err;
    Repo *r = open_with(st, true, master(0x42), 0, &err);
    ck_assert_ptr_null(repo_crypto_key(r));
    ck_assert_int_eq(repo_bind(r, &fx_id, &err), 0);
    char first[CRYPTO_NAME_HEX_LEN + 1], again[CRYPTO_NAME_HEX_LEN + 1];
    keyed(r, first);
    repo_free(r);
    char *text = NULL;
    size_t len = 0;
    ck_assert_int_eq(storage_get_all(st, REPO_LAYOUT_IDENTITY, 4096, &text, &len, &err), 0);
    ck_assert_ptr_nonnull(strstr(text, "\"encryption\": \"aes-256-gcm\""));
    free(text);
    ck_assert_int_eq(storage_get_all(st, REPO_LAYOUT_KEY_DOC, 4096, &text, &len, &err), 0);
    ck_assert_ptr_nonnull(strstr(text, "pgpitr-repository-key"));
    free(text);
    /* The right master key opens it, to the same repository key. */
    r = open_with(st, true, master(0x42), 0, &err);
    keyed(r, again);
    ck_assert_str_eq(first, again);
    ck_assert_int_eq(repo_bind(r, &fx_id, &err), 0);
    repo_free(r);
}
END_TEST

START_TEST(encrypted_refuses_before_writing)
{
    PgpErr err;
    bound(true, 0x42);
    open_with(st, true, master(0x43), PGP_ERR_KEY, &err);        /* wrong master key */
    ck_assert_ptr_null(strstr(err.msg, "4343"));
    open_with(st, true, NULL, PGP_ERR_KEY, &err);                /* none */
    open_with(st, false, NULL, PGP_ERR_KEY, &err);               /* none, not configured */
    open_with(st, false, master(0x42), PGP_ERR_CONFIG, &err);    /* encryption not set */
    ck_assert_ptr_nonnull(strstr(err.msg, "is encrypted"));
}
END_TEST

/* An unencrypted repository with encryption configured; encryption without a key, on a new
 * repository: refused, nothing written. */
START_TEST(plain_refuses_encryption)
{
    PgpErr err;
    open_with(st, true, NULL, PGP_ERR_KEY, &err);
    StorageInfo info;
    ck_assert_int_eq(storage_stat(st, REPO_LAYOUT_IDENTITY, &info, &err), PGP_ERR_NOT_FOUND);
    bound(false, 0);
    open_with(st, true, master(0x42), PGP_ERR_CONFIG, &err);
    ck_assert_ptr_nonnull(strstr(err.msg, "not encrypted"));
    Repo *r = open_with(st, false, NULL, 0, &err);
    ck_assert_int_eq(repo_key_rotate(r, master(0x45), &err), PGP_ERR_CONFIG);
    repo_free(r);
}
END_TEST

/* Two first binders, the second opened before the first wrote anything: the second loses
 * both documents' races and ends up with the first one's key. With another master key it
 * cannot unwrap the winner's document: PGP_ERR_KEY, and repo.json stays the winner's. */
START_TEST(race)
{
    PgpErr err;
    Repo *a = open_with(st, true, master(0x42), 0, &err);
    Repo *b = open_with(st, true, master(0x42), 0, &err);
    Repo *c = open_with(st, true, master(0x44), 0, &err);
    ck_assert_int_eq(repo_bind(a, &fx_id, &err), 0);
    ck_assert_int_eq(repo_bind(b, &fx_id, &err), 0);
    char ka[CRYPTO_NAME_HEX_LEN + 1], kb[CRYPTO_NAME_HEX_LEN + 1];
    keyed(a, ka);
    keyed(b, kb);
    ck_assert_str_eq(ka, kb);
    ck_assert_int_eq(repo_bind(c, &fx_id, &err), PGP_ERR_KEY);
    fx_assert_printable_err(&err, NULL);
    /* repo.json is there by now: a plain wrong key, not an interrupted first use */
    ck_assert_msg(strstr(err.msg, "wrong master key") != NULL, "%s", err.msg);
    repo_free(a);
    repo_free(b);
    repo_free(c);
}
END_TEST

/* A first bind that stopped between its two writes (keys/repo-key.json there, repo.json
 * not): the next bind with the same master key uses that document's key and completes; one
 * with another master key is PGP_ERR_KEY saying a key document of an earlier first use is
 * there without repo.json, with a HINT, and writes nothing. */
START_TEST(first_bind_interrupted)
{
    PgpErr err;
    bound(true, 0x42);
    char *doc = NULL;
    size_t len = 0;
    ck_assert_int_eq(storage_get_all(st, REPO_LAYOUT_KEY_DOC, 4096, &doc, &len, &err), 0);
    ck_assert_int_eq(storage_remove(st, REPO_LAYOUT_IDENTITY, &err), 0);   /* the crash */
    Repo *r = open_with(st, true, master(0x44), 0, &err);
    ck_assert_int_eq(repo_bind(r, &fx_id, &err), PGP_ERR_KEY);
    fx_assert_printable_err(&err, NULL);
    ck_assert_msg(strstr(err.msg, "has no repo.json yet, but holds a key document") != NULL,
                  "%s", err.msg);
    ck_assert_ptr_nonnull(strstr(err.hint, "master key of that first use"));
    repo_free(r);
    StorageInfo info;
    ck_assert_int_eq(storage_stat(st, REPO_LAYOUT_IDENTITY, &info, &err), PGP_ERR_NOT_FOUND);
    char *again = NULL;
    ck_assert_int_eq(storage_get_all(st, REPO_LAYOUT_KEY_DOC, 4096, &again, &len, &err), 0);
    ck_assert_str_eq(doc, again);   /* the document is left as it was */
    free(again);
    free(doc);
    /* the master key of the first use completes the bind with that document's key */
    r = open_with(st, true, master(0x42), 0, &err);
    ck_assert_int_eq(repo_bind(r, &fx_id, &err), 0);
    char k1[CRYPTO_NAME_HEX_LEN + 1], k2[CRYPTO_NAME_HEX_LEN + 1];
    keyed(r, k1);
    repo_free(r);
    r = open_with(st, true, master(0x42), 0, &err);
    ck_assert(repo_is_bound(r));
    keyed(r, k2);
    ck_assert_str_eq(k1, k2);
    repo_free(r);
}
END_TEST

/* Rotation rewraps the one repository key: the old master key no longer opens the
 * repository, the new one opens it to the same key. */
START_TEST(rotate)
{
    PgpErr err;
    bound(true, 0x42);
    Repo *r = open_with(st, true, master(0x42), 0, &err);
    char before[CRYPTO_NAME_HEX_LEN + 1], after[CRYPTO_NAME_HEX_LEN + 1];
    keyed(r, before);
    ck_assert_msg(repo_key_rotate(r, master(0x45), &err) == 0, "%s", err.msg);
    keyed(r, after);
    ck_assert_str_eq(before, after);
    /* r goes on under the new master: a second rotation works */
    ck_assert_msg(repo_key_rotate(r, master(0x46), &err) == 0, "%s", err.msg);
    repo_free(r);
    open_with(st, true, master(0x42), PGP_ERR_KEY, &err);
    open_with(st, true, master(0x45), PGP_ERR_KEY, &err);
    r = open_with(st, true, master(0x46), 0, &err);
    keyed(r, after);
    ck_assert_str_eq(before, after);
    repo_free(r);
}
END_TEST

/* A .history file cannot make an encrypted repository (it does not bind it, so no key is
 * made): refused, and nothing stored in clear. */
START_TEST(history_first_refused)
{
    PgpErr err;
    char src[300];
    fx_dir_put(dir, "00000002.history", "1\t0/3000000\tno recovery target specified\n");
    snprintf(src, sizeof src, "%s/00000002.history", dir);
    Repo *r = open_with(st, true, master(0x42), 0, &err);
    ck_assert(repo_encrypted(r));
    WalPushOptions opt = {.codec = PIPE_CODEC_ZSTD, .level = 1};
    WalPushResult res;
    ck_assert_int_eq(wal_push_file(r, src, &opt, &res, &err), PGP_ERR_CONFIG);
    fx_assert_printable_err(&err, "first file of an encrypted repository");
    repo_free(r);
    StorageInfo info;
    ck_assert_int_eq(storage_stat(st, REPO_LAYOUT_HISTORY_DIR, &info, &err), PGP_ERR_NOT_FOUND);
}
END_TEST

START_TEST(identity_json)
{
    RepoIdentity id = fx_id, back = {0};
    id.encrypted = true;
    char *text = NULL;
    size_t len = 0;
    PgpErr err;
    ck_assert_int_eq(repo_identity_to_json(&id, &text, &len, &err), 0);
    char *z = strndup(text, len);
    ck_assert_int_eq(repo_identity_parse(z, &back, &err), 0);
    ck_assert(back.encrypted);
    free(z);
    free(text);
    ck_assert_int_eq(repo_identity_parse("{\"format\": 1, \"system_identifier\": \"1\", "
                                         "\"pg_major\": 15, \"wal_segment_size\": 16777216, "
                                         "\"encryption\": \"rot13\"}", &back, &err),
                     PGP_ERR_CORRUPT);
}
END_TEST

Suite *suite_repo_crypto(void)
{
    Suite *s = suite_create("repo_crypto");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 30);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, bind_then_open);
    tcase_add_test(tc, first_bind_interrupted);
    tcase_add_test(tc, encrypted_refuses_before_writing);
    tcase_add_test(tc, plain_refuses_encryption);
    tcase_add_test(tc, race);
    tcase_add_test(tc, rotate);
    tcase_add_test(tc, history_first_refused);
    tcase_add_test(tc, identity_json);
    suite_add_tcase(s, tc);
    return s;
}
