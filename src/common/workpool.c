/*
 * workpool.c - the worker pool of workpool.h: threads taking indexes from a shared atomic
 * counter, the first error kept under a mutex, and the calling thread waiting on a condition
 * variable with a timeout so it can report progress and notice a cancel while it waits.
 * Owns no notion of what an item is.
 */
#include "pgpitr/common/workpool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

typedef struct Pool {
    size_t n;
    const WorkpoolOptions *opt;
    atomic_size_t next;
    atomic_bool stop;
    atomic_uint_fast64_t done;
    pthread_mutex_t mu;                 /* running, rc, err */
    pthread_cond_t cv;                  /* signalled when a worker exits */
    int running;
    int rc;
    PgpErr err;
} Pool;

static bool cancelled(const Pool *p)
{
    return p->opt->cancel != NULL && *p->opt->cancel != 0;
}

static void pool_fail(Pool *p, int rc, const PgpErr *e)
{
    pthread_mutex_lock(&p->mu);
    if (p->rc == 0) {
        p->rc = rc;
        p->err = *e;
    }
    pthread_mutex_unlock(&p->mu);
    atomic_store(&p->stop, true);
}

static void *pool_worker(void *arg)
{
    Pool *p = arg;
    void *local = NULL;
    while (!atomic_load(&p->stop) && !cancelled(p)) {
        size_t i = atomic_fetch_add(&p->next, 1);
        if (i >= p->n)
            break;
        PgpErr e;
        pgp_err_clear(&e);
        int rc = p->opt->item(p->opt->ud, i, &local, &e);
        if (rc != 0) {
            pool_fail(p, rc, &e);
            break;
        }
        atomic_fetch_add(&p->done, 1);
    }
    if (local != NULL && p->opt->local_free != NULL)
        p->opt->local_free(local);
    pthread_mutex_lock(&p->mu);
    p->running--;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static void report(const Pool *p)
{
    if (p->opt->progress != NULL)
        p->opt->progress(p->opt->ud, atomic_load(&p->done));
}

/* Waits for the workers, reporting progress at the interval; the caller holds no lock. */
static void pool_wait(Pool *p)
{
    unsigned interval = p->opt->interval_ms != 0 ? p->opt->interval_ms : 1000;
    /* Wake up often enough to notice a cancel request, report at the interval. */
    unsigned tick = interval < 200 ? interval : 200, since = 0;
    pthread_mutex_lock(&p->mu);
    while (p->running > 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += (long)tick * 1000000L;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&p->cv, &p->mu, &ts);
        if (p->running == 0)
            break;
        pthread_mutex_unlock(&p->mu);
        if (cancelled(p))
            atomic_store(&p->stop, true);
        if ((since += tick) >= interval) {
            since = 0;
            report(p);
        }
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
}

int workpool_run(size_t n, const WorkpoolOptions *opt, uint64_t *done, PgpErr *err)
{
    if (done != NULL)
        *done = 0;
    Pool p = {.n = n, .opt = opt};
    atomic_init(&p.next, 0);
    atomic_init(&p.stop, false);
    atomic_init(&p.done, 0);
    size_t workers = opt->workers > 0 ? (size_t)opt->workers : 1;
    if (workers > n)
        workers = n;
    pthread_t *threads = workers > 0 ? calloc(workers, sizeof *threads) : NULL;
    if (workers > 0 && threads == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&p.mu, NULL);
    pthread_cond_init(&p.cv, NULL);
    size_t started = 0;
    int create_rc = 0;
    pthread_mutex_lock(&p.mu);
    for (; started < workers; started++) {
        if ((create_rc = pthread_create(&threads[started], NULL, pool_worker, &p)) != 0)
            break;
        p.running++;
    }
    pthread_mutex_unlock(&p.mu);
    if (started == 0 && workers > 0)
        p.rc = PGP_FAIL_SYS(&p.err, create_rc, "cannot start %s worker threads",
                            opt->what != NULL ? opt->what : "pool");
    pool_wait(&p); /* with fewer threads than asked, those running do all the work */
    for (size_t i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    report(&p);
    if (done != NULL)
        *done = atomic_load(&p.done);
    if (p.rc != 0 && err != NULL)
        *err = p.err;
    free(threads);
    pthread_cond_destroy(&p.cv);
    pthread_mutex_destroy(&p.mu);
    return p.rc;
}
