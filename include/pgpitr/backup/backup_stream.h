/*
 * backup_stream.h - turns the BASE_BACKUP copy stream into backup entries: each tar archive
 * (base.tar, <oid>.tar per tablespace) is read with libarchive sitting directly on the copy
 * stream (its read callback pulls the next CopyData message), so file contents are copied
 * once, from libpq's buffer into the buffer handed to the store pool.
 */
#ifndef PGPITR_BACKUP_STREAM_H
#define PGPITR_BACKUP_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "pgpitr/common/err.h"
#include "pgpitr/pg/pgconn.h"

typedef enum { BACKUP_ENTRY_FILE, BACKUP_ENTRY_DIR, BACKUP_ENTRY_SYMLINK } BackupEntryType;

typedef struct BackupEntry {
    const char *path;          /* normalized: relative, no "./", no trailing '/' */
    uint32_t tablespace;       /* 0 = data directory (base.tar) */
    BackupEntryType type;
    uint64_t size;
    uint32_t mode;             /* permission bits (<= 07777) */
    int64_t mtime;
    const char *link_target;   /* symlinks */
} BackupEntry;

typedef struct BackupEntryReader BackupEntryReader;
/* Reads exactly len bytes of the current file's content (PGP_ERR_PG/CORRUPT on short). */
int backup_entry_read(BackupEntryReader *r, void *buf, size_t len, PgpErr *err);

typedef struct BackupStreamHandler {
    void *ud;
    /* For files the handler must read all `size` bytes with backup_entry_read. */
    int (*on_entry)(void *ud, const BackupEntry *e, BackupEntryReader *r, PgpErr *err);
    void (*on_progress)(void *ud, uint64_t bytes_done);
} BackupStreamHandler;

/* Consumes the whole copy stream: archives -> on_entry; the backup_manifest bytes are
 * collected into *manifest (malloc'd, NUL-terminated, *manifest_len bytes). */
int backup_stream_consume(PgBackupStream *s, const BackupStreamHandler *h, char **manifest,
                          size_t *manifest_len, PgpErr *err);

/* Where backup_stream_consume_from takes the copy stream's messages: pg_basebackup_next for a
 * server (backup_stream_consume), a buffer in the fuzz harness. Same contract as
 * pg_basebackup_next, including END repeated once the stream ended. */
typedef int (*BackupStreamNext)(void *src, PgCopyMsg *msg, PgpErr *err);
int backup_stream_consume_from(BackupStreamNext next_msg, void *src, const BackupStreamHandler *h,
                               char **manifest, size_t *manifest_len, PgpErr *err);

/* "base.tar" -> 0, "16385.tar" -> 16385; PGP_ERR_PG for anything else. */
int backup_stream_archive_tablespace(const char *archive_name, uint32_t *oid, PgpErr *err);

#endif
