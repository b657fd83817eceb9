/*
 * uploads.h - unfinished multipart uploads in the repository (src/repo/uploads.c): what a
 * writer killed in the middle of a large object leaves in an S3 store. Never an object (no
 * reader sees them), but they cost storage until aborted: verify reports them, expire aborts
 * those older than REPO_UPLOAD_ABORT_AGE_S (expire holds the exclusive lock, so no backup is
 * writing; archive-push's uploads last seconds). Nothing to do on posix.
 */
#ifndef PGPITR_REPO_UPLOADS_H
#define PGPITR_REPO_UPLOADS_H

#include <stddef.h>
#include <stdint.h>

#include "pgpitr/common/err.h"
#include "pgpitr/storage/storage.h"

#define REPO_UPLOAD_ABORT_AGE_S 3600

typedef struct RepoUploads {
    size_t n;                   /* unfinished uploads seen (aborted ones included) */
    int64_t oldest;             /* when the oldest began; 0 when none */
    size_t aborted;
} RepoUploads;

/* Lists the unfinished uploads into out; with abort_before > 0, aborts each one begun
 * before that time (seconds since the epoch; one already gone counts as aborted). */
int repo_uploads_sweep(Storage *s, int64_t abort_before, RepoUploads *out, PgpErr *err);

#endif
