/*
 * backup_finish.h - the steps around the stream of a backup: cleaning what an earlier failed
 * backup left, checking every stored file against PostgreSQL's backup_manifest, and waiting
 * until the WAL the backup needs is archived. A backup is complete (restorable) only after
 * all of them passed and its manifest.json was written.
 */
#ifndef PGPITR_BACKUP_FINISH_H
#define PGPITR_BACKUP_FINISH_H

#include <stdint.h>

#include "pgpitr/common/err.h"
#include "pgpitr/repo/manifest.h"
#include "pgpitr/pg/pgmanifest.h"
#include "pgpitr/repo/repo.h"

/* Removes backup directories without manifest.json (incomplete backups), and then objects no
 * complete backup references. Call only while holding the backup lock. *removed_backups and
 * *removed_objects count what went. */
int backup_clean_incomplete(Repo *repo, int *removed_backups, int *removed_objects, PgpErr *err);

/* Every file of m must be in pg with the same size and checksum (pg's CRC32C against the
 * entry's crc32c, or SHA256 against its sha256; any other algorithm is refused), and every
 * file of pg in m: PGP_ERR_CORRUPT naming the first difference. */
int backup_check_pg_manifest(const BackupManifest *m, const PgManifest *pg, PgpErr *err);
/* The same from backup_manifest as it arrives (rd: the BASE_BACKUP stream's manifest part),
 * read one file at a time (pg_manifest_read_each) and never held: a text that does not parse
 * is PGP_ERR_CORRUPT with the context "the server's backup_manifest is invalid"; rd's errors
 * as they are. Memory: 4 bytes and a bit a received file, and the reader's window. */
int backup_check_pg_manifest_stream(const BackupManifest *m, PgManifestReadFn rd, void *rd_ud,
                                    PgpErr *err);

/* Waits (polling, at most timeout_s seconds) until every WAL segment from start_lsn to
 * stop_lsn on timeline tli is in the archive. PGP_ERR_NOT_FOUND naming the first missing
 * segment after the timeout, with a HINT to check archiving on `archiver` (the server that
 * archives: "the server", or the primary of a standby that was backed up). */
int backup_wait_wal(Repo *repo, uint32_t tli, uint64_t start_lsn, uint64_t stop_lsn,
                    int timeout_s, const char *archiver, PgpErr *err);

#endif
