/*
 * gcm.h - private to src/crypto: AES-256-GCM with a 96-bit nonce and a 128-bit tag, and
 * HKDF-SHA-256, over OpenSSL EVP. The one place that calls the cipher; the formats built on it
 * (object streams, the wrapped repository key) live in stream.c and keyring.c.
 */
#ifndef PGPITR_CRYPTO_GCM_H
#define PGPITR_CRYPTO_GCM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pgpitr/common/err.h"

#define GCM_KEY_LEN 32
#define GCM_NONCE_LEN 12
#define GCM_TAG_LEN 16

/* A cipher context with its key schedule set once, then used for many messages. */
typedef struct GcmCtx GcmCtx;

/* PGP_ERR_NOMEM / PGP_ERR_INTERNAL when OpenSSL fails. The key is copied into the context
 * (OpenSSL's own memory, wiped by EVP_CIPHER_CTX_free). */
int gcm_ctx_new(const uint8_t key[GCM_KEY_LEN], bool encrypt, GcmCtx **out, PgpErr *err);
void gcm_ctx_free(GcmCtx *c);

/* out gets len bytes of ciphertext then the tag (len + GCM_TAG_LEN bytes); out may be pt. */
int gcm_seal(GcmCtx *c, const uint8_t nonce[GCM_NONCE_LEN], const void *ad, size_t ad_len,
             const void *pt, size_t len, uint8_t *out, PgpErr *err);
/* in is len bytes of ciphertext then its tag (len >= GCM_TAG_LEN); out gets len - GCM_TAG_LEN
 * bytes of plaintext, and is wiped when the tag does not match (PGP_ERR_CORRUPT, message
 * "authentication failed"): nothing unverified is left behind for a caller to use. */
int gcm_open(GcmCtx *c, const uint8_t nonce[GCM_NONCE_LEN], const void *ad, size_t ad_len,
             const uint8_t *in, size_t len, uint8_t *out, PgpErr *err);

/* HKDF-SHA-256 (RFC 5869): out_len bytes from ikm, salt (may be empty) and info. */
int gcm_hkdf(const uint8_t *ikm, size_t ikm_len, const uint8_t *salt, size_t salt_len,
             const void *info, size_t info_len, uint8_t *out, size_t out_len, PgpErr *err);

/* HMAC-SHA-256 of data under key into out (32 bytes). */
int gcm_hmac(const uint8_t *key, size_t key_len, const void *data, size_t len, uint8_t out[32],
             PgpErr *err);

/* Random bytes from OpenSSL's CSPRNG; PGP_ERR_INTERNAL if it cannot deliver. */
int gcm_random(uint8_t *out, size_t len, PgpErr *err);

#endif
