/*
 * catalog.c - the whole repository read once (catalog.h): backups with their manifests,
 * archived WAL files, timeline histories; and the shared analysis (gaps, reach of a backup).
 *
 * Read-only. Histories are read through wal_history_read so that info, verify and expire
 * judge a history file exactly as restore does (verified against its checksum, strictly
 * parsed).
 */
#include "pgpitr/repo/catalog.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pgpitr/common/grow.h"
#include "pgpitr/common/timefmt.h"
#include "pgpitr/repo/wal_index.h"
#include "pgpitr/repo/wal_history.h"


/* ---- small helpers ---------------------------------------------------------------------- */

void catalog_format_time(int64_t t, char out[32])
{
    if (t == 0 || !timefmt_iso(t, 0, out, 32))
        snprintf(out, 32, "-");
}

static int add_foreign(Catalog *c, const char *dir, const char *name, PgpErr *err)
{
    if (c->n_foreign++ >= CATALOG_FOREIGN_MAX)
        return 0;
    size_t len = strlen(dir) + strlen(name) + 2;
    char *p = malloc(len);
    if (p == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory for a foreign object name");
    snprintf(p, len, "%s/%s", dir, name);
    c->foreign[c->n_foreign - 1] = p;
    return 0;
}

/* ---- backups ---------------------------------------------------------------------------- */

typedef struct BackupLoad {
    Catalog *c;
    size_t cap;
} BackupLoad;

static int on_backup_dir(void *ud, const char *name, const StorageInfo *info, PgpErr *err)
{
    BackupLoad *l = ud;
    Catalog *c = l->c;
    if (!info->is_dir || !manifest_label_valid(name))
        return add_foreign(c, REPO_LAYOUT_BACKUP_DIR, name, err);
    if (GROW(c->backups, c->n_backups, l->cap, 64, "catalog entries", err) != 0)
        return PGP_ERR_NOMEM;
    CatalogBackup *b = &c->backups[c->n_backups++];
    memset(b, 0, sizeof *b);
    snprintf(b->label, sizeof b->label, "%s", name);
    b->dir_mtime = info->mtime;
    return 0;
}

static int load_manifest(Repo *repo, CatalogBackup *b, PgpErr *err)
{
    PgpErr e;
    pgp_err_clear(&e);
    /* The header only: every backup's entries at once would grow with the repository. */
    int rc = manifest_load_header(repo_storage(repo), repo_crypto_key(repo), b->label,
                                  &b->manifest, &e);
    if (rc == 0) {
        b->status = CATALOG_BACKUP_COMPLETE;
        return 0;
    }
    if (rc == PGP_ERR_NOT_FOUND) {
        b->status = CATALOG_BACKUP_INCOMPLETE;
        return 0;
    }
    if (rc == PGP_ERR_CORRUPT || rc == PGP_ERR_INVALID_NAME) {
        b->status = CATALOG_BACKUP_CORRUPT;
        snprintf(b->error, sizeof b->error, "%s", e.msg);
        return 0;
    }
    *err = e;
    return pgp_err_context(err, "cannot read the manifest of backup \"%s\"", b->label);
}

static int take_newest(void *ud, const char *name, const StorageInfo *info, PgpErr *err)
{
    (void)name;
    (void)err;
    int64_t *newest = ud;
    if (info->mtime > *newest)
        *newest = info->mtime;
    return 0;
}

/* An S3 prefix has no time of its own (listed with mtime 0): the last change of an incomplete
 * or corrupt backup there is its newest object's, e.g. the backup.inprogress marker. */
static int dir_mtime_from_objects(Storage *s, CatalogBackup *b, PgpErr *err)
{
    char dir[REPO_PATH_MAX];
    int rc = repo_backup_dir(b->label, dir, err);
    if (rc == 0 && (rc = storage_list(s, dir, take_newest, &b->dir_mtime, err)) != 0)
        pgp_err_context(err, "cannot list \"%s\"", dir);
    return rc;
}

static int backup_cmp(const void *pa, const void *pb)
{
    const CatalogBackup *a = pa, *b = pb;
    bool ca = a->status == CATALOG_BACKUP_COMPLETE, cb = b->status == CATALOG_BACKUP_COMPLETE;
    if (ca != cb)
        return ca ? 1 : -1;
    if (ca) {
        int64_t x = a->manifest->stop_time, y = b->manifest->stop_time;
        if (x != y)
            return x < y ? -1 : 1;
    }
    return strcmp(a->label, b->label);
}

static int load_backups(Repo *repo, Catalog *c, PgpErr *err)
{
    BackupLoad l = {.c = c};
    int rc = storage_list(repo_storage(repo), REPO_LAYOUT_BACKUP_DIR, on_backup_dir, &l, err);
    if (rc != 0)
        return pgp_err_context(err, "cannot list \"%s\"", REPO_LAYOUT_BACKUP_DIR);
    for (size_t i = 0; rc == 0 && i < c->n_backups; i++) {
        CatalogBackup *b = &c->backups[i];
        rc = load_manifest(repo, b, err);
        if (rc == 0 && b->status != CATALOG_BACKUP_COMPLETE && b->dir_mtime == 0)
            rc = dir_mtime_from_objects(repo_storage(repo), b, err);
    }
    if (rc == 0 && c->n_backups > 1)
        qsort(c->backups, c->n_backups, sizeof *c->backups, backup_cmp);
    return rc;
}

/* ---- archived WAL ----------------------------------------------------------------------- */

typedef struct WalLoad {
    Catalog *c;
    size_t cap_wal, cap_hist;
} WalLoad;

/* One entry of the archive: an archived object of its directory, or a foreign entry. */
static int on_wal_entry(void *ud, const WalIndexEntry *e, PgpErr *err)
{
    WalLoad *l = ud;
    Catalog *c = l->c;
    bool history = e->name != NULL && e->name->parsed.kind == PG_WALFILE_HISTORY;
    CatalogWal w;
    memset(&w, 0, sizeof w);
    if (strcmp(e->dir, REPO_LAYOUT_WAL_DIR) == 0 && e->info->is_dir &&
        wal_index_dir_name_valid(e->entry))
        return 0;   /* an archive directory: listed next */
    if (e->name == NULL ||
        (!history && !pg_walname_segno(&e->name->parsed, c->id.wal_segsize, &w.segno))) {
        return add_foreign(c, e->dir, e->entry, err);
    }
    memcpy(w.name, e->name->wal, sizeof w.name);
    memcpy(w.sha256, e->name->sha256_hex, sizeof w.sha256);
    w.codec = e->name->codec;
    w.kind = e->name->parsed.kind;
    w.tli = e->name->parsed.tli;
    w.stored_size = e->info->size;
    w.mtime = e->info->mtime;
    int rc = repo_layout_join(e->dir, e->entry, w.path, err);
    if (rc != 0)
        return rc;
    if (history) {
        if (GROW(c->histories, c->n_histories, l->cap_hist, 64, "catalog entries", err) != 0)
            return PGP_ERR_NOMEM;
        c->histories[c->n_histories++] = w;
    } else {
        if (GROW(c->wal, c->n_wal, l->cap_wal, 64, "catalog entries", err) != 0)
            return PGP_ERR_NOMEM;
        c->wal[c->n_wal++] = w;
    }
    return 0;
}

static int wal_cmp(const void *pa, const void *pb)
{
    const CatalogWal *a = pa, *b = pb;
    if (a->tli != b->tli)
        return a->tli < b->tli ? -1 : 1;
    if (a->segno != b->segno)
        return a->segno < b->segno ? -1 : 1;
    int r = strcmp(a->name, b->name);
    return r != 0 ? r : strcmp(a->sha256, b->sha256);
}

/* Objects claiming the same name with different content: archive-get refuses them. */
static void mark_conflicts(CatalogWal *w, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (strcmp(w[i - 1].name, w[i].name) == 0 && strcmp(w[i - 1].sha256, w[i].sha256) != 0)
            w[i - 1].conflict = w[i].conflict = true;
}

static int load_wal_files(Repo *repo, Catalog *c, PgpErr *err)
{
    WalLoad l = {.c = c};
    int rc = wal_index_list_all(repo_storage(repo), on_wal_entry, &l, err);
    if (rc != 0)
        return rc;
    if (c->n_wal > 1)
        qsort(c->wal, c->n_wal, sizeof *c->wal, wal_cmp);
    if (c->n_histories > 1)
        qsort(c->histories, c->n_histories, sizeof *c->histories, wal_cmp);
    mark_conflicts(c->wal, c->n_wal);
    mark_conflicts(c->histories, c->n_histories);
    return 0;
}

/* ---- dropped segments ------------------------------------------------------------------- */

typedef struct DropLoad {
    Catalog *c;
    size_t cap;
} DropLoad;

static int on_dropped(void *ud, const char *name, const StorageInfo *info, PgpErr *err)
{
    DropLoad *l = ud;
    Catalog *c = l->c;
    CatalogDropped d = {.mtime = info->mtime};
    PgWalName wn;
    PgpErr ignore;
    if (info->is_dir || !repo_dropped_entry(name, d.name) ||
        pg_walname_parse(d.name, &wn, &ignore) != 0 ||
        !pg_walname_segno(&wn, c->id.wal_segsize, &d.segno))
        return add_foreign(c, REPO_LAYOUT_DROPPED_DIR, name, err);
    d.tli = wn.tli;
    if (GROW(c->dropped, c->n_dropped, l->cap, 16, "catalog entries", err) != 0)
        return PGP_ERR_NOMEM;
    c->dropped[c->n_dropped++] = d;
    return 0;
}

static int dropped_cmp(const void *pa, const void *pb)
{
    const CatalogDropped *a = pa, *b = pb;
    if (a->tli != b->tli)
        return a->tli < b->tli ? -1 : 1;
    return a->segno < b->segno ? -1 : a->segno > b->segno;
}

static int load_dropped(Repo *repo, Catalog *c, PgpErr *err)
{
    DropLoad l = {.c = c};
    int rc = storage_list(repo_storage(repo), REPO_LAYOUT_DROPPED_DIR, on_dropped, &l, err);
    if (rc != 0)
        return pgp_err_context(err, "cannot list \"%s\"", REPO_LAYOUT_DROPPED_DIR);
    if (c->n_dropped > 1)
        qsort(c->dropped, c->n_dropped, sizeof *c->dropped, dropped_cmp);
    return 0;
}

/* ---- timelines -------------------------------------------------------------------------- */

static int add_timeline(Catalog *c, size_t *cap, uint32_t tli)
{
    for (size_t i = 0; i < c->n_timelines; i++)
        if (c->timelines[i].tli == tli)
            return 0;
    if (GROW(c->timelines, c->n_timelines, *cap, 64, "catalog entries", NULL) != 0)
        return PGP_ERR_NOMEM;
    CatalogTimeline *t = &c->timelines[c->n_timelines++];
    memset(t, 0, sizeof *t);
    t->tli = tli;
    return 0;
}

static int timeline_cmp(const void *a, const void *b)
{
    uint32_t x = ((const CatalogTimeline *)a)->tli, y = ((const CatalogTimeline *)b)->tli;
    return x < y ? -1 : x > y;
}

static void count_files(Catalog *c, CatalogTimeline *t)
{
    size_t i = 0;
    while (i < c->n_wal && c->wal[i].tli < t->tli)
        i++;
    t->first_wal = i;
    uint64_t last = UINT64_MAX;
    for (; i < c->n_wal && c->wal[i].tli == t->tli; i++) {
        t->n_wal++;
        t->stored_size += c->wal[i].stored_size;
        if (c->wal[i].kind == PG_WALFILE_SEGMENT && c->wal[i].segno != last) {
            t->n_segments++;
            last = c->wal[i].segno;
        }
    }
}

static int read_history(WalHistoryIndex *ix, CatalogTimeline *t, PgpErr *err)
{
    PgpErr e;
    pgp_err_clear(&e);
    int rc = wal_history_read(ix, t->tli, &t->history, &t->history_found, &e);
    if (rc == 0)
        return 0;
    if (rc != PGP_ERR_CORRUPT && rc != PGP_ERR_CONFLICT && rc != PGP_ERR_CODEC) {
        *err = e;
        return rc;
    }
    t->history_bad = true;
    snprintf(t->error, sizeof t->error, "%s", e.msg);
    pg_timeline_free(&t->history);
    return pg_timeline_single(t->tli, &t->history, err);
}

static int load_timelines(Repo *repo, Catalog *c, PgpErr *err)
{
    size_t cap = 0;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < c->n_wal; i++)
        rc = add_timeline(c, &cap, c->wal[i].tli);
    for (size_t i = 0; rc == 0 && i < c->n_histories; i++)
        rc = add_timeline(c, &cap, c->histories[i].tli);
    for (size_t i = 0; rc == 0 && i < c->n_backups; i++)
        if (c->backups[i].status == CATALOG_BACKUP_COMPLETE)
            rc = add_timeline(c, &cap, c->backups[i].manifest->timeline);
    if (rc != 0)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    if (c->n_timelines > 1)
        qsort(c->timelines, c->n_timelines, sizeof *c->timelines, timeline_cmp);
    WalHistoryIndex *ix = NULL;
    rc = wal_history_index_new(repo, &ix, err);
    for (size_t i = 0; rc == 0 && i < c->n_timelines; i++) {
        count_files(c, &c->timelines[i]);
        rc = read_history(ix, &c->timelines[i], err);
    }
    wal_history_index_free(ix);
    return rc;
}

int catalog_load_entries(Repo *repo, CatalogBackup *b, PgpErr *err)
{
    if (b->status != CATALOG_BACKUP_COMPLETE || b->manifest == NULL)
        return PGP_FAIL(err, PGP_ERR_INTERNAL, "backup \"%s\" has no manifest loaded", b->label);
    if (b->manifest->entries != NULL || b->manifest->n_listed == 0)
        return 0;
    BackupManifest *m = NULL;
    int rc = manifest_load(repo_storage(repo), repo_crypto_key(repo), b->label, &m, err);
    if (rc != 0)
        return pgp_err_context(err, "cannot read the manifest of backup \"%s\"", b->label);
    manifest_free(b->manifest);
    b->manifest = m;
    return 0;
}

int catalog_load_files(Repo *repo, CatalogBackup *b, PgpErr *err)
{
    if (b->status != CATALOG_BACKUP_COMPLETE || b->manifest == NULL)
        return PGP_FAIL(err, PGP_ERR_INTERNAL, "backup \"%s\" has no manifest loaded", b->label);
    if (b->files != NULL)
        return 0;
    BackupManifest *m = NULL;
    ManifestPack *files = NULL;
    int rc = manifest_load_packed(repo_storage(repo), repo_crypto_key(repo), b->label, &m,
                                  &files, err);
    if (rc != 0)
        return pgp_err_context(err, "cannot read the manifest of backup \"%s\"", b->label);
    manifest_free(b->manifest);
    b->manifest = m;
    b->files = files;
    return 0;
}

void catalog_drop_entries(CatalogBackup *b)
{
    if (b->manifest != NULL)
        manifest_drop_entries(b->manifest);
    manifest_pack_free(b->files);
    b->files = NULL;
}

/* ---- load / free ------------------------------------------------------------------------ */

int catalog_load(Repo *repo, unsigned flags, Catalog *out, PgpErr *err)
{
    memset(out, 0, sizeof *out);
    const RepoIdentity *id = repo_identity(repo);
    if (id == NULL)
        return 0;
    out->bound = true;
    out->id = *id;
    int rc = 0;
    if (flags & CATALOG_LOAD_BACKUPS)
        rc = load_backups(repo, out, err);
    if (rc == 0 && (flags & CATALOG_LOAD_WAL))
        rc = load_wal_files(repo, out, err);
    if (rc == 0 && (flags & CATALOG_LOAD_WAL))
        rc = load_dropped(repo, out, err);
    if (rc == 0 && (flags & CATALOG_LOAD_WAL))
        rc = load_timelines(repo, out, err);
    if (rc != 0)
        catalog_free(out);
    return rc;
}

void catalog_free(Catalog *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->n_backups; i++) {
        manifest_free(c->backups[i].manifest);
        manifest_pack_free(c->backups[i].files);
    }
    for (size_t i = 0; i < c->n_timelines; i++)
        pg_timeline_free(&c->timelines[i].history);
    for (size_t i = 0; i < c->n_foreign && i < CATALOG_FOREIGN_MAX; i++)
        free(c->foreign[i]);
    free(c->backups);
    free(c->wal);
    free(c->dropped);
    free(c->histories);
    free(c->timelines);
    memset(c, 0, sizeof *c);
}

/* ---- lookups ---------------------------------------------------------------------------- */

const CatalogTimeline *catalog_timeline(const Catalog *c, uint32_t tli)
{
    for (size_t i = 0; i < c->n_timelines; i++)
        if (c->timelines[i].tli == tli)
            return &c->timelines[i];
    return NULL;
}

const CatalogWal *catalog_segment(const Catalog *c, uint32_t tli, uint64_t segno)
{
    size_t lo = 0, hi = c->n_wal;
    while (lo < hi) { /* first entry >= (tli, segno) */
        size_t mid = lo + (hi - lo) / 2;
        const CatalogWal *w = &c->wal[mid];
        if (w->tli < tli || (w->tli == tli && w->segno < segno))
            lo = mid + 1;
        else
            hi = mid;
    }
    for (; lo < c->n_wal && c->wal[lo].tli == tli && c->wal[lo].segno == segno; lo++)
        if (c->wal[lo].kind == PG_WALFILE_SEGMENT)
            return &c->wal[lo];
    return NULL;
}

const CatalogDropped *catalog_dropped(const Catalog *c, uint32_t tli, uint64_t segno)
{
    for (size_t i = 0; i < c->n_dropped; i++)
        if (c->dropped[i].tli == tli && c->dropped[i].segno == segno)
            return &c->dropped[i];
    return NULL;
}

const char *catalog_segment_word(const Catalog *c, uint32_t tli, uint64_t segno)
{
    const CatalogWal *w = catalog_segment(c, tli, segno);
    if (w == NULL && catalog_dropped(c, tli, segno) != NULL)
        return "missing: archive-push dropped it (archive-push-queue-full = drop)";
    return w == NULL ? "missing" : w->conflict ? "ambiguous" : "damaged";
}

const CatalogBackup *catalog_newest_complete(const Catalog *c)
{
    const CatalogBackup *best = NULL;
    for (size_t i = 0; i < c->n_backups; i++) {
        const CatalogBackup *b = &c->backups[i];
        if (b->status != CATALOG_BACKUP_COMPLETE)
            continue;
        if (best == NULL || b->manifest->stop_time > best->manifest->stop_time ||
            (b->manifest->stop_time == best->manifest->stop_time &&
             b->manifest->stop_lsn >= best->manifest->stop_lsn))
            best = b;
    }
    return best;
}

/* ---- analysis --------------------------------------------------------------------------- */

/* The dropped-segment records inside gap g. */
static void count_dropped(const Catalog *c, CatalogGap *g)
{
    for (size_t i = 0; i < c->n_dropped; i++) {
        const CatalogDropped *d = &c->dropped[i];
        if (d->tli != g->tli || d->segno < g->from_segno || d->segno > g->to_segno)
            continue;
        if (g->n_dropped++ == 0)
            g->dropped_at = d->mtime;
    }
}

int catalog_gaps(const Catalog *c, CatalogGap **out, size_t *n, PgpErr *err)
{
    size_t cap = 0;
    *out = NULL;
    *n = 0;
    const CatalogWal *prev = NULL;
    for (size_t i = 0; i < c->n_wal; i++) {
        const CatalogWal *w = &c->wal[i];
        if (w->kind != PG_WALFILE_SEGMENT)
            continue;
        if (prev != NULL && prev->tli == w->tli && w->segno > prev->segno + 1) {
            if (GROW(*out, *n, cap, 64, "catalog entries", NULL) != 0) {
                free(*out);
                *out = NULL;
                *n = 0;
                return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
            }
            (*out)[(*n)++] = (CatalogGap){w->tli, prev->segno + 1, w->segno - 1, 0, 0};
            count_dropped(c, &(*out)[*n - 1]);
        }
        prev = w;
    }
    return 0;
}

/* Any archived segment after `segno` that recovery along h would read? */
static bool later_on_history(const Catalog *c, const PgTimelineHistory *h, uint64_t segno)
{
    uint32_t segsize = c->id.wal_segsize;
    for (size_t e = 0; e < h->n; e++) {
        const CatalogTimeline *t = catalog_timeline(c, h->entries[e].tli);
        for (size_t i = 0; t != NULL && i < t->n_wal; i++) {
            const CatalogWal *w = &c->wal[t->first_wal + i];
            if (w->kind == PG_WALFILE_SEGMENT && w->segno > segno &&
                pg_timeline_of_segno(h, w->segno, segsize) == w->tli)
                return true;
        }
    }
    return false;
}

void catalog_reach(const Catalog *c, const CatalogBackup *b, uint32_t tli, CatalogReach *out)
{
    memset(out, 0, sizeof *out);
    const CatalogTimeline *t = catalog_timeline(c, tli);
    if (b == NULL || b->status != CATALOG_BACKUP_COMPLETE || t == NULL)
        return;
    const BackupManifest *m = b->manifest;
    const PgTimelineHistory *h = &t->history;
    uint32_t segsize = c->id.wal_segsize;
    out->on_history = pg_timeline_contains(h, m->timeline, m->stop_lsn, NULL);
    if (!out->on_history)
        return;
    out->start_segno = pg_lsn_segno(m->start_lsn, segsize);
    uint64_t last_needed =
        pg_lsn_segno(m->stop_lsn > m->start_lsn ? m->stop_lsn - 1 : m->stop_lsn, segsize);
    out->earliest_lsn = m->stop_lsn;
    out->earliest_time = m->stop_time;
    const CatalogWal *last = NULL;
    uint64_t segno = out->start_segno;
    for (;; segno++) {
        uint32_t from = pg_timeline_of_segno(h, segno, segsize);
        const CatalogWal *w = from != 0 ? catalog_segment(c, from, segno) : NULL;
        if (w == NULL || w->conflict) { /* archive-get refuses a conflicted name */
            out->missing_segno = segno;
            out->missing_tli = from;
            break;
        }
        last = w;
    }
    out->consistent = last != NULL && last->segno >= last_needed;
    if (last != NULL) {
        out->end_segno = last->segno;
        out->latest_lsn = (last->segno + 1) * (uint64_t)segsize;
        out->latest_time = last->mtime;
    }
    if (out->consistent) {
        RecoveryWindow w;
        recovery_window(m->stop_time, m->stop_lsn, last->mtime, out->latest_lsn, &w);
        out->latest_lsn = w.to_lsn;
        out->latest_time = w.to_time;
        out->ends_at_backup = w.ends_at_backup;
    }
    out->gap = later_on_history(c, h, out->missing_segno);
}

int catalog_activity(const Catalog *c, TlActivityList *out, PgpErr *err)
{
    memset(out, 0, sizeof *out);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < c->n_wal; i++) {
        const CatalogWal *w = &c->wal[i];
        if (w->kind == PG_WALFILE_SEGMENT)
            rc = tl_activity_segment(out, w->tli, w->segno, w->mtime, w->name, err);
    }
    for (size_t i = 0; rc == 0 && i < c->n_histories; i++)
        rc = tl_activity_history(out, c->histories[i].tli, c->histories[i].mtime, err);
    for (size_t i = 0; rc == 0 && i < c->n_timelines; i++) {
        const CatalogTimeline *t = &c->timelines[i];
        const PgTimelineHistory *h = &t->history;
        if (!t->history_found || t->history_bad || h->n < 2)
            continue;
        TlActivity *a = tl_activity_get(out, t->tli);
        if (a == NULL) {
            rc = PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
            break;
        }
        a->parent = h->entries[h->n - 2].tli;
        a->fork_lsn = h->entries[h->n - 1].begin;
    }
    if (rc != 0)
        tl_activity_free(out);
    return rc;
}
