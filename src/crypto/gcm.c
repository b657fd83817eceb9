/*
 * gcm.c - AES-256-GCM, HKDF-SHA-256, HMAC-SHA-256 and random bytes through OpenSSL EVP
 * (gcm.h). No cryptography of its own: only the calls, their error checks, and the wiping of
 * plaintext whose tag failed.
 */
#include "gcm.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <stdlib.h>

struct GcmCtx {
    EVP_CIPHER_CTX *ctx;
    bool encrypt;
};

int gcm_ctx_new(const uint8_t key[GCM_KEY_LEN], bool encrypt, GcmCtx **out, PgpErr *err)
{
    GcmCtx *c = calloc(1, sizeof *c);
    if (c == NULL || (c->ctx = EVP_CIPHER_CTX_new()) == NULL) {
        free(c);
        return PGP_FAIL(err, PGP_ERR_NOMEM, "cannot allocate a cipher context");
    }
    c->encrypt = encrypt;
    /* The nonce length is the default 12 bytes; the key schedule is computed once here and
     * kept across the messages (each call below sets only a new nonce). */
    if (EVP_CipherInit_ex(c->ctx, EVP_aes_256_gcm(), NULL, key, NULL, encrypt ? 1 : 0) != 1) {
        gcm_ctx_free(c);
        return PGP_FAIL(err, PGP_ERR_INTERNAL, "cannot set up AES-256-GCM");
    }
    *out = c;
    return 0;
}

void gcm_ctx_free(GcmCtx *c)
{
    if (c == NULL)
        return;
    EVP_CIPHER_CTX_free(c->ctx);    /* wipes the key schedule */
    free(c);
}

/* Nonce, then the associated data; data goes through the caller. */
static int gcm_start(GcmCtx *c, const uint8_t nonce[GCM_NONCE_LEN], const void *ad,
                     size_t ad_len, PgpErr *err)
{
    int n = 0;
    if (EVP_CipherInit_ex(c->ctx, NULL, NULL, NULL, nonce, -1) != 1 ||
        (ad_len > 0 && EVP_CipherUpdate(c->ctx, NULL, &n, ad, (int)ad_len) != 1))
        return PGP_FAIL(err, PGP_ERR_INTERNAL, "AES-256-GCM failed to start a message");
    return 0;
}

int gcm_seal(GcmCtx *c, const uint8_t nonce[GCM_NONCE_LEN], const void *ad, size_t ad_len,
             const void *pt, size_t len, uint8_t *out, PgpErr *err)
{
    if (!c->encrypt || len > INT32_MAX || ad_len > INT32_MAX)
        return PGP_FAIL(err, PGP_ERR_INTERNAL, "gcm_seal misused");
    int rc = gcm_start(c, nonce, ad, ad_len, err);
    if (rc != 0)
        return rc;
    int n = 0, fin = 0;
    if ((len > 0 && EVP_CipherUpdate(c->ctx, out, &n, pt, (int)len) != 1) ||
        EVP_CipherFinal_ex(c->ctx, out + n, &fin) != 1 || (size_t)(n + fin) != len ||
        EVP_CIPHER_CTX_ctrl(c->ctx, EVP_CTRL_GCM_GET_TAG, GCM_TAG_LEN, out + len) != 1)
        return PGP_FAIL(err, PGP_ERR_INTERNAL, "AES-256-GCM encryption failed");
    return 0;
}

int gcm_open(GcmCtx *c, const uint8_t nonce[GCM_NONCE_LEN], const void *ad, size_t ad_len,
             const uint8_t *in, size_t len, uint8_t *out, PgpErr *err)
{
    if (c->encrypt || len < GCM_TAG_LEN || len > INT32_MAX || ad_len > INT32_MAX)
        return PGP_FAIL(err, PGP_ERR_INTERNAL, "gcm_open misused");
    size_t ct_len = len - GCM_TAG_LEN;
    int rc = gcm_start(c, nonce, ad, ad_len, err);
    if (rc != 0)
        return rc;
    int n = 0, fin = 0;
    if ((ct_len > 0 && EVP_CipherUpdate(c->ctx, out, &n, in, (int)ct_len) != 1) ||
        EVP_CIPHER_CTX_ctrl(c->ctx, EVP_CTRL_GCM_SET_TAG, GCM_TAG_LEN,
                            (void *)(in + ct_len)) != 1)
        return PGP_FAIL(err, PGP_ERR_INTERNAL, "AES-256-GCM decryption failed");
    /* EVP_CipherFinal_ex compares the tag: until it says yes, out is unverified. */
    if (EVP_CipherFinal_ex(c->ctx, out + n, &fin) != 1) {
        OPENSSL_cleanse(out, ct_len);
        return PGP_FAIL(err, PGP_ERR_CORRUPT, "authentication failed");
    }
    return 0;
}

int gcm_hkdf(const uint8_t *ikm, size_t ikm_len, const uint8_t *salt, size_t salt_len,
             const void *info, size_t info_len, uint8_t *out, size_t out_len, PgpErr *err)
{
    int rc = 0;
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *kctx = kdf != NULL ? EVP_KDF_CTX_new(kdf) : NULL;
    OSSL_PARAM params[5], *p = params;
    *p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm, ikm_len);
    if (salt_len > 0)
        *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, salt_len);
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, info_len);
    *p = OSSL_PARAM_construct_end();
    if (kctx == NULL || EVP_KDF_derive(kctx, out, out_len, params) != 1)
        rc = PGP_FAIL(err, PGP_ERR_INTERNAL, "HKDF-SHA-256 failed");
    EVP_KDF_CTX_free(kctx);
    EVP_KDF_free(kdf);
    return rc;
}

int gcm_hmac(const uint8_t *key, size_t key_len, const void *data, size_t len, uint8_t out[32],
             PgpErr *err)
{
    size_t out_len = 0;
    if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, key_len, data, len, out, 32,
                  &out_len) == NULL || out_len != 32)
        return PGP_FAIL(err, PGP_ERR_INTERNAL, "HMAC-SHA-256 failed");
    return 0;
}

int gcm_random(uint8_t *out, size_t len, PgpErr *err)
{
    if (RAND_bytes(out, (int)len) != 1)
        return PGP_FAIL(err, PGP_ERR_INTERNAL, "the random number generator failed");
    return 0;
}
