/*
 * bufpool.c - large buffers kept for reuse (bufpool.h).
 *
 * Why: archive-push reads each segment into memory (16 MiB) that its hashing, compressing and
 * verifying threads share. A buffer that size from malloc is a fresh mmap each time in a
 * process whose allocator keeps glibc's defaults, which is the archive module's (it runs in
 * PostgreSQL's archiver: alloc_keep_buffers() is the CLI's only): 4,096 page faults and 16 MiB
 * of zeroing per segment; the same, smaller, for its compressed form and the queue in front
 * of the thread verifying it. On a VM a page fault is dear (perf: a fresh page written cost
 * more than the compression that wrote it). Kept here, a drain of thousands of segments faults
 * its buffers in once. Nothing is kept unless asked (bufpool_set_keep: the module, for its
 * pgpitr.jobs), and what is kept is bounded; the module frees it when it shuts down.
 */
#include "pgpitr/common/bufpool.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

typedef struct Kept {
    void *buf;
    size_t cap;
} Kept;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static Kept kept[BUFPOOL_KEEP_MAX];
static size_t nkept, made, keep_max;

void *bufpool_take(size_t size, size_t *cap)
{
    void *found = NULL;
    pthread_mutex_lock(&mu);
    size_t best = nkept;
    for (size_t i = 0; i < nkept; i++)
        if (kept[i].cap >= size && (best == nkept || kept[i].cap < kept[best].cap))
            best = i;
    if (best < nkept) {
        found = kept[best].buf;
        *cap = kept[best].cap;
        kept[best] = kept[--nkept];
    }
    pthread_mutex_unlock(&mu);
    if (found != NULL)
        return found;
    size_t n = size > 0 ? size : 1;
    found = malloc(n);
    if (found == NULL)
        return NULL;
    *cap = n;
    pthread_mutex_lock(&mu);
    made++;
    pthread_mutex_unlock(&mu);
    return found;
}

void bufpool_give(void *buf, size_t cap)
{
    if (buf == NULL)
        return;
    void *drop = buf;
    pthread_mutex_lock(&mu);
    if (cap >= BUFPOOL_MIN && nkept < keep_max) {
        kept[nkept++] = (Kept){buf, cap};
        drop = NULL;
    } else if (cap >= BUFPOOL_MIN && nkept > 0) {
        /* Full: keep the larger (a segment's buffer over a queue's) */
        size_t small = 0;
        for (size_t i = 1; i < nkept; i++)
            if (kept[i].cap < kept[small].cap)
                small = i;
        if (kept[small].cap < cap) {
            drop = kept[small].buf;
            kept[small] = (Kept){buf, cap};
        }
    }
    pthread_mutex_unlock(&mu);
    free(drop);
}

void bufpool_set_keep(size_t n)
{
    pthread_mutex_lock(&mu);
    keep_max = n < BUFPOOL_KEEP_MAX ? n : BUFPOOL_KEEP_MAX;
    while (nkept > keep_max)
        free(kept[--nkept].buf);
    pthread_mutex_unlock(&mu);
}

bool bufpool_keeping(void)
{
    pthread_mutex_lock(&mu);
    bool k = keep_max > 0;
    pthread_mutex_unlock(&mu);
    return k;
}

void bufpool_release(void)
{
    pthread_mutex_lock(&mu);
    while (nkept > 0)
        free(kept[--nkept].buf);
    pthread_mutex_unlock(&mu);
}

size_t bufpool_made(void)
{
    pthread_mutex_lock(&mu);
    size_t n = made;
    pthread_mutex_unlock(&mu);
    return n;
}

size_t bufpool_kept(void)
{
    pthread_mutex_lock(&mu);
    size_t n = nkept;
    pthread_mutex_unlock(&mu);
    return n;
}
