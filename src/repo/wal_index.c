/*
 * wal_index.c - archived object names and archive listings (wal_index.h), and finding the
 * object of one WAL file (repo_archive_find, repo.h). Finding lists only the names that begin
 * with "<walname>-" in its archive directory (on S3 one ListObjectsV2 answering with those few
 * keys; posix reads the directory and filters), never the whole directory nor the archive.
 */
#include "pgpitr/repo/wal_index.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgpitr/common/grow.h"
#include "pgpitr/common/hexstr.h"
#include "pgpitr/repo/repo.h"

bool wal_index_parse_name(const char *entry, WalIndexName *out)
{
    const char *dash = strchr(entry, '-');
    if (dash == NULL || dash == entry || (size_t)(dash - entry) > PG_WALNAME_MAX)
        return false;
    const char *hex = dash + 1;
    if (!hexstr_is(hex, PIPE_SHA256_HEX_LEN, HEX_LOWER) ||
        !pipe_codec_from_ext(hex + PIPE_SHA256_HEX_LEN, &out->codec))
        return false;
    memcpy(out->wal, entry, (size_t)(dash - entry));
    out->wal[dash - entry] = '\0';
    if (pg_walname_parse(out->wal, &out->parsed, NULL) != 0)
        return false;
    memcpy(out->sha256_hex, hex, PIPE_SHA256_HEX_LEN);
    out->sha256_hex[PIPE_SHA256_HEX_LEN] = '\0';
    return true;
}

bool wal_index_dir_name_valid(const char *name)
{
    return hexstr_exact(name, REPO_LAYOUT_WAL_DIR_LEN, HEX_UPPER);
}

typedef struct ListCtx {
    const char *dir;
    bool top;                   /* listing archive/wal itself */
    bool history;               /* listing archive/history */
    const char *dir16;          /* else: the archive directory's name */
    WalIndexFn fn;
    void *ud;
    bool stopped;               /* fn returned non-zero: its error, not the storage's */
} ListCtx;

/* Whether a parsed name belongs in the directory being listed. */
static bool belongs(const ListCtx *c, const WalIndexName *n)
{
    if (c->history)
        return n->parsed.kind == PG_WALFILE_HISTORY;
    return n->parsed.kind != PG_WALFILE_HISTORY && c->dir16 != NULL &&
           strncmp(n->wal, c->dir16, REPO_LAYOUT_WAL_DIR_LEN) == 0;
}

static int on_entry(void *ud, const char *name, const StorageInfo *info, PgpErr *err)
{
    ListCtx *c = ud;
    WalIndexName parsed;
    WalIndexEntry e = {.dir = c->dir, .entry = name, .info = info};
    if (!c->top && !info->is_dir && wal_index_parse_name(name, &parsed) && belongs(c, &parsed))
        e.name = &parsed;
    int rc = c->fn(c->ud, &e, err);
    c->stopped = rc != 0;
    return rc;
}

/* Lists dir, or only its entries beginning with name_prefix (NULL: all). */
static int list(Storage *s, const char *dir, const char *name_prefix, WalIndexFn fn, void *ud,
                PgpErr *err)
{
    ListCtx c = {.dir = dir, .fn = fn, .ud = ud};
    const char *base = strrchr(dir, '/');
    base = base != NULL ? base + 1 : dir;
    c.top = strcmp(dir, REPO_LAYOUT_WAL_DIR) == 0;
    c.history = strcmp(dir, REPO_LAYOUT_HISTORY_DIR) == 0;
    if (!c.top && !c.history && wal_index_dir_name_valid(base))
        c.dir16 = base;
    int rc = name_prefix != NULL ? storage_list_prefix(s, dir, name_prefix, on_entry, &c, err)
                                 : storage_list(s, dir, on_entry, &c, err);
    if (rc != 0 && !c.stopped)
        pgp_err_context(err, c.top ? "cannot list \"%s\"" : "cannot list archive directory \"%s\"",
                        dir);
    return rc;
}

int wal_index_list_dirs(Storage *s, WalIndexFn fn, void *ud, PgpErr *err)
{
    return list(s, REPO_LAYOUT_WAL_DIR, NULL, fn, ud, err);
}

int wal_index_list_dir(Storage *s, const char *dir, WalIndexFn fn, void *ud, PgpErr *err)
{
    return list(s, dir, NULL, fn, ud, err);
}

int wal_index_list_wal(Storage *s, const char *walname, WalIndexFn fn, void *ud, PgpErr *err)
{
    char dir[REPO_PATH_MAX], prefix[PG_WALNAME_MAX + 2];
    int rc = repo_archive_dir(walname, dir, err);
    if (rc != 0)
        return rc;
    if (strlen(walname) > PG_WALNAME_MAX)
        return PGP_FAIL(err, PGP_ERR_INVALID_NAME, "WAL file name \"%.64s\" is too long",
                        walname);
    snprintf(prefix, sizeof prefix, "%s-", walname);
    return list(s, dir, prefix, fn, ud, err);
}

/* ---- the whole archive ------------------------------------------------------------------ */

typedef struct AllCtx {
    WalIndexFn fn;
    void *ud;
    char (*dirs)[REPO_LAYOUT_WAL_DIR_LEN + 1];
    size_t n, cap;
} AllCtx;

static int on_top(void *ud, const WalIndexEntry *e, PgpErr *err)
{
    AllCtx *a = ud;
    int rc = a->fn(a->ud, e, err);
    if (rc != 0 || !e->info->is_dir || !wal_index_dir_name_valid(e->entry))
        return rc;
    if (GROW(a->dirs, a->n, a->cap, 16, NULL, err) != 0)
        return PGP_ERR_NOMEM;
    memcpy(a->dirs[a->n++], e->entry, REPO_LAYOUT_WAL_DIR_LEN + 1);
    return 0;
}

int wal_index_list_all(Storage *s, WalIndexFn fn, void *ud, PgpErr *err)
{
    AllCtx a = {.fn = fn, .ud = ud};
    int rc = wal_index_list_dirs(s, on_top, &a, err);
    for (size_t i = 0; rc == 0 && i < a.n; i++) {
        char dir[REPO_PATH_MAX];
        rc = repo_archive_wal_dir(a.dirs[i], dir, err);
        if (rc == 0)
            rc = wal_index_list_dir(s, dir, fn, ud, err);
    }
    if (rc == 0)
        rc = wal_index_list_dir(s, REPO_LAYOUT_HISTORY_DIR, fn, ud, err);
    free(a.dirs);
    return rc;
}

/* ---- one WAL file's object -------------------------------------------------------------- */

typedef struct FindState {
    const char *walname;
    RepoArchiveObject *found;
    int matches;
    char other_sha[PIPE_SHA256_HEX_LEN + 1];
} FindState;

static int on_find(void *ud, const WalIndexEntry *e, PgpErr *err)
{
    FindState *st = ud;
    if (e->name == NULL || strcmp(e->name->wal, st->walname) != 0)
        return 0;
    st->matches++;
    if (st->matches == 1) {
        int rc = repo_layout_join(e->dir, e->entry, st->found->path, err);
        if (rc != 0)
            return rc;
        memcpy(st->found->sha256_hex, e->name->sha256_hex, sizeof st->found->sha256_hex);
        st->found->codec = e->name->codec;
        st->found->stored_size = e->info->size;
    } else if (strcmp(e->name->sha256_hex, st->found->sha256_hex) != 0) {
        memcpy(st->other_sha, e->name->sha256_hex, sizeof st->other_sha);
    }
    return 0;
}

/* What a tally of one name's objects means (repo_archive_find's contract). */
static int find_result(const FindState *st, const char *dir, PgpErr *err)
{
    if (st->matches == 0)
        return PGP_FAIL(err, PGP_ERR_NOT_FOUND, "\"%s\" is not in the archive", st->walname);
    if (st->matches > 1 && st->other_sha[0] != '\0') {
        PGP_FAIL(err, PGP_ERR_CONFLICT,
                 "\"%s\" is archived twice with different content (sha256 %s and %s)",
                 st->walname, st->found->sha256_hex, st->other_sha);
        pgp_err_hint(err, "find out which copy is right, then remove the other object from \"%s\"",
                     dir);
        return PGP_ERR_CONFLICT;
    }
    return 0;
}

int repo_archive_find(Repo *r, const char *walname, RepoArchiveObject *out, PgpErr *err)
{
    char dir[REPO_PATH_MAX];
    memset(out, 0, sizeof *out);
    int rc = repo_archive_dir(walname, dir, err);
    if (rc != 0)
        return rc;
    FindState st = {.walname = walname, .found = out};
    rc = wal_index_list_wal(repo_storage(r), walname, on_find, &st, err);
    return rc != 0 ? rc : find_result(&st, dir, err);
}

/* ---- several names with one listing -------------------------------------------------------- */

typedef struct ManyState {
    const char *const *names;
    size_t n;
    FindState *st;
} ManyState;

static int on_find_many(void *ud, const WalIndexEntry *e, PgpErr *err)
{
    ManyState *m = ud;
    for (size_t i = 0; e->name != NULL && i < m->n; i++)   /* n <= a few dozen */
        if (strcmp(e->name->wal, m->names[i]) == 0)
            return on_find(&m->st[i], e, err);
    return 0;
}

/* The longest prefix all names share, when they share one archive directory (else 0). */
static size_t shared_prefix(const char *const *names, size_t n, char dir[REPO_PATH_MAX])
{
    char other[REPO_PATH_MAX];
    PgpErr ignore;
    if (repo_archive_dir(names[0], dir, &ignore) != 0)
        return 0;
    size_t len = strlen(names[0]);
    for (size_t i = 1; i < n; i++) {
        if (repo_archive_dir(names[i], other, &ignore) != 0 || strcmp(dir, other) != 0)
            return 0;
        size_t k = 0;
        while (k < len && names[0][k] == names[i][k])
            k++;
        len = k;
    }
    return len;
}

int repo_archive_find_many(Repo *r, const char *const *names, size_t n, RepoArchiveObject *out,
                           int *rcs, PgpErr *errs, PgpErr *err)
{
    char dir[REPO_PATH_MAX], prefix[PG_WALNAME_MAX + 2];
    size_t len = n > 1 ? shared_prefix(names, n, dir) : 0;
    if (n <= 1 || len == 0 || len > PG_WALNAME_MAX) {   /* one name, or several directories */
        for (size_t i = 0; i < n; i++) {
            rcs[i] = repo_archive_find(r, names[i], &out[i], &errs[i]);
            if (rcs[i] != 0 && rcs[i] != PGP_ERR_NOT_FOUND && rcs[i] != PGP_ERR_CONFLICT) {
                *err = errs[i];
                return rcs[i];
            }
        }
        return 0;
    }
    FindState *st = calloc(n, sizeof *st);
    if (st == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        memset(&out[i], 0, sizeof out[i]);
        st[i] = (FindState){.walname = names[i], .found = &out[i]};
    }
    memcpy(prefix, names[0], len);
    prefix[len] = '\0';
    ManyState m = {.names = names, .n = n, .st = st};
    int rc = list(repo_storage(r), dir, prefix, on_find_many, &m, err);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rcs[i] = find_result(&st[i], dir, &errs[i]);
    free(st);
    return rc;
}
