/*
 * ctx_pool.c - codec contexts kept between in-memory encodings (mem_codec.c, ctx_pool.h).
 *
 * Why not per thread, as zstd_dctx.c keeps its decompression contexts: archive-push encodes
 * each segment on a thread of its own (wal_push.c starts one per push), so a context kept by
 * that thread would die with it and every push would make its contexts afresh: a zstd
 * compression context sizes its tables for the first frame and a decompression context its
 * window, which on this VM costs page faults on every page of them, per push. Kept here, a
 * process pushing segment after segment (the archive module, for weeks) makes them once.
 *
 * Bounded: at most CTX_POOL_KEEP of each kind are kept (more pushes at once than that make
 * and free their own); ctx_pool_release frees them all, and runs at exit.
 */
#include "ctx_pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static void *kept[CTX_KINDS][CTX_POOL_KEEP];
static size_t nkept[CTX_KINDS];
static void (*free_of[CTX_KINDS])(void *);
static bool atexit_set;
static atomic_size_t made;

void *ctx_pool_take(CtxKind k)
{
    void *c = NULL;
    pthread_mutex_lock(&mu);
    if (nkept[k] > 0)
        c = kept[k][--nkept[k]];
    pthread_mutex_unlock(&mu);
    return c;
}

void ctx_pool_made(void)
{
    atomic_fetch_add(&made, 1);
}

void ctx_pool_give(CtxKind k, void *c, void (*free_fn)(void *))
{
    if (c == NULL)
        return;
    pthread_mutex_lock(&mu);
    bool keep = nkept[k] < CTX_POOL_KEEP;
    if (keep) {
        kept[k][nkept[k]++] = c;
        free_of[k] = free_fn;
        if (!atexit_set)
            atexit_set = atexit(ctx_pool_release) == 0;
    }
    pthread_mutex_unlock(&mu);
    if (!keep)
        free_fn(c);
}

void ctx_pool_release(void)
{
    pthread_mutex_lock(&mu);
    for (int k = 0; k < CTX_KINDS; k++) {
        while (nkept[k] > 0)
            free_of[k](kept[k][--nkept[k]]);
    }
    pthread_mutex_unlock(&mu);
}

size_t ctx_pool_made_count(void)
{
    return atomic_load(&made);
}

size_t ctx_pool_kept_count(void)
{
    size_t n = 0;
    pthread_mutex_lock(&mu);
    for (int k = 0; k < CTX_KINDS; k++)
        n += nkept[k];
    pthread_mutex_unlock(&mu);
    return n;
}
