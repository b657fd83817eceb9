/*
 * none.c - the "none" codec: compression and decompression are both a pass-through of the
 * bytes, unchanged and uncopied. Any byte count (zero included) is a valid object.
 */
#include "filter_impl.h"

static int none_push(PipeFilter *f, const void *buf, size_t len, PgpErr *err)
{
    return filter_emit(f, buf, len, err);
}

static const PipeFilterOps none_ops = { "none codec", none_push, NULL, NULL };

int pipe_none_new(PipeSink next, PipeFilter **out, PgpErr *err)
{
    *out = filter_alloc(sizeof(PipeFilter), &none_ops, next, err);
    return *out != NULL ? 0 : PGP_ERR_NOMEM;
}
