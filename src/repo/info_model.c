/*
 * info_model.c - the model behind `pgpitr info` (info_model.h): what info adds on top of the
 * catalog (per-timeline counts, gaps, recoverable windows, freshness, restorability of each
 * backup, which incomplete backup is running right now). Loading it (and the newest drill
 * report) is src/cmd/info_load.c's; no output here: info_text.c and info_json.c format the
 * same model, so text and JSON never disagree.
 */
#include "pgpitr/repo/info_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pgpitr/common/grow.h"
#include "pgpitr/common/log.h"

/* ---- per timeline ------------------------------------------------------------------------- */

static void count_timeline(const Catalog *c, InfoTimeline *it)
{
    const CatalogTimeline *t = it->t;
    for (size_t i = 0; i < t->n_wal; i++) {
        const CatalogWal *w = &c->wal[t->first_wal + i];
        it->n_conflicts += w->conflict;
        if (w->kind == PG_WALFILE_PARTIAL)
            it->n_partial++;
        else if (w->kind == PG_WALFILE_BACKUP)
            it->n_backup_files++;
        if (w->kind != PG_WALFILE_SEGMENT)
            continue;
        if (!it->has_segments || w->segno < it->first_segno)
            it->first_segno = w->segno;
        if (!it->has_segments || w->segno > it->last_segno)
            it->last_segno = w->segno;
        it->has_segments = true;
    }
}

/* The first archived segment after `segno` that recovery along h reads. */
static bool resume_after(const Catalog *c, const PgTimelineHistory *h, uint64_t segno,
                         uint32_t *tli, uint64_t *out)
{
    bool found = false;
    for (size_t i = 0; i < c->n_wal; i++) {
        const CatalogWal *w = &c->wal[i];
        if (w->kind != PG_WALFILE_SEGMENT || w->segno <= segno || (found && w->segno >= *out) ||
            pg_timeline_of_segno(h, w->segno, c->id.wal_segsize) != w->tli)
            continue;
        found = true;
        *tli = w->tli;
        *out = w->segno;
    }
    return found;
}

/*
 * Windows of one timeline: backups ascending by stop time; a backup opens a new window only
 * when its WAL reaches further than the previous window's (it was taken after a hole: every
 * backup before the hole stops at that same hole).
 */
static int add_windows(Info *info, size_t *cap, InfoTimeline *it)
{
    const Catalog *c = &info->cat;
    it->first_window = info->n_windows;
    for (size_t i = 0; i < c->n_backups; i++) {
        CatalogReach r;
        catalog_reach(c, &c->backups[i], it->t->tli, &r);
        if (!r.on_history || !r.consistent)
            continue;
        if (it->n_windows > 0 && r.end_segno <= info->windows[info->n_windows - 1].reach.end_segno)
            continue;
        if (GROW(info->windows, info->n_windows, *cap, 8, NULL, NULL) != 0)
            return PGP_ERR_NOMEM;
        InfoWindow *w = &info->windows[info->n_windows++];
        memset(w, 0, sizeof *w);
        w->tli = it->t->tli;
        w->from = &c->backups[i];
        w->reach = r;
        w->cut = r.gap;
        if (r.gap)
            w->has_resume = resume_after(c, &it->t->history, r.missing_segno, &w->resume_tli,
                                         &w->resume_segno);
        it->n_windows++;
    }
    return 0;
}

static void mark_backups(Info *info)
{
    const Catalog *c = &info->cat;
    for (size_t i = 0; i < c->n_backups; i++) {
        const CatalogBackup *b = &c->backups[i];
        if (b->status != CATALOG_BACKUP_COMPLETE)
            continue;
        CatalogReach r;
        catalog_reach(c, b, b->manifest->timeline, &r);
        info->backups[i].restorable = r.on_history && r.consistent;
        info->backups[i].missing_tli = r.missing_tli;
        info->backups[i].missing_segno = r.missing_segno;
    }
}

static void find_newest(Info *info)
{
    const Catalog *c = &info->cat;
    for (size_t i = 0; i < c->n_wal; i++) {
        const CatalogWal *w = &c->wal[i];
        /* ties: the later segment (the listing order is by name, not by time) */
        if (w->kind == PG_WALFILE_SEGMENT &&
            (info->newest == NULL || w->mtime > info->newest->mtime ||
             (w->mtime == info->newest->mtime && (w->tli > info->newest->tli ||
              (w->tli == info->newest->tli && w->segno > info->newest->segno)))))
            info->newest = w;
    }
}

/* ---- running backups --------------------------------------------------------------------- */

static bool live_backup(const RepoLockHolder *h)
{
    return h->parsed && h->alive && h->kind == REPO_LOCK_BACKUP;
}

/*
 * Which incomplete directory a live backup holder writes. Backups record their label in the
 * lock before they create the directory, so a labelled holder matches exactly. One without a
 * label (an older pgpitr) is taken to write the newest incomplete directory, and only if that
 * changed after it took its lock: what a failed backup left is older than the next lock.
 */
static void match_running(Info *info)
{
    const Catalog *c = &info->cat;
    for (size_t k = 0; k < info->n_locks; k++) {
        const RepoLockHolder *h = &info->locks[k];
        if (!live_backup(h))
            continue;
        size_t best = c->n_backups;
        for (size_t i = 0; i < c->n_backups; i++) {
            const CatalogBackup *b = &c->backups[i];
            if (b->status != CATALOG_BACKUP_INCOMPLETE)
                continue;
            if (h->label[0] != '\0') {
                if (strcmp(h->label, b->label) == 0)
                    best = i;
            } else if (best == c->n_backups || b->dir_mtime > c->backups[best].dir_mtime ||
                       (b->dir_mtime == c->backups[best].dir_mtime &&
                        strcmp(b->label, c->backups[best].label) > 0)) {
                best = i;
            }
        }
        if (best == c->n_backups || info->backups[best].running != NULL)
            continue;
        if (h->label[0] == '\0' && c->backups[best].dir_mtime < h->since)
            continue;
        info->backups[best].running = h;
        info->backups[best].running_by_label = h->label[0] != '\0';
    }
}

int info_analyze(Info *info, PgpErr *err)
{
    const Catalog *c = &info->cat;
    int rc = catalog_gaps(c, &info->gaps, &info->n_gaps, err);
    if (rc != 0)
        return rc;
    if (c->n_backups > 0 && (info->backups = calloc(c->n_backups, sizeof *info->backups)) == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    if (c->n_timelines > 0 && (info->tls = calloc(c->n_timelines, sizeof *info->tls)) == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    info->n_tls = c->n_timelines;
    size_t cap = 0, g = 0;
    for (size_t i = 0; i < info->n_tls; i++) {
        InfoTimeline *it = &info->tls[i];
        it->t = &c->timelines[i];
        count_timeline(c, it);
        while (g < info->n_gaps && info->gaps[g].tli < it->t->tli)
            g++;
        it->first_gap = g;
        for (; g < info->n_gaps && info->gaps[g].tli == it->t->tli; g++)
            it->n_gaps++;
        if (add_windows(info, &cap, it) != 0)
            return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    }
    mark_backups(info);
    match_running(info);
    find_newest(info);
    if (catalog_activity(c, &info->activity, err) != 0)
        return PGP_ERR_NOMEM;
    tl_production_decide(&info->activity, &info->production);
    for (size_t i = 0; i < info->n_tls; i++)
        info->tls[i].act = tl_activity_find(&info->activity, info->tls[i].t->tli);
    return 0;
}

bool info_archive_freshness(const Info *info, int64_t *age_s)
{
    if (info->newest == NULL)
        return false;
    *age_s = (int64_t)info_freshness_at(info->newest->mtime, (double)info->now);
    return true;
}

double info_freshness_at(int64_t newest_mtime, double at_s)
{
    double age = at_s - (double)newest_mtime;
    return age > 0 ? age : 0;   /* an archive time in the future: clock skew, not staleness */
}

void info_objective_rpo(const Info *info, InfoObjective *out)
{
    int64_t age = 0;
    memset(out, 0, sizeof *out);
    out->set = info->rpo_objective_s > 0;
    out->objective_s = (double)info->rpo_objective_s;
    out->measured = info_archive_freshness(info, &age);
    out->measured_s = (double)age;
    out->met = out->set && out->measured && out->measured_s <= out->objective_s;
}

void info_objective_rto(const Info *info, InfoObjective *out, const InfoDrill **from_drill)
{
    const InfoDrill *d = &info->drill;
    memset(out, 0, sizeof *out);
    *from_drill = NULL;
    out->set = info->rto_objective_s > 0;
    out->objective_s = (double)info->rto_objective_s;
    /* A drill that failed on its RTO objective (or a later check) did measure a recovery
     * time; a report older than the objectives section has one only when it passed. */
    if (d->found && d->has_objectives && d->obj_rto.measured) {
        out->measured = true;
        out->measured_s = d->obj_rto.measured_s;
    } else if (d->found && d->has_rto) {
        out->measured = true;
        out->measured_s = d->rto_s;
    }
    if (out->measured)
        *from_drill = d;
    out->met = out->set && out->measured && out->measured_s <= out->objective_s;
}

void info_free(Info *info)
{
    if (info == NULL)
        return;
    catalog_free(&info->cat);
    free(info->backups);
    free(info->gaps);
    free(info->tls);
    free(info->windows);
    free(info->locks);
    free(info->leases);
    tl_activity_free(&info->activity);
    memset(info, 0, sizeof *info);
}
