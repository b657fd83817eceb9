/*
 * backup_store.h - storing the files of a base backup: the per-file work (hash, look for an
 * identical object, compress and store if there is none) and the worker pool that runs it
 * in parallel while the main thread keeps reading the server's stream.
 *
 * Memory: a file is handed over whole, or (a big one) as a pending storage writer holding its
 * compressed stream, or (a file of CHUNK_FILE_MIN bytes or more, docs/chunking.md) chunk by
 * chunk, each chunk a job of its own (backup_pool_submit_chunked). The pool bounds the bytes
 * in flight (budget), each job counted as its data plus a fixed cost for its node and path (so
 * empty files cannot queue without bound); a file larger than the budget is admitted alone.
 */
#ifndef PGPITR_BACKUP_STORE_H
#define PGPITR_BACKUP_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pgpitr/common/err.h"
#include "pgpitr/pipe/pipe.h"
#include "pgpitr/repo/object_index.h"
#include "pgpitr/repo/repo.h"
#include "pgpitr/storage/storage.h"

typedef struct BackupStoreOptions {
    PipeCodec codec;
    int level;
    /* Where "is this content stored already" is looked up (NULL: one storage_stat per file).
     * The pool makes its own when it is NULL. */
    ObjectIndex *index;
    /* Where new objects are committed (storage.h, "Batched commits"; NULL: each on its own,
     * durable when backup_store_file returns). The pool makes its own when it is NULL and
     * flushes it in backup_pool_finish: objects stored by a pool are durable and named only
     * once that returned 0. A chunk list is stored after a flush of its chunks. */
    StorageBatch *batch;
    /* An encrypted repository's key (repo_crypto_key; NULL: not encrypted): objects are
     * encrypted under OBJECT_AD_CONTENT and named by their keyed name (object_io.h); the
     * results' sha256_hex stays the content's plain SHA-256 (what manifests record). */
    const CryptoRepoKey *key;
} BackupStoreOptions;

typedef struct BackupStoreResult {
    /* A whole file: its object and the SHA-256 of its content. A chunked file (chunk_shift
     * set): its chunk list object and the SHA-256 of the list's text. */
    char sha256_hex[PIPE_SHA256_HEX_LEN + 1];
    char object[REPO_PATH_MAX];
    uint64_t stored_size;    /* the object's bytes (chunked: the list's and every chunk's) */
    uint64_t new_stored_size;   /* of those, bytes this call uploaded */
    bool reused;             /* an identical object (chunked: the list and every chunk)
                                already existed: nothing uploaded */
    uint8_t chunk_shift;     /* != 0: stored as chunks of 1 << chunk_shift bytes */
    uint64_t chunks, new_chunks;    /* chunked: chunks of the file, and those uploaded */
} BackupStoreResult;

/* What a job's pending writer may hold in memory (S3: one part at the default s3-part-size),
 * counted in the pool's budget. */
#define BACKUP_PENDING_MEMORY (16u << 20)

/* Publishes an object that was compressed into the writer w while it was received (len
 * bytes, of content whose SHA-256 is digest) under its content address; when an identical
 * object already exists, w is aborted and nothing is written. w is freed in every case. */
int backup_store_pending(Storage *s, const BackupStoreOptions *opt, StorageWriter *w,
                         uint64_t len, const uint8_t *digest, BackupStoreResult *res,
                         PgpErr *err);

/* Stores data[0..size) as a content-addressed object (see repo_object_path). digest is the
 * SHA-256 of data when the caller already computed it (NULL: computed here). */
int backup_store_file(Storage *s, const BackupStoreOptions *opt, const uint8_t *data, size_t size,
                      const uint8_t *digest, BackupStoreResult *res, PgpErr *err);

/*
 * What the files of one backup had in common, for its summary line. A file whose content was
 * not stored again is "unchanged" when its object existed before this backup (an earlier
 * backup stored it) and a "duplicate" when an earlier file of this same backup stored it
 * (the three databases of a fresh cluster share most files): on a first backup every one of
 * them is a duplicate, none is unchanged. Bookkeeping only: when memory runs out the counts
 * are lost (backup_dedup_counts says so), never the backup.
 */
typedef struct BackupDedup {
    /* The first 64 bits of each SHA-256, 8 bytes a file where the hex text took 65: two
     * different contents among a million files share a prefix with a chance of about 3 in
     * 10^8, and would only move one file from one count to the other. */
    uint64_t *written;      /* objects this backup stored */
    uint64_t *reused;       /* content of files not stored again */
    size_t n_written, cap_written, n_reused, cap_reused;
    bool lost;
} BackupDedup;

/* Notes one stored file (from the pool's done callback: calls are serialized). */
void backup_dedup_note(BackupDedup *d, const BackupStoreResult *res);
/* false when the counts were lost; sorts d->written. */
bool backup_dedup_counts(BackupDedup *d, uint64_t *unchanged, uint64_t *duplicates);
void backup_dedup_free(BackupDedup *d);    /* zeroed ones are fine */

/* A file being stored as chunks, shared by the jobs of its chunks (backup_chunks.h). */
typedef struct BackupChunked BackupChunked;

typedef struct BackupFileJob {
    char *path;              /* relative to its archive */
    uint32_t tablespace;     /* 0 = data directory */
    uint32_t mode;
    int64_t mtime;
    uint8_t *data;           /* from backup_pool_alloc; NULL with pending */
    size_t size;             /* the file's size */
    size_t data_len;         /* bytes of the budget it holds: size, or BACKUP_PENDING_MEMORY */
    /* A streamed big file: its compressed stream (stored_len bytes) is in this writer, to be
     * committed under its content address (backup_store_pending). */
    StorageWriter *pending;
    uint64_t stored_len;
    bool has_digest;         /* digest holds the SHA-256 of the content (hashed while received) */
    uint8_t digest[PIPE_SHA256_LEN];
    /* CRC-32C of the content (pipe_crc32c_final), for the check against the server's
     * backup_manifest: computed while a streamed file passed, else by the worker that stores
     * the file, before the done callback sees the job. */
    bool has_crc32c;
    uint32_t crc32c;
    /* A chunk of a chunked file (backup_pool_submit_chunked): data holds its chunk
     * chunk_index, path is NULL (the file's is in chunked). The done callback is called once
     * per file, after its last chunk and its list were stored, with a job describing the whole
     * file (path, size, crc32c of the file; chunked NULL). */
    BackupChunked *chunked;
    uint64_t chunk_index;
} BackupFileJob;

/* Called on a worker thread after a file was stored; calls are serialized by the pool. */
typedef int (*BackupPoolDoneFn)(void *ud, const BackupFileJob *job, const BackupStoreResult *res,
                                PgpErr *err);

typedef struct BackupPool BackupPool;

int backup_pool_new(Storage *s, const BackupStoreOptions *opt, int workers, size_t budget,
                    BackupPoolDoneFn done, void *ud, BackupPool **out, PgpErr *err);
/* Waits until size bytes fit the budget, then allocates them (size 0 is fine). Returns the
 * first worker error instead if one happened. */
int backup_pool_alloc(BackupPool *p, size_t size, uint8_t **buf, PgpErr *err);
/* The same wait, counting size bytes that the caller holds some other way (a pending
 * writer) instead of allocating them. */
int backup_pool_reserve(BackupPool *p, size_t size, PgpErr *err);
/* Gives back a buffer from backup_pool_alloc (or a reservation: buf NULL) that will not be
 * submitted. */
void backup_pool_discard(BackupPool *p, uint8_t *buf, size_t size);
/* Queues the job; the pool takes ownership of job->path, job->data and job->pending (also on
 * error: a pending writer it does not commit is aborted). */
int backup_pool_submit(BackupPool *p, BackupFileJob *job, PgpErr *err);
/* Reads a file's bytes (meta->size of them) through read, one chunk at a time into the
 * pool's budget, and queues each chunk as a job: the file is stored as chunks of
 * CHUNK_SIZE_DEFAULT bytes and a chunk list (docs/chunking.md "Backup"); its CRC-32C is
 * computed here, in stream order. meta gives path (copied), tablespace, mode, mtime and
 * size, which must be backup_store_chunks(). Only bytes of chunks not yet stored are held:
 * one chunk per worker plus the queue, within the budget. */
typedef int (*BackupReadFn)(void *ud, void *buf, size_t len, PgpErr *err);
int backup_pool_submit_chunked(BackupPool *p, const BackupFileJob *meta, BackupReadFn read,
                               void *read_ud, PgpErr *err);
/* Waits for every queued job, then makes every object the pool stored durable and named
 * (flushes the batch); returns the first error of any worker or of the flush. */
int backup_pool_finish(BackupPool *p, PgpErr *err);
/* Stops the workers (dropping queued jobs) and frees; NULL is a no-op. */
void backup_pool_free(BackupPool *p);
/* Serializes with the done callback: for the caller's own updates of shared results. */
void backup_pool_lock(BackupPool *p);
void backup_pool_unlock(BackupPool *p);

#endif
