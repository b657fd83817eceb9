/*
 * encrypt.c - the encryption and decryption filters (pipe.h): a stream cut into the chunks of
 * docs/encryption.md and handed to the crypto core (src/crypto/stream.c), which seals and
 * opens one chunk at a time. What this file owns is the buffering, and with it the rule that
 * decides which chunk is final: a full chunk is sealed (or opened) as not final only once a
 * byte after it arrived; whatever is buffered at finish is the final chunk. So an object whose
 * size is a multiple of the chunk size ends with a full final chunk, and an empty one with an
 * empty final chunk.
 *
 * Why plaintext is never emitted before its tag verified: the core opens into `out` and wipes
 * it on failure; this filter emits `out` only after the open returned 0.
 */
#include "filter_impl.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

typedef struct CryptFilter {
    PipeFilter base;
    const CryptoRepoKey *key;
    char *name;
    char *label;                /* decryption's errors call the object this; NULL: name */
    CryptoSealer *sealer;       /* encryption */
    CryptoOpener *opener;       /* decryption, once the header is complete */
    uint8_t header[CRYPTO_STREAM_HEADER_LEN];
    size_t header_fill;         /* encryption: emitted yet (0/len); decryption: bytes read */
    uint8_t *buf;               /* encryption: plaintext; decryption: one sealed chunk */
    size_t buf_cap, fill;
    uint8_t *out;               /* encryption: sealed chunk; decryption: plaintext */
    size_t out_cap;
} CryptFilter;

static void crypt_destroy(PipeFilter *f)
{
    CryptFilter *c = (CryptFilter *)f;
    crypto_sealer_free(c->sealer);
    crypto_opener_free(c->opener);
    /* Plaintext sits in buf (encryption) or out (decryption): wipe both. */
    if (c->buf != NULL)
        OPENSSL_cleanse(c->buf, c->buf_cap);
    if (c->out != NULL)
        OPENSSL_cleanse(c->out, c->out_cap);
    free(c->buf);
    free(c->out);
    free(c->name);
    free(c->label);
}

static int crypt_buffers(CryptFilter *c, size_t chunk, bool encrypt, PgpErr *err)
{
    c->buf_cap = encrypt ? chunk : chunk + CRYPTO_STREAM_TAG_LEN;
    c->out_cap = encrypt ? chunk + CRYPTO_STREAM_TAG_LEN : chunk;
    c->buf = malloc(c->buf_cap);
    c->out = malloc(c->out_cap);
    if (c->buf == NULL || c->out == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "cannot allocate encryption buffers");
    return 0;
}

/* --- encryption --- */

static int seal_emit(CryptFilter *c, const uint8_t *pt, size_t len, bool final, PgpErr *err)
{
    if (c->header_fill == 0) {
        int rc = filter_emit(&c->base, c->header, CRYPTO_STREAM_HEADER_LEN, err);
        if (rc != 0)
            return rc;
        c->header_fill = CRYPTO_STREAM_HEADER_LEN;
    }
    if (pt == NULL)
        return 0;
    int rc = crypto_sealer_seal(c->sealer, pt, len, final, c->out, err);
    return rc != 0 ? rc : filter_emit(&c->base, c->out, len + CRYPTO_STREAM_TAG_LEN, err);
}

/* Seals (encryption) or opens (decryption) one chunk and hands the result on. */
typedef int (*ChunkFn)(CryptFilter *c, const uint8_t *p, size_t len, bool final, PgpErr *err);

/* The buffering both directions share: buf fills up to buf_cap; a full buf goes through fn as
 * not final only when a byte after it arrives; whole chunks that arrive in one piece go
 * through fn straight from the caller's buffer. */
static int crypt_feed(CryptFilter *c, const uint8_t *p, size_t len, ChunkFn fn, PgpErr *err)
{
    int rc = 0;
    while (rc == 0 && len > 0) {
        if (c->fill == c->buf_cap) {            /* a byte follows: not the final chunk */
            rc = fn(c, c->buf, c->fill, false, err);
            c->fill = 0;
        } else if (c->fill == 0 && len > c->buf_cap) {
            rc = fn(c, p, c->buf_cap, false, err);
            p += c->buf_cap;
            len -= c->buf_cap;
        } else {
            size_t n = c->buf_cap - c->fill < len ? c->buf_cap - c->fill : len;
            memcpy(c->buf + c->fill, p, n);
            c->fill += n;
            p += n;
            len -= n;
        }
    }
    return rc;
}

static int encrypt_push(PipeFilter *f, const void *buf, size_t len, PgpErr *err)
{
    CryptFilter *c = (CryptFilter *)f;
    int rc = seal_emit(c, NULL, 0, false, err);
    return rc != 0 ? rc : crypt_feed(c, buf, len, seal_emit, err);
}

static int encrypt_finish(PipeFilter *f, PgpErr *err)
{
    CryptFilter *c = (CryptFilter *)f;
    int rc = seal_emit(c, c->buf, c->fill, true, err);
    c->fill = 0;
    return rc;
}

static const PipeFilterOps encrypt_ops = {
    "encryption", encrypt_push, encrypt_finish, crypt_destroy
};

static int crypt_alloc(const PipeFilterOps *ops, const CryptoRepoKey *k, const char *name,
                       PipeSink next, CryptFilter **out, PgpErr *err)
{
    CryptFilter *c = filter_alloc(sizeof *c, ops, next, err);
    if (c == NULL)
        return PGP_ERR_NOMEM;
    c->key = k;
    if ((c->name = strdup(name)) == NULL) {
        pipe_filter_free(&c->base);
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    }
    *out = c;
    return 0;
}

int pipe_encrypt_new(const CryptoRepoKey *k, const char *name, const CryptoStreamOpts *opts,
                     PipeSink next, PipeFilter **out, PgpErr *err)
{
    CryptFilter *c = NULL;
    int rc = crypt_alloc(&encrypt_ops, k, name, next, &c, err);
    if (rc != 0)
        return rc;
    if ((rc = crypto_sealer_new(k, name, opts, c->header, &c->sealer, err)) != 0 ||
        (rc = crypt_buffers(c, crypto_sealer_chunk_size(c->sealer), true, err)) != 0) {
        pipe_filter_free(&c->base);
        return rc;
    }
    *out = &c->base;
    return 0;
}

/* --- decryption --- */

/* "decryption of \"NAME\": ..." with the name quoted (it comes from the repository). */
static int decrypt_context(CryptFilter *c, PgpErr *err)
{
    char q[PGP_QUOTE_BUF];
    return pgp_err_context(err, "decryption of \"%s\"",
                           pgp_quote(c->label != NULL ? c->label : c->name, q));
}

static int open_emit(CryptFilter *c, const uint8_t *in, size_t len, bool final, PgpErr *err)
{
    int rc = crypto_opener_open(c->opener, in, len, final, c->out, err);
    if (rc != 0)
        return decrypt_context(c, err);
    return filter_emit(&c->base, c->out, len - CRYPTO_STREAM_TAG_LEN, err);
}

/* The header's bytes; the opener once they are all there. Returns the bytes used. */
static int header_take(CryptFilter *c, const uint8_t *p, size_t len, size_t *used, PgpErr *err)
{
    size_t n = CRYPTO_STREAM_HEADER_LEN - c->header_fill;
    *used = n < len ? n : len;
    memcpy(c->header + c->header_fill, p, *used);
    c->header_fill += *used;
    if (c->header_fill < CRYPTO_STREAM_HEADER_LEN)
        return 0;
    int rc = crypto_opener_new(c->key, c->name, c->header, &c->opener, err);
    if (rc == 0)
        rc = crypt_buffers(c, crypto_opener_chunk_size(c->opener), false, err);
    if (rc != 0)
        decrypt_context(c, err);
    return rc;
}

static int decrypt_push(PipeFilter *f, const void *buf, size_t len, PgpErr *err)
{
    CryptFilter *c = (CryptFilter *)f;
    const uint8_t *p = buf;
    if (c->opener == NULL) {
        size_t used = 0;
        int rc = header_take(c, p, len, &used, err);
        if (rc != 0)
            return rc;
        p += used;
        len -= used;
    }
    return crypt_feed(c, p, len, open_emit, err);
}

static int decrypt_finish(PipeFilter *f, PgpErr *err)
{
    CryptFilter *c = (CryptFilter *)f;
    if (c->opener == NULL) {
        PGP_FAIL(err, PGP_ERR_CORRUPT, "the object is truncated (%zu of %d header bytes)",
                 c->header_fill, CRYPTO_STREAM_HEADER_LEN);
        return decrypt_context(c, err);
    }
    int rc = open_emit(c, c->buf, c->fill, true, err);
    c->fill = 0;
    return rc;
}

static const PipeFilterOps decrypt_ops = {
    "decryption", decrypt_push, decrypt_finish, crypt_destroy
};

int pipe_decrypt_new(const CryptoRepoKey *k, const char *name, PipeSink next,
                     PipeFilter **out, PgpErr *err)
{
    CryptFilter *c = NULL;
    int rc = crypt_alloc(&decrypt_ops, k, name, next, &c, err);
    if (rc != 0)
        return rc;
    *out = &c->base;
    return 0;
}

int pipe_decrypt_set_label(PipeFilter *f, const char *label, PgpErr *err)
{
    CryptFilter *c = (CryptFilter *)f;
    char *copy = strdup(label);
    if (copy == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    free(c->label);
    c->label = copy;
    return 0;
}
