/*
 * restore_chunk_check.h - before a restore writes anything, every chunk of every file the
 * chosen backup stores as chunks (docs/chunking.md) is proven present
 * (src/restore/restore_chunk_check.c), as restore_plan.c proves every whole-file object and
 * chunk list present. Without it a missing chunk failed the restore when it was fetched, after
 * other files had been written (issue #14).
 *
 * How: every chunk list of the backup is read and checked (chunk_list_load; on `workers`
 * threads), the chunk objects they name go into a sorted set of distinct records in bounded
 * memory (extsort.h: about 5 MiB whatever the number of chunks; a 2 TB cluster has ~2 million
 * at 1 MiB), then each distinct chunk is told to the object index and looked up through it
 * (object_index.h: on S3 listings, not a HEAD per chunk). Only existence is checked, as for
 * whole files: content is checked when fetched (and by `pgpitr verify`).
 */
#ifndef PGPITR_RESTORE_CHUNK_CHECK_H
#define PGPITR_RESTORE_CHUNK_CHECK_H

#include <stddef.h>

#include "pgpitr/common/err.h"
#include "pgpitr/crypto/keyring.h"
#include "pgpitr/repo/manifest.h"
#include "pgpitr/repo/manifest_pack.h"
#include "pgpitr/repo/object_index.h"
#include "pgpitr/storage/storage.h"

typedef struct RestoreChunkCheck {
    Storage *s;
    const CryptoRepoKey *key;           /* an encrypted repository's (keyed chunk names) */
    ObjectIndex *ix;                    /* shared with the whole-file check */
    int workers;                        /* threads reading lists; <= 0: 1 */
    size_t in_memory;                   /* records held before a sorted run spills; 0: the
                                           default (tests use a few, to spill) */
} RestoreChunkCheck;

typedef struct RestoreChunkCheckResult {
    size_t lists;                       /* chunk lists read */
    size_t chunks;                      /* distinct chunk objects looked up */
    size_t spilled_runs;                /* sorted runs written to a temporary file */
} RestoreChunkCheckResult;

/*
 * 0 when every chunk of every chunked file of `files` (backup m) is stored. A list that does
 * not load (damaged, not the entry's) or a missing chunk: PGP_ERR_CORRUPT "backup "L" is
 * damaged: ..." naming the object, the file (one file using the chunk: the set keeps each
 * chunk once) with the chunk's index and byte range, and the hint "nothing was written; choose
 * another backup with --backup LABEL". Storage failures keep their code, with context.
 */
int restore_chunk_check(const RestoreChunkCheck *c, const BackupManifest *m,
                        const ManifestPack *files, RestoreChunkCheckResult *res, PgpErr *err);

#endif
