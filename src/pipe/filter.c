/*
 * filter.c - the generic part of a PipeFilter: state checks around the vtable (no push
 * after finish, an error is sticky and replayed), the finish that cascades down the chain,
 * free, and the filter-as-sink adapter.
 * It owns no transformation; those live one per file (zstd.c, lz4.c, sha256.c, ...).
 */
#include "filter_impl.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

void *filter_alloc(size_t size, const PipeFilterOps *ops, PipeSink next, PgpErr *err)
{
    assert(size >= sizeof(PipeFilter));
    PipeFilter *f = calloc(1, size);
    if (f == NULL) {
        PGP_FAIL(err, PGP_ERR_NOMEM, "cannot allocate %s filter", ops->name);
        return NULL;
    }
    f->ops = ops;
    f->next = next;
    f->state = FILTER_OPEN;
    return f;
}

int filter_emit(PipeFilter *f, const void *buf, size_t len, PgpErr *err)
{
    if (len == 0 || f->next.write == NULL)
        return 0;
    return f->next.write(f->next.ud, buf, len, err);
}

/* Why keep a copy of the error: a caller that ignores one failed push must not be able to
 * push on into a filter whose internal state is now undefined and get "ok" back. */
static int filter_check_open(PipeFilter *f, const char *what, PgpErr *err)
{
    if (f->state == FILTER_OPEN)
        return 0;
    if (f->state == FILTER_FAILED) {
        if (err != NULL)
            *err = f->failure;
        return f->failure.code;
    }
    return PGP_FAIL(err, PGP_ERR_INTERNAL, "%s on %s filter after finish", what, f->ops->name);
}

static int filter_record(PipeFilter *f, int rc, const PgpErr *e, PgpErr *err)
{
    if (rc == 0)
        return 0;
    f->state = FILTER_FAILED;
    f->failure = *e;
    if (f->failure.code == PGP_ERR_OK)     /* an implementation forgot to fill err */
        f->failure.code = (PgpErrCode)rc;
    if (err != NULL && err != e)
        *err = f->failure;
    return f->failure.code;
}

int pipe_filter_push(PipeFilter *f, const void *buf, size_t len, PgpErr *err)
{
    assert(f != NULL);
    int rc = filter_check_open(f, "push", err);
    if (rc != 0 || len == 0)
        return rc;
    PgpErr local;
    PgpErr *e = err != NULL ? err : &local;
    e->code = PGP_ERR_OK;
    return filter_record(f, f->ops->push(f, buf, len, e), e, err);
}

static int filter_sink_write(void *ud, const void *buf, size_t len, PgpErr *err);

int filter_finish_sink(PipeSink s, PgpErr *err)
{
    if (s.write != filter_sink_write)
        return 0;       /* a plain callback: completing it is the caller's business */
    return pipe_filter_finish(s.ud, err);
}

/* Why the cascade lives here and not in the callers: a chain is finished in the order its
 * bytes flow, each stage flushing into the next before the next flushes, and only the code
 * that links the stages knows that order; callers finish the head and get the first error. */
int pipe_filter_finish(PipeFilter *f, PgpErr *err)
{
    assert(f != NULL);
    int rc = filter_check_open(f, "finish", err);
    if (rc != 0)
        return rc;
    PgpErr local;
    PgpErr *e = err != NULL ? err : &local;
    e->code = PGP_ERR_OK;
    if (f->ops->finish != NULL)
        rc = f->ops->finish(f, e);
    if (rc == 0)
        rc = filter_finish_sink(f->next, e);
    if (rc != 0)
        return filter_record(f, rc, e, err);
    f->state = FILTER_FINISHED;
    return 0;
}

void pipe_filter_free(PipeFilter *f)
{
    if (f == NULL)
        return;
    if (f->ops->destroy != NULL)
        f->ops->destroy(f);
    free(f);
}

static int filter_sink_write(void *ud, const void *buf, size_t len, PgpErr *err)
{
    return pipe_filter_push(ud, buf, len, err);
}

PipeSink pipe_filter_sink(PipeFilter *f)
{
    return (PipeSink){ filter_sink_write, f };
}
