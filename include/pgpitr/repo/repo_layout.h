/*
 * repo_layout.h - every path of the repository, in one place. Nothing else spells a
 * repository directory or file name: the constants and builders below do.
 *
 * Layout (paths relative to the storage root):
 *   repo.json                                       identity, written once (never replaced)
 *   archive/wal/<first 16 chars>/<name>-<sha256><ext>   segments, .partial, .backup files
 *   archive/history/<name>-<sha256><ext>            timeline .history files
 *   objects/<sha[0:2]>/<sha256><ext>                backup file contents, shared by backups
 *   backup/<label>/manifest.json                    a complete backup (absent: incomplete)
 *   backup/<label>/backup_manifest<ext>             PostgreSQL's manifest of that backup
 *   backup/<label>/backup.inprogress                a backup is being taken (informative)
 *   drill/<id>.json                                 drill reports
 *   verify/<time>-<rand>.json                       summaries of whole-repository verifies
 *   locks/<kind>-....json                           repository locks (repolock.h)
 *   leases/recovery-....json                        recovery leases (lease.h)
 * <sha256> is the lowercase hex SHA-256 of the ORIGINAL (uncompressed) bytes, <ext> the
 * codec's extension (".zst", ".lz4", "" for none); wal_index.h parses archived names.
 *
 * A builder whose result would not fit REPO_PATH_MAX fails with PGP_ERR_INVALID_NAME naming
 * the path (out is then ""): a path is never silently truncated. Builders do not validate
 * their inputs beyond that (callers pass names checked by pg_walname_parse,
 * manifest_label_valid, ...).
 */
#ifndef PGPITR_REPO_LAYOUT_H
#define PGPITR_REPO_LAYOUT_H

#include <stdbool.h>

#include "pgpitr/common/err.h"
#include "pgpitr/pg/walname.h"
#include "pgpitr/pipe/pipe.h"

#define REPO_PATH_MAX 256

#define REPO_LAYOUT_IDENTITY "repo.json"
#define REPO_LAYOUT_WAL_DIR "archive/wal"
#define REPO_LAYOUT_HISTORY_DIR "archive/history"
/* Records of segments archive-push dropped (push_backlog.h): "<segment>.json" each. */
#define REPO_LAYOUT_DROPPED_DIR "archive/dropped"
#define REPO_DROPPED_EXT ".json"
#define REPO_LAYOUT_OBJECTS_DIR "objects"
/* Never an object: the path a backup's big file is written under (a temp file beside it on
 * posix, nothing on S3) until its content address is known and it is committed there. */
#define REPO_PENDING_OBJECT "objects/pending"
#define REPO_LAYOUT_BACKUP_DIR "backup"
#define REPO_LAYOUT_DRILL_DIR "drill"
#define REPO_LAYOUT_VERIFY_DIR "verify"
#define REPO_LAYOUT_LOCKS_DIR "locks"
#define REPO_LAYOUT_LEASES_DIR "leases"
/* An encrypted repository's key document: the repository key wrapped by the master key
 * (docs/encryption.md), written once, before repo.json. */
#define REPO_LAYOUT_KEY_DOC "keys/repo-key.json"
/* Files of backup/<label>/. */
#define REPO_LAYOUT_MANIFEST "manifest.json"
#define REPO_LAYOUT_PG_MANIFEST "backup_manifest"
#define REPO_LAYOUT_INPROGRESS "backup.inprogress"
/* One archive directory per 4 GiB of WAL: a WAL name's timeline + log ("TTTTTTTTXXXXXXXX"). */
#define REPO_LAYOUT_WAL_DIR_LEN 16

/* "<dir>/<name>": the generic join the builders below share. */
int repo_layout_join(const char *dir, const char *name, char out[REPO_PATH_MAX], PgpErr *err);

/* Directory of a WAL file's objects ("archive/wal/000000010000000A" or "archive/history"). */
int repo_archive_dir(const char *walname, char out[REPO_PATH_MAX], PgpErr *err);
/* "archive/wal/<dir16>": one archive directory from its 16-character name. */
int repo_archive_wal_dir(const char *dir16, char out[REPO_PATH_MAX], PgpErr *err);
/* Object path of a WAL file with the given checksum and codec. */
int repo_archive_object_path(const char *walname, const char *sha256_hex, PipeCodec codec,
                             char out[REPO_PATH_MAX], PgpErr *err);
/* "<archive dir>/<walname>": never a final name (those carry a checksum); a writer is opened
 * under it and committed under repo_archive_object_path once the checksum is known. */
int repo_archive_provisional_path(const char *walname, char out[REPO_PATH_MAX], PgpErr *err);

/* Content-addressed backup file objects: "objects/<sha[0:2]>/<sha256><ext>". One object
 * per distinct content, shared by every backup that contains it. The fan-out keeps posix
 * directories small (256 of them) and costs nothing on S3. */
int repo_object_path(const char *sha256_hex, PipeCodec codec, char out[REPO_PATH_MAX],
                     PgpErr *err);
/* The codec an object's name says (the extension of its last path component: ".zst", ".lz4",
 * none); false for an extension no codec has. */
bool repo_object_codec(const char *path, PipeCodec *codec);
/* Directory holding backup <label>: "backup/<label>". */
int repo_backup_dir(const char *label, char out[REPO_PATH_MAX], PgpErr *err);
/* A file of backup <label>: "backup/<label>/<file>" (REPO_LAYOUT_MANIFEST, ...). */
int repo_backup_file(const char *label, const char *file, char out[REPO_PATH_MAX], PgpErr *err);
/* PostgreSQL's manifest of backup <label>, stored with codec:
 * "backup/<label>/backup_manifest<ext>". */
int repo_backup_pg_manifest_path(const char *label, PipeCodec codec, char out[REPO_PATH_MAX],
                                 PgpErr *err);
/* The record of a dropped segment: "archive/dropped/<segment>.json". */
int repo_dropped_path(const char *segment, char out[REPO_PATH_MAX], PgpErr *err);
/* Whether entry (a name listed in archive/dropped) is "<segment>.json" of a plain segment
 * name; the segment's name in seg then. */
bool repo_dropped_entry(const char *entry, char seg[PG_WALNAME_SEG_LEN + 1]);
/* The report of drill <id>: "drill/<id>.json". */
int repo_drill_report_path(const char *id, char out[REPO_PATH_MAX], PgpErr *err);

#endif
