/*
 * backup_store.c - the per-file work of a backup and the pool of workers that runs it.
 *
 * The file is hashed before anything is written: its SHA-256 names the object, so a file
 * whose content is already in the repository (from an earlier backup, or another file of
 * this one) costs one lookup instead of a compression and an upload. That is what makes a
 * daily backup of a mostly static database cheap. The lookups go through an object index
 * (repo/object_index.h): on S3 a few listings instead of a HEAD request per file.
 */
#include "pgpitr/backup/backup_store.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "pgpitr/backup/backup_chunks.h"
#include "pgpitr/common/grow.h"
#include "pgpitr/common/log.h"
#include "pgpitr/repo/object_io.h"
#include "pgpitr/repo/repo_layout.h"

/* A batch is made durable with one syncfs (posix): larger batches mean fewer of them, and
 * each holds only names and temp files (the bytes are in the page cache, written back by the
 * kernel meanwhile). 1,024 objects are ~0.75 GiB of chunks; 256 MiB bounds what one syncfs
 * waits for when objects hardly compress. A chunked file's list flushes earlier. */
static const StorageBatchLimits backup_batch_limits = {.max_objects = 1024,
                                                       .max_bytes = 256u << 20};

/* Writes the object (object_io); an object committed concurrently under the same content
 * address holds the same bytes, so losing that race is success. The index learns of it, so
 * that a later file with the same content finds it even where a listing was taken before. */
static int write_object(Storage *s, const BackupStoreOptions *opt,
                        const ObjectWriteOptions *wopt, const uint8_t *data, size_t size,
                        const char *path, uint64_t *stored, PgpErr *err)
{
    ObjectWriteResult w;
    int rc = object_io_write(s, path, wopt, data, size, NULL, NULL, &w, err);
    if (rc == 0 || rc == PGP_ERR_CONFLICT)
        *stored = w.stored_size;
    if (rc == 0 && opt->index != NULL)
        object_index_add(opt->index, path, w.stored_size);
    return rc == PGP_ERR_CONFLICT ? 0 : rc;
}

/* Names the object of digest in res; 0 (res->reused) if an identical object is already
 * stored, PGP_ERR_NOT_FOUND if it must be written, another code on failure. */
static int find_existing(Storage *s, const BackupStoreOptions *opt, const uint8_t *digest,
                         BackupStoreResult *res, PgpErr *err)
{
    char name[PIPE_SHA256_HEX_LEN + 1];
    pipe_hex(digest, PIPE_SHA256_LEN, res->sha256_hex);
    int rc = object_io_name_hex(opt->key, digest, name, err);
    if (rc == 0)
        rc = repo_object_path(name, opt->codec, res->object, err);
    if (rc != 0)
        return rc;
    StorageInfo info;
    /* Written by this backup, not named yet: its batch knows (a stat does not). */
    if (storage_batch_holds(opt->batch, res->object, &info.size))
        rc = 0;
    else if (opt->index != NULL)
        rc = object_index_stat(opt->index, res->object, &info.size, err);
    else
        rc = storage_stat(s, res->object, &info, err);
    if (rc == 0) {
        res->reused = true;
        res->stored_size = info.size;
    }
    return rc;
}

int backup_store_file(Storage *s, const BackupStoreOptions *opt, const uint8_t *data, size_t size,
                      const uint8_t *digest, BackupStoreResult *res, PgpErr *err)
{
    memset(res, 0, sizeof *res);
    uint8_t own[PIPE_SHA256_LEN];
    if (digest == NULL) {
        int rc = pipe_sha256_buf(data, size, own, err);
        if (rc != 0)
            return rc;
        digest = own;
    }
    int rc = find_existing(s, opt, digest, res, err);
    if (rc != PGP_ERR_NOT_FOUND)
        return rc;
    /* One thread per file: the files that come here are below backup_run.c's STREAM_MIN, and
     * the pool's workers already keep the cores busy with several of them; large files stream
     * through their own multi-threaded compressor instead. */
    ObjectWriteOptions wopt = {.codec = opt->codec, .level = opt->level, .zstd_workers = 0,
                               .batch = opt->batch, .seal = {opt->key, OBJECT_AD_CONTENT}};
    rc = write_object(s, opt, &wopt, data, size, res->object, &res->stored_size, err);
    res->new_stored_size = res->stored_size;
    return rc;
}

int backup_store_pending(Storage *s, const BackupStoreOptions *opt, StorageWriter *w,
                         uint64_t len, const uint8_t *digest, BackupStoreResult *res,
                         PgpErr *err)
{
    memset(res, 0, sizeof *res);
    int rc = find_existing(s, opt, digest, res, err);
    if (rc != PGP_ERR_NOT_FOUND) {
        storage_writer_abort(w);
        return rc;
    }
    res->stored_size = res->new_stored_size = len;
    /* An identical object committed concurrently under the same address: the same bytes. */
    rc = storage_writer_commit_as(w, res->object, err);
    if (rc == 0 && opt->index != NULL)
        object_index_add(opt->index, res->object, len);
    return rc == PGP_ERR_CONFLICT ? 0 : rc;
}

/* ---- what the files had in common -------------------------------------------------------- */

/* The first 16 hex digits of a SHA-256 as a number (the digest was made and checked here). */
static uint64_t digest_prefix(const char *hex)
{
    char head[17];
    memcpy(head, hex, 16);   /* sha256_hex: always 64 digits */
    head[16] = '\0';
    return strtoull(head, NULL, 16);
}

static bool dedup_push(uint64_t **v, size_t *n, size_t *cap, const char *hex)
{
    if (GROW(*v, *n, *cap, 1024, NULL, NULL) != 0)
        return false;
    (*v)[(*n)++] = digest_prefix(hex);
    return true;
}

void backup_dedup_note(BackupDedup *d, const BackupStoreResult *res)
{
    if (d->lost)
        return;
    bool ok = res->reused ? dedup_push(&d->reused, &d->n_reused, &d->cap_reused, res->sha256_hex)
                          : dedup_push(&d->written, &d->n_written, &d->cap_written,
                                       res->sha256_hex);
    if (!ok) {
        backup_dedup_free(d);
        d->lost = true;
    }
}

static int prefix_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

bool backup_dedup_counts(BackupDedup *d, uint64_t *unchanged, uint64_t *duplicates)
{
    *unchanged = *duplicates = 0;
    if (d->lost)
        return false;
    if (d->n_written > 1)
        qsort(d->written, d->n_written, sizeof *d->written, prefix_cmp);
    for (size_t i = 0; i < d->n_reused; i++) {
        if (d->n_written > 0 &&
            bsearch(&d->reused[i], d->written, d->n_written, sizeof *d->written, prefix_cmp))
            (*duplicates)++;
        else
            (*unchanged)++;
    }
    return true;
}

void backup_dedup_free(BackupDedup *d)
{
    if (d == NULL)
        return;
    free(d->written);
    free(d->reused);
    memset(d, 0, sizeof *d);
}

/* ---- the pool ------------------------------------------------------------------------- */

/* What a queued job holds besides its data (its node, its path, the allocator's overhead),
 * counted in the budget with the data: otherwise files of 0 bytes queue without bound while
 * the workers are slower than the stream (a cluster of 300,000 empty tables). */
#define POOL_JOB_COST 256u

static size_t job_cost(size_t data)
{
    return data + POOL_JOB_COST;
}

typedef struct JobNode {
    BackupFileJob job;
    struct JobNode *next;
} JobNode;

struct BackupPool {
    Storage *storage;
    BackupStoreOptions opt;
    ObjectIndex *own_index;   /* opt.index when the pool made it */
    StorageBatch *own_batch;  /* opt.batch when the pool made it */
    BackupPoolDoneFn done;
    void *ud;
    pthread_t *threads;
    int n_threads;
    pthread_mutex_t mu;       /* queue, budget, error */
    pthread_cond_t cv;        /* any change of those */
    pthread_mutex_t done_mu;  /* serializes done callbacks and the caller's updates */
    JobNode *head, *tail;
    size_t budget, in_flight;
    int busy;                 /* jobs taken by workers, not yet finished */
    bool stopping;
    int rc;
    PgpErr err;
};

/* What a job owns, given back (a pending writer not committed is aborted). */
static void job_release(BackupFileJob *job)
{
    storage_writer_abort(job->pending);
    job->pending = NULL;
    free(job->data);
    free(job->path);
    backup_chunked_unref(job->chunked);
    job->chunked = NULL;
}

/* A chunk of a chunked file: the done callback runs once the file's last chunk and its list
 * are stored, with the whole file described. */
static int run_chunk(BackupPool *p, BackupFileJob *job, PgpErr *err)
{
    BackupFileJob file;
    BackupStoreResult res;
    bool complete = false;
    int rc = backup_chunked_store(p->storage, &p->opt, job, &file, &res, &complete, err);
    if (rc == 0 && complete) {
        pthread_mutex_lock(&p->done_mu);
        rc = p->done(p->ud, &file, &res, err);
        pthread_mutex_unlock(&p->done_mu);
    }
    return rc;
}

/* The pool's first error is kept; later jobs are dropped. */
static void pool_fail(BackupPool *p, int rc, const PgpErr *err)
{
    pthread_mutex_lock(&p->mu);
    if (p->rc == 0) {
        p->rc = rc;
        p->err = *err;
    }
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

static void run_job(BackupPool *p, BackupFileJob *job)
{
    PgpErr err;
    pgp_err_clear(&err);
    if (job->chunked != NULL) {
        int crc = run_chunk(p, job, &err);
        if (crc != 0) {
            char q[PGP_QUOTE_BUF];
            pgp_err_context(&err, "cannot back up \"%s\"",
                            pgp_quote(backup_chunked_path(job->chunked), q));
            pool_fail(p, crc, &err);
        }
        return;
    }
    BackupStoreResult res;
    StorageWriter *pending = job->pending;
    job->pending = NULL;   /* backup_store_pending frees it */
    /* The check against the server's backup_manifest needs it; here, on a worker, it runs
     * beside the other files' hashing and compression instead of on the reading thread. */
    if (pending == NULL && !job->has_crc32c) {
        job->crc32c = pipe_crc32c_final(pipe_crc32c_update(PIPE_CRC32C_INIT, job->data,
                                                           job->size));
        job->has_crc32c = true;
    }
    int rc = pending != NULL
                 ? backup_store_pending(p->storage, &p->opt, pending, job->stored_len,
                                        job->digest, &res, &err)
                 : backup_store_file(p->storage, &p->opt, job->data, job->size,
                                     job->has_digest ? job->digest : NULL, &res, &err);
    if (rc != 0) {
        char q[PGP_QUOTE_BUF];
        pgp_err_context(&err, "cannot back up \"%s\"", pgp_quote(job->path, q));
    } else {
        pthread_mutex_lock(&p->done_mu);
        rc = p->done(p->ud, job, &res, &err);
        pthread_mutex_unlock(&p->done_mu);
    }
    if (rc != 0)
        pool_fail(p, rc, &err);
}

static void *worker_main(void *arg)
{
    BackupPool *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->head == NULL && !p->stopping)
            pthread_cond_wait(&p->cv, &p->mu);
        if (p->head == NULL)
            break; /* stopping and nothing left */
        JobNode *n = p->head;
        p->head = n->next;
        if (p->head == NULL)
            p->tail = NULL;
        bool skip = p->rc != 0 || p->stopping; /* after a failure: drop the job, do no work */
        p->busy++;
        pthread_mutex_unlock(&p->mu);
        if (!skip)
            run_job(p, &n->job);
        job_release(&n->job);
        pthread_mutex_lock(&p->mu);
        p->in_flight -= job_cost(n->job.data_len);
        p->busy--;
        pthread_cond_broadcast(&p->cv);
        free(n);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static int pool_error(BackupPool *p, PgpErr *err)
{
    if (err != NULL)
        *err = p->err;
    return p->rc;
}

int backup_pool_new(Storage *s, const BackupStoreOptions *opt, int workers, size_t budget,
                    BackupPoolDoneFn done, void *ud, BackupPool **out, PgpErr *err)
{
    *out = NULL;
    int lrc = pipe_crc32c_load(err);   /* run_job computes every file's CRC-32C */
    if (lrc != 0)
        return lrc;
    BackupPool *p = calloc(1, sizeof *p);
    if (p == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    p->storage = s;
    p->opt = *opt;
    /* The caller's backup lock excludes expire (the only remover of objects) and any other
     * backup for the whole run (repolock.h): an object the index lists stays there until the
     * manifest that references it is committed. */
    if (p->opt.index == NULL) {
        int rc = object_index_new(s, OBJECT_INDEX_AUTO, OBJECT_INDEX_EXPECT_BACKUP,
                                  &p->own_index, err);
        if (rc != 0) {
            free(p);
            return rc;
        }
        p->opt.index = p->own_index;
    }
    if (p->opt.batch == NULL) {
        int rc = storage_batch_new(s, REPO_LAYOUT_OBJECTS_DIR, &backup_batch_limits,
                                   &p->own_batch, err);
        if (rc != 0) {
            object_index_free(p->own_index);
            free(p);
            return rc;
        }
        p->opt.batch = p->own_batch;
    }
    p->done = done;
    p->ud = ud;
    p->budget = budget;
    pthread_mutex_init(&p->mu, NULL);
    pthread_mutex_init(&p->done_mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->threads = calloc((size_t)(workers > 0 ? workers : 1), sizeof *p->threads);
    if (p->threads == NULL) {
        backup_pool_free(p);
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < (workers > 0 ? workers : 1); i++) {
        if (pthread_create(&p->threads[i], NULL, worker_main, p) != 0) {
            backup_pool_free(p);
            return PGP_FAIL(err, PGP_ERR_NOMEM, "cannot start backup worker threads");
        }
        p->n_threads++;
    }
    *out = p;
    return 0;
}

int backup_pool_reserve(BackupPool *p, size_t size, PgpErr *err)
{
    pthread_mutex_lock(&p->mu);
    while (p->rc == 0 && p->in_flight > 0 && p->in_flight + job_cost(size) > p->budget)
        pthread_cond_wait(&p->cv, &p->mu);
    int rc = p->rc != 0 ? pool_error(p, err) : 0;
    if (rc == 0)
        p->in_flight += job_cost(size);
    pthread_mutex_unlock(&p->mu);
    return rc;
}

int backup_pool_alloc(BackupPool *p, size_t size, uint8_t **buf, PgpErr *err)
{
    *buf = NULL;
    int rc = backup_pool_reserve(p, size, err);
    if (rc != 0)
        return rc;
    *buf = malloc(size > 0 ? size : 1);
    if (*buf == NULL) {
        pthread_mutex_lock(&p->mu);
        p->in_flight -= job_cost(size);
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory for a %zu-byte file", size);
    }
    return 0;
}

void backup_pool_discard(BackupPool *p, uint8_t *buf, size_t size)
{
    free(buf);
    pthread_mutex_lock(&p->mu);
    p->in_flight -= job_cost(size);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

int backup_pool_submit(BackupPool *p, BackupFileJob *job, PgpErr *err)
{
    JobNode *n = malloc(sizeof *n);
    pthread_mutex_lock(&p->mu);
    int rc = p->rc != 0 ? pool_error(p, err)
             : n == NULL ? PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory")
                         : 0;
    if (rc != 0) {
        p->in_flight -= job_cost(job->data_len);
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        job_release(job);
        free(n);
        return rc;
    }
    n->job = *job;
    n->next = NULL;
    if (p->tail != NULL)
        p->tail->next = n;
    else
        p->head = n;
    p->tail = n;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return 0;
}

/* The reading thread's side of a chunked file: one chunk at a time from read into the budget,
 * CRC-32C'd in stream order (the check against the server's backup_manifest covers the whole
 * file), then queued; hashing, lookup, compression and upload happen on the workers. */
int backup_pool_submit_chunked(BackupPool *p, const BackupFileJob *meta, BackupReadFn read,
                               void *read_ud, PgpErr *err)
{
    BackupChunked *c = NULL;
    int rc = backup_chunked_new(meta, p->opt.codec, &c, err);
    uint32_t crc = PIPE_CRC32C_INIT;
    uint64_t n = rc == 0 ? backup_chunked_count(c) : 0;
    for (uint64_t i = 0; rc == 0 && i < n; i++) {
        uint64_t off, len;
        backup_chunked_extent(c, i, &off, &len);
        BackupFileJob job = {.tablespace = meta->tablespace, .mode = meta->mode,
                             .mtime = meta->mtime, .size = (size_t)len, .data_len = (size_t)len,
                             .chunk_index = i};
        rc = backup_pool_alloc(p, job.size, &job.data, err);
        if (rc != 0)
            break;
        rc = read(read_ud, job.data, job.size, err);
        if (rc != 0) {
            backup_pool_discard(p, job.data, job.size);
            break;
        }
        crc = pipe_crc32c_update(crc, job.data, job.size);
        if (i + 1 == n)
            backup_chunked_set_crc32c(c, pipe_crc32c_final(crc));
        job.chunked = backup_chunked_ref(c);
        rc = backup_pool_submit(p, &job, err);    /* owns job.chunked's reference */
    }
    backup_chunked_unref(c);
    return rc;
}

int backup_pool_finish(BackupPool *p, PgpErr *err)
{
    pthread_mutex_lock(&p->mu);
    while (p->head != NULL || p->busy > 0)
        pthread_cond_wait(&p->cv, &p->mu);
    int rc = pool_error(p, err);
    pthread_mutex_unlock(&p->mu);
    if (rc == 0 && p->opt.batch != NULL)
        rc = storage_batch_flush(p->opt.batch, err);
    return rc;
}

void backup_pool_free(BackupPool *p)
{
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->mu);
    p->stopping = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->n_threads; i++)
        pthread_join(p->threads[i], NULL);
    while (p->head != NULL) { /* only left when no worker ever started */
        JobNode *n = p->head;
        p->head = n->next;
        job_release(&n->job);
        free(n);
    }
    free(p->threads);
    if (p->own_index != NULL) {
        ObjectIndexStats st = object_index_stats(p->own_index);
        log_debug("object lookups: %" PRIu64 " from %" PRIu64 " listing(s), %" PRIu64
                  " stat(s); %" PRIu64 " listed name(s) ignored", st.listed, st.listings,
                  st.stats, st.ignored);
        object_index_free(p->own_index);
    }
    storage_batch_free(p->own_batch);     /* what was not flushed is discarded, never named */
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->done_mu);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

void backup_pool_lock(BackupPool *p) { pthread_mutex_lock(&p->done_mu); }
void backup_pool_unlock(BackupPool *p) { pthread_mutex_unlock(&p->done_mu); }
