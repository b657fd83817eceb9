/*
 * basebackup_tar.h - turns the BASE_BACKUP copy stream into entries (files, directories,
 * symlinks): each tar archive (base.tar, <oid>.tar per tablespace) is read with libarchive
 * sitting directly on the copy stream (its read callback pulls the next CopyData message), so
 * file contents are copied once, from libpq's buffer into the caller's buffer (a compressed
 * archive, ".tar.zst" from BASE_BACKUP ... COMPRESSION 'zstd', is decompressed on the way). What is done
 * with the entries (objects in the repository) is the caller's: src/backup/backup_run.c.
 */
#ifndef PGPITR_PG_BASEBACKUP_TAR_H
#define PGPITR_PG_BASEBACKUP_TAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pgpitr/common/err.h"
#include "pgpitr/pg/pgconn.h"

typedef enum { PG_TAR_FILE, PG_TAR_DIR, PG_TAR_SYMLINK } PgTarEntryType;

typedef struct PgTarEntry {
    const char *path;          /* normalized: relative, no "./", no trailing '/' */
    uint32_t tablespace;       /* 0 = data directory (base.tar) */
    PgTarEntryType type;
    uint64_t size;
    uint32_t mode;             /* permission bits (<= 07777) */
    int64_t mtime;
    const char *link_target;   /* symlinks */
} PgTarEntry;

typedef struct PgTarReader PgTarReader;
/* Reads exactly len bytes of the current file's content (PGP_ERR_PG/CORRUPT on short). */
int pg_tar_read(PgTarReader *r, void *buf, size_t len, PgpErr *err);

/* The server's backup_manifest, as it arrives after the last archive. */
typedef struct PgTarManifest PgTarManifest;
/* Up to len bytes of the manifest into buf, *got = 0 at its end (storage_read's contract). */
int pg_tar_manifest_read(PgTarManifest *r, void *buf, size_t len, size_t *got, PgpErr *err);

typedef struct PgTarHandler {
    void *ud;
    /* For files the handler must read all `size` bytes with pg_tar_read. */
    int (*on_entry)(void *ud, const PgTarEntry *e, PgTarReader *r, PgpErr *err);
    void (*on_progress)(void *ud, uint64_t bytes_done);
    /* Optional: the backup_manifest read as it arrives (pg_tar_manifest_read; what is left
     * unread is skipped), never held; a second manifest is PGP_ERR_PG. Without it the bytes
     * are collected whole into *manifest. */
    int (*on_manifest)(void *ud, PgTarManifest *r, PgpErr *err);
} PgTarHandler;

/* Consumes the whole copy stream: archives -> on_entry; the backup_manifest to on_manifest,
 * or, without one, collected into *manifest (malloc'd, NUL-terminated, *manifest_len bytes;
 * both may be NULL, and stay untouched, with on_manifest). PGP_ERR_PG when the stream has no
 * manifest. */
int pg_basebackup_tar_consume(PgBackupStream *s, const PgTarHandler *h, char **manifest,
                              size_t *manifest_len, PgpErr *err);

/* Where pg_basebackup_tar_consume_from takes the copy stream's messages: pg_basebackup_next
 * for a server (pg_basebackup_tar_consume), a buffer in the fuzz harness and the unit tests.
 * Same contract as pg_basebackup_next, including END repeated once the stream ended. */
typedef int (*PgTarNext)(void *src, PgCopyMsg *msg, PgpErr *err);
int pg_basebackup_tar_consume_from(PgTarNext next_msg, void *src, const PgTarHandler *h,
                                   char **manifest, size_t *manifest_len, PgpErr *err);

/* Loads libarchive (src/pg/libarchive_lazy.h) if it is not yet: the consume functions do, and
 * backup calls it before the server takes a checkpoint, to fail early where it is missing. */
int pg_basebackup_tar_load(PgpErr *err);

/* "base.tar" -> 0, "16385.tar" -> 16385, the same with ".tar.zst" (server-side compression);
 * PGP_ERR_PG for anything else. */
int pg_basebackup_tar_tablespace(const char *archive_name, uint32_t *oid, PgpErr *err);
/* True for a ".tar.zst" archive name: one zstd frame of the tar (decompressed while read). */
bool pg_basebackup_tar_compressed(const char *archive_name);

#endif
