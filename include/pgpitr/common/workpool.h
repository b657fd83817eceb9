/*
 * workpool.h - a small pool of worker threads running one function over items 0..n-1, with
 * progress reporting on the calling thread, a cancel check and a stop-on-first-error rule.
 * It knows nothing about what an item is: restore's file pool and verify's object pool are
 * built on it, each keeping its own counters (bytes, kept files, ...) in its own context.
 */
#ifndef PGPITR_WORKPOOL_H
#define PGPITR_WORKPOOL_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "pgpitr/common/err.h"

/*
 * Does item i. *local is per thread: NULL at the thread's first item, kept between its items
 * (scratch buffers), released with local_free when the thread ends. Non-zero (with err set)
 * stops the pool: the first such error is what workpool_run returns.
 */
typedef int (*WorkpoolItemFn)(void *ud, size_t i, void **local, PgpErr *err);
/* Progress, called on the thread that called workpool_run, with the items done so far. */
typedef void (*WorkpoolProgressFn)(void *ud, uint64_t done);

typedef struct WorkpoolOptions {
    int workers;                        /* threads; <= 0 means 1, never more than items */
    WorkpoolItemFn item;
    void *ud;                           /* passed to item, progress */
    void (*local_free)(void *local);    /* optional; called only for a non-NULL local */
    WorkpoolProgressFn progress;        /* optional, about every interval_ms and at the end */
    unsigned interval_ms;               /* 0 means 1000 */
    const volatile sig_atomic_t *cancel;/* optional: no item starts once it is non-zero */
    const char *what;                   /* names the threads in an error: "restore" */
} WorkpoolOptions;

/*
 * Runs opt->item for items 0..n-1 on opt->workers threads; each thread takes the next index
 * from a shared counter, so items start in index order and each runs at most once. After the
 * first failure or a cancel no item starts; running ones finish. progress is called about every
 * interval_ms while waiting and once after all threads ended. *done (may be NULL) is the number
 * of items that returned 0. Returns the first item's error, PGP_ERR_NOMEM / the pthread error
 * when no thread can start (with fewer threads than asked, those running do all the work), or
 * 0, also when a cancel left items undone: the caller compares *done with n.
 */
int workpool_run(size_t n, const WorkpoolOptions *opt, uint64_t *done, PgpErr *err);

#endif
