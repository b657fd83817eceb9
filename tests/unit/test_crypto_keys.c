/*
 * test_crypto_keys.c - the key hierarchy (src/crypto/master_key.c, keyring.c): master keys
 * from key files (forms, modes), passphrase files (scrypt) and commands; the repository key
 * wrapped into its document and back, a wrong master key (its own code), a damaged or
 * foreign document, rotation; keyed names; the checked-in vectors of crypto-vectors.py; and
 * no key memory left behind.
 */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fx_crypto.h"
#include "fx_dir.h"
#include "fx_err.h"
#include "pgpitr/crypto/secmem.h"

/* Cheap scrypt for the tests (the default costs 128 MiB and half a second per call). */
static const CryptoScrypt cheap = {16384, 8, 1};

static char dir[256];

static void setup(void)
{
    fx_dir_make(dir, sizeof dir, "crypto_keys");
}

static void teardown(void)
{
    fx_dir_remove(dir);
}

/* dir/name with len bytes of data and mode; returns the path (static buffer). */
static const char *put_file(const char *name, const void *data, size_t len, mode_t mode)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
    close(fd);
    ck_assert_int_eq(chmod(path, mode), 0);
    return path;
}

/* The keyed name of "hello": a fingerprint of a repository key for comparisons. */
static void fingerprint(const CryptoRepoKey *k, char out[CRYPTO_NAME_HEX_LEN + 1])
{
    ck_assert_int_eq(crypto_keyed_name_buf(k, "hello", 5, out, NULL), 0);
}

/* Wraps a fresh repository key with m1 and unwraps it with m2: the code of the unwrap. */
static int wrap_unwrap(const CryptoMaster *m1, const CryptoMaster *m2, PgpErr *err)
{
    CryptoRepoKey *k = NULL, *back = NULL;
    char *doc = NULL;
    ck_assert_int_eq(crypto_repo_key_generate(&k, NULL), 0);
    ck_assert_int_eq(crypto_repo_key_wrap(k, m1, &doc, NULL), 0);
    int rc = crypto_repo_key_unwrap(doc, strlen(doc), m2, &back, err);
    if (rc == 0) {
        char a[CRYPTO_NAME_HEX_LEN + 1], b[CRYPTO_NAME_HEX_LEN + 1];
        fingerprint(k, a);
        fingerprint(back, b);
        ck_assert_str_eq(a, b);
    }
    crypto_repo_key_free(k);
    crypto_repo_key_free(back);
    free(doc);
    return rc;
}

/* ---------- key files ---------- */

static const char hex64[] =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

START_TEST(test_key_file_forms)
{
    uint8_t raw[32];
    for (int i = 0; i < 32; i++)
        raw[i] = (uint8_t)i;
    CryptoMaster *ref = NULL, *m = NULL;
    ck_assert_int_eq(crypto_master_from_bytes(raw, &ref, NULL), 0);
    char upper[65];
    for (int i = 0; i < 65; i++)
        upper[i] = (char)(hex64[i] >= 'a' ? hex64[i] - 32 : hex64[i]);
    const struct {
        const void *data;
        size_t len;
    } good[] = {{raw, 32}, {hex64, 64}, {"000102030405060708090a0b0c0d0e0f101112131415161718191a"
                                         "1b1c1d1e1f\n", 65}, {upper, 64}};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        PgpErr err;
        const char *p = put_file("key", good[i].data, good[i].len, 0600);
        ck_assert_msg(crypto_master_from_key_file(p, &m, &err) == 0, "form %zu: %s", i,
                      err.msg);
        ck_assert_int_eq(wrap_unwrap(ref, m, &err), 0);     /* the same key as the bytes */
        crypto_master_free(m);
    }
    const struct {
        const char *data;
        size_t len;
    } bad[] = {{"", 0}, {hex64, 31}, {hex64, 33}, {hex64, 63}, {"zz" "0102030405060708090a0b0c"
               "0d0e0f101112131415161718191a1b1c1d1e1f", 64}, {hex64, 66}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        PgpErr err;
        char buf[128] = {0};
        memcpy(buf, bad[i].data, bad[i].len < 64 ? bad[i].len : 64);
        if (bad[i].len > 64)
            memcpy(buf + 64, "\n\n", 2);
        const char *p = put_file("key", buf, bad[i].len, 0600);
        ck_assert_int_eq(crypto_master_from_key_file(p, &m, &err), PGP_ERR_KEY);
        fx_assert_printable_err(&err, "holds no key");
        ck_assert(strstr(err.msg, "0001020304") == NULL);   /* never a byte of the key */
    }
    crypto_master_free(ref);
    ck_assert_int_eq(secmem_live(), 0);
}
END_TEST

START_TEST(test_key_file_refusals)
{
    CryptoMaster *m = NULL;
    PgpErr err;
    const mode_t modes[] = {0640, 0604, 0620, 0602, 0644, 0660, 0610};
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        const char *p = put_file("key", hex64, 64, modes[i]);
        ck_assert_int_eq(crypto_master_from_key_file(p, &m, &err), PGP_ERR_KEY);
        fx_assert_printable_err(&err, "accessible by group or others");
        ck_assert(strstr(err.hint, "chmod 600") != NULL);
        ck_assert(strchr(err.msg, '\n') == NULL);
        ck_assert_int_eq(crypto_master_from_passphrase_file(p, &m, &err), PGP_ERR_KEY);
        fx_assert_printable_err(&err, "passphrase file");
    }
    const char *p = put_file("key", hex64, 64, 0400);       /* read-only for the owner: fine */
    ck_assert_int_eq(crypto_master_from_key_file(p, &m, &err), 0);
    crypto_master_free(m);
    char missing[512];
    snprintf(missing, sizeof missing, "%s/nope", dir);
    ck_assert_int_eq(crypto_master_from_key_file(missing, &m, &err), PGP_ERR_KEY);
    fx_assert_printable_err(&err, "cannot open key file");
    ck_assert_int_eq(crypto_master_from_key_file(dir, &m, &err), PGP_ERR_KEY);
    fx_assert_printable_err(&err, NULL);
    ck_assert_int_eq(secmem_live(), 0);
}
END_TEST

/* ---------- passphrases ---------- */

static CryptoMaster *pass_master(const char *text)
{
    CryptoMaster *m = NULL;
    PgpErr err;
    const char *p = put_file("pass", text, strlen(text), 0600);
    ck_assert_msg(crypto_master_from_passphrase_file(p, &m, &err) == 0, "%s", err.msg);
    ck_assert(crypto_master_is_passphrase(m));
    ck_assert_int_eq(crypto_master_set_scrypt(m, cheap, NULL), 0);
    return m;
}

START_TEST(test_passphrase_roundtrip)
{
    CryptoMaster *a = pass_master("correct horse battery staple\n");
    CryptoMaster *b = pass_master("correct horse battery staple");
    CryptoMaster *c = pass_master("correct horse battery staple\r\n");
    CryptoMaster *wrong = pass_master("correct horse battery stapler");
    PgpErr err;
    ck_assert_int_eq(wrap_unwrap(a, b, &err), 0);           /* one trailing newline dropped */
    ck_assert_int_eq(wrap_unwrap(b, c, &err), 0);
    ck_assert_int_eq(wrap_unwrap(a, wrong, &err), PGP_ERR_KEY);
    fx_assert_printable_err(&err, "wrong master key");
    /* A passphrase document refuses a key, and the other way round. */
    CryptoMaster *key = NULL;
    uint8_t raw[32] = {1};
    ck_assert_int_eq(crypto_master_from_bytes(raw, &key, NULL), 0);
    ck_assert_int_eq(wrap_unwrap(a, key, &err), PGP_ERR_KEY);
    fx_assert_printable_err(&err, "wrapped with a passphrase, but a key was given");
    ck_assert_int_eq(wrap_unwrap(key, a, &err), PGP_ERR_KEY);
    /* Limits: too short, too long, parameters out of range. */
    CryptoMaster *m = NULL;
    const char *p = put_file("pass", "short pass\n", 11, 0600);
    ck_assert_int_eq(crypto_master_from_passphrase_file(p, &m, &err), PGP_ERR_KEY);
    fx_assert_printable_err(&err, "shorter than 12 bytes");
    char *longp = malloc(3000);
    memset(longp, 'p', 3000);
    p = put_file("pass", longp, 1024, 0600);
    ck_assert_int_eq(crypto_master_from_passphrase_file(p, &m, &err), 0);
    crypto_master_free(m);
    for (size_t n = 1025; n < 1030; n++) {
        p = put_file("pass", longp, n, 0600);
        ck_assert_int_eq(crypto_master_from_passphrase_file(p, &m, &err), PGP_ERR_KEY);
        fx_assert_printable_err(&err, "longer than 1024 bytes");
    }
    free(longp);
    ck_assert_int_eq(crypto_master_set_scrypt(a, (CryptoScrypt){1000, 8, 1}, &err),
                     PGP_ERR_CONFIG);
    ck_assert_int_eq(crypto_master_set_scrypt(a, (CryptoScrypt){1u << 23, 8, 1}, &err),
                     PGP_ERR_CONFIG);
    crypto_master_free(a);
    crypto_master_free(b);
    crypto_master_free(c);
    crypto_master_free(wrong);
    crypto_master_free(key);
    ck_assert_int_eq(secmem_live(), 0);
}
END_TEST

/* The default parameters (128 MiB): the document says what was used. */
START_TEST(test_passphrase_default_cost)
{
    CryptoMaster *m = NULL;
    const char *p = put_file("pass", "a passphrase of some length", 27, 0600);
    ck_assert_int_eq(crypto_master_from_passphrase_file(p, &m, NULL), 0);
    CryptoRepoKey *k = NULL, *back = NULL;
    char *doc = NULL;
    PgpErr err;
    ck_assert_int_eq(crypto_repo_key_generate(&k, NULL), 0);
    ck_assert_int_eq(crypto_repo_key_wrap(k, m, &doc, &err), 0);
    ck_assert(strstr(doc, "\"n\": 131072") != NULL && strstr(doc, "\"r\": 8") != NULL);
    ck_assert_msg(crypto_repo_key_unwrap(doc, strlen(doc), m, &back, &err) == 0, "%s", err.msg);
    crypto_repo_key_free(k);
    crypto_repo_key_free(back);
    crypto_master_free(m);
    free(doc);
}
END_TEST

/* ---------- commands ---------- */

START_TEST(test_key_command)
{
    CryptoMaster *m = NULL, *ref = NULL;
    PgpErr err;
    char *ok[] = {"printf", "%s\\n", (char *)hex64, NULL};
    ck_assert_msg(crypto_master_from_command(ok, 10, &m, &err) == 0, "%s", err.msg);
    const char *p = put_file("key", hex64, 64, 0600);
    ck_assert_int_eq(crypto_master_from_key_file(p, &ref, NULL), 0);
    ck_assert_int_eq(wrap_unwrap(ref, m, &err), 0);
    crypto_master_free(m);
    crypto_master_free(ref);
    struct {
        char *argv[4];
        const char *needle;
    } bad[] = {
        {{"sh", "-c", "exit 3", NULL}, "failed with exit status 3"},
        {{"sh", "-c", "echo secret-looking-output", NULL}, "printed no key"},
        {{"sh", "-c", "kill -TERM $$", NULL}, "killed by signal 15"},
        {{"sleep", "10", NULL}, "ran out of time"},
        {{"/nonexistent/key-helper", NULL}, "cannot run"},
        {{"sh", "-c", "head -c 200 /dev/zero", NULL}, "printed no key"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(crypto_master_from_command(bad[i].argv, 1, &m, &err), PGP_ERR_KEY);
        fx_assert_printable_err(&err, bad[i].needle);
        ck_assert(strstr(err.msg, "secret-looking") == NULL);
    }
    ck_assert_int_eq(secmem_live(), 0);
}
END_TEST

/* ---------- the key document ---------- */

/* doc with member `field` replaced by the JSON text `value` (NULL: removed). */
static char *doc_edit(const char *doc, const char *field, const char *value)
{
    json_t *j = json_loads(doc, 0, NULL);
    ck_assert_ptr_nonnull(j);
    if (value == NULL)
        json_object_del(j, field);
    else
        json_object_set_new(j, field, json_loads(value, JSON_DECODE_ANY, NULL));
    char *s = json_dumps(j, 0);
    json_decref(j);
    return s;
}

START_TEST(test_document_damage)
{
    uint8_t raw[32] = {9};
    CryptoMaster *m = NULL;
    CryptoRepoKey *k = NULL, *back = NULL;
    char *doc = NULL;
    PgpErr err;
    ck_assert_int_eq(crypto_master_from_bytes(raw, &m, NULL), 0);
    ck_assert_int_eq(crypto_repo_key_generate(&k, NULL), 0);
    ck_assert_int_eq(crypto_repo_key_wrap(k, m, &doc, NULL), 0);
    const struct {
        const char *field, *value;
        int code;
        const char *needle;
    } cases[] = {
        {"wrapped", "\"00\"", PGP_ERR_CORRUPT, "\"wrapped\" is not 48 hex bytes"},
        {"wrapped", NULL, PGP_ERR_CORRUPT, "\"wrapped\""},
        {"nonce", "\"000000000000000000000000\"", PGP_ERR_CORRUPT, "damaged"},
        {"version", "2", PGP_ERR_CORRUPT, "version 2 is not supported"},
        {"format", "\"something\"", PGP_ERR_CORRUPT, "not a repository key document"},
        {"cipher", "\"aes-128-cbc\"", PGP_ERR_CORRUPT, "unknown"},
        {"master", "\"passphrase\"", PGP_ERR_CORRUPT, "\"scrypt\""},
        {"check", "\"00000000000000000000000000000000\"", PGP_ERR_KEY, "wrong master key"},
        {"check", "\"zz000000000000000000000000000000\"", PGP_ERR_CORRUPT, "not hex"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *bad = doc_edit(doc, cases[i].field, cases[i].value);
        ck_assert_int_eq(crypto_repo_key_unwrap(bad, strlen(bad), m, &back, &err),
                         cases[i].code);
        fx_assert_printable_err(&err, cases[i].needle);
        free(bad);
    }
    /* A flipped hex digit in the ciphertext: damaged, not a wrong key. */
    char *w = strstr(doc, "\"wrapped\": \"") + 12;
    *w = *w == '0' ? '1' : '0';
    ck_assert_int_eq(crypto_repo_key_unwrap(doc, strlen(doc), m, &back, &err),
                     PGP_ERR_CORRUPT);
    fx_assert_printable_err(&err, "the wrapped repository key is damaged");
    ck_assert_int_eq(crypto_repo_key_unwrap("{", 1, m, &back, &err), PGP_ERR_CORRUPT);
    ck_assert_int_eq(crypto_repo_key_unwrap("[]", 2, m, &back, &err), PGP_ERR_CORRUPT);
    crypto_repo_key_free(k);
    crypto_master_free(m);
    free(doc);
    ck_assert_int_eq(secmem_live(), 0);
}
END_TEST

/* Rotation: the same repository key under a new master; the old one no longer opens it. */
START_TEST(test_rotation)
{
    uint8_t r1[32] = {1}, r2[32] = {2};
    CryptoMaster *m1 = NULL, *m2 = NULL, *m3 = pass_master("a new passphrase, rotated in");
    ck_assert_int_eq(crypto_master_from_bytes(r1, &m1, NULL), 0);
    ck_assert_int_eq(crypto_master_from_bytes(r2, &m2, NULL), 0);
    CryptoRepoKey *k = NULL, *back = NULL;
    char *d1 = NULL, *d2 = NULL, *d3 = NULL;
    PgpErr err;
    ck_assert_int_eq(crypto_repo_key_generate(&k, NULL), 0);
    ck_assert_int_eq(crypto_repo_key_wrap(k, m1, &d1, NULL), 0);
    ck_assert_int_eq(crypto_repo_key_rewrap(d1, strlen(d1), m1, m2, &d2, &err), 0);
    ck_assert_int_eq(crypto_repo_key_rewrap(d2, strlen(d2), m2, m3, &d3, &err), 0);
    char a[CRYPTO_NAME_HEX_LEN + 1], b[CRYPTO_NAME_HEX_LEN + 1];
    fingerprint(k, a);
    ck_assert_int_eq(crypto_repo_key_unwrap(d2, strlen(d2), m2, &back, &err), 0);
    fingerprint(back, b);
    ck_assert_str_eq(a, b);
    crypto_repo_key_free(back);
    ck_assert_int_eq(crypto_repo_key_unwrap(d3, strlen(d3), m3, &back, &err), 0);
    fingerprint(back, b);
    ck_assert_str_eq(a, b);
    crypto_repo_key_free(back);
    ck_assert_int_eq(crypto_repo_key_unwrap(d2, strlen(d2), m1, &back, &err), PGP_ERR_KEY);
    /* A rewrap with the wrong old key writes nothing. */
    char *none = NULL;
    ck_assert_int_eq(crypto_repo_key_rewrap(d2, strlen(d2), m1, m3, &none, &err), PGP_ERR_KEY);
    ck_assert_ptr_null(none);
    crypto_repo_key_free(k);
    crypto_master_free(m1);
    crypto_master_free(m2);
    crypto_master_free(m3);
    free(d1);
    free(d2);
    free(d3);
    ck_assert_int_eq(secmem_live(), 0);
}
END_TEST

/* ---------- vectors and names ---------- */

START_TEST(test_vectors_documents_and_names)
{
    json_t *v = fx_crypto_vectors();
    CryptoRepoKey *k = fx_crypto_repo_key();
    char want[CRYPTO_NAME_HEX_LEN + 1], got[CRYPTO_NAME_HEX_LEN + 1];
    fingerprint(k, want);
    json_t *docs = json_object_get(v, "key_docs"), *d;
    size_t i;
    ck_assert_int_eq(json_array_size(docs), 2);
    json_array_foreach(docs, i, d) {
        CryptoMaster *m = NULL;
        if (json_object_get(d, "master_key") != NULL) {
            size_t n;
            uint8_t *raw = fx_crypto_hex(d, "master_key", &n);
            ck_assert_int_eq(crypto_master_from_bytes(raw, &m, NULL), 0);
            free(raw);
        } else {
            const char *pass = json_string_value(json_object_get(d, "passphrase"));
            m = pass_master(pass);
        }
        char *text = json_dumps(json_object_get(d, "doc"), 0);
        CryptoRepoKey *back = NULL;
        PgpErr err;
        ck_assert_msg(crypto_repo_key_unwrap(text, strlen(text), m, &back, &err) == 0,
                      "document %zu: %s", i, err.msg);
        fingerprint(back, got);
        ck_assert_str_eq(got, want);
        crypto_repo_key_free(back);
        crypto_master_free(m);
        free(text);
    }
    json_t *names = json_object_get(v, "names"), *nm;
    json_array_foreach(names, i, nm) {
        size_t n;
        uint8_t *content = fx_crypto_hex(nm, "content", &n);
        ck_assert_int_eq(crypto_keyed_name_buf(k, content, n, got, NULL), 0);
        ck_assert_str_eq(got, json_string_value(json_object_get(nm, "name")));
        free(content);
    }
    crypto_repo_key_free(k);
    json_decref(v);
}
END_TEST

/* Equal content, equal name (dedup); another repository key, another name; not SHA-256. */
START_TEST(test_keyed_names)
{
    CryptoRepoKey *a = fx_crypto_repo_key(), *b = NULL;
    ck_assert_int_eq(crypto_repo_key_generate(&b, NULL), 0);
    char n1[65], n2[65], n3[65];
    ck_assert_int_eq(crypto_keyed_name_buf(a, "page", 4, n1, NULL), 0);
    ck_assert_int_eq(crypto_keyed_name_buf(a, "page", 4, n2, NULL), 0);
    ck_assert_int_eq(crypto_keyed_name_buf(b, "page", 4, n3, NULL), 0);
    ck_assert_str_eq(n1, n2);
    ck_assert_str_ne(n1, n3);
    ck_assert_uint_eq(strlen(n1), CRYPTO_NAME_HEX_LEN);
    ck_assert_str_ne(n1, "5e4bf4a5b7ee8d3bca5c4a9b4b9b9c7e1e2d2a0a0e0f0b0c0d0e0f1011121314");
    ck_assert(strspn(n1, "0123456789abcdef") == CRYPTO_NAME_HEX_LEN);
    printf("repository key memory locked: %s\n", crypto_repo_key_locked(a) ? "yes" : "no");
    crypto_repo_key_free(a);
    crypto_repo_key_free(b);
    ck_assert_int_eq(secmem_live(), 0);
}
END_TEST

Suite *suite_crypto_keys(void)
{
    Suite *s = suite_create("crypto_keys");
    TCase *tc = tcase_create("master");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_key_file_forms);
    tcase_add_test(tc, test_key_file_refusals);
    tcase_add_test(tc, test_passphrase_roundtrip);
    tcase_add_test(tc, test_passphrase_default_cost);
    tcase_add_test(tc, test_key_command);
    suite_add_tcase(s, tc);

    tc = tcase_create("repository");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_document_damage);
    tcase_add_test(tc, test_rotation);
    tcase_add_test(tc, test_vectors_documents_and_names);
    tcase_add_test(tc, test_keyed_names);
    suite_add_tcase(s, tc);
    return s;
}
