/*
 * uploads.c - counting and aborting unfinished multipart uploads (uploads.h) through the
 * storage interface; the driver knows what an upload is, this file only when one is stale.
 */
#include "pgpitr/repo/uploads.h"

#include <string.h>

#include "pgpitr/common/log.h"

typedef struct Sweep {
    Storage *s;
    int64_t abort_before;
    RepoUploads *out;
} Sweep;

static int on_upload(void *ud, const char *path, const char *upload_id, int64_t initiated,
                     PgpErr *err)
{
    Sweep *w = ud;
    w->out->n++;
    if (w->out->oldest == 0 || initiated < w->out->oldest)
        w->out->oldest = initiated;
    if (w->abort_before <= 0 || initiated >= w->abort_before)
        return 0;
    int rc = storage_abort_upload(w->s, path, upload_id, err);
    if (rc == PGP_ERR_NOT_FOUND)        /* completed or aborted meanwhile */
        rc = 0;
    if (rc == 0) {
        w->out->aborted++;
        log_info("aborted the unfinished multipart upload of \"%s\"", path);
    }
    return rc;
}

int repo_uploads_sweep(Storage *s, int64_t abort_before, RepoUploads *out, PgpErr *err)
{
    memset(out, 0, sizeof *out);
    Sweep w = {s, abort_before, out};
    return storage_list_uploads(s, on_upload, &w, err);
}
