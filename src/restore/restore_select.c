/*
 * restore_select.c - loading the backups a restore may choose from (every complete one,
 * newest first, or the one asked for with --backup), and the plain backup selection of
 * restore_files.h (restore_select_backup). Choosing among them for a target: restore_plan.c.
 */
#include "restore_select_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgpitr/repo/repo_layout.h"
#include "pgpitr/common/grow.h"
#include "pgpitr/restore/restore_files.h"

/* ---- loading backups -------------------------------------------------------------------- */

typedef struct Labels {
    char **v;
    size_t n, cap;
} Labels;

static void labels_free(Labels *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static int collect_label(void *ud, const char *name, const StorageInfo *info, PgpErr *err)
{
    Labels *l = ud;
    if (!info->is_dir || !manifest_label_valid(name))
        return 0;
    if (GROW(l->v, l->n, l->cap, 16, "backup labels", err) != 0)
        return PGP_ERR_NOMEM;
    if ((l->v[l->n] = strdup(name)) == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory for backup label \"%s\"", name);
    l->n++;
    return 0;
}

static int list_labels(Storage *s, Labels *l, PgpErr *err)
{
    memset(l, 0, sizeof *l);
    int rc = storage_list(s, REPO_LAYOUT_BACKUP_DIR, collect_label, l, err);
    if (rc != 0)
        labels_free(l);
    return rc;
}

/* HINT naming the backups that have a manifest.json (in reverse name order). */
static void hint_complete(Storage *s, const Labels *l, PgpErr *err)
{
    char list[PGP_ERR_HINT_MAX - 64] = "";
    size_t used = 0, shown = 0, total = 0;
    for (size_t i = l->n; i-- > 0;) {
        char path[REPO_PATH_MAX];
        StorageInfo info;
        if (manifest_path(l->v[i], path, NULL) != 0 || storage_stat(s, path, &info, NULL) != 0)
            continue;
        total++;
        int n = snprintf(list + used, sizeof list - used, "%s%s", shown ? ", " : "", l->v[i]);
        if (n > 0 && (size_t)n < sizeof list - used - 16) {
            used += (size_t)n;
            shown++;
        } else {
            list[used] = '\0';
        }
    }
    if (total == 0)
        pgp_err_hint(err, "the repository has no complete backup: run pgpitr backup");
    else if (shown < total)
        pgp_err_hint(err, "complete backups: %s, and %zu more", list, total - shown);
    else
        pgp_err_hint(err, "complete backups: %s", list);
}

static bool is_complete(const BackupManifest *m)
{
    return m->status != NULL && strcmp(m->status, MANIFEST_STATUS_COMPLETE) == 0;
}

static int select_label(Storage *s, const CryptoRepoKey *key, const char *label, const Labels *l,
                        RestoreSelection *out, ManifestPack **files, PgpErr *err)
{
    BackupManifest *m = NULL;
    /* the entries compactly, beside the header: the one backup restore_plan_make restores */
    int rc = manifest_load_packed(s, key, label, &m, files, err);
    if (rc == PGP_ERR_NOT_FOUND || (rc == 0 && !is_complete(m))) {
        bool exists = false;
        for (size_t i = 0; i < l->n && !exists; i++)
            exists = strcmp(l->v[i], label) == 0;
        if (rc == 0)
            PGP_FAIL(err, PGP_ERR_NOT_FOUND, "backup \"%s\" is not complete (status \"%s\")",
                     label, m->status != NULL ? m->status : "");
        else if (exists)
            PGP_FAIL(err, PGP_ERR_NOT_FOUND,
                     "backup \"%s\" is incomplete (it has no manifest.json) and cannot be restored",
                     label);
        else
            PGP_FAIL(err, PGP_ERR_NOT_FOUND, "backup \"%s\" does not exist in the repository",
                     label);
        hint_complete(s, l, err);
        manifest_free(m);
        manifest_pack_free(*files);
        *files = NULL;
        return PGP_ERR_NOT_FOUND;
    }
    if (rc != 0)
        return pgp_err_context(err, "cannot read the manifest of backup \"%s\"", label);
    out->manifest = m;
    snprintf(out->why, sizeof out->why, "requested with --backup");
    return 0;
}

static bool newer(const BackupManifest *a, const BackupManifest *b)
{
    if (a->stop_lsn != b->stop_lsn)
        return a->stop_lsn > b->stop_lsn;
    return a->stop_time > b->stop_time;
}

static int newest_first(const void *a, const void *b)
{
    const BackupManifest *x = *(BackupManifest *const *)a, *y = *(BackupManifest *const *)b;
    return newer(x, y) ? -1 : newer(y, x) ? 1 : strcmp(y->label, x->label);
}

void restore_candidates_free(Candidates *c)
{
    for (size_t i = 0; i < c->n; i++)
        manifest_free(c->v[i]);
    free(c->v);
    manifest_pack_free(c->files);
    memset(c, 0, sizeof *c);
}

/* Every complete backup, newest first; an unreadable manifest is an error. */
static int load_all(Storage *s, const CryptoRepoKey *key, const Labels *l, Candidates *c,
                    PgpErr *err)
{
    c->v = calloc(l->n + 1, sizeof *c->v);
    if (c->v == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < l->n; i++) {
        BackupManifest *m = NULL;
        /* headers only: every backup's entries at once would grow with the repository; the
         * chosen one's are read by restore_plan_make */
        int rc = manifest_load_header(s, key, l->v[i], &m, err);
        if (rc == PGP_ERR_NOT_FOUND || (rc == 0 && !is_complete(m))) {
            c->n_incomplete++;
            manifest_free(m);
            continue;
        }
        if (rc != 0) {
            pgp_err_context(err, "cannot read the manifest of backup \"%s\"", l->v[i]);
            pgp_err_hint(err, "repair or remove it, or choose a backup with --backup LABEL");
            return rc;
        }
        c->v[c->n++] = m;
    }
    if (c->n == 0) {
        PGP_FAIL(err, PGP_ERR_NOT_FOUND, "the repository has no complete backup (%zu incomplete)",
                 c->n_incomplete);
        pgp_err_hint(err, "take one with pgpitr backup");
        return PGP_ERR_NOT_FOUND;
    }
    qsort(c->v, c->n, sizeof *c->v, newest_first);
    return 0;
}

int restore_load_candidates(Storage *s, const CryptoRepoKey *key, const char *label, Candidates *c,
                            PgpErr *err)
{
    memset(c, 0, sizeof *c);
    Labels l;
    int rc = list_labels(s, &l, err);
    if (rc != 0)
        return rc;
    if (label != NULL) {
        RestoreSelection sel = {0};
        rc = select_label(s, key, label, &l, &sel, &c->files, err);
        if (rc == 0 && (c->v = calloc(1, sizeof *c->v)) == NULL)
            rc = PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
        if (rc == 0)
            c->v[c->n++] = sel.manifest;
        else
            manifest_free(sel.manifest);
    } else {
        rc = load_all(s, key, &l, c, err);
    }
    labels_free(&l);
    if (rc != 0)
        restore_candidates_free(c);
    return rc;
}

int restore_select_backup(Storage *s, const CryptoRepoKey *key, const char *label,
                          RestoreSelection *out, PgpErr *err)
{
    memset(out, 0, sizeof *out);
    Candidates c;
    int rc = restore_load_candidates(s, key, label, &c, err);
    if (rc != 0)
        return rc;
    out->manifest = c.v[0];
    c.v[0] = NULL;
    out->n_complete = label != NULL ? 0 : c.n;
    out->n_incomplete = c.n_incomplete;
    if (label != NULL) {
        snprintf(out->why, sizeof out->why, "requested with --backup");
    } else {
        int n = c.n == 1 ? snprintf(out->why, sizeof out->why, "newest complete backup, the only one")
                         : snprintf(out->why, sizeof out->why, "newest of %zu complete backups",
                                    c.n);
        if (c.n_incomplete > 0 && n > 0 && (size_t)n < sizeof out->why)
            snprintf(out->why + n, sizeof out->why - (size_t)n, "; %zu incomplete ignored",
                     c.n_incomplete);
    }
    restore_candidates_free(&c);
    return 0;
}
