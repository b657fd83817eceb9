/*
 * expire_remove.c - carrying out an expire plan (expire_plan.h) in crash-safe order:
 * manifests of expired backups, their directories, incomplete directories, unreferenced
 * objects, then WAL below the cut-off, then stale recovery leases. Every removal tolerates a
 * missing file, so a re-run after a crash (or after a partial failure) finishes the job.
 * Objects and WAL go in batches (storage_remove_objects: on S3 one DeleteObjects request per
 * thousand instead of a HEAD and a DELETE each).
 */
#include <stdlib.h>
#include <string.h>

#include "pgpitr/repo/expire_plan.h"
#include "pgpitr/common/grow.h"
#include "pgpitr/common/log.h"
#include "pgpitr/repo/manifest.h"

static int remove_missing_ok(Storage *s, const char *path, PgpErr *err)
{
    int rc = storage_remove(s, path, err);
    if (rc == PGP_ERR_NOT_FOUND) {
        pgp_err_clear(err);
        return 0;
    }
    return rc != 0 ? pgp_err_context(err, "expire") : 0;
}

typedef struct Names {
    char (*names)[REPO_PATH_MAX];
    bool *is_dir;
    size_t n, cap;
} Names;

static int on_name(void *ud, const char *name, const StorageInfo *info, PgpErr *err)
{
    Names *l = ud;
    /* Parallel arrays: names grows against a copy of the capacity, is_dir against the
     * capacity itself, so both reach the same size and l->cap changes only when both did. */
    size_t cap_names = l->cap;
    if (GROW(l->names, l->n, cap_names, 32, "names", err) != 0 ||
        GROW(l->is_dir, l->n, l->cap, 32, "names", err) != 0)
        return PGP_ERR_NOMEM;
    snprintf(l->names[l->n], REPO_PATH_MAX, "%s", name);
    l->is_dir[l->n++] = info->is_dir;
    return 0;
}

/* Removes dir and everything below it; a missing dir is fine. */
static int remove_tree(Storage *s, const char *dir, PgpErr *err)
{
    Names l = {0};
    int rc = storage_list(s, dir, on_name, &l, err);
    for (size_t i = 0; rc == 0 && i < l.n; i++) {
        char path[REPO_PATH_MAX];
        int n = snprintf(path, sizeof path, "%s/%s", dir, l.names[i]);
        if (n < 0 || (size_t)n >= sizeof path)
            rc = PGP_FAIL(err, PGP_ERR_CORRUPT, "repository path \"%s/%s\" is too long", dir,
                          l.names[i]);
        else
            rc = l.is_dir[i] ? remove_tree(s, path, err) : remove_missing_ok(s, path, err);
    }
    free(l.names);
    free(l.is_dir);
    return rc == 0 ? remove_missing_ok(s, dir, err) : rc;
}

static int remove_backup(Storage *s, const char *label, PgpErr *err)
{
    char path[REPO_PATH_MAX];
    /* first the manifest: from here on the backup is incomplete, never restored from, and a
     * re-run after a crash removes the rest as an incomplete directory */
    int rc = manifest_path(label, path, err);
    if (rc == 0)
        rc = remove_missing_ok(s, path, err);
    if (rc == 0)
        rc = repo_backup_dir(label, path, err);
    return rc != 0 ? rc : remove_tree(s, path, err);
}

/* A WAL directory ("archive/wal/<16>") left empty is removed; anything in the way (a
 * concurrent archive-push's temp file, an error) just leaves it for a later run. */
static void remove_empty_dir(Storage *s, const char *dir)
{
    Names l = {0};
    PgpErr e;
    pgp_err_clear(&e);
    if (storage_list(s, dir, on_name, &l, &e) == 0 && l.n == 0 &&
        storage_remove(s, dir, &e) != 0 && e.code != PGP_ERR_NOT_FOUND)
        log_debug("leaving directory \"%s\": %s", dir, e.msg);
    free(l.names);
    free(l.is_dir);
}

static void parent_dir(const char *path, char out[REPO_PATH_MAX])
{
    snprintf(out, REPO_PATH_MAX, "%s", path);
    char *slash = strrchr(out, '/');
    if (slash != NULL)
        *slash = '\0';
}

typedef ExpireHooks Progress;

static void tell(const Progress *pr, const char *phase, size_t done, size_t total)
{
    if (pr->progress != NULL)
        pr->progress(pr->ud, phase, done, total);
}

static int guard(const Progress *pr, PgpErr *err)
{
    if (pr->guard == NULL)
        return 0;
    int rc = pr->guard(pr->ud, err);
    return rc == 0 ? 0 : pgp_err_context(err, "expire stopped before its next removal");
}

/* Removes paths[0..n) in batches of STORAGE_REMOVE_BATCH (one request each on S3), telling
 * the progress of phase after each batch: done before + removed so far, of total. */
static int remove_batched(Storage *s, const char *const *paths, size_t n, const Progress *pr,
                          const char *phase, size_t before, size_t total, PgpErr *err)
{
    for (size_t i = 0; i < n; i += STORAGE_REMOVE_BATCH) {
        size_t k = n - i < STORAGE_REMOVE_BATCH ? n - i : STORAGE_REMOVE_BATCH;
        int rc = guard(pr, err);
        if (rc != 0)
            return rc;
        rc = storage_remove_objects(s, paths + i, k, err);
        if (rc != 0)
            return pgp_err_context(err, "expire");
        tell(pr, phase, before + i + k, total);
    }
    return 0;
}

/* WAL directory by directory ("archive/wal/<16>"), each left empty removed after it. */
static int remove_wal(Storage *s, const ExpirePlan *p, const Progress *pr, PgpErr *err)
{
    tell(pr, "WAL", 0, p->n_wal);
    const char **paths = malloc((p->n_wal > 0 ? p->n_wal : 1) * sizeof *paths);
    if (paths == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < p->n_wal;) {
        char dir[REPO_PATH_MAX], next[REPO_PATH_MAX];
        parent_dir(p->wal[i]->path, dir);
        size_t j = i;
        for (; j < p->n_wal; j++) {
            parent_dir(p->wal[j]->path, next);
            if (strcmp(next, dir) != 0)
                break;
            paths[j - i] = p->wal[j]->path;
        }
        rc = remove_batched(s, paths, j - i, pr, "WAL", i, p->n_wal, err);
        if (rc == 0)
            remove_empty_dir(s, dir);
        i = j;
    }
    free(paths);
    return rc;
}

/* The records of dropped segments below the cut-off (after their WAL: a run that dies between
 * the two leaves records that the next run removes). */
static int remove_dropped(Storage *s, const ExpirePlan *p, PgpErr *err)
{
    char (*paths)[REPO_PATH_MAX] = malloc((p->n_dropped ? p->n_dropped : 1) * sizeof *paths);
    const char **ptrs = malloc((p->n_dropped ? p->n_dropped : 1) * sizeof *ptrs);
    int rc = paths == NULL || ptrs == NULL ? PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory") : 0;
    for (size_t i = 0; rc == 0 && i < p->n_dropped; i++) {
        rc = repo_dropped_path(p->dropped[i]->name, paths[i], err);
        ptrs[i] = paths[i];
    }
    if (rc == 0 && p->n_dropped > 0 &&
        (rc = storage_remove_objects(s, ptrs, p->n_dropped, err)) != 0)
        pgp_err_context(err, "expire");
    free(ptrs);
    free(paths);
    return rc;
}

static int remove_objects(Storage *s, const ExpirePlan *p, const Progress *pr, PgpErr *err)
{
    tell(pr, "objects", 0, p->n_objects);
    const char **paths = malloc((p->n_objects > 0 ? p->n_objects : 1) * sizeof *paths);
    if (paths == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < p->n_objects; i++)
        paths[i] = p->objects[i].path;
    int rc = remove_batched(s, paths, p->n_objects, pr, "objects", 0, p->n_objects, err);
    free(paths);
    return rc;
}

/* Stale leases, each only if it is still what the plan judged: archive-get may have renewed
 * it since (its recovery came back), and then it stays for the next run to judge. */
static int remove_stale_leases(Storage *s, const ExpirePlan *p, const Progress *pr, PgpErr *err)
{
    int grc = p->n_leases > 0 ? guard(pr, err) : 0;
    if (grc != 0)
        return grc;
    for (size_t i = 0; i < p->n_leases; i++) {
        const LeaseEntry *e = &p->leases[i].e;
        if (!p->leases[i].remove)
            continue;
        Lease now;
        PgpErr rerr;
        pgp_err_clear(&rerr);
        int rc = lease_read(s, e->path, p->wal_segsize, &now, &rerr);
        StorageInfo info;
        bool same = e->parsed ? rc == 0 && now.renewed == e->lease.renewed
                              : rc == PGP_ERR_CORRUPT && storage_stat(s, e->path, &info, &rerr) == 0 &&
                                    info.mtime == e->mtime;
        if (rc == PGP_ERR_NOT_FOUND || !same) {
            log_info("recovery lease \"%s\" changed or went meanwhile: left alone", e->path);
            continue;
        }
        log_info("removing stale recovery lease \"%s\"", e->path);
        rc = lease_remove(s, e->path, err);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int expire_plan_execute_progress(Storage *s, const ExpirePlan *p, const ExpireHooks *h,
                                 PgpErr *err)
{
    const Progress pr = h != NULL ? *h : (Progress){0};
    size_t n_dirs = expire_plan_removed_backups(p) + p->n_incomplete, done = 0;
    int rc = 0;
    tell(&pr, "backups", 0, n_dirs);
    for (size_t i = 0; rc == 0 && i < p->n_backups; i++) {
        if (p->backups[i].d->keep)
            continue;
        if ((rc = guard(&pr, err)) != 0)
            break;
        log_info("removing backup \"%s\"", p->backups[i].b->label);
        rc = remove_backup(s, p->backups[i].b->label, err);
        if (rc == 0)
            tell(&pr, "backups", ++done, n_dirs);
    }
    for (size_t i = 0; rc == 0 && i < p->n_incomplete; i++) {
        char dir[REPO_PATH_MAX];
        if ((rc = repo_backup_dir(p->incomplete[i].label, dir, err)) != 0 ||
            (rc = guard(&pr, err)) != 0)
            break;
        log_info("removing incomplete backup \"%s\"", p->incomplete[i].label);
        rc = remove_tree(s, dir, err);
        if (rc == 0)
            tell(&pr, "backups", ++done, n_dirs);
    }
    if (rc == 0)
        rc = remove_objects(s, p, &pr, err);
    if (rc == 0)
        rc = remove_wal(s, p, &pr, err);
    if (rc == 0)
        rc = remove_dropped(s, p, err);
    if (rc == 0)
        rc = remove_stale_leases(s, p, &pr, err);
    return rc;
}

int expire_plan_execute(Storage *s, const ExpirePlan *p, PgpErr *err)
{
    return expire_plan_execute_progress(s, p, NULL, err);
}
