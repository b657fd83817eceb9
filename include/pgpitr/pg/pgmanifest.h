/*
 * pgmanifest.h - PostgreSQL's own backup_manifest (the JSON file pg_basebackup and
 * BASE_BACKUP ... MANIFEST 'yes' produce), parsed (whole, or as it streams in) so a backup can
 * check file by file what the server said it sent.
 *
 * Accepted: "PostgreSQL-Backup-Manifest-Version" 1 (PostgreSQL 13-16) and 2 (17+, which adds
 * "System-Identifier"). The parse is strict and never trusts the bytes:
 *   - the "Manifest-Checksum" (SHA-256 over every byte up to and including the newline that
 *     precedes the last line, which must itself end in a newline) must match;
 *   - unknown fields, missing or mistyped fields, duplicate keys or paths are rejected;
 *   - paths ("Path", or hex "Encoded-Path" for names that are not UTF-8) must be relative,
 *     non-empty, without "", "." or ".." segments and without NUL bytes;
 *   - a checksum must have exactly the length of its algorithm (CRC32C 8 hex digits, SHA224
 *     56, SHA256 64, SHA384 96, SHA512 128); NONE means no checksum;
 *   - WAL ranges need a timeline >= 1 and Start-LSN <= End-LSN.
 * Every failure is PGP_ERR_CORRUPT with a message saying what and where ("file 12: ...").
 *
 * This module only parses; it does no I/O and does not compute file checksums.
 */
#ifndef PGPITR_PGMANIFEST_H
#define PGPITR_PGMANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "pgpitr/common/err.h"

typedef enum {
    PG_MANIFEST_CHECKSUM_NONE = 0,
    PG_MANIFEST_CHECKSUM_CRC32C,
    PG_MANIFEST_CHECKSUM_SHA224,
    PG_MANIFEST_CHECKSUM_SHA256,
    PG_MANIFEST_CHECKSUM_SHA384,
    PG_MANIFEST_CHECKSUM_SHA512,
} PgManifestChecksumType;

#define PG_MANIFEST_CHECKSUM_HEX_MAX 128  /* SHA-512 */

/* One a file of the cluster (a million for a big one): 32 bytes and one allocation holding
 * the path and the checksum text. */
typedef struct PgManifestFile {
    char *path;                     /* decoded, relative to the data directory; malloc'd, and
                                       the checksum text follows its NUL in the same block */
    /* Lowercase hex exactly as PostgreSQL computed it ("" for NONE), pointing into path's
     * block. For CRC32C these are the four bytes of the CRC in the server's byte order, as
     * pg_verifybackup compares them. */
    const char *checksum;
    uint64_t size;
    PgManifestChecksumType checksum_type;
} PgManifestFile;

typedef struct PgManifestWalRange {
    uint32_t timeline;
    uint64_t start_lsn;
    uint64_t end_lsn;
} PgManifestWalRange;

typedef struct PgManifest {
    int version;                    /* 1 or 2 */
    uint64_t system_identifier;     /* version 2 only; 0 for version 1 */
    PgManifestFile *files;          /* sorted by path (strcmp), no duplicates */
    size_t n_files;
    PgManifestWalRange *wal_ranges; /* in manifest order */
    size_t n_wal_ranges;
    char manifest_checksum[65];     /* lowercase hex SHA-256 of the manifest */
} PgManifest;

/* Parses len bytes of buf (need not be NUL-terminated). On success *out is a new manifest
 * owned by the caller; on failure *out is NULL and the error is PGP_ERR_CORRUPT (or NOMEM).
 * Memory: the "Files" array is read one file at a time (never a JSON tree of the whole
 * document: that was about 900 bytes a file), into PgManifestFile records. */
int pg_manifest_parse(const char *buf, size_t len, PgManifest **out, PgpErr *err);
void pg_manifest_free(PgManifest *m);      /* NULL is a no-op */

/* Given each file of "Files" in the order listed; f and its strings live during the call. */
typedef int (*PgManifestFileFn)(void *ud, const PgManifestFile *f, PgpErr *err);

/* pg_manifest_parse without keeping the files: fn gets each one as it is read, and *out has
 * files NULL and n_files their number. The same checks in the same order, but duplicate
 * paths are the caller's to find; fn's first error is held like a file's field error (given
 * back once the document parsed and its checksum matched), and no later file reaches fn.
 * Memory: nothing a file (a backup of a million files checks them this way). */
int pg_manifest_parse_each(const char *buf, size_t len, PgManifestFileFn fn, void *ud,
                           PgManifest **out, PgpErr *err);

/* A byte source: up to len bytes into buf, *got = 0 at the end (storage_read's contract). */
typedef int (*PgManifestReadFn)(void *ud, void *buf, size_t len, size_t *got, PgpErr *err);

/* Largest single JSON value of the document (one file, one top-level field) the streaming
 * reader accepts: the document itself has no limit, it is never held whole. */
#define PG_MANIFEST_VALUE_MAX ((size_t)64 << 20)

/* pg_manifest_parse_each over the text as rd gives it (the BASE_BACKUP stream, as it
 * arrives): the same checks in the same order, the manifest checksum computed as the bytes
 * go by. rd's own errors are returned as they are, at once. Memory: a 64 KiB window (wider
 * only for a single larger value), never the text. */
int pg_manifest_read_each(PgManifestReadFn rd, void *rd_ud, PgManifestFileFn fn, void *ud,
                          PgManifest **out, PgpErr *err);

/* Binary search by exact path; NULL if absent. */
const PgManifestFile *pg_manifest_find(const PgManifest *m, const char *path);

/* "NONE", "CRC32C", "SHA224", "SHA256", "SHA384", "SHA512" (PostgreSQL's spelling). */
const char *pg_manifest_checksum_name(PgManifestChecksumType t);
/* Number of hex digits of a checksum of type t (0 for NONE). */
size_t pg_manifest_checksum_hex_len(PgManifestChecksumType t);

#endif
