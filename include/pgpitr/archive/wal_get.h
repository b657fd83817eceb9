/*
 * wal_get.h - fetching one archived WAL file into a destination path: the per-file work
 * behind `archive-get`.
 *
 * Contract: PGP_ERR_NOT_FOUND (and nothing written) only when the file is not archived; every
 * other failure, including a missing destination directory, is another code. On success
 * dest holds exactly the original bytes, verified against the SHA-256 in the object name,
 * published atomically (temp file in dest's directory + rename). On any failure dest is not
 * created or replaced and no temp file is left behind.
 */
#ifndef PGPITR_WAL_GET_H
#define PGPITR_WAL_GET_H

#include <stdint.h>

#include "pgpitr/common/err.h"
#include "pgpitr/repo/repo.h"

typedef struct WalGetResult {
    RepoArchiveObject object;
    uint64_t size;            /* bytes written to dest */
    /* their plain SHA-256 (object.sha256_hex is the name's: keyed when encrypted) */
    char content_sha256[PIPE_SHA256_HEX_LEN + 1];
} WalGetResult;

int wal_get_file(Repo *repo, const char *walname, const char *dest, WalGetResult *res,
                 PgpErr *err);
/* wal_get_file of an object already found (repo_archive_find_many: the prefetcher looks a run of
 * segments up with one listing). The same checks: the bytes are verified against the SHA-256
 * in obj's name before dest appears. An object that vanished since it was listed is an error
 * (not PGP_ERR_NOT_FOUND). */
int wal_get_object(Repo *repo, const RepoArchiveObject *obj, const char *walname,
                   const char *dest, WalGetResult *res, PgpErr *err);

#endif
