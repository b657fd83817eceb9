/*
 * thread.c - the filter that runs its next sink on a worker thread, so for example
 * compression overlaps reading and hashing. push() copies bytes into a bounded ring buffer
 * (blocking while it is full) and returns; the worker hands them on in order. The worker's
 * first error is kept and returned by every later push and by finish(), which also joins;
 * the next stage is then finished on the caller's thread, once the worker is gone.
 *
 * Why a ring and not a queue of chunks: one memcpy per byte and no malloc per push, however
 * small the pushes are; the worker reads straight out of the ring.
 */
#include "filter_impl.h"

#include "pgpitr/common/bufpool.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define THREAD_DEFAULT_QUEUE (4 * 1024 * 1024)

typedef struct ThreadFilter {
    PipeFilter base;
    pthread_mutex_t mu;
    pthread_cond_t can_read;    /* worker waits: bytes queued, done or abort */
    pthread_cond_t can_write;   /* producer waits: room in the ring or worker failed */
    unsigned char *ring;
    size_t cap;
    size_t ring_cap;            /* what bufpool_take gave (>= cap) */
    size_t head;                /* first queued byte */
    size_t count;               /* queued bytes, including those the worker is writing */
    bool done;                  /* producer finished: drain, then exit */
    bool abort;                 /* freed before finish: exit now */
    bool failed;                /* worker error, in werr */
    bool running;               /* thread started and not yet joined */
    PgpErr werr;
    pthread_t thread;
} ThreadFilter;

static void *thread_main(void *arg)
{
    ThreadFilter *t = arg;
    /* Hand on at most a quarter of the ring at a time, so the producer can refill the rest
     * while the worker is busy instead of the two taking turns. */
    size_t piece_max = t->cap / 4 > 0 ? t->cap / 4 : 1;
    pthread_mutex_lock(&t->mu);
    for (;;) {
        while (t->count == 0 && !t->done && !t->abort)
            pthread_cond_wait(&t->can_read, &t->mu);
        if (t->abort || t->count == 0)
            break;
        size_t n = t->cap - t->head;
        if (n > t->count)
            n = t->count;
        if (n > piece_max)
            n = piece_max;
        const unsigned char *p = t->ring + t->head;
        pthread_mutex_unlock(&t->mu);

        PgpErr e = { .code = PGP_ERR_OK };
        int rc = filter_emit(&t->base, p, n, &e);

        pthread_mutex_lock(&t->mu);
        if (rc != 0) {
            t->werr = e;
            if (t->werr.code == PGP_ERR_OK)
                t->werr.code = (PgpErrCode)rc;
            t->failed = true;
            pthread_cond_signal(&t->can_write);
            break;
        }
        t->head = (t->head + n) % t->cap;
        t->count -= n;
        pthread_cond_signal(&t->can_write);
    }
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

static int thread_failure(ThreadFilter *t, PgpErr *err)
{
    if (err != NULL)
        *err = t->werr;
    return t->werr.code;
}

static int thread_push(PipeFilter *f, const void *buf, size_t len, PgpErr *err)
{
    ThreadFilter *t = (ThreadFilter *)f;
    const unsigned char *p = buf;
    pthread_mutex_lock(&t->mu);
    while (len > 0) {
        while (t->count == t->cap && !t->failed)
            pthread_cond_wait(&t->can_write, &t->mu);
        if (t->failed) {
            int rc = thread_failure(t, err);
            pthread_mutex_unlock(&t->mu);
            return rc;
        }
        size_t tail = (t->head + t->count) % t->cap;
        size_t n = t->cap - t->count;
        if (n > t->cap - tail)
            n = t->cap - tail;
        if (n > len)
            n = len;
        /* [tail, tail+n) is free and only this thread writes it: copy without the lock. */
        pthread_mutex_unlock(&t->mu);
        memcpy(t->ring + tail, p, n);
        pthread_mutex_lock(&t->mu);
        t->count += n;
        p += n;
        len -= n;
        pthread_cond_signal(&t->can_read);
    }
    pthread_mutex_unlock(&t->mu);
    return 0;
}

static void thread_stop(ThreadFilter *t, bool abort)
{
    if (!t->running)
        return;
    pthread_mutex_lock(&t->mu);
    if (abort)
        t->abort = true;
    t->done = true;
    pthread_cond_signal(&t->can_read);
    pthread_mutex_unlock(&t->mu);
    pthread_join(t->thread, NULL);
    t->running = false;
}

static int thread_finish(PipeFilter *f, PgpErr *err)
{
    ThreadFilter *t = (ThreadFilter *)f;
    thread_stop(t, false);
    return t->failed ? thread_failure(t, err) : 0;
}

static void thread_destroy(PipeFilter *f)
{
    ThreadFilter *t = (ThreadFilter *)f;
    thread_stop(t, true);
    pthread_cond_destroy(&t->can_write);
    pthread_cond_destroy(&t->can_read);
    pthread_mutex_destroy(&t->mu);
    bufpool_give(t->ring, t->ring_cap);
}

static const PipeFilterOps thread_ops = { "thread", thread_push, thread_finish, thread_destroy };

int pipe_thread_new(PipeSink next, size_t queue_bytes, PipeFilter **out, PgpErr *err)
{
    *out = NULL;
    ThreadFilter *t = filter_alloc(sizeof *t, &thread_ops, next, err);
    if (t == NULL)
        return PGP_ERR_NOMEM;
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->can_read, NULL);
    pthread_cond_init(&t->can_write, NULL);
    t->cap = queue_bytes > 0 ? queue_bytes : THREAD_DEFAULT_QUEUE;
    /* Kept between filters (bufpool.h): a fresh ring is written end to end before it wraps,
     * so each one page-faulted all of its pages (every segment archive-push verifies). */
    t->ring = bufpool_take(t->cap, &t->ring_cap);
    if (t->ring == NULL) {
        PGP_FAIL(err, PGP_ERR_NOMEM, "cannot allocate a %zu-byte thread queue", t->cap);
        pipe_filter_free(&t->base);
        return PGP_ERR_NOMEM;
    }
    int e = pthread_create(&t->thread, NULL, thread_main, t);
    if (e != 0) {
        pipe_filter_free(&t->base);
        return PGP_FAIL_SYS(err, e, "cannot start a pipe worker thread");
    }
    t->running = true;
    *out = &t->base;
    return 0;
}
