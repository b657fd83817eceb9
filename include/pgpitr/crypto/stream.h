/*
 * stream.h - the chunks of an encrypted object (docs/encryption.md, "Object format"):
 *
 *   header (48 bytes) | chunk 0 | chunk 1 | ... | final chunk
 *   header = "PGPITRE" | version 1 | chunk exponent e | salt (32) | nonce prefix (7)
 *   chunk i = AES-256-GCM(object key, nonce, AD, plaintext) || tag (16)
 *   object key = HKDF-SHA-256(repository key, salt, "pgpitr/v1/object-key")
 *   nonce = nonce prefix || i as 4 bytes big-endian || 1 for the final chunk, else 0
 *   AD = header || the object's name in the repository
 *
 * Every chunk but the last holds exactly 2^e bytes of plaintext; the last, flagged final,
 * holds 0 to 2^e (0 only when the whole object is empty). This is the sealing and opening of
 * one chunk at a time, with its counter kept here so a caller cannot reuse a nonce; the
 * buffering of a stream into chunks is the pipe filters' (pipe_encrypt_new,
 * pipe_decrypt_new in pipe.h), which is what callers use.
 */
#ifndef PGPITR_CRYPTO_STREAM_H
#define PGPITR_CRYPTO_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pgpitr/common/err.h"
#include "pgpitr/crypto/keyring.h"

#define CRYPTO_STREAM_HEADER_LEN 48
#define CRYPTO_STREAM_TAG_LEN 16
#define CRYPTO_STREAM_MAGIC "PGPITRE"
#define CRYPTO_STREAM_VERSION 1
/* 2^16 = 64 KiB chunks by default; readers accept 2^6 to 2^24 (tests and fuzzing use small
 * chunks to have many of them). */
#define CRYPTO_STREAM_CHUNK_SHIFT 16
#define CRYPTO_STREAM_SHIFT_MIN 6
#define CRYPTO_STREAM_SHIFT_MAX 24
/* Names bound into the AD: at most this many bytes. */
#define CRYPTO_STREAM_NAME_MAX 4096
/* The random part of a header: salt (32) and nonce prefix (7). */
#define CRYPTO_STREAM_RANDOM_LEN 39

/* What a sealer or an opener is set up with. */
typedef struct CryptoStreamOpts {
    unsigned chunk_shift;           /* 0: CRYPTO_STREAM_CHUNK_SHIFT (sealer only) */
    /* Test seam (test vectors only): the 39 bytes of salt and nonce prefix, instead of fresh
     * random ones. Reusing them for two objects of one repository reuses nonces under one
     * key: never set outside tests. */
    const uint8_t *fixed_random;
} CryptoStreamOpts;

typedef struct CryptoSealer CryptoSealer;

/* A sealer for the object called name (NUL-terminated, at most CRYPTO_STREAM_NAME_MAX bytes);
 * header gets the object's first CRYPTO_STREAM_HEADER_LEN bytes. opts may be NULL. */
int crypto_sealer_new(const CryptoRepoKey *k, const char *name, const CryptoStreamOpts *opts,
                      uint8_t header[CRYPTO_STREAM_HEADER_LEN], CryptoSealer **out,
                      PgpErr *err);
size_t crypto_sealer_chunk_size(const CryptoSealer *s);
/* Seals the next chunk: len == chunk size unless final (then 0..chunk size); out gets
 * len + CRYPTO_STREAM_TAG_LEN bytes. Nothing may follow a final chunk (PGP_ERR_INTERNAL),
 * nor a 2^32nd chunk (PGP_ERR_INTERNAL: an object over 2^32 chunks cannot be written). */
int crypto_sealer_seal(CryptoSealer *s, const uint8_t *pt, size_t len, bool final,
                       uint8_t *out, PgpErr *err);
void crypto_sealer_free(CryptoSealer *s);

typedef struct CryptoOpener CryptoOpener;

/* An opener from an object's header (CRYPTO_STREAM_HEADER_LEN bytes) and the name it is read
 * under. PGP_ERR_CORRUPT for a header that is not one (magic), of an unknown version or an
 * out-of-range exponent. A header altered otherwise is found at the first chunk. */
int crypto_opener_new(const CryptoRepoKey *k, const char *name,
                      const uint8_t header[CRYPTO_STREAM_HEADER_LEN], CryptoOpener **out,
                      PgpErr *err);
size_t crypto_opener_chunk_size(const CryptoOpener *o);
/* Opens the next chunk (len = plaintext length + CRYPTO_STREAM_TAG_LEN, at most chunk size
 * + tag; exactly that unless final) into out. PGP_ERR_CORRUPT when it fails to authenticate
 * as chunk number i of this object, final or not; out is then wiped. */
int crypto_opener_open(CryptoOpener *o, const uint8_t *in, size_t len, bool final,
                       uint8_t *out, PgpErr *err);
/* Chunks opened so far. */
uint64_t crypto_opener_chunks(const CryptoOpener *o);
void crypto_opener_free(CryptoOpener *o);

#endif
