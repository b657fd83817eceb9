/*
 * metrics_render.c - the info model and the database host's facts (metrics.h) as Prometheus
 * text exposition: the one list of metric families, and for each its HELP, TYPE and the
 * samples that are known. A value that is not known (no backup yet, no --pg-conn, a setting
 * not set) has no sample rather than a made-up zero, so an alert never compares with one.
 * Owns only the formatting; what the values mean is the model's (info_model.c).
 */
#include "pgpitr/cmd/metrics.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The order here is the order of the output; metrics_family() finds rows by name so that
 * the code below says which metric it writes. */
const MetricsFamily metrics_families[] = {
    {"pgpitr_up", "gauge", "1 when the repository could be read, 0 when not (then most "
                           "other metrics are absent)"},
    {"pgpitr_metrics_timestamp_seconds", "gauge", "when these metrics were computed"},
    {"pgpitr_repository_bound", "gauge", "1 when the repository holds repo.json (a cluster "
                                         "archived or backed up into it)"},
    {"pgpitr_archive_last_archived_age_seconds", "gauge",
     "seconds since the newest WAL file reached the repository (archive freshness)"},
    {"pgpitr_archive_holes", "gauge", "holes in the archived WAL of all timelines"},
    {"pgpitr_archive_dropped_segments", "gauge",
     "segments inside holes that archive-push dropped on purpose (archive-push-queue-full)"},
    {"pgpitr_archive_segments", "gauge", "archived WAL segments per timeline"},
    {"pgpitr_pg_up", "gauge", "1 when the server of --pg-conn answered, 0 when not"},
    {"pgpitr_archive_archived_total", "counter", "WAL files the server archived "
                                                 "(pg_stat_archiver.archived_count)"},
    {"pgpitr_archive_failures_total", "counter", "failed archive attempts of the server "
                                                 "(pg_stat_archiver.failed_count)"},
    {"pgpitr_archive_last_failure_age_seconds", "gauge",
     "seconds since the server's last failed archive attempt"},
    {"pgpitr_archive_failing", "gauge", "1 when the server's last archive attempt failed "
                                        "(no success since the last failure)"},
    {"pgpitr_archive_ready_files", "gauge", ".ready files in pg_wal/archive_status "
                                            "(WAL waiting to be archived)"},
    {"pgpitr_archive_ready_bytes", "gauge", "bytes of the WAL files waiting to be archived"},
    {"pgpitr_archive_push_failing_seconds", "gauge",
     "how long archive-push has failed without a success (0: its last call succeeded)"},
    {"pgpitr_backups", "gauge", "backups in the repository by status"},
    {"pgpitr_backup_last_complete_age_seconds", "gauge",
     "seconds since the newest complete backup ended"},
    {"pgpitr_backup_last_complete_timestamp_seconds", "gauge",
     "when the newest complete backup ended"},
    {"pgpitr_backup_last_duration_seconds", "gauge", "how long the newest complete backup "
                                                     "took"},
    {"pgpitr_backup_last_size_bytes", "gauge", "bytes of the newest complete backup's files"},
    {"pgpitr_backup_last_stored_bytes", "gauge",
     "bytes the newest complete backup's file objects take in the repository"},
    {"pgpitr_recovery_window_earliest_timestamp_seconds", "gauge",
     "earliest point of the timeline that can be recovered to"},
    {"pgpitr_recovery_window_latest_timestamp_seconds", "gauge",
     "latest point of the timeline that can be recovered to"},
    {"pgpitr_drill_last_success", "gauge", "1 when the newest drill passed, 0 when it failed"},
    {"pgpitr_drill_last_age_seconds", "gauge", "seconds since the newest drill started"},
    {"pgpitr_drill_last_rto_seconds", "gauge", "recovery time the newest drill measured "
                                               "(passed drills only)"},
    {"pgpitr_drill_last_archive_freshness_seconds", "gauge",
     "archive freshness the newest drill measured (its report's objectives)"},
    {"pgpitr_drill_last_objective_met", "gauge",
     "1 when the newest drill met the objective, 0 when not"},
    {"pgpitr_rpo_objective_seconds", "gauge", "the rpo-objective setting"},
    {"pgpitr_rto_objective_seconds", "gauge", "the rto-objective setting"},
    {"pgpitr_backup_max_age_seconds", "gauge", "the backup-max-age setting"},
    {"pgpitr_drill_max_age_seconds", "gauge", "the drill-max-age setting"},
    {"pgpitr_repository_objects", "gauge", "objects the catalog lists, by kind (backup "
                                           "objects shared by backups count once)"},
    {"pgpitr_repository_bytes", "gauge", "bytes of those objects, by kind"},
    {"pgpitr_lock_holders", "gauge", "repository lock holders by kind and state"},
    {"pgpitr_verify_last_timestamp_seconds", "gauge",
     "when the newest whole-repository verify finished"},
    {"pgpitr_verify_last_objects", "gauge", "objects the newest whole-repository verify read"},
    {"pgpitr_verify_last_errors", "gauge",
     "problems the newest whole-repository verify found (0: intact)"},
};
const size_t metrics_families_len = sizeof metrics_families / sizeof metrics_families[0];

/* ---- output ------------------------------------------------------------------------------- */

static const MetricsFamily *family(const char *name)
{
    if (name == NULL)
        return NULL;
    for (size_t i = 0; i < metrics_families_len; i++)
        if (strcmp(metrics_families[i].name, name) == 0)
            return &metrics_families[i];
    return NULL;
}

/* Writes the HELP and TYPE of every family before `name` not yet written, then name's. */
typedef struct Out {
    FILE *f;
    size_t next;               /* metrics_families[next] is the next family to head */
} Out;

static void head(Out *o, const char *name)
{
    const MetricsFamily *want = family(name);
    while (o->next < metrics_families_len) {
        const MetricsFamily *m = &metrics_families[o->next++];
        fprintf(o->f, "# HELP %s %s\n# TYPE %s %s\n", m->name, m->help, m->name, m->type);
        if (m == want)
            break;
    }
}

static void sample_u(Out *o, const char *name, const char *labels, uint64_t v)
{
    fprintf(o->f, "%s%s %" PRIu64 "\n", name, labels ? labels : "", v);
}

static void sample_i(Out *o, const char *name, const char *labels, int64_t v)
{
    fprintf(o->f, "%s%s %" PRId64 "\n", name, labels ? labels : "", v);
}

static void sample_d(Out *o, const char *name, const char *labels, double v)
{
    fprintf(o->f, "%s%s %.15g\n", name, labels ? labels : "", v);
}

void metrics_label_escape(const char *in, char *out, size_t size)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p != '\0'; p++) {
        char esc[3] = {0};
        if (*p == '\\' || *p == '"')
            esc[0] = '\\', esc[1] = (char)*p;
        else if (*p == '\n')
            esc[0] = '\\', esc[1] = 'n';
        else
            esc[0] = (*p < 0x20 || *p >= 0x7f) ? '?' : (char)*p;
        size_t len = strlen(esc);
        if (n + len + 1 > size)
            break;
        memcpy(out + n, esc, len);
        n += len;
    }
    if (size > 0)
        out[n] = '\0';
}

/* ---- the repository ------------------------------------------------------------------------ */

static void render_archive(Out *o, const Info *info)
{
    int64_t age;
    head(o, "pgpitr_archive_last_archived_age_seconds");
    if (info_archive_freshness(info, &age))
        sample_i(o, "pgpitr_archive_last_archived_age_seconds", NULL, age);
    head(o, "pgpitr_archive_holes");
    if (info->cat.bound)
        sample_u(o, "pgpitr_archive_holes", NULL, info->n_gaps);
    uint64_t dropped = 0;
    for (size_t i = 0; i < info->n_gaps; i++)
        dropped += info->gaps[i].n_dropped;
    head(o, "pgpitr_archive_dropped_segments");
    if (info->cat.bound)
        sample_u(o, "pgpitr_archive_dropped_segments", NULL, dropped);
    head(o, "pgpitr_archive_segments");
    for (size_t i = 0; i < info->n_tls; i++) {
        char l[32];
        snprintf(l, sizeof l, "{tli=\"%" PRIu32 "\"}", info->tls[i].t->tli);
        sample_u(o, "pgpitr_archive_segments", l, info->tls[i].t->n_segments);
    }
}

static void render_backups(Out *o, const Info *info)
{
    static const char *const names[] = {"complete", "incomplete", "corrupt"};
    size_t n[3] = {0};
    for (size_t i = 0; i < info->cat.n_backups; i++)
        n[info->cat.backups[i].status]++;
    head(o, "pgpitr_backups");
    for (size_t k = 0; k < 3 && info->cat.bound; k++) {
        char l[32];
        snprintf(l, sizeof l, "{status=\"%s\"}", names[k]);
        sample_u(o, "pgpitr_backups", l, n[k]);
    }
    const CatalogBackup *b = catalog_newest_complete(&info->cat);
    const BackupManifest *m = b ? b->manifest : NULL;
    head(o, "pgpitr_backup_last_complete_age_seconds");
    if (m)
        sample_i(o, "pgpitr_backup_last_complete_age_seconds", NULL, info->now - m->stop_time);
    head(o, "pgpitr_backup_last_complete_timestamp_seconds");
    if (m)
        sample_i(o, "pgpitr_backup_last_complete_timestamp_seconds", NULL, m->stop_time);
    head(o, "pgpitr_backup_last_duration_seconds");
    if (m)
        sample_i(o, "pgpitr_backup_last_duration_seconds", NULL, m->stop_time - m->start_time);
    head(o, "pgpitr_backup_last_size_bytes");
    if (m)
        sample_u(o, "pgpitr_backup_last_size_bytes", NULL, m->size);
    head(o, "pgpitr_backup_last_stored_bytes");
    if (m)
        sample_u(o, "pgpitr_backup_last_stored_bytes", NULL, m->stored_size);
}

/* Per timeline: the earliest point of its first window and the latest of its last (a hole
 * between windows is pgpitr_archive_holes). */
static void render_windows(Out *o, const Info *info)
{
    static const char *const names[] = {"pgpitr_recovery_window_earliest_timestamp_seconds",
                                        "pgpitr_recovery_window_latest_timestamp_seconds"};
    for (int which = 0; which < 2; which++) {
        head(o, names[which]);
        for (size_t i = 0; i < info->n_tls; i++) {
            const InfoTimeline *t = &info->tls[i];
            if (t->n_windows == 0)
                continue;
            const InfoWindow *first = &info->windows[t->first_window];
            const InfoWindow *last = &info->windows[t->first_window + t->n_windows - 1];
            char l[32];
            snprintf(l, sizeof l, "{tli=\"%" PRIu32 "\"}", t->t->tli);
            sample_i(o, names[which], l,
                     which == 0 ? first->reach.earliest_time : last->reach.latest_time);
        }
    }
}

static void render_objective(Out *o, const char *name, const InfoObjective *obj)
{
    if (!obj->set || !obj->measured)
        return;
    char l[32];
    snprintf(l, sizeof l, "{objective=\"%s\"}", name);
    sample_u(o, "pgpitr_drill_last_objective_met", l, obj->met ? 1 : 0);
}

static void render_drill(Out *o, const Info *info)
{
    const InfoDrill *d = &info->drill;
    head(o, "pgpitr_drill_last_success");
    if (d->found)
        sample_u(o, "pgpitr_drill_last_success", NULL, strcmp(d->status, "passed") == 0);
    head(o, "pgpitr_drill_last_age_seconds");
    if (d->found && d->started_t > 0)
        sample_i(o, "pgpitr_drill_last_age_seconds", NULL, info->now - d->started_t);
    head(o, "pgpitr_drill_last_rto_seconds");
    if (d->found && d->has_rto)
        sample_d(o, "pgpitr_drill_last_rto_seconds", NULL, d->rto_s);
    head(o, "pgpitr_drill_last_archive_freshness_seconds");
    if (d->found && d->has_objectives && d->obj_rpo.measured)
        sample_d(o, "pgpitr_drill_last_archive_freshness_seconds", NULL, d->obj_rpo.measured_s);
    head(o, "pgpitr_drill_last_objective_met");
    if (d->found && d->has_objectives) {
        render_objective(o, "rpo", &d->obj_rpo);
        render_objective(o, "rto", &d->obj_rto);
    }
}

static void render_settings(Out *o, const Info *info)
{
    const struct {
        const char *name;
        int64_t v;
    } s[] = {
        {"pgpitr_rpo_objective_seconds", info->rpo_objective_s},
        {"pgpitr_rto_objective_seconds", info->rto_objective_s},
        {"pgpitr_backup_max_age_seconds", info->backup_max_age_s},
        {"pgpitr_drill_max_age_seconds", info->drill_max_age_s},
    };
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++) {
        head(o, s[i].name);
        if (s[i].v > 0)
            sample_i(o, s[i].name, NULL, s[i].v);
    }
}

/* Backup file objects: what objects/ stores (a deduplicated object is one object; those no
 * backup references any more count until expire removes them; info_count_objects). WAL:
 * every archived file and history file the catalog lists. */
static int render_objects(Out *o, const Info *info, PgpErr *err)
{
    (void)err;
    uint64_t objs = info->backup_objects, bytes = info->backup_object_bytes;
    uint64_t wal_objs = info->cat.n_wal + info->cat.n_histories, wal_bytes = 0;
    for (size_t i = 0; i < info->cat.n_wal; i++)
        wal_bytes += info->cat.wal[i].stored_size;
    for (size_t i = 0; i < info->cat.n_histories; i++)
        wal_bytes += info->cat.histories[i].stored_size;
    head(o, "pgpitr_repository_objects");
    sample_u(o, "pgpitr_repository_objects", "{kind=\"backup\"}", objs);
    sample_u(o, "pgpitr_repository_objects", "{kind=\"wal\"}", wal_objs);
    head(o, "pgpitr_repository_bytes");
    sample_u(o, "pgpitr_repository_bytes", "{kind=\"backup\"}", bytes);
    sample_u(o, "pgpitr_repository_bytes", "{kind=\"wal\"}", wal_bytes);
    return 0;
}

/* Live and stale holders by kind ("unknown": a holder object that does not parse). */
static void render_locks(Out *o, const Info *info)
{
    head(o, "pgpitr_lock_holders");
    if (info->locks_unknown)
        return;
    for (size_t i = 0; i < info->n_locks; i++) {
        const RepoLockHolder *h = &info->locks[i];
        const char *kind = h->parsed && h->kind_name[0] ? h->kind_name : "unknown";
        bool seen = false;     /* counted with an earlier holder of the same kind and state */
        for (size_t j = 0; j < i && !seen; j++) {
            const RepoLockHolder *p = &info->locks[j];
            seen = p->alive == h->alive &&
                   strcmp(p->parsed && p->kind_name[0] ? p->kind_name : "unknown", kind) == 0;
        }
        if (seen)
            continue;
        uint64_t n = 0;
        for (size_t j = i; j < info->n_locks; j++) {
            const RepoLockHolder *p = &info->locks[j];
            n += p->alive == h->alive &&
                 strcmp(p->parsed && p->kind_name[0] ? p->kind_name : "unknown", kind) == 0;
        }
        char esc[80], l[128];
        metrics_label_escape(kind, esc, sizeof esc);
        snprintf(l, sizeof l, "{kind=\"%s\",state=\"%s\"}", esc, h->alive ? "live" : "stale");
        sample_u(o, "pgpitr_lock_holders", l, n);
    }
}

static void render_verify(Out *o, const Info *info)
{
    const VerifySummary *v = &info->verify;
    head(o, "pgpitr_verify_last_timestamp_seconds");
    if (v->found)
        sample_i(o, "pgpitr_verify_last_timestamp_seconds", NULL, v->finished);
    head(o, "pgpitr_verify_last_objects");
    if (v->found)
        sample_u(o, "pgpitr_verify_last_objects", NULL, v->objects);
    head(o, "pgpitr_verify_last_errors");
    if (v->found)
        sample_u(o, "pgpitr_verify_last_errors", NULL, v->errors);
}

/* ---- the database host --------------------------------------------------------------------- */

static void render_pg(Out *o, const MetricsInput *in)
{
    const MetricsPg *pg = &in->pg;
    bool ok = pg->asked && pg->up;
    head(o, "pgpitr_pg_up");
    if (pg->asked)
        sample_u(o, "pgpitr_pg_up", NULL, pg->up);
    head(o, "pgpitr_archive_archived_total");
    if (ok)
        sample_u(o, "pgpitr_archive_archived_total", NULL, pg->archived_count);
    head(o, "pgpitr_archive_failures_total");
    if (ok)
        sample_u(o, "pgpitr_archive_failures_total", NULL, pg->failed_count);
    head(o, "pgpitr_archive_last_failure_age_seconds");
    if (ok && pg->has_last_failed)
        sample_i(o, "pgpitr_archive_last_failure_age_seconds", NULL, in->now - pg->last_failed);
    head(o, "pgpitr_archive_failing");
    if (ok)
        sample_u(o, "pgpitr_archive_failing", NULL, pg->failing);
    head(o, "pgpitr_archive_ready_files");
    if (in->ready.have)
        sample_u(o, "pgpitr_archive_ready_files", NULL, in->ready.files);
    head(o, "pgpitr_archive_ready_bytes");
    if (in->ready.have)
        sample_u(o, "pgpitr_archive_ready_bytes", NULL, in->ready.bytes);
    head(o, "pgpitr_archive_push_failing_seconds");
    if (in->ready.have)
        sample_i(o, "pgpitr_archive_push_failing_seconds", NULL,
                 in->ready.push_failing && in->now > in->ready.push_failing_since
                     ? in->now - in->ready.push_failing_since : 0);
}

static int render_all(Out *o, const MetricsInput *in, PgpErr *err)
{
    const Info *info = in->up ? in->info : NULL;
    head(o, "pgpitr_up");
    sample_u(o, "pgpitr_up", NULL, in->up);
    head(o, "pgpitr_metrics_timestamp_seconds");
    sample_i(o, "pgpitr_metrics_timestamp_seconds", NULL, in->now);
    head(o, "pgpitr_repository_bound");
    if (info)
        sample_u(o, "pgpitr_repository_bound", NULL, info->cat.bound);
    if (info)
        render_archive(o, info);
    render_pg(o, in);
    if (info) {
        render_backups(o, info);
        render_windows(o, info);
        render_drill(o, info);
        render_settings(o, info);
        if (render_objects(o, info, err) != 0)
            return err->code;
        render_locks(o, info);
        render_verify(o, info);
    }
    head(o, NULL);   /* the families left: HELP and TYPE without samples */
    return 0;
}

int metrics_render(const MetricsInput *in, char **out, PgpErr *err)
{
    *out = NULL;
    size_t len = 0;
    Out o = {.f = open_memstream(out, &len)};
    if (o.f == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    int rc = render_all(&o, in, err);
    if (fclose(o.f) != 0 && rc == 0)
        rc = PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    if (rc != 0) {
        free(*out);
        *out = NULL;
    }
    return rc;
}
