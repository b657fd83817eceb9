/*
 * fx_counted.h - a storage seam that counts, for unit suites that assert how many round trips
 * an operation costs: a Storage whose driver hands everything to an inner Storage (a posix one
 * in a test directory) and counts what would be a request on S3 (listings, prefix listings,
 * entries handed out, writers opened outside a batch) and batch flushes. The inner storage has
 * no list_prefix of its own, so a prefix listing here stands for one ListObjectsV2 request.
 * on_flush (may be NULL) is called before each batch flush is handed on: what a test checks
 * about the moment before anything of the batch is named.
 */
#ifndef PGPITR_FX_COUNTED_H
#define PGPITR_FX_COUNTED_H

#include "pgpitr/storage/storage.h"

typedef struct FxCounted {
    Storage *inner;
    int lists, prefix_lists;
    int entries;                /* entries the listings handed out */
    int writes;                 /* writers opened directly (each commits on its own) */
    int batch_writes, flushes;
    void (*on_flush)(void *ud);
    void *ud;
    StorageListFn fn;           /* internal: the listing in progress */
    void *fn_ud;
} FxCounted;

/* A Storage over c (c->inner set by the caller); storage_free it before c->inner. */
Storage *fx_counted_new(FxCounted *c);

#endif
