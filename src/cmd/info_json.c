/*
 * info_json.c - `pgpitr info --output json` (info.h): the model as JSON through jansson.
 * docs/info.schema.json describes exactly what is written here: change both together and
 * bump INFO_SCHEMA_VERSION on an incompatible change. Times are ISO 8601 UTC or null, LSNs
 * "X/X", sizes bytes, durations and ages seconds.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "pgpitr/cmd/cmd.h"
#include "pgpitr/cmd/info.h"

/* Bytes from outside (paths, names in a listing) as a JSON string: anything but printable
 * ASCII becomes '?', so jansson never refuses it and the document stays one line per value. */
static json_t *jsafe(const char *s)
{
    return repo_json_ascii(s);
}

static json_t *jseg(const Info *info, uint32_t tli, uint64_t segno)
{
    char buf[PG_WALNAME_SEG_LEN + 1];
    pg_walname_format(tli, segno, info->cat.id.wal_segsize, buf);
    return json_string(buf);
}

static json_t *cluster_json(const Info *info)
{
    if (!info->cat.bound)
        return json_null();
    char sysid[24];
    snprintf(sysid, sizeof sysid, "%llu", (unsigned long long)info->cat.id.system_identifier);
    return json_pack("{s:s, s:i, s:I}", "system_identifier", sysid, "pg_major",
                     info->cat.id.pg_major, "wal_segment_size",
                     (json_int_t)info->cat.id.wal_segsize);
}

/* The live backup holder writing an incomplete backup; null when none. */
static json_t *running_json(const InfoBackup *ib)
{
    const RepoLockHolder *h = ib->running;
    if (h == NULL)
        return json_null();
    return json_pack("{s:I, s:o, s:o, s:o, s:s}", "pid", (json_int_t)h->pid, "host",
                     jsafe(h->host), "since", repo_json_time(h->since), "heartbeat",
                     repo_json_time(h->heartbeat), "matched_by",
                     ib->running_by_label ? "label" : "newest");
}

static json_t *complete_json(const Info *info, size_t i)
{
    const BackupManifest *m = info->cat.backups[i].manifest;
    const InfoBackup *ib = &info->backups[i];
    json_t *missing = ib->restorable ? json_null() :
        jseg(info, ib->missing_tli ? ib->missing_tli : m->timeline, ib->missing_segno);
    return json_pack("{s:s, s:s, s:n, s:I, s:o, s:o, s:o, s:o, s:I, s:I, s:I, s:I, s:b, s:o,"
                     " s:n}",
                     "label", m->label, "status", "complete", "error", "timeline",
                     (json_int_t)m->timeline, "start_lsn", repo_json_lsn(m->start_lsn), "stop_lsn",
                     repo_json_lsn(m->stop_lsn), "start_time", repo_json_time(m->start_time),
                     "stop_time", repo_json_time(m->stop_time), "duration_s",
                     (json_int_t)(m->stop_time > m->start_time ? m->stop_time - m->start_time : 0),
                     "size", (json_int_t)m->size, "stored_size", (json_int_t)m->stored_size,
                     "new_stored_size", (json_int_t)m->new_stored_size, "restorable",
                     ib->restorable, "missing_segment", missing, "last_change");
}

static json_t *backups_json(const Info *info)
{
    static const char *const names[] = {"complete", "incomplete", "corrupt"};
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < info->cat.n_backups; i++) {
        const CatalogBackup *b = &info->cat.backups[i];
        json_t *o = b->status == CATALOG_BACKUP_COMPLETE ? complete_json(info, i) :
            json_pack("{s:s, s:s, s:o, s:n, s:n, s:n, s:n, s:n, s:n, s:n, s:n, s:n, s:b, s:n,"
                      " s:o}",
                      "label", b->label, "status", names[b->status], "error",
                      b->status == CATALOG_BACKUP_CORRUPT ? jsafe(b->error) : json_null(),
                      "timeline", "start_lsn", "stop_lsn", "start_time", "stop_time",
                      "duration_s", "size", "stored_size", "new_stored_size", "restorable", 0,
                      "missing_segment", "last_change", repo_json_time(b->dir_mtime));
        const BackupManifest *m = b->manifest;
        if (o != NULL &&
            (json_object_set_new(o, "running", running_json(&info->backups[i])) != 0 ||
             json_object_set_new(o, "source", repo_json_source(m ? m->source : NULL)) != 0)) {
            json_decref(o);
            o = NULL;
        }
        if (o == NULL || json_array_append_new(a, o) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

static json_t *locks_json(const Info *info)
{
    if (info->locks_unknown)
        return json_null();
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < info->n_locks; i++)
        if (json_array_append_new(a, repo_json_lock_holder(&info->locks[i])) != 0) {
            json_decref(a);
            a = NULL;
        }
    return a;
}

static json_t *leases_json(const Info *info)
{
    if (info->leases_unknown)
        return json_null();
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < info->n_leases; i++)
        if (json_array_append_new(a, repo_json_lease(&info->leases[i])) != 0) {
            json_decref(a);
            a = NULL;
        }
    return a;
}

static const char *history_state(const CatalogTimeline *t)
{
    if (t->tli == 1)
        return "not_needed";
    return t->history_bad ? "bad" : t->history_found ? "found" : "missing";
}

static json_t *gaps_json(const Info *info, const InfoTimeline *it)
{
    json_t *a = json_array();
    for (size_t g = 0; a != NULL && g < it->n_gaps; g++) {
        const CatalogGap *gap = &info->gaps[it->first_gap + g];
        json_array_append_new(a, json_pack("{s:o, s:o, s:I, s:I}", "from",
                                           jseg(info, gap->tli, gap->from_segno), "to",
                                           jseg(info, gap->tli, gap->to_segno),
                                           "missing_segments",
                                           (json_int_t)(gap->to_segno - gap->from_segno + 1),
                                           "dropped_segments", (json_int_t)gap->n_dropped));
    }
    return a;
}

/* Parent, fork and last archive time of a timeline: added to its object. */
static json_t *add_activity(const Info *info, const InfoTimeline *it, json_t *o)
{
    const TlActivity *a = it->act;
    bool fork = a != NULL && a->parent != 0, last = a != NULL && a->has_last;
    json_t *more = json_pack("{s:o, s:o, s:o, s:o, s:b}", "parent",
                             fork ? json_integer(a->parent) : json_null(), "fork_lsn",
                             fork ? repo_json_lsn(a->fork_lsn) : json_null(), "last_archived",
                             last ? repo_json_time(a->last) : json_null(), "last_object",
                             last ? jsafe(a->last_name) : json_null(), "production",
                             info->production.known && info->production.tli == it->t->tli);
    if (o == NULL || more == NULL || json_object_update(o, more) != 0) {
        json_decref(o);
        o = NULL;
    }
    json_decref(more);
    return o;
}

/* What the text says as WARNING lines about production's timeline. */
static json_t *production_warnings(const Info *info)
{
    const TlProduction *p = &info->production;
    char w[640];
    json_t *a = json_array();
    tl_production_warning(p, true, p->tli, p->latest, w, sizeof w);
    if (a != NULL && w[0] != '\0')
        json_array_append_new(a, json_string(w));
    tl_production_fork_warning(&info->activity, p->tli, info->now, info->cat.id.wal_segsize, w,
                               sizeof w);
    if (a != NULL && w[0] != '\0')
        json_array_append_new(a, json_string(w));
    return a;
}

static json_t *production_json(const Info *info)
{
    const TlProduction *p = &info->production;
    if (!p->known)
        return json_null();
    return json_pack("{s:I, s:o, s:o, s:b, s:o, s:I, s:o}", "timeline", (json_int_t)p->tli,
                     "last_archived", repo_json_time(p->last), "last_object", jsafe(p->last_name),
                     "ambiguous", p->ambiguous, "tied_with",
                     p->ambiguous ? json_integer(p->tied) : json_null(), "latest_timeline",
                     (json_int_t)p->latest, "warnings", production_warnings(info));
}

static json_t *timeline_json(const Info *info, const InfoTimeline *it)
{
    const CatalogTimeline *t = it->t;
    return add_activity(info, it, json_pack("{s:I, s:s, s:o, s:o, s:o, s:I, s:I, s:I, s:I, s:I, s:o}",
                     "timeline", (json_int_t)t->tli, "history", history_state(t),
                     "history_error", t->history_bad ? jsafe(t->error) : json_null(),
                     "first_segment", it->has_segments ? jseg(info, t->tli, it->first_segno) :
                     json_null(), "last_segment", it->has_segments ?
                     jseg(info, t->tli, it->last_segno) : json_null(),
                     "segments", (json_int_t)t->n_segments, "stored_size",
                     (json_int_t)t->stored_size, "partial_files", (json_int_t)it->n_partial,
                     "backup_files", (json_int_t)it->n_backup_files, "conflicts",
                     (json_int_t)it->n_conflicts, "gaps", gaps_json(info, it)));
}

static json_t *archive_json(const Info *info)
{
    json_t *newest = json_null();
    const CatalogWal *w = info->newest;
    if (w != NULL)
        newest = json_pack("{s:s, s:I, s:o, s:I}", "name", w->name, "timeline",
                           (json_int_t)w->tli, "archived", repo_json_time(w->mtime), "age_s",
                           (json_int_t)(info->now - w->mtime));
    json_t *tls = json_array();
    for (size_t i = 0; tls != NULL && i < info->n_tls; i++)
        if (json_array_append_new(tls, timeline_json(info, &info->tls[i])) != 0) {
            json_decref(tls);
            tls = NULL;
        }
    return json_pack("{s:o, s:o, s:o}", "newest_segment", newest, "production",
                     production_json(info), "timelines", tls);
}

static json_t *window_json(const Info *info, const InfoWindow *w)
{
    const CatalogReach *r = &w->reach;
    return json_pack("{s:I, s:s, s:o, s:o, s:o, s:o, s:o, s:b, s:o, s:o}",
                     "timeline", (json_int_t)w->tli, "backup", w->from->label,
                     "earliest_time", repo_json_time(r->earliest_time), "earliest_lsn",
                     repo_json_lsn(r->earliest_lsn), "latest_time", repo_json_time(r->latest_time),
                     "latest_lsn", repo_json_lsn(r->latest_lsn), "last_segment",
                     jseg(info, pg_timeline_of_segno(&catalog_timeline(&info->cat, w->tli)->history,
                                                     r->end_segno, info->cat.id.wal_segsize),
                          r->end_segno),
                     "cut", w->cut, "missing_segment",
                     w->cut ? jseg(info, r->missing_tli, r->missing_segno) : json_null(),
                     "resumes_at", w->has_resume ? jseg(info, w->resume_tli, w->resume_segno) :
                     json_null());
}

static json_t *windows_json(const Info *info)
{
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < info->n_windows; i++)
        if (json_array_append_new(a, window_json(info, &info->windows[i])) != 0) {
            json_decref(a);
            a = NULL;
        }
    return a;
}

static json_t *drill_json(const Info *info)
{
    const InfoDrill *d = &info->drill;
    if (!d->found)
        return json_null();
    return json_pack("{s:s, s:s, s:o, s:o, s:o}", "id", d->id, "status", d->status,
                     "started", d->started[0] ? jsafe(d->started) : json_null(),
                     "finished", d->finished[0] ? jsafe(d->finished) : json_null(),
                     "rto_s", d->has_rto ? json_real(d->rto_s) : json_null());
}

static json_t *objective_json(const InfoObjective *o)
{
    return json_pack("{s:o, s:o, s:o}",
                     "objective_s", o->set ? json_integer((json_int_t)o->objective_s) :
                     json_null(), "measured_s", o->measured ? json_real(o->measured_s) :
                     json_null(), "met", o->set ? json_boolean(o->met) : json_null());
}

/* The objectives now: archive freshness (rpo) and the newest drill's RTO (rto, with the id of
 * that drill) against the current settings; the same judgement as check and metrics
 * (info_model.h). */
static json_t *objectives_json(const Info *info)
{
    InfoObjective rpo, rto;
    const InfoDrill *from;
    info_objective_rpo(info, &rpo);
    info_objective_rto(info, &rto, &from);
    json_t *jrto = objective_json(&rto);
    if (jrto != NULL &&
        json_object_set_new(jrto, "drill", from != NULL ? jsafe(from->id) : json_null()) != 0) {
        json_decref(jrto);
        jrto = NULL;
    }
    return json_pack("{s:o, s:o}", "rpo", objective_json(&rpo), "rto", jrto);
}

static json_t *foreign_json(const Info *info)
{
    json_t *paths = json_array();
    for (size_t i = 0; paths != NULL && i < info->cat.n_foreign && i < CATALOG_FOREIGN_MAX; i++)
        json_array_append_new(paths, jsafe(info->cat.foreign[i]));
    return json_pack("{s:I, s:o}", "count", (json_int_t)info->cat.n_foreign, "paths", paths);
}

static json_t *info_json(const Info *info)
{
    json_t *j = json_object();
    if (j == NULL)
        return NULL;
    int bad = 0;
    bad |= json_object_set_new(j, "schema_version", json_integer(INFO_SCHEMA_VERSION));
    bad |= json_object_set_new(j, "pgpitr_version", json_string(PGPITR_VERSION));
    bad |= json_object_set_new(j, "generated", repo_json_time(info->now));
    bad |= json_object_set_new(j, "repository", jsafe(info->repo_path));
    bad |= json_object_set_new(j, "bound", json_boolean(info->cat.bound));
    bad |= json_object_set_new(j, "cluster", cluster_json(info));
    bad |= json_object_set_new(j, "backups", backups_json(info));
    bad |= json_object_set_new(j, "locks", locks_json(info));
    bad |= json_object_set_new(j, "leases", leases_json(info));
    bad |= json_object_set_new(j, "archive", archive_json(info));
    bad |= json_object_set_new(j, "recovery_windows", windows_json(info));
    bad |= json_object_set_new(j, "latest_drill", drill_json(info));
    bad |= json_object_set_new(j, "objectives", objectives_json(info));
    bad |= json_object_set_new(j, "foreign", foreign_json(info));
    if (bad != 0) {
        json_decref(j);
        return NULL;
    }
    return j;
}

int info_to_json(const Info *info, char **out, PgpErr *err)
{
    json_t *j = info_json(info);
    *out = repo_json_text(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
    json_decref(j);
    if (*out == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory building the info document");
    return 0;
}
