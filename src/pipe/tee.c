/*
 * tee.c - the filter that hands every chunk to sink a, then to sink b (e.g. to the
 * repository and to a hash). The first error stops the chunk; it does not finish a or b.
 */
#include "filter_impl.h"

typedef struct TeeFilter {
    PipeFilter base;    /* base.next is sink a */
    PipeSink b;
} TeeFilter;

static int tee_push(PipeFilter *f, const void *buf, size_t len, PgpErr *err)
{
    TeeFilter *t = (TeeFilter *)f;
    int rc = filter_emit(f, buf, len, err);
    if (rc == 0 && t->b.write != NULL)
        rc = t->b.write(t->b.ud, buf, len, err);
    return rc;
}

static const PipeFilterOps tee_ops = { "tee", tee_push, NULL, NULL };

int pipe_tee_new(PipeSink a, PipeSink b, PipeFilter **out, PgpErr *err)
{
    TeeFilter *t = filter_alloc(sizeof *t, &tee_ops, a, err);
    *out = t != NULL ? &t->base : NULL;
    if (t == NULL)
        return PGP_ERR_NOMEM;
    t->b = b;
    return 0;
}
