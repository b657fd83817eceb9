/*
 * stream.c - sealing and opening the chunks of an encrypted object (stream.h; the format is
 * docs/encryption.md's). One object key per object, derived from the repository key and the
 * header's random salt; one GCM context per object holding its key schedule; the chunk
 * counter lives here, so a nonce (prefix, counter, final flag) is never used twice under a
 * key, and an opener checks chunks only in the order they were written.
 */
#include "pgpitr/crypto/stream.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "crypto_impl.h"
#include "gcm.h"
#include "pgpitr/crypto/secmem.h"

#define SALT_OFF 9
#define SALT_LEN 32
#define PREFIX_OFF 41
#define PREFIX_LEN 7
static const char info_object[] = "pgpitr/v1/object-key";
_Static_assert(CRYPTO_KEY_LEN <= SECMEM_SCRATCH_LEN, "the object key fits the scratch");

/* What a sealer and an opener share: they differ only in the direction. */
typedef struct StreamCore {
    GcmCtx *gcm;
    uint8_t prefix[PREFIX_LEN];
    uint64_t counter;           /* the next chunk's number */
    bool done;                  /* the final chunk went through */
    size_t chunk;               /* 2^e */
    uint8_t *ad;                /* header || name */
    size_t ad_len;
} StreamCore;

struct CryptoSealer {
    StreamCore c;
};

struct CryptoOpener {
    StreamCore c;
};

static void core_free(StreamCore *c)
{
    gcm_ctx_free(c->gcm);
    free(c->ad);
}

/* Object key from the header's salt, the AD, the nonce prefix. */
static int core_init(StreamCore *c, const CryptoRepoKey *k, const char *name,
                     const uint8_t header[CRYPTO_STREAM_HEADER_LEN], bool encrypt, PgpErr *err)
{
    size_t name_len = strnlen(name, CRYPTO_STREAM_NAME_MAX + 1);
    if (name_len > CRYPTO_STREAM_NAME_MAX)
        return PGP_FAIL(err, PGP_ERR_INTERNAL, "object name longer than %d bytes",
                        CRYPTO_STREAM_NAME_MAX);
    c->chunk = (size_t)1 << header[8];
    memcpy(c->prefix, header + PREFIX_OFF, PREFIX_LEN);
    c->ad_len = CRYPTO_STREAM_HEADER_LEN + name_len;
    if ((c->ad = malloc(c->ad_len)) == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    memcpy(c->ad, header, CRYPTO_STREAM_HEADER_LEN);
    memcpy(c->ad + CRYPTO_STREAM_HEADER_LEN, name, name_len);
    /* The object key lives only until the cipher context holds its schedule: in this thread's
     * scratch page, not a mapping of its own (secmem.c says why). */
    uint8_t *key = secmem_scratch(err);
    if (key == NULL)
        return PGP_ERR_NOMEM;
    int rc = gcm_hkdf(k->key, CRYPTO_KEY_LEN, header + SALT_OFF, SALT_LEN, info_object,
                      sizeof info_object - 1, key, CRYPTO_KEY_LEN, err);
    if (rc == 0)
        rc = gcm_ctx_new(key, encrypt, &c->gcm, err);
    OPENSSL_cleanse(key, CRYPTO_KEY_LEN);
    return rc;
}

/* prefix || counter (big-endian) || final flag */
static void core_nonce(const StreamCore *c, bool final, uint8_t nonce[GCM_NONCE_LEN])
{
    memcpy(nonce, c->prefix, PREFIX_LEN);
    nonce[7] = (uint8_t)(c->counter >> 24);
    nonce[8] = (uint8_t)(c->counter >> 16);
    nonce[9] = (uint8_t)(c->counter >> 8);
    nonce[10] = (uint8_t)c->counter;
    nonce[11] = final ? 1 : 0;
}

int crypto_sealer_new(const CryptoRepoKey *k, const char *name, const CryptoStreamOpts *opts,
                      uint8_t header[CRYPTO_STREAM_HEADER_LEN], CryptoSealer **out,
                      PgpErr *err)
{
    unsigned shift = opts != NULL && opts->chunk_shift != 0 ? opts->chunk_shift
                                                            : CRYPTO_STREAM_CHUNK_SHIFT;
    if (shift < CRYPTO_STREAM_SHIFT_MIN || shift > CRYPTO_STREAM_SHIFT_MAX)
        return PGP_FAIL(err, PGP_ERR_INTERNAL, "chunk exponent %u out of range", shift);
    memcpy(header, CRYPTO_STREAM_MAGIC, 7);
    header[7] = CRYPTO_STREAM_VERSION;
    header[8] = (uint8_t)shift;
    int rc = 0;
    if (opts != NULL && opts->fixed_random != NULL)
        memcpy(header + SALT_OFF, opts->fixed_random, CRYPTO_STREAM_RANDOM_LEN);
    else if ((rc = gcm_random(header + SALT_OFF, CRYPTO_STREAM_RANDOM_LEN, err)) != 0)
        return rc;
    CryptoSealer *s = calloc(1, sizeof *s);
    if (s == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    if ((rc = core_init(&s->c, k, name, header, true, err)) != 0) {
        crypto_sealer_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

size_t crypto_sealer_chunk_size(const CryptoSealer *s)
{
    return s->c.chunk;
}

int crypto_sealer_seal(CryptoSealer *s, const uint8_t *pt, size_t len, bool final,
                       uint8_t *out, PgpErr *err)
{
    StreamCore *c = &s->c;
    if (c->done || (final ? len > c->chunk : len != c->chunk))
        return PGP_FAIL(err, PGP_ERR_INTERNAL, "encryption: chunk of %zu bytes out of order",
                        len);
    if (c->counter > UINT32_MAX)
        return PGP_FAIL(err, PGP_ERR_INTERNAL, "encryption: object too large (over 2^32 "
                        "chunks of %zu bytes)", c->chunk);
    uint8_t nonce[GCM_NONCE_LEN];
    core_nonce(c, final, nonce);
    int rc = gcm_seal(c->gcm, nonce, c->ad, c->ad_len, pt, len, out, err);
    if (rc != 0)
        return rc;
    c->counter++;
    c->done = final;
    return 0;
}

void crypto_sealer_free(CryptoSealer *s)
{
    if (s == NULL)
        return;
    core_free(&s->c);
    free(s);
}

int crypto_opener_new(const CryptoRepoKey *k, const char *name,
                      const uint8_t header[CRYPTO_STREAM_HEADER_LEN], CryptoOpener **out,
                      PgpErr *err)
{
    if (memcmp(header, CRYPTO_STREAM_MAGIC, 7) != 0)
        return PGP_FAIL(err, PGP_ERR_CORRUPT, "not an encrypted object (no pgpitr header)");
    if (header[7] != CRYPTO_STREAM_VERSION)
        return PGP_FAIL(err, PGP_ERR_CORRUPT, "encrypted object of format version %u, this "
                        "pgpitr reads version %u", header[7], CRYPTO_STREAM_VERSION);
    if (header[8] < CRYPTO_STREAM_SHIFT_MIN || header[8] > CRYPTO_STREAM_SHIFT_MAX)
        return PGP_FAIL(err, PGP_ERR_CORRUPT, "encrypted object header: chunk exponent %u "
                        "out of range", header[8]);
    CryptoOpener *o = calloc(1, sizeof *o);
    if (o == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    int rc = core_init(&o->c, k, name, header, false, err);
    if (rc != 0) {
        crypto_opener_free(o);
        return rc;
    }
    *out = o;
    return 0;
}

size_t crypto_opener_chunk_size(const CryptoOpener *o)
{
    return o->c.chunk;
}

uint64_t crypto_opener_chunks(const CryptoOpener *o)
{
    return o->c.counter;
}

int crypto_opener_open(CryptoOpener *o, const uint8_t *in, size_t len, bool final,
                       uint8_t *out, PgpErr *err)
{
    StreamCore *c = &o->c;
    if (c->done)
        return PGP_FAIL(err, PGP_ERR_CORRUPT, "data after the final chunk");
    if (len < CRYPTO_STREAM_TAG_LEN || len - CRYPTO_STREAM_TAG_LEN > c->chunk ||
        (!final && len - CRYPTO_STREAM_TAG_LEN != c->chunk))
        return PGP_FAIL(err, PGP_ERR_CORRUPT, "chunk %llu is truncated (%zu bytes)",
                        (unsigned long long)c->counter, len);
    if (c->counter > UINT32_MAX)
        return PGP_FAIL(err, PGP_ERR_CORRUPT, "more than 2^32 chunks");
    uint8_t nonce[GCM_NONCE_LEN];
    core_nonce(c, final, nonce);
    int rc = gcm_open(c->gcm, nonce, c->ad, c->ad_len, in, len, out, err);
    if (rc == PGP_ERR_CORRUPT)
        return PGP_FAIL(err, PGP_ERR_CORRUPT, "chunk %llu%s fails authentication (the object "
                        "was altered, cut short, extended, or is read under another name or "
                        "key)", (unsigned long long)c->counter, final ? " (final)" : "");
    if (rc != 0)
        return rc;
    c->counter++;
    c->done = final;
    return 0;
}

void crypto_opener_free(CryptoOpener *o)
{
    if (o == NULL)
        return;
    core_free(&o->c);
    free(o);
}
