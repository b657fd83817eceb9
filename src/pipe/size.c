/*
 * size.c - the pass-through filter that counts the bytes going by (e.g. the compressed size
 * recorded in a manifest). It neither copies nor inspects the bytes.
 */
#include "filter_impl.h"

#include <assert.h>

typedef struct SizeFilter {
    PipeFilter base;
    uint64_t total;
} SizeFilter;

static int size_push(PipeFilter *f, const void *buf, size_t len, PgpErr *err)
{
    ((SizeFilter *)f)->total += len;
    return filter_emit(f, buf, len, err);
}

static const PipeFilterOps size_ops = { "size", size_push, NULL, NULL };

int pipe_size_new(PipeSink next, PipeFilter **out, PgpErr *err)
{
    *out = filter_alloc(sizeof(SizeFilter), &size_ops, next, err);
    return *out != NULL ? 0 : PGP_ERR_NOMEM;
}

uint64_t pipe_size_result(const PipeFilter *f)
{
    assert(f->ops == &size_ops && f->state == FILTER_FINISHED);
    return ((const SizeFilter *)f)->total;
}
