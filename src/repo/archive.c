/*
 * archive.c - where archived WAL files live and how their objects are named and found.
 * See repo.h for the layout. Finding is one directory listing (O(files in that directory),
 * at most one "XLogId" worth of segments), never a scan of the whole archive.
 */
#include "pgpitr/repo/repo.h"

#include <stdio.h>
#include <string.h>

#include "pgpitr/common/hexstr.h"

#define WAL_DIR_PREFIX_LEN 16   /* timeline + log: one directory per 4 GiB of WAL */

void repo_archive_dir(const char *walname, char out[REPO_PATH_MAX])
{
    if (strstr(walname, ".history") != NULL)
        snprintf(out, REPO_PATH_MAX, "archive/history");
    else
        snprintf(out, REPO_PATH_MAX, "archive/wal/%.*s", WAL_DIR_PREFIX_LEN, walname);
}

void repo_archive_object_path(const char *walname, const char *sha256_hex, PipeCodec codec,
                              char out[REPO_PATH_MAX])
{
    char dir[REPO_PATH_MAX];
    repo_archive_dir(walname, dir);
    int n = snprintf(out, REPO_PATH_MAX, "%s/%s-%s%s", dir, walname, sha256_hex,
                     pipe_codec_ext(codec));
    if (n < 0 || n >= REPO_PATH_MAX)
        out[0] = '\0'; /* cannot happen for validated names; storage refuses an empty path */
}

typedef struct FindState {
    const char *walname;
    size_t name_len;
    const char *dir;
    RepoArchiveObject *found;
    int matches;
    char other_sha[PIPE_SHA256_HEX_LEN + 1];
} FindState;

/* Parses "<walname>-<64 hex><ext>"; false for other entries of the directory. */
static bool match_object(FindState *st, const char *entry, char sha[PIPE_SHA256_HEX_LEN + 1],
                         PipeCodec *codec)
{
    if (strncmp(entry, st->walname, st->name_len) != 0 || entry[st->name_len] != '-')
        return false;
    const char *hex = entry + st->name_len + 1;
    if (!hexstr_is(hex, PIPE_SHA256_HEX_LEN, HEX_LOWER))
        return false;
    if (!pipe_codec_from_ext(hex + PIPE_SHA256_HEX_LEN, codec))
        return false;
    memcpy(sha, hex, PIPE_SHA256_HEX_LEN);
    sha[PIPE_SHA256_HEX_LEN] = '\0';
    return true;
}

static int on_entry(void *ud, const char *name, const StorageInfo *info, PgpErr *err)
{
    (void)err;      /* never fails */
    FindState *st = ud;
    char sha[PIPE_SHA256_HEX_LEN + 1];
    PipeCodec codec;
    if (info->is_dir || !match_object(st, name, sha, &codec))
        return 0;
    st->matches++;
    if (st->matches == 1) {
        snprintf(st->found->path, sizeof st->found->path, "%s/%s", st->dir, name);
        memcpy(st->found->sha256_hex, sha, sizeof sha);
        st->found->codec = codec;
        st->found->stored_size = info->size;
    } else if (strcmp(sha, st->found->sha256_hex) != 0) {
        memcpy(st->other_sha, sha, sizeof sha);
    }
    return 0;
}

int repo_archive_find(Repo *r, const char *walname, RepoArchiveObject *out, PgpErr *err)
{
    char dir[REPO_PATH_MAX];
    repo_archive_dir(walname, dir);
    memset(out, 0, sizeof *out);
    FindState st = {.walname = walname, .name_len = strlen(walname), .dir = dir, .found = out};
    int rc = storage_list(repo_storage(r), dir, on_entry, &st, err);
    if (rc != 0)
        return pgp_err_context(err, "cannot list archive directory \"%s\"", dir);
    if (st.matches == 0)
        return PGP_FAIL(err, PGP_ERR_NOT_FOUND, "\"%s\" is not in the archive", walname);
    if (st.matches > 1 && st.other_sha[0] != '\0') {
        PGP_FAIL(err, PGP_ERR_CONFLICT,
                 "\"%s\" is archived twice with different content (sha256 %s and %s)", walname,
                 out->sha256_hex, st.other_sha);
        pgp_err_hint(err, "find out which copy is right, then remove the other object from \"%s\"",
                     dir);
        return PGP_ERR_CONFLICT;
    }
    return 0;
}
