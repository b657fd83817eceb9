/*
 * repo_layout.c - the repository's paths (see repo_layout.h for the layout). Every builder
 * goes through one formatter that refuses a result longer than REPO_PATH_MAX: a truncated
 * path would name another object.
 */
#include "pgpitr/repo/repo_layout.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int build(char out[REPO_PATH_MAX], PgpErr *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int build(char out[REPO_PATH_MAX], PgpErr *err, const char *fmt, ...)
{
    char whole[2 * REPO_PATH_MAX];   /* enough to name the refused path in the message */
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(whole, sizeof whole, fmt, ap);
    va_end(ap);
    out[0] = '\0';
    if (n < 0 || n >= REPO_PATH_MAX) {
        char q[PGP_QUOTE_BUF];
        return PGP_FAIL(err, PGP_ERR_INVALID_NAME,
                        "repository path \"%s\" is too long (at most %d bytes)",
                        pgp_quote(whole, q), REPO_PATH_MAX - 1);
    }
    memcpy(out, whole, (size_t)n + 1);
    return 0;
}

int repo_layout_join(const char *dir, const char *name, char out[REPO_PATH_MAX], PgpErr *err)
{
    return build(out, err, "%s/%s", dir, name);
}

int repo_archive_dir(const char *walname, char out[REPO_PATH_MAX], PgpErr *err)
{
    if (strstr(walname, ".history") != NULL)
        return build(out, err, "%s", REPO_LAYOUT_HISTORY_DIR);
    return build(out, err, "%s/%.*s", REPO_LAYOUT_WAL_DIR, REPO_LAYOUT_WAL_DIR_LEN, walname);
}

int repo_archive_wal_dir(const char *dir16, char out[REPO_PATH_MAX], PgpErr *err)
{
    return build(out, err, "%s/%s", REPO_LAYOUT_WAL_DIR, dir16);
}

int repo_archive_object_path(const char *walname, const char *sha256_hex, PipeCodec codec,
                             char out[REPO_PATH_MAX], PgpErr *err)
{
    char dir[REPO_PATH_MAX];
    int rc = repo_archive_dir(walname, dir, err);
    return rc != 0 ? rc : build(out, err, "%s/%s-%s%s", dir, walname, sha256_hex,
                                pipe_codec_ext(codec));
}

int repo_dropped_path(const char *segment, char out[REPO_PATH_MAX], PgpErr *err)
{
    return build(out, err, "%s/%s%s", REPO_LAYOUT_DROPPED_DIR, segment, REPO_DROPPED_EXT);
}

bool repo_dropped_entry(const char *entry, char seg[PG_WALNAME_SEG_LEN + 1])
{
    PgWalName wn;
    PgpErr ignore;
    if (strlen(entry) != PG_WALNAME_SEG_LEN + strlen(REPO_DROPPED_EXT) ||
        strcmp(entry + PG_WALNAME_SEG_LEN, REPO_DROPPED_EXT) != 0)
        return false;
    memcpy(seg, entry, PG_WALNAME_SEG_LEN);
    seg[PG_WALNAME_SEG_LEN] = '\0';
    return pg_walname_parse(seg, &wn, &ignore) == 0 && wn.kind == PG_WALFILE_SEGMENT;
}

int repo_archive_provisional_path(const char *walname, char out[REPO_PATH_MAX], PgpErr *err)
{
    char dir[REPO_PATH_MAX];
    int rc = repo_archive_dir(walname, dir, err);
    return rc != 0 ? rc : build(out, err, "%s/%s", dir, walname);
}

int repo_object_path(const char *sha256_hex, PipeCodec codec, char out[REPO_PATH_MAX],
                     PgpErr *err)
{
    return build(out, err, "%s/%.2s/%s%s", REPO_LAYOUT_OBJECTS_DIR, sha256_hex, sha256_hex,
                 pipe_codec_ext(codec));
}

bool repo_object_codec(const char *path, PipeCodec *codec)
{
    const char *base = strrchr(path, '/');
    base = base != NULL ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    return pipe_codec_from_ext(dot != NULL ? dot : "", codec);
}

int repo_backup_dir(const char *label, char out[REPO_PATH_MAX], PgpErr *err)
{
    return build(out, err, "%s/%s", REPO_LAYOUT_BACKUP_DIR, label);
}

int repo_backup_file(const char *label, const char *file, char out[REPO_PATH_MAX], PgpErr *err)
{
    return build(out, err, "%s/%s/%s", REPO_LAYOUT_BACKUP_DIR, label, file);
}

int repo_backup_pg_manifest_path(const char *label, PipeCodec codec, char out[REPO_PATH_MAX],
                                 PgpErr *err)
{
    return build(out, err, "%s/%s/%s%s", REPO_LAYOUT_BACKUP_DIR, label, REPO_LAYOUT_PG_MANIFEST,
                 pipe_codec_ext(codec));
}

int repo_drill_report_path(const char *id, char out[REPO_PATH_MAX], PgpErr *err)
{
    return build(out, err, "%s/%s.json", REPO_LAYOUT_DRILL_DIR, id);
}
