/*
 * sha256.c - SHA-256 through OpenSSL EVP (which uses the CPU's SHA extensions): the
 * pass-through hashing filter, the one-shot pipe_sha256_buf, the hex helpers, and the async
 * job that hashes a buffer on its own pthread so hashing overlaps compression.
 */
#include "filter_impl.h"

#include <assert.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct Sha256Filter {
    PipeFilter base;
    EVP_MD_CTX *ctx;
    uint8_t digest[PIPE_SHA256_LEN];
} Sha256Filter;

static int sha256_push(PipeFilter *f, const void *buf, size_t len, PgpErr *err)
{
    Sha256Filter *s = (Sha256Filter *)f;
    if (EVP_DigestUpdate(s->ctx, buf, len) != 1)
        return PGP_FAIL(err, PGP_ERR_INTERNAL, "sha-256 update failed");
    return filter_emit(f, buf, len, err);
}

static int sha256_finish(PipeFilter *f, PgpErr *err)
{
    Sha256Filter *s = (Sha256Filter *)f;
    if (EVP_DigestFinal_ex(s->ctx, s->digest, NULL) != 1)
        return PGP_FAIL(err, PGP_ERR_INTERNAL, "sha-256 finalization failed");
    return 0;
}

static void sha256_destroy(PipeFilter *f)
{
    EVP_MD_CTX_free(((Sha256Filter *)f)->ctx);
}

static const PipeFilterOps sha256_ops = { "sha-256", sha256_push, sha256_finish, sha256_destroy };

int pipe_sha256_new(PipeSink next, PipeFilter **out, PgpErr *err)
{
    *out = NULL;
    Sha256Filter *s = filter_alloc(sizeof *s, &sha256_ops, next, err);
    if (s == NULL)
        return PGP_ERR_NOMEM;
    s->ctx = EVP_MD_CTX_new();
    if (s->ctx == NULL || EVP_DigestInit_ex(s->ctx, EVP_sha256(), NULL) != 1) {
        pipe_filter_free(&s->base);
        return PGP_FAIL(err, PGP_ERR_NOMEM, "cannot set up a sha-256 context");
    }
    *out = &s->base;
    return 0;
}

void pipe_sha256_result(const PipeFilter *f, uint8_t digest[PIPE_SHA256_LEN])
{
    assert(f->ops == &sha256_ops && f->state == FILTER_FINISHED);
    memcpy(digest, ((const Sha256Filter *)f)->digest, PIPE_SHA256_LEN);
}

int pipe_sha256_buf(const void *buf, size_t len, uint8_t digest[PIPE_SHA256_LEN], PgpErr *err)
{
    /* Only an allocation failure inside OpenSSL can make this fail; the digest is then
     * garbage, so the error must reach the caller, who must not use it. */
    if (EVP_Digest(buf, len, digest, NULL, EVP_sha256(), NULL) != 1)
        return PGP_FAIL(err, PGP_ERR_INTERNAL, "sha-256 computation failed");
    return 0;
}

void pipe_hex(const uint8_t *bytes, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 0xf];
    }
    out[2 * n] = '\0';
}

/* --- async job --- */

struct PipeHashJob {
    pthread_t thread;
    const void *buf;
    size_t len;
    uint8_t digest[PIPE_SHA256_LEN];
    int rc;
    PgpErr err;         /* written by the worker, read after join */
};

static void *hash_job_main(void *arg)
{
    PipeHashJob *job = arg;
    job->rc = pipe_sha256_buf(job->buf, job->len, job->digest, &job->err);
    return NULL;
}

int pipe_sha256_async(const void *buf, size_t len, PipeHashJob **out, PgpErr *err)
{
    *out = NULL;
    PipeHashJob *job = calloc(1, sizeof *job);
    if (job == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "cannot allocate a sha-256 job");
    job->buf = buf;
    job->len = len;
    int e = pthread_create(&job->thread, NULL, hash_job_main, job);
    if (e != 0) {
        free(job);
        return PGP_FAIL_SYS(err, e, "cannot start a sha-256 thread");
    }
    *out = job;
    return 0;
}

int pipe_sha256_join(PipeHashJob *job, uint8_t digest[PIPE_SHA256_LEN], PgpErr *err)
{
    if (job == NULL)
        return 0;
    pthread_join(job->thread, NULL);
    int rc = job->rc;
    if (rc == 0)
        memcpy(digest, job->digest, PIPE_SHA256_LEN);
    else if (err != NULL)
        *err = job->err;
    free(job);
    return rc;
}
