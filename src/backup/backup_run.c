/*
 * backup_run.c - backup_run() (backup_run.h), what `pgpitr backup` runs: a base backup over
 * the replication protocol, stored file by file as content-addressed objects, with a manifest.
 *
 * Order of events, and why:
 *   (the caller's) lock -> clean what a failed backup left -> connect, IDENTIFY_SYSTEM, check
 *   the cluster (a standby: its primary too, before anything is written) -> BASE_BACKUP ->
 *   files to the store pool while the stream is read -> end position -> every file checked
 *   against PostgreSQL's backup_manifest -> (a standby: the primary switches WAL) -> WAL
 *   start..stop archived -> manifest.json written. Only that last write makes the backup
 *   restorable, so a backup that fails or is killed at any step is never listed as complete.
 */
#include "pgpitr/backup/backup_run.h"

#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "pgpitr/backup/backup_chunks.h"
#include "pgpitr/backup/backup_finish.h"
#include "pgpitr/backup/backup_standby.h"
#include "pgpitr/backup/backup_store.h"
#include "pgpitr/common/log.h"
#include "pgpitr/common/progress.h"
#include "pgpitr/common/timefmt.h"
#include "pgpitr/repo/manifest.h"
#include "pgpitr/repo/object_io.h"
#include "pgpitr/repo/repo_json.h"
#include "pgpitr/pg/basebackup_tar.h"
#include "pgpitr/pg/pgconn.h"
#include "pgpitr/pg/walname.h"

/* Memory: files below CHUNK_FILE_MIN (8 MiB) are read whole into the pool's budget and stored
 * by its workers; larger ones are read one 1 MiB chunk at a time into the same budget, each
 * chunk a job (backup_pool_submit_chunked, docs/chunking.md). Only a file too large for a
 * chunk list (above 1 TiB) is still compressed while it arrives into a storage writer
 * (stream_big) that holds at most BACKUP_PENDING_MEMORY, counted in the budget. With the raw
 * queue of a streamed file and each worker's writer (one S3 part at most), a backup's peak RSS
 * stays near a fixed base + POOL_BUDGET + STREAM_QUEUE + jobs x s3-part-size, whatever the
 * size of the database or of its largest file (docs/s3.md). */
#define POOL_BUDGET (32u << 20)
#define HASH_PIECE (1u << 20)
/* From this size on a file that is not chunked is compressed while it arrives instead of
 * after (see stream_big).
 * It bounds the raw bytes one file holds in memory: the bench database's 42 MiB index held
 * whole (with 64 MiB here) while the 256 MiB table streamed made the peak RSS 107 MiB, 61 MiB
 * with 32 MiB. Files below it are compressed on one thread each (backup_store_file). */
#define STREAM_MIN (32u << 20)
/* Raw pieces queued for the compressing thread: enough for it never to wait on this thread
 * (zstd's own two threads take 1 MiB pieces as fast as they come); 16 MiB was 12 MiB of peak
 * RSS for no speed. */
#define STREAM_QUEUE (4u << 20)

typedef struct BackupRun {
    BackupManifest *m;
    BackupSource src;
    const BackupStoreOptions *store;
    BackupStoreOptions store_opt;   /* the request's, with the repository's key */
    BackupPool *pool;
    bool pool_finished;         /* by on_manifest: the stream's end needs no second wait */
    Storage *storage;
    uint64_t files, reused_files;
    uint64_t chunked_files, chunks, new_chunks;   /* files stored as chunks */
    BackupDedup dedup;          /* which reused files were duplicates within this backup */
    int64_t total_size;
    uint64_t received;          /* bytes of the copy stream (pg_basebackup_received) */
    double started;
    bool tty;                   /* status lines on stderr (progress_wanted) */
    Progress prog;              /* the phase under way: checkpoint, stream, check, wal, manifest */
    /* What the stream's status line shows of the workers' results: written by on_stored on a
     * worker, read by the reading thread, hence atomic (the manifest's sums are not). */
    atomic_uint_fast64_t st_stored, st_new, st_chunks, st_new_chunks;
} BackupRun;

static double now_s(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* ---- the cluster --------------------------------------------------------------------------- */

/* "16MB" / "1GB" / "1048576" -> bytes (SHOW wal_segment_size in replication mode). */
static int parse_segsize(const char *text, uint32_t *out, PgpErr *err)
{
    char *end = NULL;
    unsigned long long v = strtoull(text, &end, 10);
    if (strcmp(end, "MB") == 0)
        v <<= 20;
    else if (strcmp(end, "GB") == 0)
        v <<= 30;
    else if (strcmp(end, "kB") == 0)
        v <<= 10;
    else if (*end != '\0')
        v = 0;
    if (!pg_wal_segsize_valid(v))
        return PGP_FAIL(err, PGP_ERR_PG, "server reports an invalid wal_segment_size \"%s\"", text);
    *out = (uint32_t)v;
    return 0;
}

/* The server must be able to make an online backup, and be the repository's cluster; a
 * standby needs its primary too. All of it before the repository is written to (repo_bind
 * may create repo.json). */
static int check_cluster(PgConn *conn, Repo *repo, const BackupOptions *o, PgSystem *sys,
                         BackupSource *src, PgpErr *err)
{
    int rc = pg_identify_system(conn, sys, err);
    char *wal_level = NULL, *segsize = NULL;
    if (rc == 0)
        rc = pg_show(conn, "wal_level", &wal_level, err);
    if (rc == 0 && strcmp(wal_level, "minimal") == 0) {
        rc = PGP_FAIL(err, PGP_ERR_PG, "the server runs with wal_level = minimal, which cannot "
                                       "make an online backup");
        pgp_err_hint(err, "set wal_level = replica (and archive_mode = on) and restart the server");
    }
    if (rc == 0)
        rc = pg_show(conn, "wal_segment_size", &segsize, err);
    if (rc == 0)
        rc = backup_source_check(conn, sys, o->primary_conninfo, src, err);
    RepoIdentity id = {sys->system_identifier, sys->pg_major, 0, false};
    if (rc == 0)
        rc = parse_segsize(segsize, &id.wal_segsize, err);
    if (rc == 0)
        rc = repo_bind(repo, &id, err);
    free(wal_level);
    free(segsize);
    return rc;
}

/* ---- the stream ---------------------------------------------------------------------------- */

/* The stream's status line: bytes received of the server's estimate, files stored, and what
 * storing them cost so far. Called on the reading thread only (on_progress, on_entry). */
static void stream_tick(BackupRun *r)
{
    if (!r->tty || !progress_due(r->prog.last_draw, progress_now()))
        return;
    uint64_t chunks = atomic_load(&r->st_chunks);
    if (chunks > 0)
        progress_note(&r->prog, "stored %.1f MiB (%.1f MiB new), chunks %" PRIu64 " new of %"
                      PRIu64, (double)atomic_load(&r->st_stored) / 1048576.0,
                      (double)atomic_load(&r->st_new) / 1048576.0,
                      (uint64_t)atomic_load(&r->st_new_chunks), chunks);
    else
        progress_note(&r->prog, "stored %.1f MiB (%.1f MiB new)",
                      (double)atomic_load(&r->st_stored) / 1048576.0,
                      (double)atomic_load(&r->st_new) / 1048576.0);
    progress_tick(&r->prog);
}

/* The server's PROGRESS message, on the reading thread. Its count of bytes sent comes about
 * once a second (PostgreSQL's threshold): the status line counts the files' bytes as this
 * thread reads them instead (on_entry, stream_big, tar_read), a smoother count of the same. */
static void on_progress(void *ud, uint64_t done)
{
    (void)done;
    stream_tick(ud);
}

static int storage_sink_write(void *ud, const void *buf, size_t len, PgpErr *err)
{
    return storage_write(ud, buf, len, err);
}

/* The filters of a streamed big file: thread -> crc32c -> sha256 -> compress -> [encrypt ->]
 * size -> storage writer. Both checksums run on the chain's thread, while zstd's own threads
 * compress the pieces before them: the reading thread only reads. The object's name is
 * chosen once its digest is known, so it is encrypted under OBJECT_AD_CONTENT (object_io.h). */
typedef struct BigChain {
    PipeFilter *thr, *crc, *sha, *comp, *enc, *size;
} BigChain;

static int big_chain_build(BigChain *c, const BackupStoreOptions *opt, StorageWriter *w,
                           PgpErr *err)
{
    memset(c, 0, sizeof *c);
    int rc = pipe_size_new((PipeSink){storage_sink_write, w}, &c->size, err);
    PipeSink out = pipe_filter_sink(c->size);
    if (rc == 0 && opt->key != NULL)
        rc = pipe_encrypt_new(opt->key, OBJECT_AD_CONTENT, NULL, out, &c->enc, err);
    if (c->enc != NULL)
        out = pipe_filter_sink(c->enc);
    if (rc == 0)
        rc = pipe_compress_new(opt->codec, opt->level, 2, out, &c->comp, err);
    if (rc == 0)
        rc = pipe_sha256_new(pipe_filter_sink(c->comp), &c->sha, err);
    if (rc == 0)
        rc = pipe_crc32c_new(pipe_filter_sink(c->sha), &c->crc, err);
    if (rc == 0)
        rc = pipe_thread_new(pipe_filter_sink(c->crc), STREAM_QUEUE, &c->thr, err);
    return rc;
}

static void big_chain_free(BigChain *c)
{
    pipe_filter_free(c->thr);   /* stops and joins the worker first if it still runs */
    pipe_filter_free(c->crc);
    pipe_filter_free(c->sha);
    pipe_filter_free(c->comp);
    pipe_filter_free(c->enc);
    pipe_filter_free(c->size);
}

/* A big file (a relation segment of up to 1 GiB) is compressed while it arrives: pieces go
 * to a worker thread that hashes and compresses them (with zstd's own threads) into a
 * storage writer, while this thread only keeps reading, which is what paces the server.
 * Memory stays bounded whatever the file's size: the writer is a temp file of the repository
 * (posix) or one part in memory and the rest in a local temporary file (S3, which cannot
 * rename). The content address is known only at the end, so the writer is handed to the pool,
 * which commits it under that address unless an identical object exists (then it is
 * dropped: for an unchanged file the compression was wasted, but it ran while waiting for the
 * server). */
static int stream_big(BackupRun *r, const PgTarEntry *e, PgTarReader *reader,
                      const BackupStoreOptions *opt, PgpErr *err)
{
    BackupFileJob job = {.tablespace = e->tablespace, .mode = e->mode, .mtime = e->mtime,
                         .size = (size_t)e->size, .has_digest = true,
                         .data_len = BACKUP_PENDING_MEMORY};
    BigChain c = {0};
    uint8_t *piece = malloc(HASH_PIECE);
    int rc = piece ? 0 : PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    bool reserved = false;
    if (rc == 0)
        reserved = (rc = backup_pool_reserve(r->pool, job.data_len, err)) == 0;
    if (rc == 0)
        rc = storage_open_write(r->storage, REPO_PENDING_OBJECT, STORAGE_WRITE_NAME_AT_COMMIT,
                                &job.pending, err);
    if (rc == 0)
        rc = big_chain_build(&c, opt, job.pending, err);
    for (uint64_t off = 0; rc == 0 && off < e->size; off += HASH_PIECE) {
        size_t n = e->size - off < HASH_PIECE ? (size_t)(e->size - off) : HASH_PIECE;
        rc = pg_tar_read(reader, piece, n, err);
        if (rc == 0)
            rc = pipe_filter_push(c.thr, piece, n, err);
        progress_add(&r->prog, n, 0);
    }
    /* Finishing thr joins the worker, then finishes sha, comp and size. */
    if (rc == 0)
        rc = pipe_filter_finish(c.thr, err);
    if (rc == 0) {
        pipe_sha256_result(c.sha, job.digest);
        job.crc32c = pipe_crc32c_result(c.crc);
        job.has_crc32c = true;
        job.stored_len = pipe_size_result(c.size);
        job.path = strdup(e->path);
        if (job.path == NULL)
            rc = PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    }
    big_chain_free(&c);
    free(piece);
    if (rc == 0)
        return backup_pool_submit(r->pool, &job, err);   /* owns path and writer from here */
    storage_writer_abort(job.pending);
    if (reserved)
        backup_pool_discard(r->pool, NULL, job.data_len);
    return rc;
}

typedef struct TarRead {
    PgTarReader *reader;
    BackupRun *r;
} TarRead;

/* A chunked file's bytes, read during backup_pool_submit_chunked on this thread. */
static int tar_read(void *ud, void *buf, size_t len, PgpErr *err)
{
    TarRead *t = ud;
    progress_add(&t->r->prog, len, 0);
    stream_tick(t->r);
    return pg_tar_read(t->reader, buf, len, err);
}

static int on_entry(void *ud, const PgTarEntry *e, PgTarReader *reader, PgpErr *err)
{
    BackupRun *r = ud;
    stream_tick(r);
    if (e->type != PG_TAR_FILE) {
        ManifestEntry me = {.path = (char *)e->path, .tablespace = e->tablespace,
                            .type = e->type == PG_TAR_DIR ? MANIFEST_DIR : MANIFEST_SYMLINK,
                            .mode = e->mode, .mtime = e->mtime,
                            .link_target = (char *)e->link_target};
        backup_pool_lock(r->pool);
        int rc = manifest_add_entry(r->m, &me, err);
        backup_pool_unlock(r->pool);
        return rc;
    }
    if (e->size > SIZE_MAX / 2)
        return PGP_FAIL(err, PGP_ERR_PG, "file \"%s\" is too large", e->path);
    BackupFileJob meta = {.path = (char *)e->path, .tablespace = e->tablespace,
                          .mode = e->mode, .mtime = e->mtime, .size = (size_t)e->size};
    /* Large files as chunks (docs/chunking.md): a changed page costs one chunk, not the file. */
    if (backup_store_chunks(e->size)) {
        TarRead t = {reader, r};
        return backup_pool_submit_chunked(r->pool, &meta, tar_read, &t, err);
    }
    if (e->size >= STREAM_MIN)     /* above CHUNK_LIST_MAX_CHUNKS chunks only */
        return stream_big(r, e, reader, r->store, err);
    BackupFileJob job = {.tablespace = e->tablespace, .mode = e->mode, .mtime = e->mtime,
                         .size = (size_t)e->size, .data_len = (size_t)e->size};
    int rc = backup_pool_alloc(r->pool, job.size, &job.data, err);
    if (rc != 0)
        return rc;
    /* Hashed (SHA-256, CRC-32C) by the pool's worker, not here: this thread paces the
     * server. */
    rc = pg_tar_read(reader, job.data, job.size, err);
    progress_add(&r->prog, job.size, 0);
    job.path = rc == 0 ? strdup(e->path) : NULL;
    if (rc == 0 && job.path == NULL)
        rc = PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    if (rc != 0) {
        backup_pool_discard(r->pool, job.data, job.size);
        return rc;
    }
    return backup_pool_submit(r->pool, &job, err);
}

/* Runs on a worker, serialized by the pool. */
static int on_stored(void *ud, const BackupFileJob *job, const BackupStoreResult *res, PgpErr *err)
{
    BackupRun *r = ud;
    ManifestEntry me = {.path = job->path, .tablespace = job->tablespace, .type = MANIFEST_FILE,
                        .size = job->size, .mode = job->mode, .mtime = job->mtime,
                        .object = (char *)res->object, .stored_size = res->stored_size};
    if (res->chunk_shift != 0) {   /* stored as chunks: object is the chunk list */
        me.object = NULL;
        me.chunk_list = (char *)res->object;
        me.chunk_shift = res->chunk_shift;
        r->chunked_files++;
        r->chunks += res->chunks;
        r->new_chunks += res->new_chunks;
    }
    memcpy(me.sha256, res->sha256_hex, sizeof me.sha256);
    me.crc32c = job->crc32c;
    me.has_crc32c = job->has_crc32c;
    int rc = manifest_add_entry(r->m, &me, err);
    if (rc != 0)
        return rc;
    r->files++;
    progress_add(&r->prog, 0, 1);
    atomic_fetch_add(&r->st_stored, res->stored_size);
    atomic_fetch_add(&r->st_new, res->new_stored_size);
    atomic_fetch_add(&r->st_chunks, res->chunks);
    atomic_fetch_add(&r->st_new_chunks, res->new_chunks);
    r->m->size += job->size;
    r->m->stored_size += res->stored_size;
    if (res->reused)
        r->reused_files++;
    r->m->new_stored_size += res->new_stored_size;
    backup_dedup_note(&r->dedup, res);
    return 0;
}

/* ---- the run ------------------------------------------------------------------------------- */

static void format_time(int64_t t, char out[32])
{
    timefmt_iso(t, TIMEFMT_BASIC, out, 32);
}

/* The label in the lock object, before its directory exists, so that info can tell this
 * running backup's directory from what a failed one left. Only informative: a failure to
 * write it costs info's exactness, not the backup. */
static void label_lock(RepoLock *lock, const char *label)
{
    PgpErr e = {0};
    if (repo_lock_set_label(lock, label, &e) != 0)
        log_warn("cannot record the label in the backup lock: %s", e.msg);
}

static int mark_in_progress(Storage *s, const char *label, PgpErr *err)
{
    char path[REPO_PATH_MAX];
    int rc = repo_backup_dir(label, path, err);
    if (rc != 0)
        return rc;
    StorageInfo info;
    if (storage_stat(s, path, &info, NULL) == 0) {
        PGP_FAIL(err, PGP_ERR_CONFLICT, "a backup labelled \"%s\" already exists", label);
        pgp_err_hint(err, "choose another --label, or omit it to use the start time");
        return PGP_ERR_CONFLICT;
    }
    char text[128];
    int n = snprintf(text, sizeof text, "{\"pid\": %ld, \"started\": %lld}\n", (long)getpid(),
                     (long long)time(NULL));
    rc = repo_backup_file(label, REPO_LAYOUT_INPROGRESS, path, err);
    return rc != 0 ? rc : storage_put_all(s, path, 0, text, (size_t)n, err);
}

/* backup_manifest as the stream brings it, each piece also written to the stored copy. */
typedef struct PgManifestTee {
    PgTarManifest *src;
    ObjectWriter *w;
} PgManifestTee;

static int tee_read(void *ud, void *buf, size_t len, size_t *got, PgpErr *err)
{
    PgManifestTee *t = ud;
    int rc = pg_tar_manifest_read(t->src, buf, len, got, err);
    return rc == 0 ? object_io_writer_write(t->w, buf, *got, err) : rc;
}

/* Stores PostgreSQL's backup_manifest beside ours, compressed like the files, as it arrives,
 * every file checked against it on the way: it is never held whole (~150 bytes a file), and
 * the stored copy is committed only once every file matched. */
static int store_pg_manifest(Storage *s, BackupManifest *m, const BackupStoreOptions *opt,
                             PgTarManifest *src, PgpErr *err)
{
    char path[REPO_PATH_MAX];
    /* bound to its path (object_io.h) */
    ObjectWriteOptions wopt = {.codec = opt->codec, .level = opt->level,
                               .seal = {opt->key, path}};
    PgManifestTee t = {.src = src};
    int rc = repo_backup_pg_manifest_path(m->label, opt->codec, path, err);
    if (rc == 0)
        rc = object_io_writer_open(s, path, &wopt, &t.w, err);
    if (rc == 0)
        rc = backup_check_pg_manifest_stream(m, tee_read, &t, err);
    if (rc != 0) {
        object_io_writer_abort(t.w);
        return rc;
    }
    if ((rc = object_io_writer_commit(t.w, NULL, err)) != 0)
        return rc;
    m->pg_manifest_object = strdup(path);
    return m->pg_manifest_object ? 0 : PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
}

/* The stream's last part, after every archive: once the pool stored every file (their
 * checksums are known then), backup_manifest is checked and stored as it arrives. */
static int on_manifest(void *ud, PgTarManifest *src, PgpErr *err)
{
    BackupRun *r = ud;
    r->pool_finished = true;
    int rc = backup_pool_finish(r->pool, err);
    return rc == 0 ? store_pg_manifest(r->storage, r->m, r->store, src, err) : rc;
}

/* The stream's final line: the files' bytes (what the summary counts), with what came over
 * the wire and what the repository got. */
static void stream_done(BackupRun *r)
{
    progress_set(&r->prog, r->m->size, r->files);
    int n = snprintf(r->prog.extra, sizeof r->prog.extra, "received %.1f MiB, stored %.1f MiB "
                     "(%.1f MiB new)", (double)r->received / 1048576.0,
                     (double)r->m->stored_size / 1048576.0,
                     (double)r->m->new_stored_size / 1048576.0);
    if (r->chunks > 0 && n > 0 && (size_t)n < sizeof r->prog.extra)
        snprintf(r->prog.extra + n, sizeof r->prog.extra - (size_t)n, ", chunks %" PRIu64
                 " new of %" PRIu64, r->new_chunks, r->chunks);
    progress_end(&r->prog);
}

static int stream_backup(PgConn *conn, Repo *repo, const BackupOptions *o, BackupRun *r,
                         PgpErr *err)
{
    PgBaseBackupOptions bo = {.label = r->m->label, .fast_checkpoint = o->fast_checkpoint,
                              .progress = true, .max_rate_kb = o->max_rate_kb,
                              .compress = o->server_compress};
    PgBackupStream *bs = NULL;
    PgBackupStart start;
    /* A spread checkpoint can take minutes (checkpoint_timeout x completion_target): say so. */
    progress_begin(&r->prog, r->tty, "backup", "checkpoint", NULL, 0, 0);
    progress_note(&r->prog, "waiting for the server's %s checkpoint",
                  o->fast_checkpoint ? "fast" : "spread");
    progress_tick(&r->prog);
    int rc = pg_basebackup_begin(conn, &bo, &bs, &start, err);
    if (rc != 0)
        return rc;
    char lsn[20];
    pg_lsn_format(start.start_lsn, lsn);
    progress_note(&r->prog, "%s, start LSN %s", o->fast_checkpoint ? "fast" : "spread", lsn);
    progress_end(&r->prog);
    progress_begin(&r->prog, r->tty, "backup", "stream", "files",
                   start.total_size > 0 ? (uint64_t)start.total_size : 0, 0);
    r->m->start_lsn = start.start_lsn;
    r->m->timeline = start.timeline;
    r->total_size = start.total_size;
    r->store_opt = o->store;
    r->store_opt.key = repo_crypto_key(repo);
    r->store = &r->store_opt;
    for (size_t i = 0; rc == 0 && i < start.n_tablespaces; i++)
        rc = manifest_add_tablespace(r->m, start.tablespaces[i].oid, start.tablespaces[i].location,
                                     err);
    r->storage = repo_storage(repo);
    if (rc == 0)
        rc = backup_pool_new(r->storage, r->store, o->jobs, POOL_BUDGET, on_stored, r,
                             &r->pool, err);
    PgTarHandler h = {.ud = r, .on_entry = on_entry, .on_progress = on_progress,
                      .on_manifest = on_manifest};
    if (rc == 0)
        rc = pg_basebackup_tar_consume(bs, &h, NULL, NULL, err);
    if (rc == 0 && !r->pool_finished)
        rc = backup_pool_finish(r->pool, err);
    uint32_t end_tli = 0;
    if (rc == 0)
        rc = pg_basebackup_finish(bs, &r->m->stop_lsn, &end_tli, err);
    if (rc == 0 && end_tli != r->m->timeline)
        rc = PGP_FAIL(err, PGP_ERR_PG, "the server changed timeline during the backup (%u -> %u)",
                      r->m->timeline, end_tli);
    r->received = pg_basebackup_received(bs);
    if (rc == 0)
        stream_done(r);
    backup_pool_free(r->pool);
    r->pool = NULL;
    pg_basebackup_free(bs);
    return rc;
}

/* "WAL 000000010000000000000003 to ...04 archived" */
static void wal_done(BackupRun *r, uint32_t segsize)
{
    char first[PG_WALNAME_SEG_LEN + 1], last[PG_WALNAME_SEG_LEN + 1];
    uint64_t stop = r->m->stop_lsn > r->m->start_lsn ? r->m->stop_lsn - 1 : r->m->stop_lsn;
    pg_walname_format(r->m->timeline, pg_lsn_segno(r->m->start_lsn, segsize), segsize, first);
    pg_walname_format(r->m->timeline, pg_lsn_segno(stop, segsize), segsize, last);
    progress_note(&r->prog, "WAL %s to %s archived", first, last);
    progress_end(&r->prog);
}

static int finish_backup(Repo *repo, RepoLock *lock, const BackupOptions *o, BackupRun *r,
                         PgpErr *err)
{
    Storage *s = repo_storage(repo);
    int rc = 0;
    /* checked as it arrived, at the stream's end (on_manifest) */
    progress_begin(&r->prog, r->tty, "backup", "check", "files", 0, 0);
    progress_set(&r->prog, 0, r->files);
    progress_note(&r->prog, "all match the server's backup_manifest");
    progress_end(&r->prog);
    progress_begin(&r->prog, r->tty, "backup", "wal", NULL, 0, 0);
    progress_note(&r->prog, "waiting for the backup's WAL in the archive");
    progress_tick(&r->prog);
    PgpErr sw = {0};
    /* The stream is done: a primary that cannot be reached now (a network blip) must not
     * throw it away while its WAL may still arrive (a busy primary fills the segment). */
    if (rc == 0 && backup_source_switch(&r->src, r->m->timeline, r->m->stop_lsn,
                                        repo_identity(repo)->wal_segsize, &sw) != 0)
        log_warn("%s%s%s; waiting for the backup's WAL anyway", sw.msg,
                 sw.hint[0] != '\0' ? "; HINT: " : "", sw.hint);
    char archiver[2 * PG_SERVER_NAME_MAX + 64];
    backup_source_archiver(&r->src, archiver, sizeof archiver);
    if (rc == 0)
        rc = backup_wait_wal(repo, r->m->timeline, r->m->start_lsn, r->m->stop_lsn,
                             o->archive_timeout, archiver, err);
    if (rc != 0)
        return rc;
    wal_done(r, repo_identity(repo)->wal_segsize);
    progress_begin(&r->prog, r->tty, "backup", "manifest", NULL, 0, 0);
    r->m->stop_time = (int64_t)time(NULL);
    /* The lock must still be ours when the backup becomes restorable: after a stall longer
     * than lock-stale (a paused VM, a storage outage) another host may have taken it over,
     * and an expire then removes this unfinished backup's objects. A manifest.json written
     * after that would name objects that are gone: a backup that says it restores and does
     * not. The fresh heartbeat keeps anyone from taking over while manifest.json is written. */
    if (rc == 0)
        rc = repo_lock_confirm(lock, err);
    if (rc == 0)
        rc = manifest_save(s, repo_crypto_key(repo), r->m->label, r->m, err);
    if (rc == 0) {
        char marker[REPO_PATH_MAX];
        if (repo_backup_file(r->m->label, REPO_LAYOUT_INPROGRESS, marker, NULL) == 0)
            storage_remove(s, marker, NULL); /* leftover marker is harmless: manifest.json rules */
        progress_note(&r->prog, "manifest.json written: the backup is restorable");
        progress_end(&r->prog);
    }
    return rc;
}

/* " (980 unchanged, 12 duplicates of another file)": unchanged = already stored before this
 * backup; a first backup has none, only files identical to another of its own files. */
static void reuse_text(BackupRun *r, char *out, size_t size, uint64_t *dups)
{
    uint64_t unchanged;
    out[0] = '\0';
    if (!backup_dedup_counts(&r->dedup, &unchanged, dups)) {
        if (r->reused_files > 0)
            snprintf(out, size, " (%" PRIu64 " already stored)", r->reused_files);
        return;
    }
    if (unchanged > 0 && *dups > 0)
        snprintf(out, size, " (%" PRIu64 " unchanged, %" PRIu64 " duplicate%s of another file, "
                 "stored once)", unchanged, *dups, *dups == 1 ? "" : "s");
    else if (unchanged > 0)
        snprintf(out, size, " (%" PRIu64 " unchanged)", unchanged);
    else if (*dups > 0)
        snprintf(out, size, " (%" PRIu64 " duplicate%s of another file, stored once)", *dups,
                 *dups == 1 ? "" : "s");
}

/* "none", "zstd" (the server's default level), "zstd:1". */
static void server_compress_text(const PgServerCompress *c, char out[32])
{
    if (!c->zstd)
        snprintf(out, 32, "none");
    else if (c->level == 0)
        snprintf(out, 32, "zstd");
    else
        snprintf(out, 32, "zstd:%d", c->level);
}

static void print_summary(const BackupOptions *o, BackupRun *r, double seconds)
{
    const BackupManifest *m = r->m;
    char start[20], stop[20], reuse[128], scomp[32];
    server_compress_text(&o->server_compress, scomp);
    uint64_t dups = 0;
    pg_lsn_format(m->start_lsn, start);
    pg_lsn_format(m->stop_lsn, stop);
    reuse_text(r, reuse, sizeof reuse, &dups);
    double mbps = seconds > 0 ? (double)m->size / 1048576.0 / seconds : 0;
    if (!o->json) {
        printf("backup %s complete: %" PRIu64 " files%s, %.1f MiB, stored %.1f MiB (%.1f MiB "
               "new), received %.1f MiB%s%s%s, %.1f s, %.1f MiB/s, WAL %s - %s on timeline %u\n",
               m->label, r->files, reuse, (double)m->size / 1048576.0,
               (double)m->stored_size / 1048576.0, (double)m->new_stored_size / 1048576.0,
               (double)r->received / 1048576.0, o->server_compress.zstd ? " (server " : "",
               o->server_compress.zstd ? scomp : "", o->server_compress.zstd ? ")" : "",
               seconds, mbps, start, stop, m->timeline);
        if (r->chunked_files > 0)
            printf("  %" PRIu64 " large file%s stored as chunks: %" PRIu64 " chunks, %" PRIu64
                   " of them new\n", r->chunked_files, r->chunked_files == 1 ? "" : "s",
                   r->chunks, r->new_chunks);
        if (m->source != NULL)
            printf("  taken on the standby \"%s\"; its primary \"%s\" switched and archived "
                   "the WAL\n", m->source->server, m->source->primary);
        return;
    }
    json_t *j = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:s}",
                          "label", m->label, "start_lsn", start, "stop_lsn", stop, "timeline",
                          (json_int_t)m->timeline, "files", (json_int_t)r->files, "reused_files",
                          (json_int_t)r->reused_files, "duplicate_files", (json_int_t)dups,
                          "size", (json_int_t)m->size, "stored_size",
                          (json_int_t)m->stored_size, "new_stored_size",
                          (json_int_t)m->new_stored_size, "jobs", (json_int_t)o->jobs, "seconds",
                          seconds, "mib_per_second", mbps, "compress",
                          pipe_codec_name(o->store.codec));
    if (j != NULL &&
        (json_object_set_new(j, "received_bytes", json_integer((json_int_t)r->received)) != 0 ||
         json_object_set_new(j, "server_compress", json_string(scomp)) != 0 ||
         json_object_set_new(j, "chunked_files", json_integer((json_int_t)r->chunked_files)) ||
         json_object_set_new(j, "chunks", json_integer((json_int_t)r->chunks)) != 0 ||
         json_object_set_new(j, "new_chunks", json_integer((json_int_t)r->new_chunks)) != 0 ||
         json_object_set_new(j, "source", repo_json_source(m->source)) != 0)) {
        json_decref(j);
        j = NULL;
    }
    if (j != NULL) {
        json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        fputc('\n', stdout);
        json_decref(j);
    }
}

static int new_manifest(const BackupOptions *o, const PgSystem *sys, const BackupSource *src,
                        BackupManifest **out, PgpErr *err)
{
    BackupManifest *m = manifest_new();
    if (m == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    char label[32];
    m->start_time = (int64_t)time(NULL);
    format_time(m->start_time, label);
    m->format = 1;
    m->label = strdup(o->label ? o->label : label);
    m->status = strdup("complete");
    m->compress = strdup(pipe_codec_name(o->store.codec));
    m->system_identifier = sys->system_identifier;
    m->pg_version_num = sys->server_version_num;
    m->pg_major = sys->pg_major;
    /* the entries packed (issue #14: a backup of a million files holds them all until the
     * manifest is saved) */
    if (m->label == NULL || m->status == NULL || m->compress == NULL ||
        manifest_use_pack(m, err) != 0 ||
        (src->standby && manifest_set_standby_source(m, src->server, src->primary, err) != 0)) {
        manifest_free(m);
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    }
    *out = m;
    return 0;
}

int backup_run(Repo *repo, RepoLock *lock, const BackupOptions *o, PgpErr *err)
{
    Storage *storage = repo_storage(repo);
    PgConn *conn = NULL;
    BackupRun r = {.tty = progress_wanted(o->progress, o->json), .started = now_s()};
    int removed_backups = 0, removed_objects = 0;
    PgSystem sys;

    /* The caller's BACKUP lock excludes other backups and expire, which is what makes removing
     * what a failed backup left (just below) safe; readers may go on meanwhile: they never read
     * those. */
    int rc = backup_clean_incomplete(repo, &removed_backups, &removed_objects, err);
    if (rc == 0 && removed_backups > 0)
        log_warn("removed %d incomplete backup(s) and %d unreferenced object(s)", removed_backups,
                 removed_objects);
    /* Before the server takes a checkpoint for us: fail early if the tar reader is missing. */
    if (rc == 0)
        rc = pg_basebackup_tar_load(err);
    if (rc == 0)
        rc = pipe_crc32c_load(err);   /* the check against the server's backup_manifest */
    if (rc == 0)
        rc = pg_conn_open_replication(o->conninfo, &conn, err);
    if (rc == 0)
        rc = check_cluster(conn, repo, o, &sys, &r.src, err);
    if (rc == 0)
        rc = new_manifest(o, &sys, &r.src, &r.m, err);
    if (rc == 0)
        label_lock(lock, r.m->label);
    if (rc == 0)
        rc = mark_in_progress(storage, r.m->label, err);
    if (rc == 0)
        rc = stream_backup(conn, repo, o, &r, err);
    if (rc == 0)
        rc = finish_backup(repo, lock, o, &r, err);
    if (rc == 0)
        print_summary(o, &r, now_s() - r.started);
    else if (r.m != NULL)
        pgp_err_context(err, "backup \"%s\" failed and is not restorable", r.m->label);
    backup_dedup_free(&r.dedup);
    manifest_free(r.m);
    pg_conn_close(conn);
    return rc;
}
