/*
 * mem_codec.c - a buffer already in memory compressed into one frame in one go, and a frame
 * decoded back and compared with its source (pipe.h, "In-memory encoding").
 *
 * Why: archive-push has the whole segment in memory. The streaming filters (zstd.c, lz4.c)
 * cost more there than the compression needs: zstd's streaming compressor copies its input
 * into its own window buffer, the output is copied piece by piece into the encoded object,
 * the verifying decoder ran on a thread of its own behind a copying queue, and every push
 * made its contexts afresh. Here zstd compresses with ZSTD_compress2 straight from the source
 * into the caller's buffer, lz4 with LZ4F_compressUpdate likewise, and the contexts are kept
 * between pushes (ctx_pool.c).
 *
 * The frames are the streaming filters' format: zstd, one frame with a content checksum (the
 * header also records the content size: any zstd reader, pgpitr's streaming one included,
 * reads it); lz4, the same frame preferences as lz4.c. The verification decodes in pieces a
 * cache can hold and compares each with the source as it comes: the frame's own checksum is
 * checked by the decoder, the comparison catches anything the checksum would not (a frame
 * that is sound but of other bytes), and a frame cut short or followed by anything fails.
 */
#include "ctx_pool.h"

#include <lz4frame.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "pgpitr/pipe/pipe.h"

/* Decoded per step of the verification, then compared: zstd hands on what it has decoded
 * (up to a 128 KiB block); lz4 decodes straight into the piece when it holds a whole block
 * (1 MiB, lz4.c's block size), else through a buffer of its own. */
#define ZSTD_PIECE (128u << 10)
#define LZ4_PIECE (1u << 20)
#define LZ4_SLICE (1u << 20)

static void zstd_cctx_free(void *c) { ZSTD_freeCCtx(c); }
static void lz4_cctx_free(void *c) { LZ4F_freeCompressionContext(c); }

/* *buf holds at least need bytes from now on (realloc; what it held is kept). */
static int mem_reserve(uint8_t **buf, size_t *cap, size_t need, PgpErr *err)
{
    if (*cap >= need)
        return 0;
    size_t want = *cap * 2 > need ? *cap * 2 : need;
    uint8_t *p = realloc(*buf, want);
    if (p == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory for %zu bytes of compressed data",
                        want);
    *buf = p;
    *cap = want;
    return 0;
}

/* ---- compression ------------------------------------------------------------------------- */

static int zstd_fail(const char *what, size_t ret, PgpErr *err)
{
    return PGP_FAIL(err, PGP_ERR_CODEC, "zstd %s failed: %s", what, ZSTD_getErrorName(ret));
}

static int zstd_mem_compress(int level, const void *src, size_t size, uint8_t **buf,
                             size_t *cap, size_t *len, PgpErr *err)
{
    ZSTD_CCtx *c = ctx_pool_take(CTX_ZSTD_C);
    if (c == NULL && (c = ZSTD_createCCtx()) != NULL)
        ctx_pool_made();
    if (c == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "cannot allocate zstd compression context");
    size_t ret = ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, level);
    if (!ZSTD_isError(ret))
        ret = ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
    int rc = ZSTD_isError(ret) ? zstd_fail("compression setup", ret, err) : 0;
    if (rc == 0) {
        /* Into what the caller has first (room for 4:1, which WAL beats); only data that
         * compresses worse is compressed again, into room for the worst case. */
        ret = ZSTD_compress2(c, *buf, *cap, src, size);
        if (ZSTD_isError(ret) && ZSTD_getErrorCode(ret) == ZSTD_error_dstSize_tooSmall) {
            rc = mem_reserve(buf, cap, ZSTD_compressBound(size), err);
            if (rc == 0)
                ret = ZSTD_compress2(c, *buf, *cap, src, size);
        }
        if (rc == 0 && ZSTD_isError(ret))
            rc = zstd_fail("compression", ret, err);
    }
    if (rc == 0)
        *len = ret;
    /* A context in an unknown state is not kept. */
    if (ZSTD_isError(ZSTD_CCtx_reset(c, ZSTD_reset_session_and_parameters)))
        ZSTD_freeCCtx(c);
    else
        ctx_pool_give(CTX_ZSTD_C, c, zstd_cctx_free);
    return rc;
}

static int lz4_fail(const char *what, size_t ret, PgpErr *err)
{
    return PGP_FAIL(err, PGP_ERR_CODEC, "lz4 %s failed: %s", what, LZ4F_getErrorName(ret));
}

/* lz4.c's frame: 1 MiB independent blocks, content checksum. */
static void lz4_prefs(int level, LZ4F_preferences_t *p)
{
    memset(p, 0, sizeof *p);
    p->frameInfo.blockSizeID = LZ4F_max1MB;
    p->frameInfo.blockMode = LZ4F_blockIndependent;
    p->frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
    p->compressionLevel = level;
}

static int lz4_mem_run(LZ4F_cctx *c, const LZ4F_preferences_t *prefs, const uint8_t *src,
                       size_t size, uint8_t **buf, size_t *cap, size_t *len, PgpErr *err)
{
    int rc = mem_reserve(buf, cap, LZ4F_HEADER_SIZE_MAX, err);
    size_t ret = rc == 0 ? LZ4F_compressBegin(c, *buf, *cap, prefs) : 0;
    if (rc == 0 && LZ4F_isError(ret))
        return lz4_fail("compression", ret, err);
    *len = ret;
    for (size_t off = 0; rc == 0 && off < size; off += LZ4_SLICE) {
        size_t n = size - off < LZ4_SLICE ? size - off : LZ4_SLICE;
        rc = mem_reserve(buf, cap, *len + LZ4F_compressBound(n, prefs), err);
        ret = rc == 0 ? LZ4F_compressUpdate(c, *buf + *len, *cap - *len, src + off, n, NULL) : 0;
        if (rc == 0 && LZ4F_isError(ret))
            return lz4_fail("compression", ret, err);
        *len += ret;
    }
    if (rc == 0)
        rc = mem_reserve(buf, cap, *len + LZ4F_compressBound(0, prefs), err);
    ret = rc == 0 ? LZ4F_compressEnd(c, *buf + *len, *cap - *len, NULL) : 0;
    if (rc == 0 && LZ4F_isError(ret))
        return lz4_fail("compression", ret, err);
    *len += ret;
    return rc;
}

static int lz4_mem_compress(int level, const void *src, size_t size, uint8_t **buf,
                            size_t *cap, size_t *len, PgpErr *err)
{
    LZ4F_cctx *c = ctx_pool_take(CTX_LZ4_C);
    if (c == NULL) {
        if (LZ4F_isError(LZ4F_createCompressionContext(&c, LZ4F_VERSION)))
            c = NULL;
        if (c == NULL)
            return PGP_FAIL(err, PGP_ERR_NOMEM, "cannot allocate lz4 compression context");
        ctx_pool_made();
    }
    LZ4F_preferences_t prefs;
    lz4_prefs(level, &prefs);
    int rc = lz4_mem_run(c, &prefs, src, size, buf, cap, len, err);
    /* LZ4F_compressBegin starts every frame afresh; a failed one leaves the context in the
     * middle of a frame: not kept. */
    if (rc == 0)
        ctx_pool_give(CTX_LZ4_C, c, lz4_cctx_free);
    else
        LZ4F_freeCompressionContext(c);
    return rc;
}

int pipe_mem_compress(PipeCodec codec, int level, const void *src, size_t size, uint8_t **buf,
                      size_t *cap, size_t *len, PgpErr *err)
{
    *len = 0;
    switch (codec) {
    case PIPE_CODEC_ZSTD:
        return zstd_mem_compress(level, src, size, buf, cap, len, err);
    case PIPE_CODEC_LZ4:
        return lz4_mem_compress(level, src, size, buf, cap, len, err);
    default:
        if (mem_reserve(buf, cap, size, err) != 0)
            return PGP_ERR_NOMEM;
        if (size > 0)
            memcpy(*buf, src, size);
        *len = size;
        return 0;
    }
}

/* ---- verification ------------------------------------------------------------------------ */

/* got bytes decoded at *off: they must be the source's next bytes. */
static int mem_compare(const uint8_t *src, size_t size, size_t *off, const uint8_t *got,
                       size_t n, PgpErr *err)
{
    if (n > size - *off)
        return PGP_FAIL(err, PGP_ERR_CORRUPT, "decodes to more bytes than the source (%zu)",
                        size);
    if (memcmp(src + *off, got, n) != 0)
        return PGP_FAIL(err, PGP_ERR_CORRUPT, "differs from the source between bytes %zu and "
                        "%zu", *off, *off + n);
    *off += n;
    return 0;
}

static int zstd_mem_verify_with(ZSTD_DCtx *d, uint8_t *piece, const void *enc, size_t len,
                                const uint8_t *src, size_t size, PgpErr *err)
{
    ZSTD_inBuffer in = {enc, len, 0};
    size_t off = 0;
    for (;;) {
        ZSTD_outBuffer ob = {piece, ZSTD_PIECE, 0};
        size_t before = in.pos;
        size_t ret = ZSTD_decompressStream(d, &ob, &in);
        if (ZSTD_isError(ret))
            return PGP_FAIL(err, PGP_ERR_CORRUPT, "zstd decompression failed: %s",
                            ZSTD_getErrorName(ret));
        int rc = mem_compare(src, size, &off, piece, ob.pos, err);
        if (rc != 0)
            return rc;
        if (ret == 0)
            break;      /* frame decoded, checksum verified, everything handed on */
        if (in.pos == in.size && ob.pos < ob.size)
            return PGP_FAIL(err, PGP_ERR_CORRUPT, "zstd decompression failed: input is "
                            "truncated (the frame is incomplete)");
        if (ob.pos == 0 && in.pos == before)
            return PGP_FAIL(err, PGP_ERR_INTERNAL, "zstd decompression made no progress");
    }
    if (in.pos != in.size)
        return PGP_FAIL(err, PGP_ERR_CORRUPT, "zstd decompression failed: unexpected data "
                        "after the end of the frame");
    if (off != size)
        return PGP_FAIL(err, PGP_ERR_CORRUPT, "decodes to fewer bytes (%zu) than the source "
                        "(%zu)", off, size);
    return 0;
}

/* A kept decompression context, with the piece it decodes into. */
typedef struct MemDec {
    void *ctx;
    uint8_t *piece;
} MemDec;

static void memdec_free_zstd(void *p)
{
    MemDec *m = p;
    ZSTD_freeDCtx(m->ctx);
    free(m->piece);
    free(m);
}

static void memdec_free_lz4(void *p)
{
    MemDec *m = p;
    LZ4F_freeDecompressionContext(m->ctx);
    free(m->piece);
    free(m);
}

static MemDec *memdec_take(PipeCodec codec)
{
    MemDec *m = ctx_pool_take(codec == PIPE_CODEC_ZSTD ? CTX_ZSTD_D : CTX_LZ4_D);
    if (m != NULL)
        return m;
    m = calloc(1, sizeof *m);
    if (m == NULL)
        return NULL;
    m->piece = malloc(codec == PIPE_CODEC_ZSTD ? ZSTD_PIECE : LZ4_PIECE);
    if (codec == PIPE_CODEC_ZSTD)
        m->ctx = ZSTD_createDCtx();
    else if (LZ4F_isError(LZ4F_createDecompressionContext((LZ4F_dctx **)&m->ctx, LZ4F_VERSION)))
        m->ctx = NULL;
    if (m->ctx == NULL || m->piece == NULL) {
        (codec == PIPE_CODEC_ZSTD ? memdec_free_zstd : memdec_free_lz4)(m);
        return NULL;
    }
    ctx_pool_made();
    return m;
}

/* Kept only when reset for a new frame (a context in an unknown state is not reused). */
static void memdec_give(PipeCodec codec, MemDec *m)
{
    if (codec == PIPE_CODEC_ZSTD) {
        if (ZSTD_isError(ZSTD_DCtx_reset(m->ctx, ZSTD_reset_session_only)))
            memdec_free_zstd(m);
        else
            ctx_pool_give(CTX_ZSTD_D, m, memdec_free_zstd);
        return;
    }
    LZ4F_resetDecompressionContext(m->ctx);
    ctx_pool_give(CTX_LZ4_D, m, memdec_free_lz4);
}

static int lz4_mem_verify_with(LZ4F_dctx *d, uint8_t *piece, const uint8_t *enc, size_t len,
                               const uint8_t *src, size_t size, PgpErr *err)
{
    size_t off = 0, pos = 0;
    for (;;) {
        size_t dst_n = LZ4_PIECE, src_n = len - pos;
        size_t ret = LZ4F_decompress(d, piece, &dst_n, enc + pos, &src_n, NULL);
        if (LZ4F_isError(ret))
            return PGP_FAIL(err, PGP_ERR_CORRUPT, "lz4 decompression failed: %s",
                            LZ4F_getErrorName(ret));
        pos += src_n;
        int rc = mem_compare(src, size, &off, piece, dst_n, err);
        if (rc != 0)
            return rc;
        if (ret == 0)
            break;      /* end mark and content checksum verified */
        if (pos == len && dst_n < LZ4_PIECE)
            return PGP_FAIL(err, PGP_ERR_CORRUPT, "lz4 decompression failed: input is "
                            "truncated (the frame is incomplete)");
        if (dst_n == 0 && src_n == 0)
            return PGP_FAIL(err, PGP_ERR_INTERNAL, "lz4 decompression made no progress");
    }
    if (pos != len)
        return PGP_FAIL(err, PGP_ERR_CORRUPT, "lz4 decompression failed: unexpected data "
                        "after the end of the frame");
    if (off != size)
        return PGP_FAIL(err, PGP_ERR_CORRUPT, "decodes to fewer bytes (%zu) than the source "
                        "(%zu)", off, size);
    return 0;
}

int pipe_mem_verify(PipeCodec codec, const void *enc, size_t len, const void *src, size_t size,
                    PgpErr *err)
{
    if (codec != PIPE_CODEC_ZSTD && codec != PIPE_CODEC_LZ4) {
        size_t off = 0;
        int rc = mem_compare(src, size, &off, enc, len, err);
        if (rc == 0 && off != size)
            rc = PGP_FAIL(err, PGP_ERR_CORRUPT, "has fewer bytes (%zu) than the source (%zu)",
                          off, size);
        return rc;
    }
    MemDec *m = memdec_take(codec);
    if (m == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "cannot allocate %s decompression context",
                        pipe_codec_name(codec));
    int rc = codec == PIPE_CODEC_ZSTD
                 ? zstd_mem_verify_with(m->ctx, m->piece, enc, len, src, size, err)
                 : lz4_mem_verify_with(m->ctx, m->piece, enc, len, src, size, err);
    memdec_give(codec, m);
    return rc;
}

size_t pipe_mem_ctx_made(void)
{
    return ctx_pool_made_count();
}

size_t pipe_mem_ctx_kept(void)
{
    return ctx_pool_kept_count();
}

void pipe_mem_release(void)
{
    ctx_pool_release();
}
