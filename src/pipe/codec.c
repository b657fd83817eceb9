/*
 * codec.c - the codec table (names, file extensions, level ranges) and the two public
 * constructors pipe_compress_new / pipe_decompress_new, which validate the arguments and
 * dispatch to none.c, zstd.c or lz4.c. No compression code lives here.
 */
#include "filter_impl.h"

#include <string.h>

typedef struct CodecInfo {
    PipeCodec codec;
    const char *name;
    const char *ext;
    int level_min;
    int level_max;
} CodecInfo;

static const CodecInfo codecs[] = {
    { PIPE_CODEC_NONE, "none", "", 0, 0 },
    { PIPE_CODEC_ZSTD, "zstd", ".zst", 1, 19 },
    { PIPE_CODEC_LZ4, "lz4", ".lz4", 0, 12 },
};

#define N_CODECS (sizeof codecs / sizeof codecs[0])

static const CodecInfo *codec_info(PipeCodec c)
{
    for (size_t i = 0; i < N_CODECS; i++)
        if (codecs[i].codec == c)
            return &codecs[i];
    return NULL;
}

int pipe_codec_parse(const char *name, PipeCodec *out, PgpErr *err)
{
    for (size_t i = 0; name != NULL && i < N_CODECS; i++) {
        if (strcmp(name, codecs[i].name) == 0) {
            *out = codecs[i].codec;
            return 0;
        }
    }
    int rc = PGP_FAIL(err, PGP_ERR_CONFIG, "unknown compression \"%s\"",
                      name != NULL ? name : "(null)");
    pgp_err_hint(err, "use one of: zstd, lz4, none");
    return rc;
}

const char *pipe_codec_name(PipeCodec c)
{
    const CodecInfo *ci = codec_info(c);
    return ci != NULL ? ci->name : "unknown";
}

const char *pipe_codec_ext(PipeCodec c)
{
    const CodecInfo *ci = codec_info(c);
    return ci != NULL ? ci->ext : "";
}

bool pipe_codec_from_ext(const char *ext, PipeCodec *out)
{
    for (size_t i = 0; ext != NULL && i < N_CODECS; i++) {
        if (strcmp(ext, codecs[i].ext) == 0) {
            *out = codecs[i].codec;
            return true;
        }
    }
    return false;
}

void pipe_codec_level_range(PipeCodec c, int *min, int *max)
{
    const CodecInfo *ci = codec_info(c);
    *min = ci != NULL ? ci->level_min : 0;
    *max = ci != NULL ? ci->level_max : 0;
}

int pipe_compress_new(PipeCodec c, int level, int zstd_workers, PipeSink next, PipeFilter **out,
                      PgpErr *err)
{
    *out = NULL;
    const CodecInfo *ci = codec_info(c);
    if (ci == NULL)
        return PGP_FAIL(err, PGP_ERR_INTERNAL, "unknown codec %d", (int)c);
    if (level < ci->level_min || level > ci->level_max)
        return PGP_FAIL(err, PGP_ERR_CONFIG, "%s compression level %d is out of range %d..%d",
                        ci->name, level, ci->level_min, ci->level_max);
    if (zstd_workers < 0)
        return PGP_FAIL(err, PGP_ERR_CONFIG, "zstd worker count %d is negative", zstd_workers);
    switch (c) {
    case PIPE_CODEC_ZSTD:
        return pipe_zstd_compress_new(level, zstd_workers, next, out, err);
    case PIPE_CODEC_LZ4:
        return pipe_lz4_compress_new(level, next, out, err);
    case PIPE_CODEC_NONE:
        break;
    }
    return pipe_none_new(next, out, err);
}

int pipe_decompress_new(PipeCodec c, PipeSink next, PipeFilter **out, PgpErr *err)
{
    *out = NULL;
    switch (c) {
    case PIPE_CODEC_ZSTD:
        return pipe_zstd_decompress_new(next, out, err);
    case PIPE_CODEC_LZ4:
        return pipe_lz4_decompress_new(next, out, err);
    case PIPE_CODEC_NONE:
        return pipe_none_new(next, out, err);
    }
    return PGP_FAIL(err, PGP_ERR_INTERNAL, "unknown codec %d", (int)c);
}
