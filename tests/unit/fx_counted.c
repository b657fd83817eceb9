/*
 * fx_counted.c - the counting storage seam (fx_counted.h).
 */
#include "fx_counted.h"

#include <check.h>
#include <stdlib.h>

static int counted_entry(void *ud, const char *name, const StorageInfo *info, PgpErr *err)
{
    FxCounted *c = ud;
    c->entries++;
    return c->fn(c->fn_ud, name, info, err);
}

static int counted_list(void *drv, const char *dir, StorageListFn fn, void *ud, PgpErr *err)
{
    FxCounted *c = drv;
    c->lists++, c->fn = fn, c->fn_ud = ud;
    return storage_list(c->inner, dir, counted_entry, c, err);
}

static int counted_list_prefix(void *drv, const char *dir, const char *prefix,
                               StorageListFn fn, void *ud, PgpErr *err)
{
    FxCounted *c = drv;
    c->prefix_lists++, c->fn = fn, c->fn_ud = ud;
    return storage_list_prefix(c->inner, dir, prefix, counted_entry, c, err);
}

static int counted_stat(void *drv, const char *path, StorageInfo *out, PgpErr *err)
{
    return storage_stat(((FxCounted *)drv)->inner, path, out, err);
}

static int counted_open_read(void *drv, const char *path, StorageReader **out, PgpErr *err)
{
    return storage_open_read(((FxCounted *)drv)->inner, path, out, err);
}

static int counted_open_write(void *drv, const char *path, unsigned flags, StorageWriter **out,
                              PgpErr *err)
{
    ((FxCounted *)drv)->writes++;
    return storage_open_write(((FxCounted *)drv)->inner, path, flags, out, err);
}

static int counted_remove(void *drv, const char *path, PgpErr *err)
{
    return storage_remove(((FxCounted *)drv)->inner, path, err);
}

static void counted_free(void *drv)
{
    (void)drv;
}

/* A batch of the inner storage, with its counter beside it. */
typedef struct CountedBatch {
    FxCounted *c;
    StorageBatch *b;
} CountedBatch;

static int counted_batch_new(void *drv, const char *dir, const StorageBatchLimits *lim,
                             void **out, PgpErr *err)
{
    CountedBatch *cb = calloc(1, sizeof *cb);
    ck_assert_ptr_nonnull(cb);
    cb->c = drv;
    int rc = storage_batch_new(cb->c->inner, dir, lim, &cb->b, err);
    if (rc != 0) {
        free(cb);
        return rc;
    }
    *out = cb;
    return 0;
}

static int counted_batch_open_write(void *vb, const char *path, unsigned flags,
                                    StorageWriter **out, PgpErr *err)
{
    CountedBatch *cb = vb;
    __atomic_add_fetch(&cb->c->batch_writes, 1, __ATOMIC_SEQ_CST);
    return storage_batch_open_write(cb->b, path, flags, out, err);
}

static int counted_batch_flush(void *vb, PgpErr *err)
{
    CountedBatch *cb = vb;
    cb->c->flushes++;
    if (cb->c->on_flush != NULL)
        cb->c->on_flush(cb->c->ud);
    return storage_batch_flush(cb->b, err);
}

static void counted_batch_free(void *vb)
{
    CountedBatch *cb = vb;
    storage_batch_free(cb->b);
    free(cb);
}

static bool counted_batch_holds(void *vb, const char *path, uint64_t *size)
{
    return storage_batch_holds(((CountedBatch *)vb)->b, path, size);
}

static const StorageDriver counted_driver = {
    .name = "counted",
    .features = STORAGE_FEATURE_PATH | STORAGE_FEATURE_FSYNC,
    .stat = counted_stat,
    .list = counted_list,
    .open_read = counted_open_read,
    .open_write = counted_open_write,
    .remove = counted_remove,
    .free = counted_free,
    .batch_new = counted_batch_new,
    .batch_open_write = counted_batch_open_write,
    .batch_flush = counted_batch_flush,
    .batch_free = counted_batch_free,
    .batch_holds = counted_batch_holds,
    .list_prefix = counted_list_prefix,
};

Storage *fx_counted_new(FxCounted *c)
{
    Storage *s = storage_new(&counted_driver, c);
    ck_assert_ptr_nonnull(s);
    return s;
}
