/*
 * expire_print.c - the plan of `pgpitr expire` as text for the operator and as JSON for
 * machines (layout: docs/expire.md, docs/expire.schema.json). Both render only the plan, so
 * a dry run and a real run print the same thing; the caller adds the line saying whether
 * anything was removed.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "pgpitr/cmd/cmd.h"
#include "pgpitr/repo/expire_plan.h"
#include "pgpitr/pg/walname.h"

static void human_bytes(uint64_t b, char out[32])
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = (double)b;
    size_t u = 0;
    while (v >= 1024 && u + 1 < sizeof units / sizeof units[0]) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(out, 32, "%" PRIu64 " B", b);
    else
        snprintf(out, 32, "%.1f %s", v, units[u]);
}

static void policy_text(const RetentionPolicy *p, char *out, size_t size)
{
    const struct { const char *name; unsigned v; } items[] = {
        {"retain-full", p->full}, {"retain-days", p->days}, {"retain-daily", p->daily},
        {"retain-weekly", p->weekly}, {"retain-monthly", p->monthly},
    };
    out[0] = '\0';
    size_t len = 0;
    for (size_t i = 0; i < sizeof items / sizeof items[0]; i++) {
        if (items[i].v == 0 || len >= size)
            continue;
        int n = snprintf(out + len, size - len, "%s%s %u", len ? ", " : "", items[i].name,
                         items[i].v);
        if (n > 0)
            len += (size_t)n;
    }
}

static void cutoff_name(const ExpirePlan *p, const Catalog *c, char out[PG_WALNAME_SEG_LEN + 1])
{
    uint32_t tli = p->window_backup ? p->window_backup->manifest->timeline : 1;
    pg_walname_format(tli, expire_plan_wal_cutoff(p), c->id.wal_segsize, out);
}

/* A segment on every timeline, written the way WAL file names write it (hex, the name without
 * its timeline): "000000000000001A", never 26 beside names that say 1A. */
static void segment_text(uint64_t segno, uint32_t segsize, char out[PG_WALNAME_SEG_LEN + 1])
{
    char name[PG_WALNAME_SEG_LEN + 1];
    pg_walname_format(1, segno, segsize, name);
    memcpy(out, name + 8, PG_WALNAME_SEG_LEN - 8 + 1);
}

static bool leases_lower_cutoff(const ExpirePlan *p)
{
    return p->retention.has_cutoff && expire_plan_wal_cutoff(p) < p->retention.wal_cutoff;
}

static void print_lease(const ExpireLease *l, FILE *f)
{
    const LeaseEntry *e = &l->e;
    char t1[32], t2[32], q1[PGP_QUOTE_BUF], q2[PGP_QUOTE_BUF];
    if (!e->parsed) {
        fprintf(f, "  %-10s  \"%s\" (%s)\n              %s\n", lease_state_name(e->state), e->path,
                pgp_quote(e->error, q1), l->remove ? "unchanged for a day: removed"
                : "position unknown: holds back all WAL until unchanged for a day");
        return;
    }
    catalog_format_time(e->lease.renewed, t1);
    catalog_format_time(e->lease.expires, t2);
    fprintf(f, "  %-10s  host %s, data directory \"%s\"\n", lease_state_name(e->state),
            pgp_quote(e->lease.host, q1), pgp_quote(e->lease.datadir, q2));
    fprintf(f, "              needs %s on, renewed %s, %s %s: %s\n", e->lease.wal, t1,
            l->remove ? "expired" : "expires", t2,
            l->remove ? "ignored, removed" : l->holds ? "holds WAL back" : "holds nothing back");
}

static void print_leases(const ExpirePlan *p, FILE *f)
{
    if (p->n_leases == 0)
        return;
    fprintf(f, "recovery leases (%zu):\n", p->n_leases);
    for (size_t i = 0; i < p->n_leases; i++)
        print_lease(&p->leases[i], f);
}

static void print_backups(const ExpirePlan *p, FILE *f)
{
    fprintf(f, "backups (%zu kept, %zu removed):\n", p->retention.n_keep, p->retention.n_remove);
    for (size_t i = 0; i < p->n_backups; i++) {
        const ExpireBackup *eb = &p->backups[i];
        const BackupManifest *m = eb->b->manifest;
        char stop[32], lsn[20], why[RETENTION_REASONS_MAX * (RETENTION_REASON_LEN + 2)] = "";
        catalog_format_time(m->stop_time, stop);
        pg_lsn_format(m->stop_lsn, lsn);
        for (size_t r = 0; r < eb->d->n_reasons; r++) {
            if (r > 0)
                strcat(why, ", ");
            strcat(why, eb->d->reasons[r]);
        }
        fprintf(f, "  %-6s  %s  timeline %" PRIu32 "  stop %s  %s  %s\n",
                eb->d->keep ? "keep" : "remove", eb->b->label, m->timeline, stop, lsn,
                eb->d->keep ? why : "not kept by any policy");
    }
}

static void print_window(const ExpirePlan *p, FILE *f)
{
    if (p->window_backup == NULL) {
        fputs("recoverable window after expire: none (no complete backup)\n", f);
        return;
    }
    const BackupManifest *m = p->window_backup->manifest;
    char from[32], lsn[20], to[32];
    catalog_format_time(m->stop_time, from);
    pg_lsn_format(m->stop_lsn, lsn);
    fprintf(f, "recoverable window after expire: from %s (end of backup %s, lsn %s) to ", from,
            p->window_backup->label, lsn);
    if (p->latest_wal == NULL) {
        fputs("- (no archived WAL)\n", f);
        return;
    }
    catalog_format_time(p->window.to_time, to);
    if (p->window.ends_at_backup)
        fprintf(f, "%s (the backup's end: no WAL archived after it ended, latest archived WAL "
                   "%s)\n", to, p->latest_wal->name);
    else
        fprintf(f, "%s (latest archived WAL %s)\n", to, p->latest_wal->name);
}

int expire_plan_print_text(const ExpirePlan *p, const Catalog *c, bool dry_run, FILE *f,
                           PgpErr *err)
{
    char now[32], pol[160], b1[32], b2[32];
    catalog_format_time(p->now, now);
    policy_text(&p->policy, pol, sizeof pol);
    fprintf(f, "expire plan at %s%s, policy: %s\n", now, dry_run ? " (dry run)" : "", pol);
    print_backups(p, f);
    for (size_t i = 0; i < p->n_incomplete; i++) {
        human_bytes(p->incomplete[i].dir_bytes, b1);
        fprintf(f, "  remove  %s  incomplete (no manifest.json: a failed or interrupted "
                   "backup), %s\n", p->incomplete[i].label, b1);
    }
    human_bytes(p->object_bytes, b1);
    fprintf(f, "objects: remove %zu (%s), keep %zu\n", p->n_objects, b1, p->n_objects_kept);
    human_bytes(p->wal_bytes, b1);
    if (p->retention.has_cutoff) {
        char cut[PG_WALNAME_SEG_LEN + 1], seg[PG_WALNAME_SEG_LEN + 1];
        cutoff_name(p, c, cut);
        segment_text(expire_plan_wal_cutoff(p), c->id.wal_segsize, seg);
        fprintf(f, "wal: remove %zu files (%s) before %s (segment %s on every timeline), "
                   "keep %zu\n", p->n_wal, b1, cut, seg, p->n_wal_kept);
        segment_text(p->retention.wal_cutoff, c->id.wal_segsize, seg);
        if (leases_lower_cutoff(p))
            fprintf(f, "  recovery leases lower the cut-off from segment %s: %zu WAL "
                       "file(s) kept for running recoveries\n", seg, p->n_wal_leased);
        if (p->n_dropped > 0)
            fprintf(f, "  and %zu record(s) of segments archive-push dropped below it\n",
                    p->n_dropped);
    } else {
        fprintf(f, "wal: remove nothing (no backup), keep %zu\n", p->n_wal_kept);
    }
    print_leases(p, f);
    human_bytes(expire_plan_bytes_freed(p), b2);
    fprintf(f, "bytes freed: %" PRIu64 " (%s)\n", expire_plan_bytes_freed(p), b2);
    print_window(p, f);
    if (fflush(f) != 0 || ferror(f))
        return PGP_FAIL_SYS(err, errno, "cannot write the expire plan");
    return 0;
}

/* ---- JSON ------------------------------------------------------------------------------- */

static json_t *count_or_null(unsigned v)
{
    return v ? json_integer(v) : json_null();
}

static json_t *backup_json(const ExpireBackup *eb)
{
    const BackupManifest *m = eb->b->manifest;
    json_t *reasons = json_array();
    for (size_t r = 0; reasons && r < eb->d->n_reasons; r++)
        json_array_append_new(reasons, json_string(eb->d->reasons[r]));
    return json_pack("{s:s, s:s, s:I, s:o, s:o, s:o, s:o, s:o, s:I}", "label", eb->b->label,
                     "action", eb->d->keep ? "keep" : "remove", "timeline", (json_int_t)m->timeline,
                     "start_lsn", repo_json_lsn(m->start_lsn),
                     "stop_lsn", repo_json_lsn(m->stop_lsn),
                     "stop_time", repo_json_time(m->stop_time), "reasons", reasons,
                     "newest", json_boolean(eb->d->why & RETENTION_WHY_NEWEST),
                     "bytes_freed", (json_int_t)eb->dir_bytes);
}

static json_t *window_json(const ExpirePlan *p)
{
    if (p->window_backup == NULL)
        return json_null();
    const BackupManifest *m = p->window_backup->manifest;
    const CatalogWal *w = p->latest_wal;
    return json_pack("{s:s, s:o, s:o, s:o, s:o}", "from_backup", p->window_backup->label,
                     "from_time", repo_json_time(m->stop_time),
                     "from_lsn", repo_json_lsn(m->stop_lsn),
                     "to_time", w ? repo_json_time(p->window.to_time) : json_null(),
                     "to_wal", w ? json_string(w->name) : json_null());
}

static json_t *wal_json(const ExpirePlan *p, const Catalog *c)
{
    char cut[PG_WALNAME_SEG_LEN + 1];
    cutoff_name(p, c, cut);
    bool has = p->retention.has_cutoff;
    uint64_t segno = expire_plan_wal_cutoff(p);
    return json_pack("{s:o, s:o, s:o, s:o, s:I, s:I, s:I, s:I, s:I}",
                     "cutoff_segno", has ? json_integer((json_int_t)segno) : json_null(),
                     "cutoff_walname", has ? json_string(cut) : json_null(),
                     "cutoff_lsn", has ? repo_json_lsn(segno * (uint64_t)c->id.wal_segsize)
                                       : json_null(),
                     "policy_cutoff_segno",
                     has ? json_integer((json_int_t)p->retention.wal_cutoff) : json_null(),
                     "remove", (json_int_t)p->n_wal, "remove_bytes", (json_int_t)p->wal_bytes,
                     "keep", (json_int_t)p->n_wal_kept, "kept_for_leases",
                     (json_int_t)p->n_wal_leased, "remove_dropped_records",
                     (json_int_t)p->n_dropped);
}

static json_t *lease_json(const ExpireLease *l)
{
    json_t *j = repo_json_lease(&l->e);
    if (j != NULL && (json_object_set_new(j, "holds_wal", json_boolean(l->holds)) != 0 ||
                      json_object_set_new(j, "action", json_string(l->remove ? "remove"
                                                                             : "keep")) != 0)) {
        json_decref(j);
        j = NULL;
    }
    return j;
}

int expire_plan_to_json(const ExpirePlan *p, const Catalog *c, bool dry_run, json_t **out,
                        PgpErr *err)
{
    json_t *backups = json_array(), *incomplete = json_array(), *leases = json_array();
    for (size_t i = 0; leases && i < p->n_leases; i++)
        json_array_append_new(leases, lease_json(&p->leases[i]));
    for (size_t i = 0; backups && i < p->n_backups; i++)
        json_array_append_new(backups, backup_json(&p->backups[i]));
    for (size_t i = 0; incomplete && i < p->n_incomplete; i++)
        json_array_append_new(incomplete,
                              json_pack("{s:s, s:I}", "label", p->incomplete[i].label,
                                        "bytes_freed", (json_int_t)p->incomplete[i].dir_bytes));
    json_t *policy = json_pack("{s:o, s:o, s:o, s:o, s:o}", "retain_full",
                               count_or_null(p->policy.full), "retain_days",
                               count_or_null(p->policy.days), "retain_daily",
                               count_or_null(p->policy.daily), "retain_weekly",
                               count_or_null(p->policy.weekly), "retain_monthly",
                               count_or_null(p->policy.monthly));
    json_t *objects = json_pack("{s:I, s:I, s:I}", "remove", (json_int_t)p->n_objects,
                                "remove_bytes", (json_int_t)p->object_bytes, "keep",
                                (json_int_t)p->n_objects_kept);
    *out = json_pack("{s:i, s:b, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:I, s:o}", "format", 1,
                     "dry_run", dry_run, "now", repo_json_time(p->now), "policy", policy,
                     "backups", backups, "incomplete_backups", incomplete, "objects", objects,
                     "wal", wal_json(p, c), "leases", leases,
                     "bytes_freed", (json_int_t)expire_plan_bytes_freed(p),
                     "window", window_json(p));
    if (*out == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory building the expire report");
    return 0;
}
