/*
 * wal_push.h - archiving one WAL file (segment, .partial, .backup or .history) into the
 * repository: the per-file work behind `archive-push`, a function of its inputs so it can
 * be unit-tested and later run by parallel workers.
 *
 * Contract: returns 0 only when the file is durable in the repository under its final name
 * and the stored object was verified to decode to bytes with the recorded SHA-256. Nothing
 * is ever written under a final name before that. A file already archived with the same
 * content is success (res->already_archived); with different content PGP_ERR_CONFLICT
 * naming both checksums, and the archived object is left untouched.
 */
#ifndef PGPITR_WAL_PUSH_H
#define PGPITR_WAL_PUSH_H

#include <stdbool.h>
#include <stdint.h>

#include "pgpitr/common/err.h"
#include "pgpitr/pipe/pipe.h"
#include "pgpitr/common/file_ident.h"
#include "pgpitr/repo/repo.h"
#include "pgpitr/storage/storage.h"

typedef struct WalPushOptions {
    PipeCodec codec;
    int level;
} WalPushOptions;

typedef struct WalPushResult {
    /* The hex of the object's name: the content's SHA-256, or in an encrypted repository its
     * keyed name (object_io_name_hex). */
    char sha256_hex[PIPE_SHA256_HEX_LEN + 1];
    char content_sha256[PIPE_SHA256_HEX_LEN + 1];   /* the content's plain SHA-256 */
    char object_path[REPO_PATH_MAX];
    uint64_t size;            /* original bytes */
    uint64_t stored_size;     /* bytes in the repository */
    bool already_archived;
    /* The source file's identity when it was read (file_ident.h), if it was settled then and
     * stat gave the same identity once its SHA-256 was known: so the bytes hashed are the
     * file's content for as long as its identity stays the same (push_ahead.h). */
    bool source_settled;
    FileIdent source;
} WalPushResult;

/* Archives src_path into repo: wal_push_start then wal_push_finish. */
int wal_push_file(Repo *repo, const char *src_path, const WalPushOptions *opt,
                  WalPushResult *res, PgpErr *err);

/* The same in two steps, so that the repository can be opened while the file is encoded.
 * wal_push_start maps and checks the file (name, WAL header) and starts hashing and
 * compressing it on worker threads; it touches no repository. wal_push_finish binds the
 * repository to the segment's cluster, looks the name up, and stores the object (contract
 * above); it always frees the job. wal_push_cancel stops and frees a job not finished. */
typedef struct WalPushJob WalPushJob;
int wal_push_start(const char *src_path, const WalPushOptions *opt, WalPushJob **out,
                   PgpErr *err);
int wal_push_finish(WalPushJob *job, Repo *repo, WalPushResult *res, PgpErr *err);
void wal_push_cancel(WalPushJob *job);
/* wal_push_finish for a caller that looked the name up itself, for many names in one listing
 * (push_ahead.c, repo_archive_find_many): existing is what is archived under the name (NULL:
 * nothing; a conflict there is the caller's to report). Same content is success, different
 * content PGP_ERR_CONFLICT; nothing archived: the object is stored, through batch when not
 * NULL (named at the batch's flush). It does NOT look again after storing: until the caller
 * has flushed the batch and found, with repo_archive_find(_many), exactly this checksum under
 * the name (no concurrent push of other content beside it), nothing may be acknowledged. */
int wal_push_finish_known(WalPushJob *job, Repo *repo, const RepoArchiveObject *existing,
                          StorageBatch *batch, WalPushResult *res, PgpErr *err);

#endif
