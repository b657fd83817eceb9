/*
 * manifest.h - pgpitr's own backup manifest: backup/<label>/manifest.json in the repository,
 * the record of one base backup (cluster identity, WAL position and times, tablespaces, and
 * every file, directory and symlink with the repository object holding its content).
 *
 * JSON layout (format 1), one top-level field per line and one entry per line so that a
 * manifest of a large cluster stays greppable and diffable ("entries" last: see Streaming):
 *   { "format": 1, "label": "20261122T030000Z", "status": "complete",
 *     "system_identifier": "7300000000000000001",      decimal string: above 2^53
 *     "pg_version_num": 150004, "pg_major": 15, "timeline": 1,
 *     "start_lsn": "0/2000028", "stop_lsn": "0/2000100",
 *     "start_time": "2026-11-22T03:00:00Z", "stop_time": "...",   ISO 8601 UTC
 *     "compress": "zstd", "pg_manifest_object": "<object path>" | null,
 *     "size": N, "stored_size": N, "new_stored_size": N,
 *     "tablespaces": [ {"oid": 16385, "location": "/srv/ts1"} ],
 *     "entries": [
 *       {"path": "base/1/1259", "tablespace": 0, "type": "file", "size": 8192,
 *        "mode": "0600", "mtime": 1795316400, "sha256": "<64 hex>", "object": "...",
 *        "stored_size": 321},
 *       {"path": "base", "tablespace": 0, "type": "dir", "mode": "0700", "mtime": ...},
 *       {"path": "pg_tblspc/16385", "tablespace": 0, "type": "symlink", "mode": "0777",
 *        "mtime": ..., "link_target": "/srv/ts1"} ] }
 * Sizes are JSON integers in 0..2^63-1; mode is 4 octal digits as text.
 *
 * Format 2 is format 1 plus one top-level field, for a backup taken on a standby:
 *     "source": {"role": "standby", "server": "db2:5432", "primary": "db1:5432"}
 * (the standby backed up and the primary that switched and archived its WAL, "host:port" as
 * libpq names them). A writer uses the lowest format that holds what it records: a backup
 * of a primary stays format 1, which every pgpitr reads; a pgpitr that knows only format 1
 * says "format 2 is not supported" about a standby's backup instead of misreading it.
 *
 * Format 3 is format 2 with "source" optional, plus file entries stored as chunks
 * (docs/chunking.md): instead of "sha256" and "object" such an entry has
 *       "chunk_list": "<object path>", "chunk_list_sha256": "<64 hex>",
 *       "chunk_size": 1048576, "chunks": 820
 * (the chunk list object, the SHA-256 of its text, the chunk size, a power of two from 8 KiB
 * to 16 MiB, and the number of chunks, which must be ceil(size / chunk_size), size >= 1);
 * "stored_size" then counts the list and every chunk. A backup with such an entry is format 3;
 * one without stays format 1 or 2.
 *
 * Reading is strict, because a manifest drives what restore writes where: missing, mistyped,
 * out-of-range or unknown fields (and fields that do not belong to an entry's type) are
 * PGP_ERR_CORRUPT naming the field and the entry. manifest_validate() holds the semantic
 * rules, applied on read and before every write:
 *   - format 1 without "source", format 2 with it; role "standby", server and primary
 *     1..MANIFEST_SERVER_MAX-1 bytes without control characters; label manifest_label_valid(); status [a-z_-], 1..32 chars; compress a codec
 *     name; system_identifier != 0; timeline >= 1; pg_version_num, pg_major > 0;
 *     start_lsn <= stop_lsn; start/stop times in years 1970..9999; sizes below 2^63;
 *   - tablespaces: oid > 0 and unique, location an absolute path;
 *   - entry paths relative, no "", "." or ".." segment, no leading '/'; unique per
 *     tablespace; an entry's tablespace is 0 or a listed oid; mode <= 07777;
 *   - files: sha256 exactly 64 lowercase hex, object storage_path_valid();
 *     dirs/symlinks: no sha256, no object, size 0, stored_size 0;
 *     symlinks: non-empty link_target; others: none;
 *   - pg_manifest_object, when set, storage_path_valid().
 * What status values mean is the callers' business (backup only writes "complete").
 */
#ifndef PGPITR_MANIFEST_H
#define PGPITR_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pgpitr/common/err.h"
#include "pgpitr/repo/repo.h"
#include "pgpitr/storage/storage.h"

#define MANIFEST_FORMAT 1            /* a backup of a primary */
#define MANIFEST_FORMAT_STANDBY 2    /* format 1 + "source": a backup taken on a standby */
#define MANIFEST_FORMAT_CHUNKED 3    /* format 2 ("source" optional) + chunked file entries */
#define MANIFEST_SERVER_MAX 1024     /* "host:port" texts of "source", NUL included */
#define MANIFEST_STATUS_COMPLETE "complete"
#define MANIFEST_LABEL_MAX 64
/* Largest single JSON value (one entry, one header field) the reader accepts; the document
 * itself has no size limit, it is never held whole. */
#define MANIFEST_MAX_BYTES ((size_t)1 << 30)

/* Bytes read from storage at a time by the streaming reader (a value larger than that widens
 * the window, up to MANIFEST_MAX_BYTES). */
#define MANIFEST_WINDOW ((size_t)64 * 1024)

typedef enum { MANIFEST_FILE, MANIFEST_DIR, MANIFEST_SYMLINK } ManifestEntryType;

typedef struct ManifestEntry {
    /* ordered so that the struct has no padding (128 bytes): a million are kept at once */
    char *path;            /* relative path inside its archive ("base/1/1259", "pg_tblspc/16385") */
    uint32_t tablespace;   /* 0 = main data directory, else tablespace oid */
    uint8_t type;          /* ManifestEntryType */
    /* Files: 0 = stored whole, in `object`, sha256 that of the content. Else (format 3) stored
     * as chunks of 1 << chunk_shift bytes (chunk_list.h) named by the chunk list object
     * `chunk_list`, sha256 that of the list's text, object NULL: code that knows only whole
     * files fails on the NULL instead of restoring a chunk list as a file's content. */
    uint8_t chunk_shift;
    uint64_t size;         /* original bytes (files) */
    int64_t mtime;
    char *object;          /* whole files: repository object path holding the content; NULL
                              otherwise */
    uint64_t stored_size;  /* bytes of that object (chunked: the list's and every chunk's) */
    union {
        char *link_target; /* symlinks */
        char *chunk_list;  /* chunked files: the chunk list's object path */
    };
    /* Backup only, never written to manifest.json: the CRC-32C of the content
     * (pipe_crc32c_final), checked against the server's backup_manifest when it lists CRC32C
     * checksums (backup_check_pg_manifest). has_crc32c is false where it was not computed. */
    uint32_t crc32c;
    uint16_t mode;         /* permission bits (<= 07777) */
    bool has_crc32c;
    char sha256[65];       /* files: hex of original content; "" otherwise */
} ManifestEntry;

typedef struct ManifestTablespace {
    uint32_t oid;
    char *location;
} ManifestTablespace;

/* Where a backup taken on a standby came from (format 2 "source"). */
typedef struct ManifestSource {
    char *server;          /* "host:port" of the standby backed up */
    char *primary;         /* "host:port" of its primary, which switched and archived the WAL */
} ManifestSource;

typedef struct ManifestArena ManifestArena;   /* private to manifest.c */
typedef struct ManifestPack ManifestPack;     /* manifest_pack.h */

typedef struct BackupManifest {
    int format;            /* MANIFEST_FORMAT, MANIFEST_FORMAT_STANDBY with a source */
    char *label;
    char *status;          /* "complete" (only complete manifests are ever written by backup) */
    uint64_t system_identifier;
    int pg_version_num;
    int pg_major;
    uint32_t timeline;
    uint64_t start_lsn, stop_lsn;   /* written as "X/X" text */
    int64_t start_time, stop_time;  /* unix seconds; JSON: ISO 8601 UTC "2026-11-22T03:00:00Z" */
    char *compress;        /* codec name */
    ManifestTablespace *tablespaces;
    size_t n_tablespaces;
    ManifestEntry *entries;  /* NULL when not kept, or kept in pack */
    size_t n_entries, cap_entries;
    ManifestPack *pack;      /* after manifest_use_pack (a backup's own entries): the entries,
                                compactly (manifest_entry_at reads them); NULL otherwise */
    char *pg_manifest_object;  /* object path of PostgreSQL's backup_manifest; NULL if none */
    uint64_t size, stored_size, new_stored_size;  /* totals; new = bytes uploaded by this
                                                     backup (not deduplicated) */
    ManifestSource *source;  /* taken on a standby; NULL: on a primary, or not recorded (a
                                pgpitr before format 2) */
    size_t n_listed;       /* entries the manifest lists: n_entries when they are kept, else
                              counted while streaming them (manifest_load_header) */
    ManifestArena *arena;  /* private: owns every entry's path, object and link_target */
} BackupManifest;

/* An empty manifest: format MANIFEST_FORMAT, every pointer NULL, counts 0. NULL if out of
 * memory. The caller sets label, status and compress with malloc'd strings (freed by
 * manifest_free). */
BackupManifest *manifest_new(void);
void manifest_free(BackupManifest *m);     /* NULL is a no-op */
/* Frees the entries and their strings, keeping the header (n_listed stays). */
void manifest_drop_entries(BackupManifest *m);
/* From now on manifest_add_entry keeps entries in m->pack (manifest_pack.h: about 100 bytes
 * a file instead of some 230 as ManifestEntry and strings), read back with
 * manifest_entry_at; m->entries stays NULL. For a manifest with no entry yet (the backup's
 * own, issue #14). Only NOMEM fails. */
int manifest_use_pack(BackupManifest *m, PgpErr *err);

/* Appends a deep copy of e (its strings are copied into m's arena, freed by manifest_free
 * only: never free an entry's strings yourself; e stays the caller's). Only NOMEM fails: the
 * content is checked by manifest_validate / manifest_to_json. A chunked file entry makes m
 * format 3. */
int manifest_add_entry(BackupManifest *m, const ManifestEntry *e, PgpErr *err);
int manifest_add_tablespace(BackupManifest *m, uint32_t oid, const char *location, PgpErr *err);

/* Records that m was taken on the standby `server` with the primary `primary` (copies of
 * both) and makes it format 2 (unless it is format 3 already, which may hold a source). Only
 * NOMEM fails; the texts are checked by manifest_validate. */
int manifest_set_standby_source(BackupManifest *m, const char *server, const char *primary,
                                PgpErr *err);

/* A file entry stored as chunks (format 3): chunk_shift set. */
static inline bool manifest_entry_chunked(const ManifestEntry *e)
{
    return e->type == MANIFEST_FILE && e->chunk_shift != 0;
}

/* The rules listed above; PGP_ERR_CORRUPT naming the field and entry. */
int manifest_validate(const BackupManifest *m, PgpErr *err);

/* *out is malloc'd text ending in a newline (NUL-terminated one byte past *len). Refuses
 * (PGP_ERR_CORRUPT, from manifest_validate) a manifest that manifest_from_json would reject,
 * including sizes above 2^63-1 and times outside the years 1970..9999. */
int manifest_to_json(const BackupManifest *m, char **out, size_t *len, PgpErr *err);
/* Strict parse of len bytes (need not be NUL-terminated): *out is a new manifest, or NULL
 * with PGP_ERR_CORRUPT (or NOMEM). An unknown format is PGP_ERR_CORRUPT. The same reader as
 * manifest_read (the text is its one window), entries kept. */
int manifest_from_json(const char *text, size_t len, BackupManifest **out, PgpErr *err);

/*
 * Streaming. A manifest is read in blocks (a sliding window of MANIFEST_WINDOW bytes) and
 * parsed one JSON value at a time: one header field, one entry; never the whole text, never
 * a tree of the whole document. Strictness is that of manifest_from_json, unchanged, with one
 * rule on order: "entries" is the last top-level field (every writer puts it there), because
 * the entries are checked against the header and tablespaces as they stream by; a field
 * after it is PGP_ERR_CORRUPT. Layout (spaces, lines) does not matter.
 *
 * Memory: the window, the header, and per entry the set of (tablespace, path) hashes that
 * refuses duplicate paths (16 bytes a slot, at most half full): about 40 bytes an entry while
 * reading, freed at the end; plus, when entries are kept, the entries themselves (sizeof
 * ManifestEntry, strings in one arena). A duplicate is found by a 96-bit hash of
 * (tablespace, path) and, for kept entries, confirmed by comparing paths; without kept
 * entries a hash collision would refuse a good manifest (odds about n^2 / 2^97), never accept
 * a bad one.
 */

/* One entry, in the manifest's order, after its own checks passed: m holds the header and
 * tablespaces (and the entries kept so far, if kept); e and its strings are valid during the
 * call only. A non-zero return stops reading and is returned as is. The document may still
 * turn out corrupt after the last entry (trailing garbage, a duplicate found later): act on
 * what the callback saw only once the read returned 0. */
typedef int (*ManifestEntryFn)(void *ud, const BackupManifest *m, const ManifestEntry *e,
                               size_t i, PgpErr *err);

/* A byte source: up to len bytes into buf, *got = 0 at the end (storage_read's contract). */
typedef int (*ManifestReadFn)(void *ud, void *buf, size_t len, size_t *got, PgpErr *err);

typedef struct ManifestReadOpts {
    ManifestEntryFn fn;    /* NULL: none */
    void *ud;
    bool keep_entries;     /* also keep them in (*out)->entries */
    bool caller_checks_dups;  /* without keep_entries: no duplicate-path set; the caller,
                                 who keeps the entries its own way, refuses duplicates
                                 itself (manifest_load_packed) */
    size_t window;         /* bytes read at a time; 0: MANIFEST_WINDOW (tests use tiny ones) */
} ManifestReadOpts;

/* Reads one manifest from rd: *out is the header with n_listed (and the entries if kept), or
 * NULL on error (PGP_ERR_CORRUPT as manifest_from_json, rd's errors, NOMEM, fn's). */
int manifest_read(ManifestReadFn rd, void *rd_ud, const ManifestReadOpts *o,
                  BackupManifest **out, PgpErr *err);

/* The repository's time text, "YYYY-MM-DDTHH:MM:SSZ" (UTC), shared with the other small JSON
 * objects of the repository (leases). Parsing is strict: years 1970..9999, and formatting the
 * result gives the same text back (no Feb 30, no trailing bytes); false otherwise. Formatting
 * a time outside that range gives "". */
#define MANIFEST_TIME_LEN 20
bool manifest_time_parse(const char *s, int64_t *out);
void manifest_time_format(int64_t t, char out[MANIFEST_TIME_LEN + 1]);

/* [A-Za-z0-9._-], 1..MANIFEST_LABEL_MAX chars, not starting with '.'. */
bool manifest_label_valid(const char *label);
/* "backup/<label>/manifest.json" (repo_layout.h); label must be valid (checked by the callers
 * below). */
int manifest_path(const char *label, char out[REPO_PATH_MAX], PgpErr *err);

/* The functions below read and write through meta_io.h with key, the repository key
 * (repo_crypto_key; NULL: unencrypted): in an encrypted repository the manifest is encrypted
 * under its path, and one altered, cut or copied from another backup is PGP_ERR_CORRUPT. */

/* Writes m (whose label must equal `label`, else PGP_ERR_INTERNAL) durably; never replaces
 * an existing manifest (PGP_ERR_CONFLICT). An invalid label is PGP_ERR_INVALID_NAME. The text
 * streams into the storage writer as it is made (never whole in memory); nothing is visible
 * under the final name before the commit. */
int manifest_save(Storage *s, const CryptoRepoKey *key, const char *label,
                  const BackupManifest *m, PgpErr *err);
/* Reads and parses backup/<label>/manifest.json, keeping the entries (compactly):
 * PGP_ERR_NOT_FOUND when there is none, PGP_ERR_INVALID_NAME for an invalid label,
 * PGP_ERR_CORRUPT when it does not parse or names another label. */
int manifest_load(Storage *s, const CryptoRepoKey *key, const char *label,
                  BackupManifest **out, PgpErr *err);
/* The same checks over the whole document, keeping only the header: entries NULL, n_entries
 * 0, n_listed their number. Memory does not grow with the entries kept (none). */
int manifest_load_header(Storage *s, const CryptoRepoKey *key, const char *label,
                         BackupManifest **out, PgpErr *err);
/* The same, handing every entry to o->fn (o->keep_entries as asked). */
int manifest_stream(Storage *s, const CryptoRepoKey *key, const char *label,
                    const ManifestReadOpts *o, BackupManifest **out, PgpErr *err);

#endif
