/*
 * backup_chunks.h - a large file stored as chunks by a backup (docs/chunking.md "Backup",
 * src/backup/backup_chunks.c): each chunk of CHUNK_SIZE_DEFAULT bytes is hashed, looked up in
 * the backup's object index and stored unless present, like a whole small file
 * (backup_store_file); once the file's last chunk is stored, its chunk list (chunk_list.h) is
 * stored the same way and the file is described for its manifest entry.
 *
 * A BackupChunked is shared by the reading thread (backup_pool_submit_chunked, which creates
 * it) and the pool's jobs, one per chunk, on any worker: reference-counted, its counters
 * under its own lock. Whatever the order in which workers finish the chunks, the list is
 * stored exactly once, by the worker that stored the last of them.
 */
#ifndef PGPITR_BACKUP_CHUNKS_H
#define PGPITR_BACKUP_CHUNKS_H

#include <stdbool.h>
#include <stdint.h>

#include "pgpitr/backup/backup_store.h"
#include "pgpitr/common/err.h"
#include "pgpitr/pipe/pipe.h"
#include "pgpitr/storage/storage.h"

/* Whether a backup stores a file of size bytes as chunks of CHUNK_SIZE_DEFAULT
 * (chunk_file_chunked: at least CHUNK_FILE_MIN bytes, 8 MiB). */
bool backup_store_chunks(uint64_t size);

/* A file described by meta (path copied, tablespace, mode, mtime, size: backup_store_chunks)
 * to be stored as chunks with codec; one reference, the caller's. */
int backup_chunked_new(const BackupFileJob *meta, PipeCodec codec, BackupChunked **out,
                       PgpErr *err);
BackupChunked *backup_chunked_ref(BackupChunked *c);
void backup_chunked_unref(BackupChunked *c);      /* NULL is a no-op; frees with the last */
const char *backup_chunked_path(const BackupChunked *c);
uint64_t backup_chunked_count(const BackupChunked *c);
/* Byte range of chunk i (chunk_list_extent). */
void backup_chunked_extent(const BackupChunked *c, uint64_t i, uint64_t *off, uint64_t *len);
/* The CRC-32C of the whole file (pipe_crc32c_final), set by the reader before it submits the
 * last chunk. */
void backup_chunked_set_crc32c(BackupChunked *c, uint32_t crc32c);

/* Stores the chunk a job holds (job->chunked, job->chunk_index, job->data, job->size). When it
 * was the file's last chunk to be stored, also stores the chunk list and sets *complete, with
 * res describing the file's storage and file a job describing the whole file (path borrowed
 * from the BackupChunked, valid while job holds its reference). Failures name the chunk and
 * its bytes. */
int backup_chunked_store(Storage *s, const BackupStoreOptions *opt, const BackupFileJob *job,
                         BackupFileJob *file, BackupStoreResult *res, bool *complete,
                         PgpErr *err);

#endif
