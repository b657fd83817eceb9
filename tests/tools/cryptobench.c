/*
 * cryptobench.c - `make bench` (BENCH_ONLY=crypto): MB/s of the encryption and decryption
 * filters (src/pipe/encrypt.c, AES-256-GCM in 64 KiB chunks) over 64 MiB in 1 MiB pushes,
 * side by side with SHA-256 and zstd level 1 (what archive-push already pays per byte), best
 * of a few runs, in one process. A bench tool, not part of pgpitr; it asserts nothing but
 * that decryption gives the plaintext back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pgpitr/pipe/pipe.h"

#define TOTAL (64u << 20)
#define PUSH (1u << 20)
#define RUNS 3

typedef struct Sink {
    unsigned char *buf;     /* NULL: discard */
    size_t len;
} Sink;

static int sink_write(void *ud, const void *p, size_t len, PgpErr *err)
{
    (void)err;
    Sink *s = ud;
    if (s->buf != NULL)
        memcpy(s->buf + s->len, p, len);
    s->len += len;
    return 0;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Pushes len bytes through f in PUSH pieces; seconds taken, or -1 on an error. */
static double run(PipeFilter *f, const unsigned char *p, size_t len)
{
    PgpErr err;
    double t0 = now();
    for (size_t off = 0; off < len; off += PUSH)
        if (pipe_filter_push(f, p + off, len - off < PUSH ? len - off : PUSH, &err) != 0)
            goto fail;
    if (pipe_filter_finish(f, &err) != 0)
        goto fail;
    return now() - t0;
fail:
    fprintf(stderr, "cryptobench: %s\n", err.msg);
    return -1;
}

/* WAL-like input: 8 KiB pages of 8-byte words drawn from a small set, a quarter of each page
 * noise (zstd -1 gets about 3:1, near what it gets on pgbench WAL). */
static unsigned char *make_input(void)
{
    static const char words[16][9] = {"INSERT  ", "accounts", "00000000", "abalance",
                                      "        ", "filler  ", "\x01\x02\x03\x04\x05\x06\x07\x08",
                                      "tellers ", "branches", "history ", "00000001",
                                      "UPDATE  ", "\0\0\0\0\0\0\0\0", "pgbench ", "aid=1234",
                                      "delta=-5"};
    unsigned char *p = malloc(TOTAL);
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; p != NULL && i < TOTAL; i += 8) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        if (i % 8192 < 2048)
            memcpy(p + i, &x, 8);
        else
            memcpy(p + i, words[x % 16], 8);
    }
    return p;
}

static void report(const char *what, double best)
{
    printf("  %-26s %8.0f MB/s\n", what, (double)TOTAL / best / 1e6);
}

int main(void)
{
    unsigned char *in = make_input(), *ct = malloc(TOTAL + TOTAL / 1024 + 4096);
    unsigned char *back = malloc(TOTAL);
    CryptoRepoKey *k = NULL;
    PgpErr err;
    if (in == NULL || ct == NULL || back == NULL || crypto_repo_key_generate(&k, &err) != 0)
        return 1;
    double best[4] = {1e9, 1e9, 1e9, 1e9};
    Sink cs = {0}, bs = {0};
    for (int r = 0; r < RUNS; r++) {
        PipeFilter *f[4] = {NULL};
        Sink null_sink = {0};
        cs = (Sink){ct, 0};
        bs = (Sink){back, 0};
        if (pipe_encrypt_new(k, "bench", NULL, (PipeSink){sink_write, &cs}, &f[0], &err) != 0 ||
            pipe_decrypt_new(k, "bench", (PipeSink){sink_write, &bs}, &f[1], &err) != 0 ||
            pipe_sha256_new((PipeSink){sink_write, &null_sink}, &f[2], &err) != 0 ||
            pipe_compress_new(PIPE_CODEC_ZSTD, 1, 0, (PipeSink){sink_write, &null_sink}, &f[3],
                              &err) != 0)
            return 1;
        double t[4] = {run(f[0], in, TOTAL), 0, run(f[2], in, TOTAL), run(f[3], in, TOTAL)};
        t[1] = run(f[1], ct, cs.len);
        for (int i = 0; i < 4; i++) {
            if (t[i] < 0)
                return 1;
            best[i] = t[i] < best[i] ? t[i] : best[i];
            pipe_filter_free(f[i]);
        }
    }
    if (bs.len != TOTAL || memcmp(back, in, TOTAL) != 0) {
        fprintf(stderr, "cryptobench: decryption did not give the input back\n");
        return 1;
    }
    printf("encryption filters: 64 MiB in 1 MiB pushes, best of %d (noisy, shared machine)\n",
           RUNS);
    report("aes-256-gcm encrypt", best[0]);
    report("aes-256-gcm decrypt", best[1]);
    report("sha-256 (reference)", best[2]);
    report("zstd -1 compress (ref.)", best[3]);
    printf("  encrypt is %.1fx as fast as zstd -1; overhead %zu bytes (%.3f%%)\n",
           best[3] / best[0], cs.len - TOTAL, 100.0 * (double)(cs.len - TOTAL) / TOTAL);
    crypto_repo_key_free(k);
    free(in);
    free(ct);
    free(back);
    return 0;
}
