/*
 * lz4.c - lz4 compression and decompression filters on the LZ4 frame API (LZ4F_*), so the
 * output is what the `lz4` tool reads and writes. One context per filter, reused for every
 * push; input is fed in slices so the output buffer has a fixed, computed bound.
 *
 * A compressed object is exactly one lz4 frame (1 MiB independent blocks, content checksum).
 * The decompressor rejects bad bytes (at push), a frame cut short or no frame at all (at
 * finish), and any byte after the end of the frame (at push).
 */
#include "filter_impl.h"

#include <lz4frame.h>
#include <stdlib.h>

/* Input slice per LZ4F_compressUpdate call; the out buffer is sized for it once. */
#define LZ4_SLICE (1024 * 1024)

typedef struct Lz4Filter {
    PipeFilter base;
    LZ4F_cctx *cctx;            /* compressor only */
    LZ4F_dctx *dctx;            /* decompressor only */
    LZ4F_preferences_t prefs;
    bool begun;                 /* compressor: frame header written */
    bool frame_done;            /* decompressor: the frame ended, nothing may follow */
    unsigned char *out;
    size_t out_cap;
} Lz4Filter;

static void lz4_destroy(PipeFilter *f)
{
    Lz4Filter *z = (Lz4Filter *)f;
    LZ4F_freeCompressionContext(z->cctx);
    LZ4F_freeDecompressionContext(z->dctx);
    free(z->out);
}

/* --- compression --- */

static int lz4_compress_check(Lz4Filter *z, size_t ret, PgpErr *err)
{
    if (LZ4F_isError(ret))
        return PGP_FAIL(err, PGP_ERR_CODEC, "lz4 compression failed: %s",
                        LZ4F_getErrorName(ret));
    return filter_emit(&z->base, z->out, ret, err);
}

/* The header is written on first use, not in _new, so creating a filter writes nothing. */
static int lz4_begin(Lz4Filter *z, PgpErr *err)
{
    if (z->begun)
        return 0;
    z->begun = true;
    return lz4_compress_check(z, LZ4F_compressBegin(z->cctx, z->out, z->out_cap, &z->prefs),
                              err);
}

static int lz4_compress_push(PipeFilter *f, const void *buf, size_t len, PgpErr *err)
{
    Lz4Filter *z = (Lz4Filter *)f;
    int rc = lz4_begin(z, err);
    const unsigned char *p = buf;
    while (rc == 0 && len > 0) {
        size_t n = len < LZ4_SLICE ? len : LZ4_SLICE;
        rc = lz4_compress_check(z, LZ4F_compressUpdate(z->cctx, z->out, z->out_cap, p, n, NULL),
                                err);
        p += n;
        len -= n;
    }
    return rc;
}

static int lz4_compress_finish(PipeFilter *f, PgpErr *err)
{
    Lz4Filter *z = (Lz4Filter *)f;
    int rc = lz4_begin(z, err);
    if (rc != 0)
        return rc;
    return lz4_compress_check(z, LZ4F_compressEnd(z->cctx, z->out, z->out_cap, NULL), err);
}

static const PipeFilterOps lz4_compress_ops = {
    "lz4 compression", lz4_compress_push, lz4_compress_finish, lz4_destroy
};

int pipe_lz4_compress_new(int level, PipeSink next, PipeFilter **out, PgpErr *err)
{
    Lz4Filter *z = filter_alloc(sizeof *z, &lz4_compress_ops, next, err);
    if (z == NULL)
        return PGP_ERR_NOMEM;
    z->prefs.frameInfo.blockSizeID = LZ4F_max1MB;
    z->prefs.frameInfo.blockMode = LZ4F_blockIndependent;
    z->prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
    z->prefs.compressionLevel = level;
    /* Bound for one slice plus whatever is buffered; also >= header and end mark. */
    z->out_cap = LZ4F_compressBound(LZ4_SLICE, &z->prefs);
    if (z->out_cap < LZ4F_HEADER_SIZE_MAX)
        z->out_cap = LZ4F_HEADER_SIZE_MAX;
    size_t ret = LZ4F_createCompressionContext(&z->cctx, LZ4F_VERSION);
    z->out = malloc(z->out_cap);
    if (LZ4F_isError(ret) || z->out == NULL) {
        pipe_filter_free(&z->base);
        return PGP_FAIL(err, PGP_ERR_NOMEM, "cannot allocate lz4 compression context");
    }
    *out = &z->base;
    return 0;
}

/* --- decompression --- */

static int lz4_decompress_push(PipeFilter *f, const void *buf, size_t len, PgpErr *err)
{
    Lz4Filter *z = (Lz4Filter *)f;
    const unsigned char *p = buf;
    bool out_full = false;  /* the last call filled out: lz4 may hold more output */
    while (len > 0 || out_full) {
        if (z->frame_done)
            return PGP_FAIL(err, PGP_ERR_CORRUPT,
                            "lz4 decompression failed: unexpected data after the end of the frame");
        size_t dst_n = z->out_cap, src_n = len;
        size_t ret = LZ4F_decompress(z->dctx, z->out, &dst_n, p, &src_n, NULL);
        if (LZ4F_isError(ret))
            return PGP_FAIL(err, PGP_ERR_CORRUPT, "lz4 decompression failed: %s",
                            LZ4F_getErrorName(ret));
        p += src_n;
        len -= src_n;
        int rc = filter_emit(f, z->out, dst_n, err);
        if (rc != 0)
            return rc;
        if (ret == 0) {
            z->frame_done = true;   /* end mark and content checksum verified */
            out_full = false;
        } else {
            out_full = dst_n == z->out_cap;
            if (!out_full && dst_n == 0 && src_n == 0 && len > 0)
                return PGP_FAIL(err, PGP_ERR_INTERNAL, "lz4 decompression made no progress");
        }
    }
    return 0;
}

static int lz4_decompress_finish(PipeFilter *f, PgpErr *err)
{
    Lz4Filter *z = (Lz4Filter *)f;
    if (!z->frame_done)
        return PGP_FAIL(err, PGP_ERR_CORRUPT,
                        "lz4 decompression failed: input is truncated (the frame is incomplete)");
    return 0;
}

static const PipeFilterOps lz4_decompress_ops = {
    "lz4 decompression", lz4_decompress_push, lz4_decompress_finish, lz4_destroy
};

int pipe_lz4_decompress_new(PipeSink next, PipeFilter **out, PgpErr *err)
{
    Lz4Filter *z = filter_alloc(sizeof *z, &lz4_decompress_ops, next, err);
    if (z == NULL)
        return PGP_ERR_NOMEM;
    /* Big enough for a whole 4 MiB block (the lz4 maximum), so full blocks decode straight
     * into it instead of through the context's internal buffer. */
    z->out_cap = 4 * 1024 * 1024;
    size_t ret = LZ4F_createDecompressionContext(&z->dctx, LZ4F_VERSION);
    z->out = malloc(z->out_cap);
    if (LZ4F_isError(ret) || z->out == NULL) {
        pipe_filter_free(&z->base);
        return PGP_FAIL(err, PGP_ERR_NOMEM, "cannot allocate lz4 decompression context");
    }
    *out = &z->base;
    return 0;
}
