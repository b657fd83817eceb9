/*
 * verify_objects.c - the object checker of `pgpitr verify` (contract in verify_objects.h):
 * one object read through its decoder into a counting, hashing sink, and a pool of worker
 * threads over a list of objects. Owns no policy: what a bad object means is verify.c's.
 *
 * The storage is shared by the workers: the posix driver keeps no state per read (each
 * open_read has its own descriptor), like restore's pool relies on.
 */
#include "pgpitr/verify_objects.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pgpitr/cmd.h"

#define CHUNK (1u << 20)

const char *verify_status_name(VerifyStatus s)
{
    switch (s) {
    case VERIFY_OK: return "ok";
    case VERIFY_MISSING: return "missing";
    case VERIFY_CORRUPT: return "corrupt";
    case VERIFY_UNREADABLE: return "unreadable";
    case VERIFY_PENDING: break;
    }
    return "unchecked";
}

/* The end of the chain: counts original bytes, keeps the head, stops at excess bytes. */
typedef struct CountSink {
    VerifyObject *o;
} CountSink;

static int count_write(void *ud, const void *buf, size_t len, PgpErr *err)
{
    CountSink *c = ud;
    VerifyObject *o = c->o;
    if (o->head_len < VERIFY_HEAD_LEN) {
        size_t take = VERIFY_HEAD_LEN - o->head_len;
        if (take > len)
            take = len;
        memcpy(o->head + o->head_len, buf, take);
        o->head_len += take;
    }
    o->original += len;
    if (o->size != VERIFY_SIZE_UNKNOWN && o->original > o->size)
        return PGP_FAIL(err, PGP_ERR_CORRUPT, "content is larger than the expected %llu bytes",
                        (unsigned long long)o->size);
    return 0;
}

static void set_result(VerifyObject *o, VerifyStatus st, const char *reason)
{
    o->status = st;
    snprintf(o->reason, sizeof o->reason, "%s", reason);
}

static void judge(VerifyObject *o, int rc, const PgpErr *e, const uint8_t digest[PIPE_SHA256_LEN])
{
    char hex[PIPE_SHA256_HEX_LEN + 1], why[VERIFY_REASON_MAX];
    if (rc == PGP_ERR_NOT_FOUND) {
        set_result(o, VERIFY_MISSING, "the object is missing from the repository");
        return;
    }
    if (rc == PGP_ERR_CORRUPT && o->size != VERIFY_SIZE_UNKNOWN && o->original > o->size) {
        snprintf(why, sizeof why, "size mismatch: content is larger than the expected %llu bytes",
                 (unsigned long long)o->size);
        set_result(o, VERIFY_CORRUPT, why);
        return;
    }
    if (rc == PGP_ERR_CORRUPT || rc == PGP_ERR_CODEC) {
        snprintf(why, sizeof why, "does not decode: %.280s", e->msg);
        set_result(o, VERIFY_CORRUPT, why);
        return;
    }
    if (rc != 0) {
        snprintf(why, sizeof why, "cannot read: %.280s", e->msg);
        set_result(o, VERIFY_UNREADABLE, why);
        return;
    }
    if (o->size != VERIFY_SIZE_UNKNOWN && o->original != o->size) {
        snprintf(why, sizeof why, "size mismatch: content has %llu bytes, expected %llu",
                 (unsigned long long)o->original, (unsigned long long)o->size);
        set_result(o, VERIFY_CORRUPT, why);
        return;
    }
    pipe_hex(digest, PIPE_SHA256_LEN, hex);
    if (strcmp(hex, o->sha256) != 0) {
        snprintf(why, sizeof why, "checksum mismatch: content has sha256 %s, expected %s", hex,
                 o->sha256);
        set_result(o, VERIFY_CORRUPT, why);
        return;
    }
    set_result(o, VERIFY_OK, "");
}

int verify_object(Storage *s, VerifyObject *o, void *buf, size_t size, PgpErr *err)
{
    o->status = VERIFY_PENDING;
    o->stored_read = o->original = 0;
    o->head_len = 0;
    o->reason[0] = '\0';
    CountSink cs = {.o = o};
    PipeFilter *sha = NULL, *dec = NULL;
    uint8_t digest[PIPE_SHA256_LEN] = {0};
    PgpErr e;
    pgp_err_clear(&e);
    int rc = pipe_sha256_new((PipeSink){count_write, &cs}, &sha, err);
    if (rc == 0)
        rc = pipe_decompress_new(o->codec, pipe_filter_sink(sha), &dec, err);
    if (rc != 0)
        goto out;   /* setting up the chain fails only for memory: not the object's fault */
    int orc = cmd_pump_object(s, o->path, dec, buf, size, &o->stored_read, &e);
    if (orc == 0)
        orc = pipe_filter_finish(sha, &e);
    if (orc == 0)
        pipe_sha256_result(sha, digest);
    if (orc == PGP_ERR_NOMEM) {
        rc = orc;
        if (err != NULL)
            *err = e;
        goto out;
    }
    judge(o, orc, &e, digest);
out:
    pipe_filter_free(dec);
    pipe_filter_free(sha);
    return rc;
}

/* ---- the pool -------------------------------------------------------------------------- */

typedef struct Pool {
    Storage *storage;
    VerifyObject *objs;
    size_t n;
    const VerifyPoolOptions *opt;
    atomic_size_t next;
    atomic_bool stop;
    atomic_uint_fast64_t done, bytes;
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
    void *buf = malloc(CHUNK);
    PgpErr e;
    pgp_err_clear(&e);
    if (buf == NULL)
        pool_fail(p, PGP_FAIL(&e, PGP_ERR_NOMEM, "out of memory"), &e);
    while (buf != NULL && !atomic_load(&p->stop) && !cancelled(p)) {
        size_t i = atomic_fetch_add(&p->next, 1);
        if (i >= p->n)
            break;
        int rc = verify_object(p->storage, &p->objs[i], buf, CHUNK, &e);
        if (rc != 0) {
            pool_fail(p, rc, &e);
            break;
        }
        atomic_fetch_add(&p->bytes, p->objs[i].stored_read);
        atomic_fetch_add(&p->done, 1);
    }
    free(buf);
    pthread_mutex_lock(&p->mu);
    p->running--;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static void report(Pool *p)
{
    if (p->opt->progress != NULL)
        p->opt->progress(p->opt->progress_ud, atomic_load(&p->done), atomic_load(&p->bytes));
}

/* Waits for the workers, reporting progress at the interval and noticing a cancel. */
static void pool_wait(Pool *p)
{
    unsigned interval = p->opt->interval_ms != 0 ? p->opt->interval_ms : 1000;
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

static void tally(const VerifyObject *objs, size_t n, VerifyPoolResult *res)
{
    for (size_t i = 0; i < n; i++) {
        if (objs[i].status == VERIFY_PENDING)
            continue;
        res->objects++;
        res->bytes_read += objs[i].stored_read;
        res->bytes_original += objs[i].original;
        if (objs[i].status != VERIFY_OK)
            res->bad++;
    }
}

int verify_objects_run(Storage *s, VerifyObject *objs, size_t n, const VerifyPoolOptions *opt,
                       VerifyPoolResult *res, PgpErr *err)
{
    memset(res, 0, sizeof *res);
    for (size_t i = 0; i < n; i++)
        objs[i].status = VERIFY_PENDING;
    Pool p = {.storage = s, .objs = objs, .n = n, .opt = opt};
    atomic_init(&p.next, 0);
    atomic_init(&p.stop, false);
    atomic_init(&p.done, 0);
    atomic_init(&p.bytes, 0);
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
        p.rc = PGP_FAIL_SYS(&p.err, create_rc, "cannot start verify worker threads");
    pool_wait(&p);   /* with fewer threads than asked, those running do all the work */
    for (size_t i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    report(&p);
    tally(objs, n, res);
    int rc = p.rc;
    if (rc != 0 && err != NULL)
        *err = p.err;
    else if (rc == 0 && res->objects < n)
        rc = PGP_FAIL(err, PGP_ERR_IO, "verify interrupted after %llu of %zu objects",
                      (unsigned long long)res->objects, n);
    free(threads);
    pthread_cond_destroy(&p.cv);
    pthread_mutex_destroy(&p.mu);
    return rc;
}
