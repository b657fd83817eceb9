/*
 * chunker.c - the chunking filter (chunker.h): fixed-size chunks of the stream, each hashed
 * with SHA-256 (OpenSSL EVP, pipe_sha256_buf) and handed to the caller's callback, bytes
 * passed on unchanged. Knows nothing of objects or the repository.
 */
#include "pgpitr/pipe/chunker.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "filter_impl.h"

typedef struct Chunker {
    PipeFilter base;
    size_t chunk_size;
    PipeChunkFn on_chunk;
    void *ud;
    uint8_t *buf;           /* the chunk being completed across pushes, fill bytes of it */
    size_t fill;
    uint64_t count;
} Chunker;

static int deliver(Chunker *c, const void *data, size_t len, PgpErr *err)
{
    uint8_t digest[PIPE_SHA256_LEN];
    int rc = pipe_sha256_buf(data, len, digest, err);
    if (rc == 0)
        rc = c->on_chunk(c->ud, c->count, data, len, digest, err);
    if (rc == 0)
        c->count++;
    return rc;
}

static int chunker_push(PipeFilter *f, const void *buf, size_t len, PgpErr *err)
{
    Chunker *c = (Chunker *)f;
    const uint8_t *p = buf;
    size_t left = len;
    int rc = 0;
    while (rc == 0 && left > 0) {
        if (c->fill == 0 && left >= c->chunk_size) {    /* a whole chunk in place: no copy */
            rc = deliver(c, p, c->chunk_size, err);
            p += c->chunk_size;
            left -= c->chunk_size;
            continue;
        }
        size_t n = c->chunk_size - c->fill < left ? c->chunk_size - c->fill : left;
        memcpy(c->buf + c->fill, p, n);
        c->fill += n;
        p += n;
        left -= n;
        if (c->fill == c->chunk_size) {
            rc = deliver(c, c->buf, c->fill, err);
            c->fill = 0;
        }
    }
    return rc != 0 ? rc : filter_emit(f, buf, len, err);
}

static int chunker_finish(PipeFilter *f, PgpErr *err)
{
    Chunker *c = (Chunker *)f;
    if (c->fill == 0)
        return 0;
    int rc = deliver(c, c->buf, c->fill, err);
    c->fill = 0;
    return rc;
}

static void chunker_destroy(PipeFilter *f)
{
    free(((Chunker *)f)->buf);
}

static const PipeFilterOps chunker_ops = { "chunking", chunker_push, chunker_finish,
                                           chunker_destroy };

int pipe_chunker_new(size_t chunk_size, PipeChunkFn on_chunk, void *ud, PipeSink next,
                     PipeFilter **out, PgpErr *err)
{
    *out = NULL;
    if (chunk_size == 0 || chunk_size > PIPE_CHUNK_MAX || on_chunk == NULL)
        return PGP_FAIL(err, PGP_ERR_INTERNAL,
                        "chunker: chunk size %zu not in 1..%zu, or no callback", chunk_size,
                        PIPE_CHUNK_MAX);
    Chunker *c = filter_alloc(sizeof *c, &chunker_ops, next, err);
    if (c == NULL)
        return PGP_ERR_NOMEM;
    c->chunk_size = chunk_size;
    c->on_chunk = on_chunk;
    c->ud = ud;
    c->buf = malloc(chunk_size);
    if (c->buf == NULL) {
        pipe_filter_free(&c->base);
        return PGP_FAIL(err, PGP_ERR_NOMEM, "cannot allocate a chunk buffer of %zu bytes",
                        chunk_size);
    }
    *out = &c->base;
    return 0;
}

uint64_t pipe_chunker_count(const PipeFilter *f)
{
    assert(f->ops == &chunker_ops);
    return ((const Chunker *)f)->count;
}
