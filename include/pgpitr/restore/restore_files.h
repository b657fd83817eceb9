/*
 * restore_files.h - the per-file work of `pgpitr restore` (one manifest file entry from its
 * repository object into a path, verified) and the pool of worker threads that runs it, the
 * destination directory helpers (checks, creation, sync, cleanup), and the helpers unit tests
 * need: backup selection (implemented in restore.c) and the recovery settings text.
 *
 * Nothing here decides where a file goes or which backup to restore from beyond what the
 * caller passes in; the orchestration (the order of checks, directories, symlinks, files,
 * pg_control last, cleanup) is restore_run.c's.
 */
#ifndef PGPITR_RESTORE_FILES_H
#define PGPITR_RESTORE_FILES_H

#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pgpitr/common/err.h"
#include "pgpitr/crypto/keyring.h"
#include "pgpitr/repo/manifest.h"
#include "pgpitr/repo/manifest_pack.h"
#include "pgpitr/restore/restore_guard.h"
#include "pgpitr/storage/storage.h"

typedef struct RestoreFileOptions {
    bool sync;                          /* fsync the file before returning */
    const CryptoRepoKey *key;           /* an encrypted repository's (repo_crypto_key) */
    atomic_uint_fast64_t *bytes_done;   /* optional: incremented as bytes are written */
} RestoreFileOptions;

typedef struct RestoreFileResult {
    uint64_t size;                      /* bytes written to dest */
    uint64_t stored_size;               /* bytes read from the object */
    uint64_t in_place;                  /* --delta: bytes found right and left as they were
                                           (added to bytes_done as progress, not written) */
    uint64_t chunks_fetched;            /* chunked entries: chunks fetched and written */
    uint64_t chunks_kept;               /* chunked entries, --delta: chunks left in place */
} RestoreFileResult;

/*
 * Restores the MANIFEST_FILE entry e into dest, a full path whose directory exists and which
 * must not exist (created with O_EXCL, so nothing is ever overwritten or written through a
 * symlink). The object e->object streams through decompression (codec from its extension:
 * ".zst", ".lz4" or none) and SHA-256 into dest. More bytes than e->size stop the stream at
 * once; after the last byte the size and the SHA-256 must equal e->size and e->sha256, else
 * PGP_ERR_CORRUPT naming dest and both values. A missing object is PGP_ERR_CORRUPT too (the
 * repository is damaged: "not found" would read as a normal answer).
 * On success dest has mode e->mode & 07777, mtime (and atime) e->mtime, and is fsynced if
 * opt->sync (the directory entry is the caller's to sync). On any failure dest is removed:
 * nothing is left at the path. Every error message starts with the dest and object paths.
 * Thread-safe for distinct dest paths (the storage driver's reads are).
 */
int restore_file(Storage *s, const ManifestEntry *e, const char *dest,
                 const RestoreFileOptions *opt, RestoreFileResult *res, PgpErr *err);

/* restore_file for an entry stored as chunks (manifest_entry_chunked; src/restore/
 * restore_chunks.c): the chunk list read and checked (chunk_list_load), each chunk fetched,
 * checked against its digest in the list and written at its offset. The same creation, sync
 * and removal-on-failure rules; a failure names the chunk, its byte range and its object.
 * restore_file calls it for such entries. */
int restore_file_chunks(Storage *s, const ManifestEntry *e, const char *dest,
                        const RestoreFileOptions *opt, RestoreFileResult *res, PgpErr *err);

/*
 * --delta for a chunked entry e over the regular file at dest (restore_file_delta calls it;
 * restore_chunks.c). The list is loaded and checked first; then the live file is read chunk
 * by chunk (never following a symlink), each chunk's SHA-256 compared with the list's, and
 * only the chunks that differ or lie beyond the live file's end are fetched (checked against
 * their digest as restore_file_chunks does) and written in place; then the file is truncated
 * to e->size, gets e's mode and mtime and is fsynced if opt->sync. *kept is true only when
 * the file already had e->size bytes and every chunk matched (nothing written but mode and
 * mtime); res->in_place counts the bytes of the chunks left in place, res->chunks_kept and
 * res->chunks_fetched the chunks.
 * A file that cannot be written in place (opened read-only: no write permission; or a hard
 * link, st_nlink > 1, whose other names must not change with it) and that differs is unlinked
 * and restored anew with restore_file_chunks. Reading the live file is not a change: a failure
 * there leaves it as it was. A failure once the file is known to differ (a missing or damaged
 * chunk, a full disk) removes it, as restore_file_delta's unlink-and-restore would: a file
 * half rewritten is never left at the path with e's mode and mtime. Killed half way, the
 * file mixes old and new chunks; restore.c removed global/pg_control before, so PostgreSQL
 * refuses the directory, and the next --delta run checks every chunk again.
 */
int restore_file_chunks_delta(Storage *s, const ManifestEntry *e, const char *dest,
                              const RestoreFileOptions *opt, RestoreFileResult *res, bool *kept,
                              PgpErr *err);

/* Decompresses the object at `object` (codec from its extension) into dest byte for byte, with
 * no checksum to compare (PostgreSQL's backup_manifest: it carries its own). Same creation,
 * sync and removal-on-failure rules as restore_file; mode 0600. */
int restore_object_plain(Storage *s, const char *object, const char *dest, bool sync,
                         const CryptoRepoKey *key, uint64_t *size, PgpErr *err);

/* One file to write: to base/<its path>, a path joined only when the file is written, so
 * that a restore of a million files does not hold a million destination paths; its entry is
 * unpacked (manifest_pack_unpack) only then too. */
typedef struct RestoreJob {
    const ManifestPackItem *item;       /* a MANIFEST_FILE entry (not owned) */
    const char *base;                   /* the data directory or a tablespace's location, no
                                           trailing slash (not owned) */
} RestoreJob;

/* base/<item's path> into out (size bytes); false when it does not fit. */
bool restore_job_dest(const RestoreJob *j, char *out, size_t size);

/* Progress, called on the thread that called restore_pool_run. */
typedef void (*RestoreProgressFn)(void *ud, uint64_t files_done, uint64_t bytes_done);

typedef struct RestorePoolOptions {
    int workers;                        /* threads; <= 0 means 1, never more than jobs */
    bool sync;                          /* passed to restore_file */
    RestoreProgressFn progress;         /* optional, about every interval_ms and at the end */
    void *progress_ud;
    unsigned interval_ms;               /* 0 means 1000 */
    const volatile sig_atomic_t *cancel;/* optional: when it becomes non-zero the pool stops
                                           like on an error (PGP_ERR_IO "interrupted") */
    bool delta;                         /* run restore_file_delta instead of restore_file */
    const CryptoRepoKey *key;           /* an encrypted repository's (repo_crypto_key) */
} RestorePoolOptions;

typedef struct RestorePoolResult {
    uint64_t files;                     /* files done completely (delta: kept or rewritten) */
    uint64_t bytes;                     /* bytes written (including a failed file's) */
    uint64_t kept, kept_bytes;          /* delta: files whose content already matched */
    uint64_t chunked;                   /* files stored as chunks done (kept or written) */
    uint64_t chunks_fetched, chunks_kept;   /* their chunks fetched / left in place (delta) */
} RestorePoolResult;

/*
 * --delta's per-file work: when dest is a regular file of e->size bytes whose SHA-256 is
 * e->sha256, it is kept (mode and mtime set as restore_file would, fsynced if opt->sync) and
 * *kept is true; its size is added to opt->bytes_done as progress and to res->in_place, and
 * res->size is 0. Otherwise whatever non-directory is at dest is unlinked and e restored with
 * restore_file. A directory at dest is an error (the caller clears type mismatches first).
 * An entry stored as chunks over a regular file goes to restore_file_chunks_delta instead:
 * rewritten chunk by chunk in place.
 */
int restore_file_delta(Storage *s, const ManifestEntry *e, const char *dest,
                       const RestoreFileOptions *opt, RestoreFileResult *res, bool *kept,
                       PgpErr *err);

/*
 * Runs restore_file (restore_file_delta with opt->delta) for jobs[0..n) on opt->workers threads; each takes the next index from a
 * shared counter, so jobs start in array order (callers put big files first). The first
 * failure stops the pool: no job starts after it, running jobs finish their file (completed,
 * or removed on their own failure), and that first error is returned. res is filled either
 * way.
 */
int restore_pool_run(Storage *s, const RestoreJob *jobs, size_t n, const RestorePoolOptions *opt,
                     RestorePoolResult *res, PgpErr *err);

/* ---- the destination: data directory and tablespace locations ------------------------------ */

typedef struct RestoreTablespaceDest {
    uint32_t oid;
    char *path;                         /* absolute location, no trailing '/' */
    bool mapped;                        /* named with --tablespace-map */
} RestoreTablespaceDest;

typedef struct RestoreRoot {
    char *path;                         /* the data directory or a tablespace location */
    char *top;                          /* the outermost directory the restore created for it
                                           (itself or a parent); NULL: it existed */
} RestoreRoot;

typedef struct RestoreDest {
    char *pgdata;                       /* absolute, no trailing '/' */
    bool allow_existing;                /* --delta: existing, non-empty data directory and
                                           tablespace locations are restored over (see
                                           restore_dest_acquire for which) */
    RestoreTablespaceDest *ts;        /* one per manifest tablespace, same order */
    size_t n_ts;
    RestoreRoot *roots;                 /* acquired (locked, checked): what cleanup empties */
    size_t n_roots;
    RestoreLocks locks;                 /* flocks on the roots, released by _free */
    char **sync;                        /* directories created or filled: fsynced by */
    size_t n_sync, cap_sync;            /* restore_dest_sync */
} RestoreDest;

/* pgdata made absolute (against the working directory), tablespace locations from m. */
int restore_dest_init(RestoreDest *t, const char *pgdata, const BackupManifest *m,
                        PgpErr *err);
/* Frees, and releases the locks. */
void restore_dest_free(RestoreDest *t);
/*
 * Refuses, before anything is written: a data directory holding a postmaster.pid whose
 * process is alive (PGP_ERR_LOCKED); a data directory or tablespace location that is, lies
 * inside or contains a directory a running server uses (restore_live_check, PGP_ERR_LOCKED);
 * tablespace locations that overlap the data directory or each other (PGP_ERR_USAGE).
 */
int restore_dest_check(const RestoreDest *t, PgpErr *err);
/*
 * Takes the data directory, then each tablespace location: creates it if missing (with
 * missing parents, mode 0700), locks it (restore_lock_dir: PGP_ERR_LOCKED while another
 * restore or drill holds it), and only then checks it, so that nothing can change between
 * the check and the restore:
 *  - the data directory: no live postmaster.pid (PGP_ERR_LOCKED); empty, or with
 *    allow_existing one that looks like a data directory (PG_VERSION, global or
 *    backup_manifest in it), else PGP_ERR_USAGE naming an entry found in it;
 *  - a tablespace location: restore_ts_location_rule (content only with --delta, and only in
 *    a location the destination's own pg_tblspc/<oid> links to or --tablespace-map names).
 * An existing root with group/other access gets 0700. On failure, directories this call
 * created are removed again (rmdir only) and the locks released.
 */
int restore_dest_acquire(RestoreDest *t, PgpErr *err);
/* pgdata/pg_tblspc/<oid> -> location for each tablespace (pg_tblspc made if missing). */
int restore_dest_links(RestoreDest *t, PgpErr *err);
/* mkdir -p (mode 0700) of path / of the directory of file; new directories are recorded
 * for restore_dest_sync. An existing directory is fine; anything else there is an error. */
int restore_dest_mkdir(RestoreDest *t, const char *path, PgpErr *err);
int restore_dest_mkdir_parent(RestoreDest *t, const char *file, PgpErr *err);
/* restore_dest_mkdir_parent for the destination of every job (each directory once in a row). */
int restore_jobs_mkdir_parents(RestoreDest *t, const RestoreJob *jobs, size_t n, PgpErr *err);
/* Records dir (an existing directory whose entries changed) for restore_dest_sync. */
int restore_dest_note_sync(RestoreDest *t, const char *dir, PgpErr *err);
/* fsyncs every directory created or filled so far. */
int restore_dest_sync(RestoreDest *t, PgpErr *err);
/* After a failure (not for --delta): empties every acquired root (never following symlinks
 * nor crossing into another filesystem) and removes the directories acquiring created
 * (rmdir: one that someone else has put something in stays). Problems are logged as warnings:
 * the original error is what gets reported. Call before restore_dest_free, which unlocks. */
void restore_dest_cleanup(RestoreDest *t);

/* Whether absolute paths a and b (no trailing '/') name the same directory or one lies below
 * the other, by their text. */
bool restore_paths_overlap(const char *a, const char *b);
/* "a/b", malloc'd; NULL when out of memory. */
char *restore_path_join(const char *a, const char *b);
/* Writes (or, with append, appends to: created if missing, a newline first when the file
 * does not end in one) dir/name with text, mode 0600 when created, and fsyncs it. */
int restore_write_small(const char *dir, const char *name, const char *text, bool append,
                        PgpErr *err);
int restore_fsync_dir(const char *path, PgpErr *err);

/* ---- selection (restore_plan.c) ----------------------------------------------------------- */

typedef struct RestoreSelection {
    BackupManifest *manifest;           /* the chosen backup; the caller frees it */
    size_t n_complete;                  /* complete backups seen (newest selection only) */
    size_t n_incomplete;                /* backup directories without a complete manifest */
    char why[128];                      /* "newest complete backup", "requested with --backup" */
} RestoreSelection;

/*
 * Chooses the backup to restore. With label (already checked with manifest_label_valid):
 * that backup, PGP_ERR_NOT_FOUND when backup/<label> does not exist or has no complete
 * manifest, the message saying which and the HINT listing the complete backups. Without: the
 * complete backup with the highest stop LSN, ties broken by stop time; backup/ directories
 * without manifest.json, or whose status is not "complete", are incomplete and skipped;
 * none complete is PGP_ERR_NOT_FOUND with a HINT to run pgpitr backup. A manifest that exists
 * but does not load is an error (never silently fall back to an older backup). Manifests are
 * read with key (repo_crypto_key; NULL: unencrypted).
 */
int restore_select_backup(Storage *s, const CryptoRepoKey *key, const char *label,
                          RestoreSelection *out, PgpErr *err);

#endif
