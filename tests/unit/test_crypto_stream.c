/*
 * test_crypto_stream.c - encrypted objects (src/crypto/stream.c through the pipe filters of
 * src/pipe/encrypt.c): the checked-in vectors (tests/unit/data/crypto-vectors.json, from an
 * independent implementation of docs/encryption.md), round trips at the sizes around the
 * chunk size with pushes of every kind, and one test per attack: every cut, every flipped
 * bit, dropped / repeated / reordered chunks, a chunk from another object, another name or
 * key, trailing bytes, a missing final chunk, a final chunk followed by more. Each attack
 * must fail with PGP_ERR_CORRUPT and must not have released a byte of plaintext from a chunk
 * that did not verify.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "fx_crypto.h"
#include "fx_err.h"
#include "fx_tool.h"
#include "pgpitr/crypto/secmem.h"
#include "pgpitr/crypto/stream.h"
#include "pgpitr/pipe/pipe.h"

typedef struct Buf {
    uint8_t *data;
    size_t len, cap;
} Buf;

static int buf_write(void *ud, const void *p, size_t len, PgpErr *err)
{
    (void)err;
    Buf *b = ud;
    if (b->len + len > b->cap) {
        b->cap = (b->len + len) * 2;
        b->data = realloc(b->data, b->cap);
        ck_assert_ptr_nonnull(b->data);
    }
    memcpy(b->data + b->len, p, len);
    b->len += len;
    return 0;
}

static void buf_put(Buf *b, const void *p, size_t len)
{
    buf_write(b, p, len, NULL);
}

/* Deterministic pseudo-random bytes and push sizes (xorshift). */
static uint64_t rng_state = 88172645463325252ull;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Pushes len bytes in pieces: step 0 = all at once, SIZE_MAX = random sizes, else step. */
static int push_all(PipeFilter *f, const uint8_t *p, size_t len, size_t step, PgpErr *err)
{
    while (len > 0) {
        size_t n = step == 0 ? len : step == SIZE_MAX ? 1 + rng() % (3 * len / 2 + 1) : step;
        if (n > len)
            n = len;
        int rc = pipe_filter_push(f, p, n, err);
        if (rc != 0)
            return rc;
        p += n;
        len -= n;
    }
    return pipe_filter_finish(f, err);
}

static Buf encrypt(const CryptoRepoKey *k, const char *name, unsigned shift,
                   const uint8_t *rnd, const uint8_t *pt, size_t len, size_t step)
{
    Buf out = {0};
    PipeFilter *f = NULL;
    PgpErr err;
    CryptoStreamOpts o = {.chunk_shift = shift, .fixed_random = rnd};
    ck_assert_int_eq(pipe_encrypt_new(k, name, &o, (PipeSink){buf_write, &out}, &f, &err), 0);
    ck_assert_msg(push_all(f, pt, len, step, &err) == 0, "%s", err.msg);
    pipe_filter_free(f);
    return out;
}

/* Decrypts into *out; returns the code. */
static int decrypt(const CryptoRepoKey *k, const char *name, const uint8_t *ct, size_t len,
                   size_t step, Buf *out, PgpErr *err)
{
    PipeFilter *f = NULL;
    ck_assert_int_eq(pipe_decrypt_new(k, name, (PipeSink){buf_write, out}, &f, err), 0);
    int rc = push_all(f, ct, len, step, err);
    pipe_filter_free(f);
    return rc;
}

/* ---------- vectors ---------- */

START_TEST(test_vectors)
{
    json_t *v = fx_crypto_vectors();
    CryptoRepoKey *k = fx_crypto_repo_key();
    json_t *objs = json_object_get(v, "objects"), *o;
    size_t i;
    ck_assert_int_ge(json_array_size(objs), 4);
    json_array_foreach(objs, i, o) {
        size_t plen, olen, rlen;
        uint8_t *pt = fx_crypto_hex(o, "plaintext", &plen);
        uint8_t *obj = fx_crypto_hex(o, "object", &olen);
        uint8_t *rnd = fx_crypto_hex(o, "random", &rlen);
        const char *name = json_string_value(json_object_get(o, "name"));
        unsigned shift = (unsigned)json_integer_value(json_object_get(o, "shift"));
        ck_assert_int_eq(rlen, CRYPTO_STREAM_RANDOM_LEN);
        for (size_t step = 0; step < 3; step++) {   /* whole, 1-byte and 7-byte pushes */
            Buf ct = encrypt(k, name, shift, rnd, pt, plen, step == 2 ? 7 : step);
            ck_assert_msg(ct.len == olen && memcmp(ct.data, obj, olen) == 0,
                          "vector \"%s\": ciphertext differs", name);
            free(ct.data);
            Buf back = {0};
            PgpErr err;
            ck_assert_int_eq(decrypt(k, name, obj, olen, step == 2 ? 7 : step, &back, &err), 0);
            ck_assert(back.len == plen && (plen == 0 || memcmp(back.data, pt, plen) == 0));
            free(back.data);
        }
        free(pt);
        free(obj);
        free(rnd);
    }
    crypto_repo_key_free(k);
    json_decref(v);
    ck_assert_int_eq(secmem_live(), 0);
}
END_TEST

/* ---------- round trips ---------- */

static const size_t rt_sizes[] = {0, 1, 65535, 65536, 65537, 3 * 65536 + 5, 1000000};

START_TEST(test_roundtrip)
{
    size_t len = rt_sizes[_i];
    CryptoRepoKey *k = NULL;
    PgpErr err;
    ck_assert_int_eq(crypto_repo_key_generate(&k, &err), 0);
    uint8_t *pt = malloc(len + 1);
    for (size_t i = 0; i < len; i++)
        pt[i] = (uint8_t)rng();
    const size_t steps[] = {0, SIZE_MAX, 4096, 65536, 65537, 1};
    for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
        if (steps[s] == 1 && len > 70000)
            continue;       /* byte by byte: only around one chunk */
        Buf ct = encrypt(k, "base/1/file", 0, NULL, pt, len, steps[s]);
        size_t chunks = len == 0 ? 1 : (len + 65535) / 65536;
        ck_assert_uint_eq(ct.len, CRYPTO_STREAM_HEADER_LEN + len + 16 * chunks);
        Buf back = {0};
        ck_assert_msg(decrypt(k, "base/1/file", ct.data, ct.len, steps[(s + 1) % 6], &back,
                              &err) == 0, "size %zu: %s", len, err.msg);
        ck_assert(back.len == len && (len == 0 || memcmp(back.data, pt, len) == 0));
        free(back.data);
        free(ct.data);
    }
    free(pt);
    crypto_repo_key_free(k);
}
END_TEST

/* Objects sealed and opened one after another on one thread make no key mapping of their own:
 * the per-object key goes through the thread's scratch page. A mapping per object (mmap,
 * mlock, madvise, munlock, munmap and a TLB shootdown in a threaded process) was most of what
 * encryption added to a restore of many small objects. The scratch holds no key afterwards. */
START_TEST(test_object_keys_use_scratch)
{
    CryptoRepoKey *k = fx_crypto_repo_key();
    const uint8_t pt[] = "one small object";
    PgpErr err;
    Buf ct = encrypt(k, "warm-up", 0, NULL, pt, sizeof pt, 0);   /* makes the scratch page */
    free(ct.data);
    long maps = secmem_mappings();
    for (int i = 0; i < 50; i++) {
        ct = encrypt(k, "base/1/file", 0, NULL, pt, sizeof pt, 0);
        Buf back = {0};
        ck_assert_int_eq(decrypt(k, "base/1/file", ct.data, ct.len, 0, &back, &err), 0);
        ck_assert(back.len == sizeof pt && memcmp(back.data, pt, sizeof pt) == 0);
        free(back.data);
        free(ct.data);
    }
    ck_assert_int_eq(secmem_mappings() - maps, 0);
    const uint8_t *scratch = secmem_scratch(&err);
    ck_assert_ptr_nonnull(scratch);
    for (size_t i = 0; i < SECMEM_SCRATCH_LEN; i++)
        ck_assert_uint_eq(scratch[i], 0);
    crypto_repo_key_free(k);
    ck_assert_int_eq(secmem_live(), 0);
}
END_TEST

/* Two encryptions of the same bytes differ (fresh salt and nonce prefix). */
START_TEST(test_fresh_randomness)
{
    CryptoRepoKey *k = fx_crypto_repo_key();
    Buf a = encrypt(k, "x", 0, NULL, (const uint8_t *)"same", 4, 0);
    Buf b = encrypt(k, "x", 0, NULL, (const uint8_t *)"same", 4, 0);
    ck_assert_uint_eq(a.len, b.len);
    ck_assert(memcmp(a.data + 9, b.data + 9, CRYPTO_STREAM_RANDOM_LEN) != 0);
    ck_assert(memcmp(a.data + 48, b.data + 48, a.len - 48) != 0);
    free(a.data);
    free(b.data);
    crypto_repo_key_free(k);
}
END_TEST

/* Compress, then encrypt; decrypt, then decompress. */
START_TEST(test_chain_with_zstd)
{
    CryptoRepoKey *k = fx_crypto_repo_key();
    size_t len = 300000;
    uint8_t *pt = malloc(len);
    for (size_t i = 0; i < len; i++)
        pt[i] = (uint8_t)(i % 251 < 200 ? 'a' : rng());
    Buf stored = {0}, back = {0};
    PipeFilter *enc = NULL, *zc = NULL, *dec = NULL, *zd = NULL;
    PgpErr err;
    ck_assert_int_eq(pipe_encrypt_new(k, "wal/x.zst", NULL, (PipeSink){buf_write, &stored},
                                      &enc, &err), 0);
    ck_assert_int_eq(pipe_compress_new(PIPE_CODEC_ZSTD, 1, 0, pipe_filter_sink(enc), &zc,
                                       &err), 0);
    ck_assert_int_eq(push_all(zc, pt, len, 10000, &err), 0);
    ck_assert_uint_lt(stored.len, len / 2);
    ck_assert_int_eq(pipe_decompress_new(PIPE_CODEC_ZSTD, (PipeSink){buf_write, &back}, &zd,
                                         &err), 0);
    ck_assert_int_eq(pipe_decrypt_new(k, "wal/x.zst", pipe_filter_sink(zd), &dec, &err), 0);
    ck_assert_int_eq(push_all(dec, stored.data, stored.len, 0, &err), 0);
    ck_assert(back.len == len && memcmp(back.data, pt, len) == 0);
    pipe_filter_free(enc);
    pipe_filter_free(zc);
    pipe_filter_free(dec);
    pipe_filter_free(zd);
    free(stored.data);
    free(back.data);
    free(pt);
    crypto_repo_key_free(k);
}
END_TEST

/* ---------- attacks ---------- */

/* Objects of 64-byte chunks (records of 80 bytes) for the attacks. */
#define A_SHIFT 6
#define A_CHUNK 64
#define A_REC (A_CHUNK + CRYPTO_STREAM_TAG_LEN)
#define A_NAME "wal/000000010000000000000001.zst"

typedef struct Victim {
    CryptoRepoKey *k;
    uint8_t *pt;
    size_t pt_len;
    Buf ct;
} Victim;

static Victim victim(size_t pt_len)
{
    Victim v = {.k = fx_crypto_repo_key(), .pt_len = pt_len};
    v.pt = malloc(pt_len + 1);
    for (size_t i = 0; i < pt_len; i++)
        v.pt[i] = (uint8_t)rng();
    v.ct = encrypt(v.k, A_NAME, A_SHIFT, NULL, v.pt, pt_len, 0);
    return v;
}

static void victim_free(Victim *v)
{
    crypto_repo_key_free(v->k);
    free(v->pt);
    free(v->ct.data);
}

/* Offset of chunk i's record. */
static size_t rec_off(size_t i)
{
    return CRYPTO_STREAM_HEADER_LEN + i * A_REC;
}

/* Decrypting ct (whole, then in random pieces) fails with PGP_ERR_CORRUPT, after handing on
 * at most max_ok bytes, all of them whole verified chunks of the victim's plaintext. */
static void expect_corrupt_as(const Victim *v, const CryptoRepoKey *k, const char *name,
                              const uint8_t *ct, size_t len, size_t max_ok)
{
    for (int pass = 0; pass < 2; pass++) {
        Buf out = {0};
        PgpErr err;
        int rc = decrypt(k, name, ct, len, pass == 0 ? 0 : SIZE_MAX, &out, &err);
        ck_assert_msg(rc == PGP_ERR_CORRUPT, "decrypted (rc %d) an altered object of %zu "
                      "bytes", rc, len);
        fx_assert_printable_err(&err, NULL);
        ck_assert_msg(out.len <= max_ok && out.len % A_CHUNK == 0,
                      "released %zu bytes (at most %zu verified)", out.len, max_ok);
        ck_assert(out.len == 0 || memcmp(out.data, v->pt, out.len) == 0);
        free(out.data);
    }
}

static void expect_corrupt(const Victim *v, const uint8_t *ct, size_t len, size_t max_ok)
{
    expect_corrupt_as(v, v->k, A_NAME, ct, len, max_ok);
}

/* Whole chunks before byte pos of the object. */
static size_t chunks_before(size_t pos)
{
    return pos <= CRYPTO_STREAM_HEADER_LEN ? 0 : (pos - CRYPTO_STREAM_HEADER_LEN) / A_REC;
}

static const size_t attack_sizes[] = {0, 1, 5 * A_CHUNK, 5 * A_CHUNK + 10};

/* Truncation at every length: at chunk boundaries, inside chunks, inside the header. */
START_TEST(test_truncated_everywhere)
{
    Victim v = victim(attack_sizes[_i]);
    for (size_t cut = 0; cut < v.ct.len; cut += fx_cut_step(3))
        expect_corrupt(&v, v.ct.data, cut, chunks_before(cut) * A_CHUNK);
    victim_free(&v);
}
END_TEST

/* One flipped bit anywhere: header, ciphertext, tag. */
START_TEST(test_bitflip_everywhere)
{
    Victim v = victim(attack_sizes[_i]);
    uint8_t *copy = malloc(v.ct.len);
    for (size_t pos = 0; pos < v.ct.len; pos += fx_cut_step(5)) {
        for (int bit = 0; bit < 8; bit += fx_under_memory_tool() ? 3 : 1) {
            memcpy(copy, v.ct.data, v.ct.len);
            copy[pos] ^= (uint8_t)(1u << bit);
            expect_corrupt(&v, copy, v.ct.len, chunks_before(pos) * A_CHUNK);
        }
    }
    free(copy);
    victim_free(&v);
}
END_TEST

/* Builds header + the victim's chunks in the order `order` (indexes, -1 ends). */
static Buf reassemble(const Victim *v, const int *order)
{
    Buf b = {0};
    size_t n = (v->ct.len - CRYPTO_STREAM_HEADER_LEN + A_REC - 1) / A_REC;
    buf_put(&b, v->ct.data, CRYPTO_STREAM_HEADER_LEN);
    for (const int *i = order; *i >= 0; i++) {
        ck_assert_uint_lt((size_t)*i, n);
        size_t end = rec_off((size_t)*i + 1) < v->ct.len ? rec_off((size_t)*i + 1) : v->ct.len;
        buf_put(&b, v->ct.data + rec_off((size_t)*i), end - rec_off((size_t)*i));
    }
    return b;
}

START_TEST(test_dropped_repeated_reordered)
{
    Victim v = victim(5 * A_CHUNK + 10);     /* chunks 0-4 full, 5 final */
    const struct {
        int order[9];
        size_t max_ok;
    } cases[] = {
        {{1, 2, 3, 4, 5, -1}, 0},               /* dropped first */
        {{0, 1, 3, 4, 5, -1}, 2 * A_CHUNK},     /* dropped middle */
        {{0, 1, 2, 3, 5, -1}, 4 * A_CHUNK},     /* dropped last full chunk */
        {{0, 1, 2, 3, 4, -1}, 4 * A_CHUNK},     /* dropped final */
        {{0, 0, 1, 2, 3, 4, 5, -1}, A_CHUNK},   /* repeated first */
        {{0, 1, 2, 2, 3, 4, 5, -1}, 3 * A_CHUNK},
        {{0, 1, 2, 3, 4, 5, 5, -1}, 5 * A_CHUNK},   /* repeated final */
        {{1, 0, 2, 3, 4, 5, -1}, 0},            /* swapped */
        {{0, 1, 3, 2, 4, 5, -1}, 2 * A_CHUNK},
        {{0, 1, 2, 3, 5, 4, -1}, 4 * A_CHUNK},  /* final before the last full one */
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        Buf b = reassemble(&v, cases[c].order);
        expect_corrupt(&v, b.data, b.len, cases[c].max_ok);
        free(b.data);
    }
    /* The untouched order decrypts: reassemble itself is right. */
    static const int all[] = {0, 1, 2, 3, 4, 5, -1};
    Buf b = reassemble(&v, all);
    ck_assert(b.len == v.ct.len && memcmp(b.data, v.ct.data, b.len) == 0);
    free(b.data);
    victim_free(&v);
}
END_TEST

/* A chunk (or the header) of another object of the same repository, same name, same
 * plaintext: its salt differs, so its key does. */
START_TEST(test_spliced_from_another_object)
{
    Victim v = victim(5 * A_CHUNK + 10);
    Buf other = encrypt(v.k, A_NAME, A_SHIFT, NULL, v.pt, v.pt_len, 0);
    ck_assert_uint_eq(other.len, v.ct.len);
    uint8_t *mix = malloc(v.ct.len);
    for (size_t i = 0; i < 6; i++) {
        memcpy(mix, v.ct.data, v.ct.len);
        size_t end = i == 5 ? v.ct.len : rec_off(i + 1);
        memcpy(mix + rec_off(i), other.data + rec_off(i), end - rec_off(i));
        expect_corrupt(&v, mix, v.ct.len, i * A_CHUNK);
    }
    memcpy(mix, v.ct.data, v.ct.len);
    memcpy(mix, other.data, CRYPTO_STREAM_HEADER_LEN);      /* the other's header */
    expect_corrupt(&v, mix, v.ct.len, 0);
    free(mix);
    free(other.data);
    victim_free(&v);
}
END_TEST

/* The object renamed (read under another name), or read with another repository key. */
START_TEST(test_renamed_or_other_key)
{
    Victim v = victim(5 * A_CHUNK + 10);
    const char *names[] = {"wal/000000010000000000000002.zst", "wal/00000001000000000000000",
                           A_NAME "x", "", "WAL/000000010000000000000001.zst",
                           "bad\nname\x01"};    /* quoted in the message: still one line */
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        expect_corrupt_as(&v, v.k, names[i], v.ct.data, v.ct.len, 0);
    CryptoRepoKey *other = NULL;
    ck_assert_int_eq(crypto_repo_key_generate(&other, NULL), 0);
    expect_corrupt_as(&v, other, A_NAME, v.ct.data, v.ct.len, 0);
    crypto_repo_key_free(other);
    /* An empty object renamed too: its one (empty, final) chunk carries the name. */
    Victim e = victim(0);
    expect_corrupt_as(&e, e.k, "another", e.ct.data, e.ct.len, 0);
    victim_free(&e);
    victim_free(&v);
}
END_TEST

START_TEST(test_trailing_bytes)
{
    Victim v = victim(attack_sizes[_i]);
    const size_t extra[] = {1, 15, 16, A_REC - 1, A_REC, A_REC + 1, 300};
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++) {
        Buf b = {0};
        buf_put(&b, v.ct.data, v.ct.len);
        for (size_t j = 0; j < extra[i]; j++)
            buf_put(&b, &v.ct.data[(j * 7) % v.ct.len], 1);
        expect_corrupt(&v, b.data, b.len, v.pt_len / A_CHUNK * A_CHUNK);
        free(b.data);
    }
    victim_free(&v);
}
END_TEST

/* Chunks sealed by the core directly, to make objects the filters never write. */
static void seal_into(CryptoSealer *s, Buf *b, const uint8_t *pt, size_t len, bool final)
{
    uint8_t out[A_REC];
    PgpErr err;
    ck_assert_int_eq(crypto_sealer_seal(s, pt, len, final, out, &err), 0);
    buf_put(b, out, len + CRYPTO_STREAM_TAG_LEN);
}

/* An object whose writer stopped before its final chunk: every chunk is whole and
 * authentic, yet the object is incomplete. */
START_TEST(test_missing_final_chunk)
{
    Victim v = victim(3 * A_CHUNK);
    uint8_t header[CRYPTO_STREAM_HEADER_LEN];
    CryptoSealer *s = NULL;
    CryptoStreamOpts o = {.chunk_shift = A_SHIFT};
    ck_assert_int_eq(crypto_sealer_new(v.k, A_NAME, &o, header, &s, NULL), 0);
    Buf b = {0};
    buf_put(&b, header, sizeof header);
    for (int i = 0; i < 3; i++)
        seal_into(s, &b, v.pt + i * A_CHUNK, A_CHUNK, false);
    expect_corrupt(&v, b.data, b.len, 2 * A_CHUNK);
    /* ... and the same with its final chunk: it decrypts. */
    seal_into(s, &b, NULL, 0, true);
    Buf out = {0};
    PgpErr err;
    ck_assert_int_eq(decrypt(v.k, A_NAME, b.data, b.len, 0, &out, &err), 0);
    ck_assert(out.len == v.pt_len && memcmp(out.data, v.pt, out.len) == 0);
    /* Nothing can be sealed after the final chunk. */
    uint8_t tmp[A_REC];
    ck_assert_int_eq(crypto_sealer_seal(s, v.pt, 1, true, tmp, &err), PGP_ERR_INTERNAL);
    free(out.data);
    free(b.data);
    crypto_sealer_free(s);
    victim_free(&v);
}
END_TEST

/* A final chunk followed by more authentic chunks (two writers that used the same salt, which
 * only the test seam allows): the final flag in the nonce catches it. */
START_TEST(test_final_chunk_then_more)
{
    Victim v = victim(2 * A_CHUNK);
    uint8_t rnd[CRYPTO_STREAM_RANDOM_LEN] = {7};
    uint8_t ha[CRYPTO_STREAM_HEADER_LEN], hb[CRYPTO_STREAM_HEADER_LEN];
    CryptoSealer *a = NULL, *b = NULL;
    CryptoStreamOpts o = {.chunk_shift = A_SHIFT, .fixed_random = rnd};
    ck_assert_int_eq(crypto_sealer_new(v.k, A_NAME, &o, ha, &a, NULL), 0);
    ck_assert_int_eq(crypto_sealer_new(v.k, A_NAME, &o, hb, &b, NULL), 0);
    ck_assert(memcmp(ha, hb, sizeof ha) == 0);
    Buf ca = {0}, cb = {0};
    seal_into(a, &ca, v.pt, A_CHUNK, true);                   /* a: one final chunk */
    seal_into(b, &cb, v.pt, A_CHUNK, false);                  /* b: two chunks */
    seal_into(b, &cb, v.pt + A_CHUNK, A_CHUNK, true);
    Buf mix = {0};
    buf_put(&mix, ha, sizeof ha);
    buf_put(&mix, ca.data, ca.len);
    buf_put(&mix, cb.data + A_REC, A_REC);
    expect_corrupt(&v, mix.data, mix.len, 0);
    /* The opener refuses anything after a final chunk it verified. */
    CryptoOpener *op = NULL;
    uint8_t out[A_CHUNK];
    PgpErr err;
    ck_assert_int_eq(crypto_opener_new(v.k, A_NAME, ha, &op, &err), 0);
    ck_assert_int_eq(crypto_opener_open(op, ca.data, ca.len, true, out, &err), 0);
    ck_assert_int_eq(crypto_opener_open(op, ca.data, ca.len, true, out, &err), PGP_ERR_CORRUPT);
    fx_assert_printable_err(&err, "after the final chunk");
    crypto_opener_free(op);
    crypto_sealer_free(a);
    crypto_sealer_free(b);
    free(ca.data);
    free(cb.data);
    free(mix.data);
    victim_free(&v);
}
END_TEST

/* What the header check says before any chunk: not ours, a future version, a bad exponent;
 * and nothing at all. */
START_TEST(test_header_refusals)
{
    Victim v = victim(10);
    struct {
        size_t off;
        uint8_t value;
        const char *needle;
    } cases[] = {
        {0, 'X', "not an encrypted object"},
        {7, 2, "format version 2"},
        {8, 5, "chunk exponent 5"},
        {8, 25, "chunk exponent 25"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t saved = v.ct.data[cases[i].off];
        v.ct.data[cases[i].off] = cases[i].value;
        Buf out = {0};
        PgpErr err;
        ck_assert_int_eq(decrypt(v.k, A_NAME, v.ct.data, v.ct.len, 0, &out, &err),
                         PGP_ERR_CORRUPT);
        fx_assert_printable_err(&err, cases[i].needle);
        ck_assert_uint_eq(out.len, 0);
        v.ct.data[cases[i].off] = saved;
    }
    Buf out = {0};
    PgpErr err;
    ck_assert_int_eq(decrypt(v.k, A_NAME, v.ct.data, 0, 0, &out, &err), PGP_ERR_CORRUPT);
    fx_assert_printable_err(&err, "truncated");
    victim_free(&v);
}
END_TEST

/* The filters keep no key material alive after they are freed; a sealer with a bad
 * exponent or an over-long name is refused. */
START_TEST(test_misuse)
{
    CryptoRepoKey *k = fx_crypto_repo_key();
    uint8_t header[CRYPTO_STREAM_HEADER_LEN];
    CryptoSealer *s = NULL;
    PgpErr err;
    CryptoStreamOpts o = {.chunk_shift = 30};
    ck_assert_int_eq(crypto_sealer_new(k, "x", &o, header, &s, &err), PGP_ERR_INTERNAL);
    char *longname = malloc(CRYPTO_STREAM_NAME_MAX + 2);
    memset(longname, 'a', CRYPTO_STREAM_NAME_MAX + 1);
    longname[CRYPTO_STREAM_NAME_MAX + 1] = '\0';
    ck_assert_int_eq(crypto_sealer_new(k, longname, NULL, header, &s, &err), PGP_ERR_INTERNAL);
    longname[CRYPTO_STREAM_NAME_MAX] = '\0';
    ck_assert_int_eq(crypto_sealer_new(k, longname, NULL, header, &s, &err), 0);
    uint8_t out[100];
    ck_assert_int_eq(crypto_sealer_seal(s, out, 10, false, out, &err), PGP_ERR_INTERNAL);
    crypto_sealer_free(s);
    free(longname);
    crypto_repo_key_free(k);
    ck_assert_int_eq(secmem_live(), 0);
}
END_TEST

Suite *suite_crypto_stream(void)
{
    Suite *s = suite_create("crypto_stream");
    TCase *tc = tcase_create("format");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_vectors);
    tcase_add_loop_test(tc, test_roundtrip, 0, sizeof rt_sizes / sizeof rt_sizes[0]);
    tcase_add_test(tc, test_fresh_randomness);
    tcase_add_test(tc, test_object_keys_use_scratch);
    tcase_add_test(tc, test_chain_with_zstd);
    suite_add_tcase(s, tc);

    tc = tcase_create("attacks");
    tcase_set_timeout(tc, 300);
    size_t n = sizeof attack_sizes / sizeof attack_sizes[0];
    tcase_add_loop_test(tc, test_truncated_everywhere, 0, (int)n);
    tcase_add_loop_test(tc, test_bitflip_everywhere, 0, (int)n);
    tcase_add_test(tc, test_dropped_repeated_reordered);
    tcase_add_test(tc, test_spliced_from_another_object);
    tcase_add_test(tc, test_renamed_or_other_key);
    tcase_add_loop_test(tc, test_trailing_bytes, 0, (int)n);
    tcase_add_test(tc, test_missing_final_chunk);
    tcase_add_test(tc, test_final_chunk_then_more);
    tcase_add_test(tc, test_header_refusals);
    tcase_add_test(tc, test_misuse);
    suite_add_tcase(s, tc);
    return s;
}
