/*
 * storage.h - where repository bytes live. One vtable per driver (posix now, s3 later,
 * memory for tests) plus feature bits; everything above (repo/, cmd/) goes through
 * these functions and never touches paths or sockets of a backend directly.
 *
 * Paths are relative to the storage root, '/'-separated, never absolute, never containing
 * "." or ".." segments or empty segments (storage_path_valid() checks; drivers refuse
 * invalid paths with PGP_ERR_INVALID_NAME). A path longer than STORAGE_PATH_MAX bytes, or
 * with a segment longer than STORAGE_NAME_MAX, is refused the same way, with a message
 * saying it is too long: never cut down to another name, and nothing is created for it.
 *
 * Writes are atomic: bytes go to a writer, and only storage_writer_commit() makes them
 * visible under the final path (posix: temp file in the same directory + fsync + rename +
 * fsync of the directory). A writer that is aborted, or whose process dies, never leaves
 * anything under the final path. Temporary names start with ".tmp." and are never reported
 * by list. A short write with errno 0 is reported as PGP_ERR_NO_SPACE. Many objects in a row
 * can share the cost of being made durable: see "Batched commits" below.
 */
#ifndef PGPITR_STORAGE_H
#define PGPITR_STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pgpitr/common/err.h"

typedef struct Storage Storage;
typedef struct StorageReader StorageReader;
typedef struct StorageWriter StorageWriter;
typedef struct StorageBatch StorageBatch;
typedef struct StorageBatchLimits StorageBatchLimits;

enum {
    STORAGE_FEATURE_PATH = 1u << 0,     /* has real directories (posix); list is per directory */
    STORAGE_FEATURE_FSYNC = 1u << 1,    /* commit is made durable with fsync */
};

/* 9999-12-31T23:59:59Z: the latest modification time a driver reports. */
#define STORAGE_MTIME_MAX INT64_C(253402300799)
/* Longest path (an S3 key's limit) and longest segment (POSIX NAME_MAX), in bytes. */
#define STORAGE_PATH_MAX 1024
#define STORAGE_NAME_MAX 255

typedef struct StorageInfo {
    uint64_t size;
    int64_t mtime;      /* seconds since the epoch, within [0, STORAGE_MTIME_MAX]: a time
                           outside is clamped, so callers may compute ages and microseconds */
    bool is_dir;
} StorageInfo;

/* Called once per entry of storage_list (name is the basename, not the full path).
 * Return 0 to go on, non-zero to stop: storage_list then returns that value, with err as the
 * callback filled it (err is storage_list's own, so a callback that stops says why there,
 * e.g. with PGP_FAIL). */
typedef int (*StorageListFn)(void *ud, const char *name, const StorageInfo *info, PgpErr *err);

/* Called once per unfinished multipart upload by storage_list_uploads: path relative to the
 * storage root, the driver's id of the upload, when it began (seconds since the epoch). */
typedef int (*StorageUploadFn)(void *ud, const char *path, const char *upload_id,
                               int64_t initiated, PgpErr *err);

typedef struct StorageDriver {
    const char *name;
    unsigned features;
    int (*stat)(void *drv, const char *path, StorageInfo *out, PgpErr *err);
    int (*list)(void *drv, const char *dir, StorageListFn fn, void *ud, PgpErr *err);
    int (*open_read)(void *drv, const char *path, StorageReader **out, PgpErr *err);
    int (*open_write)(void *drv, const char *path, unsigned flags, StorageWriter **out,
                      PgpErr *err);
    int (*remove)(void *drv, const char *path, PgpErr *err);
    void (*free)(void *drv);
    /* Optional (NULL: the driver has no uploads that outlive a writer, e.g. posix). */
    int (*list_uploads)(void *drv, StorageUploadFn fn, void *ud, PgpErr *err);
    int (*abort_upload)(void *drv, const char *path, const char *upload_id, PgpErr *err);
    /* Optional (NULL: storage_list_tree is unsupported, e.g. posix). */
    int (*list_tree)(void *drv, const char *dir, StorageListFn fn, void *ud, PgpErr *err);
    /* Optional (NULL: storage_remove_objects removes one at a time). At most
     * STORAGE_REMOVE_BATCH paths, already validated; missing ones are no error. */
    int (*remove_objects)(void *drv, const char *const *paths, size_t n, PgpErr *err);
    /* Optional (NULL: a batch commits each writer on its own, e.g. S3, whose PUT is durable
     * when it returns). See storage_batch_new; paths are validated, batch_free discards. */
    int (*batch_new)(void *drv, const char *dir, const StorageBatchLimits *lim, void **out,
                     PgpErr *err);
    int (*batch_open_write)(void *batch, const char *path, unsigned flags, StorageWriter **out,
                            PgpErr *err);
    int (*batch_flush)(void *batch, PgpErr *err);
    void (*batch_free)(void *batch);
    bool (*batch_holds)(void *batch, const char *path, uint64_t *size);
    /* Optional (NULL: storage_list_prefix filters storage_list, e.g. posix's readdir). */
    int (*list_prefix)(void *drv, const char *dir, const char *prefix, StorageListFn fn,
                       void *ud, PgpErr *err);
} StorageDriver;

/* Reader/writer vtables, implemented by drivers. */
struct StorageReader {
    int (*read)(StorageReader *r, void *buf, size_t len, size_t *got, PgpErr *err); /* got=0: EOF */
    void (*close)(StorageReader *r);
};
struct StorageWriter {
    int (*write)(StorageWriter *w, const void *buf, size_t len, PgpErr *err);
    int (*commit)(StorageWriter *w, PgpErr *err); /* publish durably; frees w (also on error) */
    /* Change the final name to basename `name`; `path` is the whole relative path, which
     * the driver checks is in the directory the writer was opened in (see commit_as). */
    int (*set_final_name)(StorageWriter *w, const char *name, const char *path, PgpErr *err);
    void (*abort)(StorageWriter *w);              /* discard; frees w */
};

/* Generic wrapper around a driver instance. Takes ownership of drv. */
Storage *storage_new(const StorageDriver *vt, void *drv);
void storage_free(Storage *s);
unsigned storage_features(const Storage *s);
const char *storage_driver_name(const Storage *s);

/* The posix driver rooted at `root` (created with mode 0750 if `create` and missing). */
int storage_posix_new(const char *root, bool create, Storage **out, PgpErr *err);

/* The driver a repository setting names: "s3://BUCKET[/PREFIX]" is the S3 driver with s3's
 * settings (pgpitr/storage/s3.h; NULL: PGP_ERR_CONFIG), anything else a posix root. The
 * only place that chooses a driver. */
typedef struct StorageS3Config StorageS3Config;
bool storage_is_s3_url(const char *repo);

/* Opens another instance of a repository's storage (its own connections), for a process or
 * thread that outlives the caller's (archive-get's prefetcher): what an engine is handed
 * instead of the settings that chose the driver. */
typedef struct StorageOpener {
    int (*open)(void *ud, Storage **out, PgpErr *err);
    void *ud;
} StorageOpener;
int storage_open(const char *repo, const StorageS3Config *s3, bool create, Storage **out,
                 PgpErr *err);

/* Returns PGP_ERR_NOT_FOUND (without noise: the caller decides) when absent. */
int storage_stat(Storage *s, const char *path, StorageInfo *out, PgpErr *err);
/* Lists the entries directly below dir (files and directories), excluding temp files.
 * A missing dir is an empty listing (returns 0), like an S3 prefix with no keys. */
int storage_list(Storage *s, const char *dir, StorageListFn fn, void *ud, PgpErr *err);
/* Like storage_list, but only the entries whose name begins with prefix (non-empty, no '/'):
 * on S3 one ListObjectsV2 for "dir/prefix" (a few keys instead of the whole directory), on
 * posix the directory read, names filtered before any stat. For finding one WAL file's objects
 * ("<walname>-..."), which must not cost a listing of its whole archive directory. */
int storage_list_prefix(Storage *s, const char *dir, const char *prefix, StorageListFn fn,
                        void *ud, PgpErr *err);
/* Lists every object at any depth below dir (no directories, no temp files), names relative
 * to dir ("5e/5eab..."), in byte order of those names: on S3 one listing without delimiter,
 * 1000 keys a request, however many directories they are spread over. fn may stop it early
 * (its return value, as storage_list). PGP_ERR_INTERNAL on a driver without it
 * (storage_has_list_tree: posix, whose directories are listed one by one). */
bool storage_has_list_tree(const Storage *s);
int storage_list_tree(Storage *s, const char *dir, StorageListFn fn, void *ud, PgpErr *err);
int storage_open_read(Storage *s, const char *path, StorageReader **out, PgpErr *err);
/* Creates missing parent directories (durably). Nothing is visible until commit. Without
 * STORAGE_WRITE_REPLACE, commit never replaces an existing object: it fails with
 * PGP_ERR_CONFLICT and the existing object is untouched (posix: renameat2 RENAME_NOREPLACE,
 * or link()+unlink() where the filesystem lacks it). The posix driver also removes stale temp
 * files of the same basename left by dead processes of this host. */
/* STORAGE_WRITE_NAME_AT_COMMIT: the caller will name the object with commit_as. A driver that
 * cannot rename (S3: a multipart upload is bound to its key) then keeps the bytes beyond one
 * part in a local temporary file until commit instead of uploading them under `path`. */
enum { STORAGE_WRITE_REPLACE = 1u << 0, STORAGE_WRITE_NAME_AT_COMMIT = 1u << 1 };
int storage_open_write(Storage *s, const char *path, unsigned flags, StorageWriter **out,
                       PgpErr *err);
/* Removing a missing path is PGP_ERR_NOT_FOUND. */
int storage_remove(Storage *s, const char *path, PgpErr *err);
/* Removes the objects paths[0..n) (never directories); one that is missing already is no
 * error, so that a run that died halfway can simply be repeated. A driver that removes many
 * in one request does (S3 DeleteObjects: STORAGE_REMOVE_BATCH keys per request instead of a
 * HEAD and a DELETE per key); others remove them one by one. An invalid path is refused
 * before anything is removed; on a failure some of the others may be gone, and the error
 * names one path that is not. */
#define STORAGE_REMOVE_BATCH 1000
int storage_remove_objects(Storage *s, const char *const *paths, size_t n, PgpErr *err);
/* Multipart uploads begun below the root and never completed nor aborted (a writer's process
 * was killed): never objects, but they cost storage until aborted. None for posix. */
int storage_list_uploads(Storage *s, StorageUploadFn fn, void *ud, PgpErr *err);
/* Aborts one of them (one already gone is PGP_ERR_NOT_FOUND). */
int storage_abort_upload(Storage *s, const char *path, const char *upload_id, PgpErr *err);

int storage_read(StorageReader *r, void *buf, size_t len, size_t *got, PgpErr *err);
void storage_reader_close(StorageReader *r);      /* NULL is a no-op */
int storage_write(StorageWriter *w, const void *buf, size_t len, PgpErr *err);
int storage_writer_commit(StorageWriter *w, PgpErr *err);
/* Commit under `path` instead of the path given to open_write: any path of the same storage
 * (posix: its directory is created durably if missing, and the temp file is renamed into it;
 * the repository must be one filesystem). For objects whose name depends on what was written
 * (archived WAL carries its checksum in its name, a backup's large file its content address):
 * the bytes stream out before the name is known. Frees w like commit, also on error. */
int storage_writer_commit_as(StorageWriter *w, const char *path, PgpErr *err);
void storage_writer_abort(StorageWriter *w);      /* NULL is a no-op */

/*
 * Batched commits, for many objects written in a row (a backup's content-addressed objects:
 * ~1,400 per GiB of chunks). A writer opened through a batch is written as any other, but its
 * commit (or commit_as) only hands it to the batch: its bytes become visible under the final
 * name when the batch is flushed, which makes every handed-over object durable at once and
 * only then names each (posix: one syncfs of the repository's file system, a rename each, one
 * more syncfs for the names and any directory created for them, instead of an fsync, a
 * rename and a directory fsync each: docs/chunking.md). The batch flushes by itself when it holds lim->max_objects objects or
 * lim->max_bytes bytes; storage_batch_flush flushes the rest, and must return 0 before
 * anything that names those objects (a manifest, a chunk list) is written.
 *
 * Rules: nothing is visible under a final name before its bytes are durable. A batch whose
 * flush failed stays failed: every later commit and flush returns that error, and what it
 * held is discarded (no object named from it is partial: each is whole and durable, or
 * absent). Without STORAGE_WRITE_REPLACE an object already present under the final name is
 * kept and the new bytes dropped without an error: batches are for content-addressed objects,
 * whose name says what they hold. Writers and commits may come from several threads at once.
 * Staged bytes live below dir in a hidden temporary directory of the batch (posix); one left
 * by a killed process is removed by the next batch opened on the same dir on this host.
 * A driver without batches (S3) commits each writer when it is committed; flush is a no-op.
 */
struct StorageBatchLimits {
    size_t max_objects;
    uint64_t max_bytes;
};
int storage_batch_new(Storage *s, const char *dir, const StorageBatchLimits *lim,
                      StorageBatch **out, PgpErr *err);
int storage_batch_open_write(StorageBatch *b, const char *path, unsigned flags,
                             StorageWriter **out, PgpErr *err);
int storage_batch_flush(StorageBatch *b, PgpErr *err);
/* Discards what was handed over and not flushed (nothing of it is named); NULL is a no-op.
 * Only once every writer opened through b was committed or aborted and no flush runs. */
void storage_batch_free(StorageBatch *b);
/* true (with the bytes written in *size) when an object was committed under path through b
 * and is not named yet (its flush has not finished): what storage_stat cannot see yet, so
 * that the same content is not written twice. Looks through at most two batches' worth. */
bool storage_batch_holds(StorageBatch *b, const char *path, uint64_t *size);
/* true when commits through a batch are deferred to its flush (posix). */
bool storage_batch_deferred(const StorageBatch *b);

/* Convenience: whole small objects (repo.json, manifests). *out is malloc'd, NUL-terminated
 * one byte past *len; max_len bounds what is accepted (larger -> PGP_ERR_CORRUPT). */
int storage_get_all(Storage *s, const char *path, size_t max_len, char **out, size_t *len,
                    PgpErr *err);
int storage_put_all(Storage *s, const char *path, unsigned flags, const void *buf, size_t len,
                    PgpErr *err);

/* true if path is relative, non-empty, has no empty, "." or ".." segment and no NUL. */
bool storage_path_valid(const char *path);

#endif
