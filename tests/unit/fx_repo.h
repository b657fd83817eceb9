/*
 * fx_repo.h - a fabricated repository for unit tests: a real posix Storage in a mkdtemp
 * directory, bound to a cluster with 16 MiB segments, filled with manifests (manifest_save),
 * archived WAL objects named exactly as archive-push names them (content "x": listing-based
 * code does not read them) and history files with real content. Every helper asserts with
 * Check, so a broken fixture fails the test that uses it.
 */
#ifndef PGPITR_FX_REPO_H
#define PGPITR_FX_REPO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pgpitr/pipe/pipe.h"
#include "pgpitr/repo/manifest.h"
#include "pgpitr/repo/repo.h"
#include "pgpitr/repo/verify_objects.h"
#include "pgpitr/storage/storage.h"

#define FX_T0 INT64_C(1795316400) /* 2026-11-22 03:00:00 UTC */
#define FX_SYSID 7300000000000000001ULL
#define FX_SEGSIZE (UINT32_C(16) << 20)

typedef struct FxRepo {
    char tdir[128];     /* the mkdtemp directory */
    char root[256];     /* the repository: tdir/repo */
    Storage *st;
    Repo *repo;
} FxRepo;

/* Creates and binds the repository; name is a tag for the temp directory. */
void fx_repo_init(FxRepo *fx, const char *name);
/* Frees and removes everything. */
void fx_repo_free(FxRepo *fx);

/* Sets a repository object's mtime (archive time). */
void fx_set_mtime(FxRepo *fx, const char *path, int64_t t);
/* Archives segment (tli, segno) with checksum sha256(seed or the name); mtime t.
 * path (may be NULL) gets the object path. */
void fx_put_wal(FxRepo *fx, uint32_t tli, uint64_t segno, const char *seed, int64_t t,
                char path[REPO_PATH_MAX]);
/* Removes what fx_put_wal(tli, segno, NULL, ...) wrote. */
void fx_remove_wal(FxRepo *fx, uint32_t tli, uint64_t segno);
/* Archives the history file of tli with this text (codec none, real checksum). */
void fx_put_history(FxRepo *fx, uint32_t tli, const char *text);
/* Same, archived at t (its mtime): production's timeline is judged from archive times. */
void fx_put_history_at(FxRepo *fx, uint32_t tli, const char *text, int64_t t);
/* A complete manifest's header (label, timeline, LSNs, stop time; start 2 s before it) of the
 * fixture's cluster, without entries: manifest_free it. */
BackupManifest *fx_manifest(const char *label, uint32_t tli, uint64_t start_lsn,
                            uint64_t stop_lsn, int64_t stop_time);
/* Saves a complete manifest; object (may be NULL) is one file entry's object path. */
void fx_save_backup(FxRepo *fx, const char *label, uint32_t tli, uint64_t start_lsn,
                    uint64_t stop_lsn, int64_t stop_time, const char *object);
/* Like fx_save_backup with n file entries ("f0", "f1", ...) referencing objects[0..n), each
 * entry's sha256 taken from its object's name when that is a content address (fx_put_object),
 * and pg_manifest (may be NULL) as the manifest's pg_manifest_object. */
void fx_save_backup_objects(FxRepo *fx, const char *label, uint32_t tli, uint64_t start_lsn,
                            uint64_t stop_lsn, int64_t stop_time, const char *const *objects,
                            size_t n, const char *pg_manifest);
/* Stores a backup file object with this content (codec none, real checksum) where backup
 * stores it: objects/<sha[0:2]>/<sha256>. path gets the object path. */
void fx_put_object(FxRepo *fx, const char *content, char path[REPO_PATH_MAX]);
/* Writes any repository file (parent directories created) with this content. */
void fx_put_raw(FxRepo *fx, const char *path, const char *content);
/* Reads a repository object through object_io_read_verify (decoded with codec, its SHA-256
 * checked against expect_sha256 when not NULL) and asserts it succeeds; returns the content,
 * malloc'd and NUL-terminated, *len bytes (len may be NULL). */
char *fx_read_object(FxRepo *fx, const char *path, PipeCodec codec, const char *expect_sha256,
                     size_t *len);
/* The same with opt (an encrypted object's seal...), returning the read's code: *out is
 * what the read handed on (malloc'd, NUL-terminated, also on failure), *len its bytes. */
int fx_read_object_with(FxRepo *fx, const char *path, const ObjectReadOptions *opt, char **out,
                        size_t *len, PgpErr *err);
/* Whether a repository file or directory exists. */
bool fx_exists(FxRepo *fx, const char *path);

/* What verify_object records for a good WAL segment of this cluster (sysid): its long page
 * header, for suites that mark objects checked at the module seam. */
void fx_good_wal_header(VerifyObject *o, uint32_t tli, uint64_t segno, uint64_t sysid);

/* A storage in front of fx->st that fails on purpose at one step of writing an object (the
 * seam object_io, wal_push and backup write through): opening the writer, its first write,
 * or its commit (the bytes went to a real temp file, which is then aborted). Reads, listings
 * and removals go to fx->st. Free with storage_free (fx->st stays). */
typedef enum { FX_FAIL_NONE, FX_FAIL_OPEN, FX_FAIL_WRITE, FX_FAIL_COMMIT } FxFailStep;
Storage *fx_fail_storage(FxRepo *fx, FxFailStep step);
/* Number of storage temp files (".tmp.*") anywhere under the repository: a failed write
 * must leave none. */
int fx_count_temp(FxRepo *fx);

#endif
