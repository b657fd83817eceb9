/*
 * expire_plan.c - building the plan of `pgpitr expire` (expire_plan.h): retention decisions
 * for the complete backups, incomplete directories, unreferenced objects and WAL below the
 * cut-off (lowered by recovery leases), with the bytes each frees. Reads listings, leases and
 * the catalog; writes nothing.
 */
#include "pgpitr/repo/expire_plan.h"

#include <stdlib.h>
#include <string.h>

#include "pgpitr/common/grow.h"
#include "pgpitr/repo/object_refs.h"
#include "pgpitr/repo/object_walk.h"
#include "pgpitr/pg/walname.h"

static int nomem(PgpErr *err)
{
    return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory planning expire");
}

/* ---- sizes of directory trees ----------------------------------------------------------- */

typedef struct TreeSize {
    Storage *s;
    const char *dir;
    uint64_t bytes;
} TreeSize;

static int tree_bytes(Storage *s, const char *dir, uint64_t *bytes, PgpErr *err);

static int on_tree_entry(void *ud, const char *name, const StorageInfo *info, PgpErr *err)
{
    TreeSize *t = ud;
    if (!info->is_dir) {
        t->bytes += info->size;
        return 0;
    }
    char path[REPO_PATH_MAX];
    int n = snprintf(path, sizeof path, "%s/%s", t->dir, name);
    if (n < 0 || (size_t)n >= sizeof path)
        return PGP_FAIL(err, PGP_ERR_CORRUPT, "repository path \"%s/%s\" is too long", t->dir,
                        name);
    return tree_bytes(t->s, path, &t->bytes, err);
}

static int tree_bytes(Storage *s, const char *dir, uint64_t *bytes, PgpErr *err)
{
    TreeSize t = {s, dir, 0};
    int rc = storage_list(s, dir, on_tree_entry, &t, err);
    *bytes += t.bytes;
    return rc;
}

static int backup_dir_bytes(Storage *s, const char *label, uint64_t *bytes, PgpErr *err)
{
    char dir[REPO_PATH_MAX];
    *bytes = 0;
    int rc = repo_backup_dir(label, dir, err);
    if (rc != 0)
        return rc;
    rc = tree_bytes(s, dir, bytes, err);
    return rc != 0 ? pgp_err_context(err, "cannot list \"%s\"", dir) : 0;
}

/* ---- backups ---------------------------------------------------------------------------- */

static int plan_backups(Storage *s, const Catalog *c, ExpirePlan *p, PgpErr *err)
{
    size_t n_complete = 0, n_incomplete = 0;
    for (size_t i = 0; i < c->n_backups; i++) {
        const CatalogBackup *b = &c->backups[i];
        if (b->status == CATALOG_BACKUP_CORRUPT) {
            PGP_FAIL(err, PGP_ERR_CORRUPT,
                     "backup \"%s\" has a corrupt manifest (%s): cannot tell which objects it "
                     "references, so nothing is expired", b->label, b->error);
            pgp_err_hint(err, "run pgpitr verify and repair or remove that backup first");
            return PGP_ERR_CORRUPT;
        }
        if (b->status == CATALOG_BACKUP_COMPLETE)
            n_complete++;
        else
            n_incomplete++;
    }
    p->backups = calloc(n_complete ? n_complete : 1, sizeof *p->backups);
    p->rbackups = calloc(n_complete ? n_complete : 1, sizeof *p->rbackups);
    p->incomplete = calloc(n_incomplete ? n_incomplete : 1, sizeof *p->incomplete);
    if (p->backups == NULL || p->rbackups == NULL || p->incomplete == NULL)
        return nomem(err);
    uint32_t segsize = c->id.wal_segsize;
    for (size_t i = 0; i < c->n_backups; i++) {
        const CatalogBackup *b = &c->backups[i];
        if (b->status != CATALOG_BACKUP_COMPLETE) {
            ExpireIncomplete *inc = &p->incomplete[p->n_incomplete++];
            snprintf(inc->label, sizeof inc->label, "%s", b->label);
            int rc = backup_dir_bytes(s, b->label, &inc->dir_bytes, err);
            if (rc != 0)
                return rc;
            p->incomplete_bytes += inc->dir_bytes;
            continue;
        }
        const BackupManifest *m = b->manifest;
        p->rbackups[p->n_backups] = (RetentionBackup){b->label, m->timeline,
                                                      pg_lsn_segno(m->start_lsn, segsize),
                                                      m->stop_lsn, m->stop_time};
        p->backups[p->n_backups++].b = b;
    }
    int rc = retention_plan(p->rbackups, p->n_backups, &p->policy, p->now, &p->retention, err);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < p->n_backups; i++) {
        ExpireBackup *eb = &p->backups[i];
        eb->d = &p->retention.decisions[i];
        if (eb->d->keep)
            continue;
        rc = backup_dir_bytes(s, eb->b->label, &eb->dir_bytes, err);
        if (rc != 0)
            return rc;
        p->backup_bytes += eb->dir_bytes;
    }
    if (p->n_backups > 0)
        p->window_backup = p->backups[p->retention.window_backup].b;
    return 0;
}

/* ---- objects ---------------------------------------------------------------------------- */

/* The objects kept backups reference, each kept manifest streamed in turn: memory grows with
 * the distinct objects, not with every kept backup's entries at once. */
static int collect_refs(Storage *s, const CryptoRepoKey *key, const ExpirePlan *p, ObjectRefs *r,
                        PgpErr *err)
{
    for (size_t i = 0; i < p->n_backups; i++) {
        if (!p->backups[i].d->keep)
            continue;
        int rc = object_refs_add_backup(r, s, key, p->backups[i].b->label, err);
        if (rc != 0)
            return pgp_err_context(err, "cannot list the objects of kept backup \"%s\"",
                                   p->backups[i].b->label);
    }
    return 0;
}

typedef struct ObjectScan {
    ExpirePlan *p;
    const ObjectRefs *refs;
    size_t cap;
} ObjectScan;

/* Every object no kept backup references is planned for removal. */
static int on_object(void *ud, const char *path, uint64_t size, PgpErr *err)
{
    ObjectScan *o = ud;
    ExpirePlan *p = o->p;
    if (object_refs_has(o->refs, path)) {
        p->n_objects_kept++;
        return 0;
    }
    if (GROW(p->objects, p->n_objects, o->cap, 256, NULL, NULL) != 0)
        return nomem(err);
    ExpireFile *f = &p->objects[p->n_objects++];
    snprintf(f->path, sizeof f->path, "%s", path);
    f->size = size;
    p->object_bytes += size;
    return 0;
}

static int plan_objects(Storage *s, const CryptoRepoKey *key, ExpirePlan *p, PgpErr *err)
{
    ObjectRefs refs = {0};
    ObjectScan o = {.p = p, .refs = &refs};
    int rc = collect_refs(s, key, p, &refs, err);
    if (rc == 0)
        rc = object_walk(s, on_object, &o, err);
    object_refs_free(&refs);
    return rc;
}

/* ---- recovery leases -------------------------------------------------------------------- */

/* Live leases hold WAL from their segment on; an unreadable one (position unknown) all WAL;
 * stale ones nothing, and go. */
static int plan_leases(Storage *s, const Catalog *c, ExpirePlan *p, PgpErr *err)
{
    LeaseEntry *v = NULL;
    size_t n = 0;
    int rc = lease_list(s, c->id.wal_segsize, p->now, &v, &n, err);
    if (rc != 0 || n == 0)
        return rc;
    p->leases = calloc(n, sizeof *p->leases);
    if (p->leases == NULL) {
        free(v);
        return nomem(err);
    }
    for (size_t i = 0; i < n; i++) {
        ExpireLease *l = &p->leases[p->n_leases++];
        l->e = v[i];
        l->remove = l->e.state == LEASE_STALE;
        if (l->remove)
            continue;
        uint64_t seg = l->e.state == LEASE_LIVE ? l->e.lease.segno : 0;
        if (!p->lease_hold || seg < p->lease_segno)
            p->lease_segno = seg;
        p->lease_hold = true;
        l->holds = p->retention.has_cutoff && seg < p->retention.wal_cutoff;
    }
    free(v);
    return 0;
}

uint64_t expire_plan_wal_cutoff(const ExpirePlan *p)
{
    uint64_t cut = p->retention.wal_cutoff;
    return p->lease_hold && p->lease_segno < cut ? p->lease_segno : cut;
}

/* ---- WAL -------------------------------------------------------------------------------- */

/* A drop record goes with the WAL around it: once its segment is below the cut-off, the
 * hole it explains is no longer inside the archive. */
static int plan_dropped(const Catalog *c, ExpirePlan *p, PgpErr *err)
{
    p->dropped = malloc((c->n_dropped ? c->n_dropped : 1) * sizeof *p->dropped);
    if (p->dropped == NULL)
        return nomem(err);
    for (size_t i = 0; i < c->n_dropped; i++) {
        const CatalogDropped *d = &c->dropped[i];
        if (retention_wal_removable(&p->retention, d->tli, d->segno, false) &&
            !(p->lease_hold && d->segno >= p->lease_segno))
            p->dropped[p->n_dropped++] = d;
    }
    return 0;
}

static int plan_wal(const Catalog *c, ExpirePlan *p, PgpErr *err)
{
    p->wal = malloc((c->n_wal ? c->n_wal : 1) * sizeof *p->wal);
    if (p->wal == NULL)
        return nomem(err);
    for (size_t i = 0; i < c->n_wal; i++) {
        const CatalogWal *w = &c->wal[i];
        bool removable = retention_wal_removable(&p->retention, w->tli, w->segno,
                                                 w->kind == PG_WALFILE_HISTORY);
        if (removable && p->lease_hold && w->segno >= p->lease_segno) {
            removable = false;      /* a running recovery may still ask for it */
            p->n_wal_leased++;
        }
        if (!removable) {
            p->n_wal_kept++;
            /* the window after expire ends at a segment that stays: an old primary's dead
             * timeline can have archived the newest segment below the cut-off */
            if (w->kind == PG_WALFILE_SEGMENT &&
                (p->latest_wal == NULL || w->mtime > p->latest_wal->mtime ||
                 (w->mtime == p->latest_wal->mtime && w->segno >= p->latest_wal->segno)))
                p->latest_wal = w;
            continue;
        }
        p->wal[p->n_wal++] = w;
        p->wal_bytes += w->stored_size;
    }
    return plan_dropped(c, p, err);
}

/* ---- entry points ----------------------------------------------------------------------- */

int expire_plan_build(Storage *s, const CryptoRepoKey *key, const Catalog *c,
                      const RetentionPolicy *pol, int64_t now, ExpirePlan *out, PgpErr *err)
{
    memset(out, 0, sizeof *out);
    out->policy = *pol;
    out->now = now;
    out->wal_segsize = c->id.wal_segsize;
    /* refuse a missing policy before looking at anything */
    int rc = retention_plan(NULL, 0, pol, now, &out->retention, err);
    if (rc == 0)
        rc = plan_backups(s, c, out, err);
    if (rc == 0)
        rc = plan_objects(s, key, out, err);
    if (rc == 0)
        rc = plan_leases(s, c, out, err);
    if (rc == 0)
        rc = plan_wal(c, out, err);
    if (rc != 0) {
        expire_plan_free(out);
        return rc;
    }
    if (out->window_backup != NULL && out->latest_wal != NULL) {
        const BackupManifest *m = out->window_backup->manifest;
        recovery_window(m->stop_time, m->stop_lsn, out->latest_wal->mtime,
                        (out->latest_wal->segno + 1) * (uint64_t)c->id.wal_segsize, &out->window);
    }
    return 0;
}

void expire_plan_free(ExpirePlan *p)
{
    if (p == NULL)
        return;
    retention_plan_free(&p->retention);
    free(p->rbackups);
    free(p->backups);
    free(p->incomplete);
    free(p->objects);
    free(p->wal);
    free(p->dropped);
    free(p->leases);
    memset(p, 0, sizeof *p);
}

uint64_t expire_plan_bytes_freed(const ExpirePlan *p)
{
    return p->backup_bytes + p->incomplete_bytes + p->object_bytes + p->wal_bytes;
}

size_t expire_plan_removed_backups(const ExpirePlan *p)
{
    return p->retention.n_remove;
}
