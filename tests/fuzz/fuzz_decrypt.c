/*
 * fuzz_decrypt.c - the decryption filter (src/pipe/encrypt.c over src/crypto/stream.c,
 * docs/encryption.md), on the vectors' repository key (00 01 ... 1f) and the name "fuzz".
 * Input: one byte choosing the mode, then
 *   even: one byte of push-size seed, then an encrypted object (the seeds are valid objects):
 *         it decrypts, or fails with PGP_ERR_CORRUPT and a printable one-line message after
 *         releasing only whole chunks; never a crash, a leak or an over-read;
 *   odd:  chunk exponent (6 + byte % 3), a mutation (kind, 2-byte position, 1-byte argument),
 *         then a plaintext, which is encrypted, mutated and decrypted: an object whose bytes
 *         changed must fail with PGP_ERR_CORRUPT, an unchanged one must give the plaintext
 *         back (whatever the push sizes).
 */
#include "fuzz.h"

#include "pgpitr/crypto/secmem.h"
#include "pgpitr/pipe/pipe.h"

typedef struct Out {
    uint8_t *data;
    size_t len;
} Out;

static int out_write(void *ud, const void *p, size_t len, PgpErr *err)
{
    (void)err;
    Out *o = ud;
    uint8_t *d = realloc(o->data, o->len + len);
    if (d == NULL)
        abort();
    memcpy(d + o->len, p, len);
    o->data = d;
    o->len += len;
    return 0;
}

static CryptoRepoKey *fuzz_key(void)
{
    uint8_t raw[CRYPTO_KEY_LEN];
    for (int i = 0; i < CRYPTO_KEY_LEN; i++)
        raw[i] = (uint8_t)i;
    CryptoRepoKey *k = NULL;
    if (crypto_repo_key_from_bytes(raw, &k, NULL) != 0)
        abort();
    return k;
}

/* Through a filter in pushes of sizes from seed; the code of push or finish. */
static int run(PipeFilter *f, const uint8_t *p, size_t len, uint8_t seed, PgpErr *err)
{
    size_t step = 1 + (size_t)seed * 37;
    for (size_t off = 0; off < len; off += step) {
        int rc = pipe_filter_push(f, p + off, len - off < step ? len - off : step, err);
        if (rc != 0)
            return rc;
    }
    return pipe_filter_finish(f, err);
}

static int decrypt(const CryptoRepoKey *k, const uint8_t *p, size_t len, uint8_t seed,
                   Out *out, PgpErr *err)
{
    PipeFilter *f = NULL;
    if (pipe_decrypt_new(k, "fuzz", (PipeSink){out_write, out}, &f, err) != 0)
        abort();
    int rc = run(f, p, len, seed, err);
    pipe_filter_free(f);
    return rc;
}

static void raw_mode(const CryptoRepoKey *k, FuzzIn *in)
{
    uint8_t seed = fuzz_u8(in);
    uint8_t *obj = fuzz_copy(in->p, in->n);
    Out out = {0};
    PgpErr err;
    int rc = decrypt(k, obj, in->n, seed, &out, &err);
    if (rc != 0) {
        fuzz_check_err(rc, &err, PGP_ERR_CORRUPT);
        size_t chunk = in->n > 8 ? (size_t)1 << (in->p[8] & 31) : 1;
        FUZZ_ASSERT(out.len % chunk == 0, "released %zu bytes, not whole chunks", out.len);
    }
    free(obj);
    free(out.data);
}

/* Applies one mutation; false when it leaves the bytes unchanged. */
static bool mutate(uint8_t **p, size_t *len, uint8_t kind, size_t pos, uint8_t arg)
{
    if (*len == 0)
        return false;
    pos %= *len;
    switch (kind % 4) {
    case 0:                                         /* flip bits */
        (*p)[pos] ^= arg;
        return arg != 0;
    case 1:                                         /* cut */
        *len = pos;
        return true;
    case 2: {                                       /* append */
        uint8_t *q = realloc(*p, *len + arg + 1);
        if (q == NULL)
            abort();
        memset(q + *len, arg, (size_t)arg + 1);
        *p = q;
        *len += (size_t)arg + 1;
        return true;
    }
    default: {                                      /* drop arg + 1 bytes at pos */
        size_t n = (size_t)arg + 1 < *len - pos ? (size_t)arg + 1 : *len - pos;
        memmove(*p + pos, *p + pos + n, *len - pos - n);
        *len -= n;
        return n > 0;
    }
    }
}

static void property_mode(const CryptoRepoKey *k, FuzzIn *in)
{
    uint8_t rnd[CRYPTO_STREAM_RANDOM_LEN] = {1, 2, 3};
    CryptoStreamOpts o = {.chunk_shift = 6 + fuzz_u8(in) % 3, .fixed_random = rnd};
    uint8_t kind = fuzz_u8(in), arg = fuzz_u8(in);
    size_t pos = fuzz_u16(in);
    Out ct = {0}, back = {0};
    PipeFilter *f = NULL;
    PgpErr err;
    if (pipe_encrypt_new(k, "fuzz", &o, (PipeSink){out_write, &ct}, &f, &err) != 0 ||
        run(f, in->p, in->n, arg, &err) != 0)
        abort();
    pipe_filter_free(f);
    bool changed = mutate(&ct.data, &ct.len, kind, pos, arg);
    int rc = decrypt(k, ct.data, ct.len, kind, &back, &err);
    if (changed) {
        FUZZ_ASSERT(rc != 0, "altered object (mutation %u at %zu, arg %u) decrypted",
                    kind % 4, pos, arg);
        fuzz_check_err(rc, &err, PGP_ERR_CORRUPT);
    } else {
        FUZZ_ASSERT(rc == 0, "intact object failed: %s", err.msg);
        FUZZ_ASSERT(back.len == in->n && (in->n == 0 || memcmp(back.data, in->p, in->n) == 0),
                    "plaintext differs");
    }
    free(ct.data);
    free(back.data);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    CryptoRepoKey *k = fuzz_key();
    FuzzIn in = {data, size};
    if (fuzz_u8(&in) % 2 == 0)
        raw_mode(k, &in);
    else
        property_mode(k, &in);
    crypto_repo_key_free(k);
    FUZZ_ASSERT(secmem_live() == 0, "key memory left behind");
    return 0;
}
