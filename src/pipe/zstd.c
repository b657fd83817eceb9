/*
 * zstd.c - zstd compression and decompression filters on the streaming API
 * (ZSTD_compressStream2 / ZSTD_decompressStream). One context per filter, reused for every
 * push (a decompressor's is kept for the thread's next filter: zstd_dctx.c); output goes to
 * the next sink in pieces of at most 1 MiB.
 *
 * The compressor also hands on what it has at the end of a push once that is at least
 * ZSTD_FLUSH_MIN bytes, instead of waiting for 1 MiB of output: WAL compresses 10-30:1, so a
 * 16 MiB segment often makes less than 1 MiB, and a consumer on another thread (archive-push
 * decodes the output as it is produced to verify it) would otherwise get everything only at
 * finish and run after compression instead of beside it. Nothing is flushed from inside
 * zstd (no ZSTD_e_flush), so the compressed bytes are the same either way.
 *
 * A compressed object is exactly one zstd frame (with a content checksum). The decompressor
 * rejects anything else: bad bytes (at push), a frame cut short or no frame at all (at
 * finish), and any byte after the end of the frame (at push).
 */
#include "filter_impl.h"

#include <stdlib.h>
#include <zstd.h>

/* Smallest piece handed on at the end of a push (see above); bounds the sink calls per byte. */
#define ZSTD_FLUSH_MIN (32 * 1024)

typedef struct ZstdFilter {
    PipeFilter base;
    ZSTD_CCtx *cctx;        /* compressor only */
    ZSTD_DCtx *dctx;        /* decompressor only */
    bool frame_done;        /* decompressor: the frame ended, nothing may follow */
    size_t out_pos;         /* compressor: bytes waiting in out */
    unsigned char *out;
    size_t out_cap;
} ZstdFilter;

static void zstd_destroy(PipeFilter *f)
{
    ZstdFilter *z = (ZstdFilter *)f;
    ZSTD_freeCCtx(z->cctx);
    pipe_zstd_dctx_give(z->dctx);
    free(z->out);
}

/* --- compression --- */

/* Run the compressor over `in` with `op`; the out buffer is sent on whenever it fills.
 * For ZSTD_e_end, loops until the frame is completely written. */
static int zstd_compress_run(ZstdFilter *z, ZSTD_inBuffer *in, ZSTD_EndDirective op, PgpErr *err)
{
    for (;;) {
        ZSTD_outBuffer ob = { z->out, z->out_cap, z->out_pos };
        size_t ret = ZSTD_compressStream2(z->cctx, &ob, in, op);
        if (ZSTD_isError(ret))
            return PGP_FAIL(err, PGP_ERR_CODEC, "zstd compression failed: %s",
                            ZSTD_getErrorName(ret));
        z->out_pos = ob.pos;
        bool done = op == ZSTD_e_end ? ret == 0 : in->pos == in->size;
        if (z->out_pos == z->out_cap ||
            (done && (op == ZSTD_e_end || z->out_pos >= ZSTD_FLUSH_MIN))) {
            int rc = filter_emit(&z->base, z->out, z->out_pos, err);
            z->out_pos = 0;
            if (rc != 0)
                return rc;
        }
        if (done)
            return 0;
    }
}

static int zstd_compress_push(PipeFilter *f, const void *buf, size_t len, PgpErr *err)
{
    ZSTD_inBuffer in = { buf, len, 0 };
    return zstd_compress_run((ZstdFilter *)f, &in, ZSTD_e_continue, err);
}

static int zstd_compress_finish(PipeFilter *f, PgpErr *err)
{
    ZSTD_inBuffer in = { NULL, 0, 0 };
    return zstd_compress_run((ZstdFilter *)f, &in, ZSTD_e_end, err);
}

static const PipeFilterOps zstd_compress_ops = {
    "zstd compression", zstd_compress_push, zstd_compress_finish, zstd_destroy
};

static int zstd_set(ZstdFilter *z, ZSTD_cParameter p, int value, const char *what, PgpErr *err)
{
    size_t ret = ZSTD_CCtx_setParameter(z->cctx, p, value);
    if (ZSTD_isError(ret))
        return PGP_FAIL(err, PGP_ERR_CODEC, "cannot set zstd %s to %d: %s", what, value,
                        ZSTD_getErrorName(ret));
    return 0;
}

int pipe_zstd_compress_new(int level, int workers, PipeSink next, PipeFilter **out, PgpErr *err)
{
    int rc = PGP_ERR_NOMEM;
    ZstdFilter *z = filter_alloc(sizeof *z, &zstd_compress_ops, next, err);
    if (z == NULL)
        return rc;
    z->out_cap = PIPE_CODEC_OUT_BUF;
    z->cctx = ZSTD_createCCtx();
    z->out = malloc(z->out_cap);
    if (z->cctx == NULL || z->out == NULL) {
        PGP_FAIL(err, rc, "cannot allocate zstd compression context");
        goto out;
    }
    if ((rc = zstd_set(z, ZSTD_c_compressionLevel, level, "compression level", err)) != 0 ||
        (rc = zstd_set(z, ZSTD_c_checksumFlag, 1, "checksum flag", err)) != 0)
        goto out;
    if (workers > 0 && (rc = zstd_set(z, ZSTD_c_nbWorkers, workers, "worker count", err)) != 0)
        goto out;
    *out = &z->base;
    return 0;
out:
    pipe_filter_free(&z->base);
    return rc;
}

/* --- decompression --- */

static int zstd_decompress_push(PipeFilter *f, const void *buf, size_t len, PgpErr *err)
{
    ZstdFilter *z = (ZstdFilter *)f;
    ZSTD_inBuffer in = { buf, len, 0 };
    bool out_full = false;  /* the last call filled out: zstd may hold more output */
    while (in.pos < in.size || out_full) {
        if (z->frame_done)
            return PGP_FAIL(err, PGP_ERR_CORRUPT,
                            "zstd decompression failed: unexpected data after the end of the frame");
        ZSTD_outBuffer ob = { z->out, z->out_cap, 0 };
        size_t before = in.pos;
        size_t ret = ZSTD_decompressStream(z->dctx, &ob, &in);
        if (ZSTD_isError(ret))
            return PGP_FAIL(err, PGP_ERR_CORRUPT, "zstd decompression failed: %s",
                            ZSTD_getErrorName(ret));
        int rc = filter_emit(f, z->out, ob.pos, err);
        if (rc != 0)
            return rc;
        if (ret == 0) {
            z->frame_done = true;   /* frame decoded, checksum verified, output flushed */
            out_full = false;
        } else {
            out_full = ob.pos == ob.size;
            if (!out_full && ob.pos == 0 && in.pos == before && in.pos < in.size)
                return PGP_FAIL(err, PGP_ERR_INTERNAL, "zstd decompression made no progress");
        }
    }
    return 0;
}

static int zstd_decompress_finish(PipeFilter *f, PgpErr *err)
{
    ZstdFilter *z = (ZstdFilter *)f;
    if (!z->frame_done)
        return PGP_FAIL(err, PGP_ERR_CORRUPT,
                        "zstd decompression failed: input is truncated (the frame is incomplete)");
    return 0;
}

static const PipeFilterOps zstd_decompress_ops = {
    "zstd decompression", zstd_decompress_push, zstd_decompress_finish, zstd_destroy
};

int pipe_zstd_decompress_new(PipeSink next, PipeFilter **out, PgpErr *err)
{
    ZstdFilter *z = filter_alloc(sizeof *z, &zstd_decompress_ops, next, err);
    if (z == NULL)
        return PGP_ERR_NOMEM;
    z->out_cap = PIPE_CODEC_OUT_BUF;
    z->dctx = pipe_zstd_dctx_take();
    z->out = malloc(z->out_cap);
    if (z->dctx == NULL || z->out == NULL) {
        pipe_filter_free(&z->base);
        return PGP_FAIL(err, PGP_ERR_NOMEM, "cannot allocate zstd decompression context");
    }
    *out = &z->base;
    return 0;
}
