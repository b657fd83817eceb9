/*
 * keyring.c - the repository key (keyring.h): made, wrapped by a master key into its JSON
 * document, unwrapped, rewrapped for a rotation; and keyed names. The document's format is
 * docs/encryption.md's ("The key document"); jansson writes and reads it.
 *
 * Why a check value beside the wrapped key: GCM alone cannot tell a wrong master key from a
 * damaged document, and the two need different answers (exit 14 "wrong key" against exit 7
 * "corrupt"). The check value is HKDF output of the master key under its own label, so it
 * says nothing about the key-encryption key nor the repository key.
 */
#include "crypto_impl.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "gcm.h"
#include "pgpitr/crypto/secmem.h"

#define DOC_FORMAT "pgpitr-repository-key"
#define DOC_VERSION 1
#define DOC_SALT_LEN 16
#define DOC_CHECK_LEN 16
static const char info_wrap[] = "pgpitr/v1/key-wrap";
static const char info_check[] = "pgpitr/v1/key-check";
static const char info_name[] = "pgpitr/v1/name";
static const char ad_wrap[] = "pgpitr-repository-key/v1";   /* purpose and format version */

/* What the master key gives: the key-encryption key and the check value. */
typedef struct Kek {
    uint8_t master[CRYPTO_KEY_LEN];
    uint8_t kek[CRYPTO_KEY_LEN];
    uint8_t check[DOC_CHECK_LEN];
} Kek;

static int repo_key_alloc(const uint8_t key[CRYPTO_KEY_LEN], CryptoRepoKey **out, PgpErr *err)
{
    CryptoRepoKey *k = secmem_alloc(sizeof *k, err);
    if (k == NULL)
        return PGP_ERR_NOMEM;
    memcpy(k->key, key, CRYPTO_KEY_LEN);
    int rc = gcm_hkdf(k->key, CRYPTO_KEY_LEN, NULL, 0, info_name, sizeof info_name - 1,
                      k->name_key, CRYPTO_KEY_LEN, err);
    if (rc != 0) {
        crypto_repo_key_free(k);
        return rc;
    }
    *out = k;
    return 0;
}

int crypto_repo_key_from_bytes(const uint8_t key[CRYPTO_KEY_LEN], CryptoRepoKey **out,
                               PgpErr *err)
{
    return repo_key_alloc(key, out, err);
}

int crypto_repo_key_generate(CryptoRepoKey **out, PgpErr *err)
{
    uint8_t *key = secmem_alloc(CRYPTO_KEY_LEN, err);
    if (key == NULL)
        return PGP_ERR_NOMEM;
    int rc = gcm_random(key, CRYPTO_KEY_LEN, err);
    if (rc == 0)
        rc = repo_key_alloc(key, out, err);
    secmem_free(key, CRYPTO_KEY_LEN);
    return rc;
}

void crypto_repo_key_free(CryptoRepoKey *k)
{
    secmem_free(k, sizeof *k);
}

bool crypto_repo_key_locked(const CryptoRepoKey *k)
{
    return secmem_locked(k);
}

/* Master key (scrypt for a passphrase) -> KEK and check value, into secure memory. */
static int kek_derive(const CryptoMaster *m, const uint8_t *salt, const CryptoScrypt *params,
                      Kek **out, PgpErr *err)
{
    Kek *x = secmem_alloc(sizeof *x, err);
    if (x == NULL)
        return PGP_ERR_NOMEM;
    int rc = master_derive(m, salt, DOC_SALT_LEN, params, x->master, err);
    if (rc == 0)
        rc = gcm_hkdf(x->master, CRYPTO_KEY_LEN, NULL, 0, info_wrap, sizeof info_wrap - 1,
                      x->kek, CRYPTO_KEY_LEN, err);
    if (rc == 0)
        rc = gcm_hkdf(x->master, CRYPTO_KEY_LEN, NULL, 0, info_check, sizeof info_check - 1,
                      x->check, DOC_CHECK_LEN, err);
    if (rc != 0) {
        secmem_free(x, sizeof *x);
        return rc;
    }
    *out = x;
    return 0;
}

/* n bytes as 2n lowercase hex digits and a NUL. */
static void hex_encode(const uint8_t *b, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = '\0';
}

static json_t *hex_json(const uint8_t *b, size_t n)
{
    char hex[2 * 64 + 1];
    hex_encode(b, n, hex);
    return json_string(hex);
}

/* The document around a wrapped key (all non-secret: nonce, salt, check value, ciphertext). */
static char *doc_build(const CryptoMaster *m, const uint8_t *salt, const uint8_t *check,
                       const uint8_t *nonce, const uint8_t *wrapped)
{
    json_t *doc = json_pack("{s:s, s:i, s:s, s:s, s:o, s:o, s:o}", "format", DOC_FORMAT,
                            "version", DOC_VERSION, "cipher", "aes-256-gcm",
                            "master", m->passphrase ? "passphrase" : "key",
                            "check", hex_json(check, DOC_CHECK_LEN),
                            "nonce", hex_json(nonce, GCM_NONCE_LEN),
                            "wrapped", hex_json(wrapped, CRYPTO_KEY_LEN + GCM_TAG_LEN));
    if (doc != NULL && m->passphrase &&
        json_object_set_new(doc, "scrypt",
                            json_pack("{s:o, s:I, s:i, s:i}", "salt",
                                      hex_json(salt, DOC_SALT_LEN), "n",
                                      (json_int_t)m->scrypt.n, "r", (int)m->scrypt.r, "p",
                                      (int)m->scrypt.p)) != 0) {
        json_decref(doc);
        return NULL;
    }
    char *text = doc != NULL ? json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    json_decref(doc);
    return text;
}

int crypto_repo_key_wrap(const CryptoRepoKey *k, const CryptoMaster *m, char **json,
                         PgpErr *err)
{
    uint8_t salt[DOC_SALT_LEN], nonce[GCM_NONCE_LEN], wrapped[CRYPTO_KEY_LEN + GCM_TAG_LEN];
    Kek *x = NULL;
    GcmCtx *c = NULL;
    int rc = gcm_random(salt, sizeof salt, err);
    if (rc == 0)
        rc = gcm_random(nonce, sizeof nonce, err);
    if (rc == 0)
        rc = kek_derive(m, salt, &m->scrypt, &x, err);
    if (rc == 0)
        rc = gcm_ctx_new(x->kek, true, &c, err);
    if (rc == 0)
        rc = gcm_seal(c, nonce, ad_wrap, sizeof ad_wrap - 1, k->key, CRYPTO_KEY_LEN, wrapped,
                      err);
    if (rc == 0 && (*json = doc_build(m, salt, x->check, nonce, wrapped)) == NULL)
        rc = PGP_FAIL(err, PGP_ERR_NOMEM, "cannot write the key document");
    gcm_ctx_free(c);
    if (x != NULL)
        secmem_free(x, sizeof *x);
    return rc;
}

/* A field of n bytes in lowercase or uppercase hex. */
static int doc_hex(json_t *doc, const char *field, uint8_t *out, size_t n, PgpErr *err)
{
    const char *s = json_string_value(json_object_get(doc, field));
    if (s == NULL || strlen(s) != 2 * n)
        return PGP_FAIL(err, PGP_ERR_CORRUPT, "key document: \"%s\" is not %zu hex bytes",
                        field, n);
    for (size_t i = 0; i < n; i++) {
        int v = OPENSSL_hexchar2int((unsigned char)s[2 * i]);
        int w = OPENSSL_hexchar2int((unsigned char)s[2 * i + 1]);
        if (v < 0 || w < 0)
            return PGP_FAIL(err, PGP_ERR_CORRUPT, "key document: \"%s\" is not hex", field);
        out[i] = (uint8_t)(v << 4 | w);
    }
    return 0;
}

/* What a document holds besides the ciphertext. */
typedef struct Doc {
    bool passphrase;
    CryptoScrypt scrypt;
    uint8_t salt[DOC_SALT_LEN];
    uint8_t check[DOC_CHECK_LEN];
    uint8_t nonce[GCM_NONCE_LEN];
    uint8_t wrapped[CRYPTO_KEY_LEN + GCM_TAG_LEN];
} Doc;

static int doc_scrypt(json_t *doc, Doc *d, PgpErr *err)
{
    json_t *s = json_object_get(doc, "scrypt");
    json_int_t n = json_integer_value(json_object_get(s, "n"));
    json_int_t r = json_integer_value(json_object_get(s, "r"));
    json_int_t p = json_integer_value(json_object_get(s, "p"));
    if (!json_is_object(s) || n <= 0 || r <= 0 || r > 1024 || p <= 0 || p > 1024)
        return PGP_FAIL(err, PGP_ERR_CORRUPT, "key document: \"scrypt\" is missing or "
                        "malformed");
    d->scrypt = (CryptoScrypt){(uint64_t)n, (uint32_t)r, (uint32_t)p};
    int rc = master_scrypt_check(&d->scrypt, "the key document", err);
    return rc != 0 ? rc : doc_hex(s, "salt", d->salt, DOC_SALT_LEN, err);
}

static int doc_parse(const char *json, size_t len, Doc *d, PgpErr *err)
{
    json_error_t jerr;
    json_t *doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    int rc = 0;
    memset(d, 0, sizeof *d);
    if (!json_is_object(doc)) {
        rc = PGP_FAIL(err, PGP_ERR_CORRUPT, "key document does not parse (line %d)",
                      jerr.line);
        goto out;
    }
    json_t *ver = json_object_get(doc, "version");
    const char *format = json_string_value(json_object_get(doc, "format"));
    const char *cipher = json_string_value(json_object_get(doc, "cipher"));
    const char *master = json_string_value(json_object_get(doc, "master"));
    if (format == NULL || strcmp(format, DOC_FORMAT) != 0 || !json_is_integer(ver)) {
        rc = PGP_FAIL(err, PGP_ERR_CORRUPT, "not a repository key document");
    } else if (json_integer_value(ver) != DOC_VERSION) {
        rc = PGP_FAIL(err, PGP_ERR_CORRUPT, "key document version %lld is not supported "
                      "(this pgpitr reads version %d)", (long long)json_integer_value(ver),
                      DOC_VERSION);
    } else if (cipher == NULL || strcmp(cipher, "aes-256-gcm") != 0 || master == NULL ||
               (strcmp(master, "key") != 0 && strcmp(master, "passphrase") != 0)) {
        rc = PGP_FAIL(err, PGP_ERR_CORRUPT, "key document: unknown \"cipher\" or \"master\"");
    } else {
        d->passphrase = strcmp(master, "passphrase") == 0;
        if ((rc = doc_hex(doc, "check", d->check, DOC_CHECK_LEN, err)) == 0 &&
            (rc = doc_hex(doc, "nonce", d->nonce, GCM_NONCE_LEN, err)) == 0 &&
            (rc = doc_hex(doc, "wrapped", d->wrapped, sizeof d->wrapped, err)) == 0 &&
            d->passphrase)
            rc = doc_scrypt(doc, d, err);
    }
out:
    json_decref(doc);
    return rc;
}

int crypto_repo_key_unwrap(const char *json, size_t len, const CryptoMaster *m,
                           CryptoRepoKey **out, PgpErr *err)
{
    Doc d;
    Kek *x = NULL;
    GcmCtx *c = NULL;
    uint8_t *key = NULL;
    int rc = doc_parse(json, len, &d, err);
    if (rc != 0)
        return rc;
    if (d.passphrase != m->passphrase)
        return PGP_FAIL(err, PGP_ERR_KEY, "the repository key is wrapped with a %s, but a %s "
                        "was given", d.passphrase ? "passphrase" : "key",
                        m->passphrase ? "passphrase" : "key");
    if ((rc = kek_derive(m, d.salt, &d.scrypt, &x, err)) != 0)
        return rc;
    if (CRYPTO_memcmp(x->check, d.check, DOC_CHECK_LEN) != 0) {
        rc = PGP_FAIL(err, PGP_ERR_KEY, "wrong master key: it is not the one the repository "
                      "key was wrapped with");
        pgp_err_hint(err, "give the current master key (after a rotation: the new one)");
        goto out;
    }
    if ((key = secmem_alloc(CRYPTO_KEY_LEN, err)) == NULL) {
        rc = PGP_ERR_NOMEM;
        goto out;
    }
    if ((rc = gcm_ctx_new(x->kek, false, &c, err)) != 0)
        goto out;
    rc = gcm_open(c, d.nonce, ad_wrap, sizeof ad_wrap - 1, d.wrapped, sizeof d.wrapped, key,
                  err);
    if (rc == PGP_ERR_CORRUPT)
        pgp_err_context(err, "the wrapped repository key is damaged");
    else if (rc == 0)
        rc = repo_key_alloc(key, out, err);
out:
    gcm_ctx_free(c);
    secmem_free(key, CRYPTO_KEY_LEN);
    secmem_free(x, sizeof *x);
    return rc;
}

int crypto_repo_key_rewrap(const char *json, size_t len, const CryptoMaster *old_m,
                           const CryptoMaster *new_m, char **new_json, PgpErr *err)
{
    CryptoRepoKey *k = NULL;
    int rc = crypto_repo_key_unwrap(json, len, old_m, &k, err);
    if (rc == 0)
        rc = crypto_repo_key_wrap(k, new_m, new_json, err);
    crypto_repo_key_free(k);
    return rc;
}

int crypto_keyed_name(const CryptoRepoKey *k, const uint8_t sha256[32],
                      char out[CRYPTO_NAME_HEX_LEN + 1], PgpErr *err)
{
    uint8_t mac[32];
    int rc = gcm_hmac(k->name_key, CRYPTO_KEY_LEN, sha256, 32, mac, err);
    if (rc == 0)
        hex_encode(mac, sizeof mac, out);
    return rc;
}

int crypto_keyed_name_buf(const CryptoRepoKey *k, const void *buf, size_t len,
                          char out[CRYPTO_NAME_HEX_LEN + 1], PgpErr *err)
{
    uint8_t digest[32];
    if (EVP_Digest(buf, len, digest, NULL, EVP_sha256(), NULL) != 1)
        return PGP_FAIL(err, PGP_ERR_INTERNAL, "SHA-256 failed");
    return crypto_keyed_name(k, digest, out, err);
}
