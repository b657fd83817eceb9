/*
 * tee.c - the filter that hands every chunk to sink a, then to sink b (e.g. to the
 * repository and to a hash). The first error stops the chunk. Finishing the tee finishes a,
 * then b (each only if it is a filter's sink, like any next stage).
 */
#include "filter_impl.h"

typedef struct TeeFilter {
    PipeFilter base;    /* base.next is sink b, so the generic finish completes it last */
    PipeSink a;
} TeeFilter;

static int tee_push(PipeFilter *f, const void *buf, size_t len, PgpErr *err)
{
    TeeFilter *t = (TeeFilter *)f;
    int rc = 0;
    if (t->a.write != NULL)
        rc = t->a.write(t->a.ud, buf, len, err);
    if (rc == 0)
        rc = filter_emit(f, buf, len, err);
    return rc;
}

static int tee_finish(PipeFilter *f, PgpErr *err)
{
    return filter_finish_sink(((TeeFilter *)f)->a, err);
}

static const PipeFilterOps tee_ops = { "tee", tee_push, tee_finish, NULL };

int pipe_tee_new(PipeSink a, PipeSink b, PipeFilter **out, PgpErr *err)
{
    TeeFilter *t = filter_alloc(sizeof *t, &tee_ops, b, err);
    *out = t != NULL ? &t->base : NULL;
    if (t == NULL)
        return PGP_ERR_NOMEM;
    t->a = a;
    return 0;
}
