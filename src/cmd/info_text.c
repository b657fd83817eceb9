/*
 * info_text.c - `pgpitr info` for people (info.h): sections with headings, every line at
 * most INFO_WIDTH columns (long lines are wrapped, never cut silently), problems in capitals
 * (GAP, CUT, INCOMPLETE, CORRUPT, NOT RESTORABLE, DEAD) so they stand out at 3 a.m. Also the pure
 * formatting helpers (sizes, durations, ages, wrapping). Only formats the model.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "pgpitr/cmd/info.h"

#define LINE_MAX_BYTES 2048

/* ---- helpers ------------------------------------------------------------------------------- */

void info_format_size(uint64_t bytes, char out[INFO_SIZE_MAX])
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    if (bytes < 1024) {
        snprintf(out, INFO_SIZE_MAX, "%" PRIu64 " B", bytes);
        return;
    }
    double v = (double)bytes / 1024.0;
    size_t u = 0;
    /* move up when the rounded value would print as 1024.0 */
    while (u + 1 < sizeof units / sizeof units[0] && v >= 1023.95) {
        v /= 1024.0;
        u++;
    }
    snprintf(out, INFO_SIZE_MAX, "%.1f %s", v, units[u]);
}

void info_format_duration(int64_t secs, char out[INFO_DURATION_MAX])
{
    if (secs < 0)
        snprintf(out, INFO_DURATION_MAX, "-");
    else if (secs < 60)
        snprintf(out, INFO_DURATION_MAX, "%" PRId64 "s", secs);
    else if (secs < 3600)
        snprintf(out, INFO_DURATION_MAX, "%" PRId64 "m %02" PRId64 "s", secs / 60, secs % 60);
    else if (secs < 86400)
        snprintf(out, INFO_DURATION_MAX, "%" PRId64 "h %02" PRId64 "m", secs / 3600,
                 secs % 3600 / 60);
    else
        snprintf(out, INFO_DURATION_MAX, "%" PRId64 "d %02" PRId64 "h", secs / 86400,
                 secs % 86400 / 3600);
}

void info_format_age(int64_t now, int64_t then, char out[INFO_DURATION_MAX + 16])
{
    char d[INFO_DURATION_MAX];
    if (now == then) {
        snprintf(out, INFO_DURATION_MAX + 16, "just now");
        return;
    }
    info_format_duration(now > then ? now - then : then - now, d);
    snprintf(out, INFO_DURATION_MAX + 16, "%s %s", d, now > then ? "ago" : "in the future");
}

void info_print_wrapped(FILE *out, size_t width, size_t indent, const char *text)
{
    size_t col, lead = 0;
    if (indent + 8 >= width)   /* programmer error: keep the loop finite anyway */
        indent = 0;
    while (text[lead] == ' ')
        lead++;
    fwrite(text, 1, lead, out);         /* the first line keeps its own indentation */
    col = lead;
    const char *p = text + lead;
    bool first_word = true;
    while (*p != '\0') {
        size_t gap = strspn(p, " ");     /* spaces inside a line are kept (alignment) */
        p += gap;
        if (*p == '\0')
            break;
        size_t n = strcspn(p, " ");
        const char *word = p;
        p += n;
        while (n > 0) {
            size_t sep = first_word ? 0 : gap;
            size_t avail = width > col + sep ? width - col - sep : 0;
            if ((!first_word && n > avail) || avail == 0) {   /* go on on the next line */
                fprintf(out, "\n%*s", (int)indent, "");
                col = indent;
                first_word = true;
                continue;
            }
            size_t take = n < avail ? n : avail;   /* a word longer than a line is cut */
            fprintf(out, "%*s", (int)sep, "");
            fwrite(word, 1, take, out);
            col += sep + take;
            word += take;
            n -= take;
            first_word = false;
        }
    }
    fputc('\n', out);
}

static void line(FILE *out, size_t indent, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void line(FILE *out, size_t indent, const char *fmt, ...)
{
    char buf[LINE_MAX_BYTES];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    info_print_wrapped(out, INFO_WIDTH, indent, buf);
}

static void segname(const Info *info, uint32_t tli, uint64_t segno, char out[PG_WALNAME_SEG_LEN + 1])
{
    pg_walname_format(tli, segno, info->cat.id.wal_segsize, out);
}

/* ---- sections ------------------------------------------------------------------------------ */

static void print_cluster(const Info *info, FILE *out)
{
    char seg[INFO_SIZE_MAX];
    info_format_size(info->cat.id.wal_segsize, seg);
    fputs("\nCLUSTER\n", out);
    line(out, 4, "  system identifier:  %" PRIu64, info->cat.id.system_identifier);
    line(out, 4, "  PostgreSQL:         %d", info->cat.id.pg_major);
    line(out, 4, "  WAL segment size:   %s", seg);
}

static void print_complete(const Info *info, size_t i, FILE *out)
{
    const BackupManifest *m = info->cat.backups[i].manifest;
    char t0[32], t1[32], l0[20], l1[20], took[INFO_DURATION_MAX];
    char size[INFO_SIZE_MAX], stored[INFO_SIZE_MAX], added[INFO_SIZE_MAX];
    catalog_format_time(m->start_time, t0);
    catalog_format_time(m->stop_time, t1);
    pg_lsn_format(m->start_lsn, l0);
    pg_lsn_format(m->stop_lsn, l1);
    info_format_duration(m->stop_time - m->start_time, took);
    info_format_size(m->size, size);
    info_format_size(m->stored_size, stored);
    info_format_size(m->new_stored_size, added);
    line(out, 6, "  %s: complete, timeline %" PRIu32 ", took %s", m->label, m->timeline, took);
    line(out, 6, "    start:  %s  LSN %s", t0, l0);
    line(out, 6, "    stop:   %s  LSN %s", t1, l1);
    line(out, 6, "    size:   %s, stored %s (new in this backup %s)", size, stored, added);
    if (m->source != NULL)
        line(out, 6, "    taken on the standby %s (primary %s)", m->source->server,
             m->source->primary);
    const InfoBackup *ib = &info->backups[i];
    if (!ib->restorable) {
        char seg[PG_WALNAME_SEG_LEN + 1];
        segname(info, ib->missing_tli ? ib->missing_tli : m->timeline, ib->missing_segno, seg);
        line(out, 6, "    NOT RESTORABLE: WAL segment %s, needed to reach the end of the "
             "backup, is not archived", seg);
    }
}

/* "pid 4242 on host db1, since 2026-11-22T02:00:01Z": what the holder object says. */
static void holder_who(const RepoLockHolder *h, char *out, size_t size)
{
    char since[32], q[PGP_QUOTE_BUF];
    catalog_format_time(h->since, since);
    snprintf(out, size, "pid %ld on host %s, since %s", h->pid, pgp_quote(h->host, q), since);
}

static void print_incomplete(const Info *info, size_t i, FILE *out)
{
    const CatalogBackup *b = &info->cat.backups[i];
    const RepoLockHolder *h = info->backups[i].running;
    char when[32], age[INFO_DURATION_MAX + 16], who[PGP_QUOTE_BUF + 128];
    catalog_format_time(b->dir_mtime, when);
    info_format_age(info->now, b->dir_mtime, age);
    if (h != NULL) {
        holder_who(h, who, sizeof who);
        line(out, 6, "  %s: running (%s)", b->label, who);
        line(out, 6, "    no manifest.json yet; last change %s (%s)", when, age);
        return;
    }
    if (info->locks_unknown)
        line(out, 6, "  %s: INCOMPLETE (no manifest.json: running, failed or interrupted; the "
             "locks could not be read)", b->label);
    else
        line(out, 6, "  %s: INCOMPLETE, failed or interrupted (removed by the next backup or "
             "expire)", b->label);
    line(out, 6, "    last change %s (%s)", when, age);
}

static void print_backups(const Info *info, FILE *out)
{
    size_t n[3] = {0, 0, 0}, running = 0;
    for (size_t i = 0; i < info->cat.n_backups; i++) {
        n[info->cat.backups[i].status]++;
        running += info->backups[i].running != NULL;
    }
    char nrun[32] = "";
    if (running > 0)
        snprintf(nrun, sizeof nrun, " (%zu running)", running);
    fputs("\n", out);
    line(out, 2, "BACKUPS: %zu complete, %zu incomplete%s, %zu corrupt", n[0], n[1], nrun, n[2]);
    if (info->cat.n_backups == 0)
        line(out, 4, "  none: take one with pgpitr backup");
    for (size_t i = 0; i < info->cat.n_backups; i++) {
        const CatalogBackup *b = &info->cat.backups[i];
        if (b->status == CATALOG_BACKUP_COMPLETE) {
            print_complete(info, i, out);
        } else if (b->status == CATALOG_BACKUP_INCOMPLETE) {
            print_incomplete(info, i, out);
        } else {
            line(out, 6, "  %s: CORRUPT (manifest.json does not load)", b->label);
            line(out, 6, "    why: %s", b->error);
        }
    }
}

static void print_history(const InfoTimeline *it, FILE *out)
{
    const CatalogTimeline *t = it->t;
    if (t->tli == 1)
        line(out, 6, "  timeline 1");
    else if (t->history_bad)
        line(out, 6, "  timeline %" PRIu32 ": history file BAD: %s", t->tli, t->error);
    else if (!t->history_found)
        line(out, 6, "  timeline %" PRIu32 ": history file MISSING (restore cannot follow this "
             "timeline's switch point)", t->tli);
    else {
        char desc[256];
        pg_timeline_describe(&t->history, desc, sizeof desc);
        line(out, 6, "  timeline %" PRIu32 ": history %s", t->tli, desc);
    }
}

/* Where it forked off and when it last received WAL: which timeline production is on. */
static void print_activity(const Info *info, const InfoTimeline *it, FILE *out)
{
    const TlActivity *a = it->act;
    if (a == NULL)
        return;
    char fork[20], when[32], age[INFO_DURATION_MAX + 16];
    if (a->parent != 0) {
        pg_lsn_format(a->fork_lsn, fork);
        line(out, 6, "    forked off timeline %" PRIu32 " at %s", a->parent, fork);
    }
    if (!a->has_last)
        return;
    catalog_format_time(a->last, when);
    info_format_age(info->now, a->last, age);
    bool prod = info->production.known && info->production.tli == a->tli;
    line(out, 6, "    last archived %s (%s)%s", when, age, prod ? ": production's timeline" : "");
}

static void print_timeline(const Info *info, const InfoTimeline *it, FILE *out)
{
    print_history(it, out);
    print_activity(info, it, out);
    char a[PG_WALNAME_SEG_LEN + 1], b[PG_WALNAME_SEG_LEN + 1], size[INFO_SIZE_MAX];
    info_format_size(it->t->stored_size, size);
    if (it->has_segments) {
        segname(info, it->t->tli, it->first_segno, a);
        segname(info, it->t->tli, it->last_segno, b);
        line(out, 6, "    segments: %s..%s", a, b);
    }
    line(out, 6, "    %" PRIu64 " segment%s, %s stored; %zu .partial, %zu .backup file%s",
         it->t->n_segments, it->t->n_segments == 1 ? "" : "s", size, it->n_partial,
         it->n_backup_files, it->n_backup_files == 1 ? "" : "s");
    for (size_t g = 0; g < it->n_gaps; g++) {
        const CatalogGap *gap = &info->gaps[it->first_gap + g];
        segname(info, gap->tli, gap->from_segno, a);
        segname(info, gap->tli, gap->to_segno, b);
        line(out, 6, "    GAP: %s..%s (%" PRIu64 " missing)", a, b,
             gap->to_segno - gap->from_segno + 1);
    }
    if (it->n_conflicts > 0)
        line(out, 6, "    CONFLICT: %zu objects claim a name with different content "
             "(archive-get refuses them)", it->n_conflicts);
}

static void print_archive(const Info *info, FILE *out)
{
    fputs("\nARCHIVE\n", out);
    if (info->newest != NULL) {
        char when[32], age[INFO_DURATION_MAX + 16];
        catalog_format_time(info->newest->mtime, when);
        info_format_age(info->now, info->newest->mtime, age);
        line(out, 4, "  newest segment: %s", info->newest->name);
        line(out, 4, "    archived %s (%s)", when, age);
    } else {
        line(out, 4, "  no WAL segment archived yet (check archive_command)");
    }
    const TlProduction *p = &info->production;
    if (p->known) {
        char warn[640];
        line(out, 4, "  production's timeline: %" PRIu32 " (the most recently archived WAL)",
             p->tli);
        tl_production_warning(p, true, p->tli, p->latest, warn, sizeof warn);
        if (warn[0] != '\0')
            line(out, 4, "  WARNING: %s", warn);
        tl_production_fork_warning(&info->activity, p->tli, info->now,
                                   info->cat.id.wal_segsize, warn, sizeof warn);
        if (warn[0] != '\0')
            line(out, 4, "  WARNING: %s", warn);
    }
    for (size_t i = 0; i < info->n_tls; i++)
        print_timeline(info, &info->tls[i], out);
}

static void print_window(const Info *info, const InfoWindow *w, bool last, FILE *out)
{
    const CatalogReach *r = &w->reach;
    char t0[32], t1[32], l0[20], l1[20], seg[PG_WALNAME_SEG_LEN + 1];
    catalog_format_time(r->earliest_time, t0);
    catalog_format_time(r->latest_time, t1);
    pg_lsn_format(r->earliest_lsn, l0);
    pg_lsn_format(r->latest_lsn, l1);
    line(out, 6, "  timeline %" PRIu32 ", from backup %s:", w->tli, w->from->label);
    line(out, 14, "    earliest: %s  LSN %s (end of the backup)", t0, l0);
    const CatalogTimeline *t = catalog_timeline(&info->cat, w->tli);
    segname(info, pg_timeline_of_segno(&t->history, r->end_segno, info->cat.id.wal_segsize),
            r->end_segno, seg);
    line(out, 14, "    latest:   %s  LSN %s", t1, l1);
    if (r->ends_at_backup)
        line(out, 14, "              (end of %s; archived before the backup ended: its end is "
             "the latest time)", seg);
    else
        line(out, 14, "              (end of %s; time = when it was archived)", seg);
    if (!w->cut)
        return;
    segname(info, r->missing_tli, r->missing_segno, seg);
    line(out, 6, "    CUT: segment %s is missing", seg);
    if (w->has_resume) {
        segname(info, w->resume_tli, w->resume_segno, seg);
        line(out, 6, "    archived WAL resumes at %s", seg);
    }
    if (last)
        line(out, 6, "    no backup after the gap: take one (pgpitr backup) to recover past it");
}

static void print_windows(const Info *info, FILE *out)
{
    fputs("\nRECOVERABLE\n", out);
    for (size_t i = 0; i < info->n_tls; i++) {
        const InfoTimeline *it = &info->tls[i];
        if (it->n_windows == 0)
            line(out, 6, "  timeline %" PRIu32 ": NOTHING recoverable (no restorable backup "
                 "reaches it)", it->t->tli);
        for (size_t k = 0; k < it->n_windows; k++)
            print_window(info, &info->windows[it->first_window + k], k + 1 == it->n_windows,
                         out);
    }
    if (info->n_tls == 0)
        line(out, 4, "  nothing: no backup and no archived WAL");
}

static void print_drill(const Info *info, FILE *out)
{
    const InfoDrill *d = &info->drill;
    fputs("\nLATEST DRILL\n", out);
    if (!d->found) {
        line(out, 4, "  none: prove a restore with pgpitr drill");
        return;
    }
    char age[INFO_DURATION_MAX + 16] = "";
    if (d->started_t != 0)
        info_format_age(info->now, d->started_t, age);
    line(out, 4, "  %s: %s%s%s%s", d->id, strcmp(d->status, "passed") == 0 ? "PASSED" : "FAILED",
         age[0] ? " (started " : "", age, age[0] ? ")" : "");
    line(out, 4, "    finished %s", d->finished[0] ? d->finished : "-");
    if (d->has_rto)
        line(out, 4, "    measured RTO %.1f s", d->rto_s);
}

static void print_lock(const Info *info, const RepoLockHolder *h, FILE *out)
{
    char q[PGP_QUOTE_BUF], age[INFO_DURATION_MAX + 16];
    if (!h->parsed) {
        info_format_age(info->now, h->mtime, age);
        line(out, 6, "  UNREADABLE lock object \"%s\", last changed %s", pgp_quote(h->path, q),
             age);
        if (h->alive)
            line(out, 6, "    blocks every command that takes a lock until unchanged for %d s",
                 REPO_LOCK_STALE_DEFAULT);
        else
            line(out, 6, "    DEAD: removed by the next command that takes a lock");
        return;
    }
    char who[PGP_QUOTE_BUF + 128], label[PGP_QUOTE_BUF + 1] = "", cmd[PGP_QUOTE_BUF];
    holder_who(h, who, sizeof who);
    if (h->label[0] != '\0')
        snprintf(label, sizeof label, " %s", pgp_quote(h->label, q));
    pgp_quote(h->command, cmd);
    info_format_age(info->now, h->heartbeat, age);
    line(out, 6, "  %s lock, %s%s: %s (last heartbeat %s)", pgp_quote(h->kind_name, q), cmd,
         label, h->alive ? "live" : "DEAD", age);
    if (h->alive)
        line(out, 6, "    %s", who);
    else
        line(out, 6, "    %s; the process is gone: the next command that conflicts takes the "
             "lock over", who);
}

static void print_locks(const Info *info, FILE *out)
{
    fputs("\nLOCKS\n", out);
    if (info->locks_unknown)
        line(out, 4, "  UNKNOWN: the lock objects could not be read (see the warning)");
    else if (info->n_locks == 0)
        line(out, 4, "  none: no backup, expire, verify, restore or drill is running");
    for (size_t i = 0; i < info->n_locks; i++)
        print_lock(info, &info->locks[i], out);
}

static void print_lease(const Info *info, const LeaseEntry *e, FILE *out)
{
    char q[PGP_QUOTE_BUF], q2[PGP_QUOTE_BUF], age[INFO_DURATION_MAX + 16];
    if (!e->parsed) {
        info_format_age(info->now, e->mtime, age);
        line(out, 6, "  UNREADABLE lease \"%s\" (%s), last changed %s", pgp_quote(e->path, q),
             pgp_quote(e->error, q2), age);
        line(out, 6, "    %s", e->state == LEASE_STALE
                                   ? "STALE: the next expire removes it"
                                   : "keeps every WAL file from expire until unchanged for a day");
        return;
    }
    const Lease *l = &e->lease;
    line(out, 6, "  %s: host %s, data directory \"%s\"", e->state == LEASE_LIVE ? "live" : "STALE",
         pgp_quote(l->host, q), pgp_quote(l->datadir, q2));
    info_format_age(info->now, l->renewed, age);
    line(out, 6, "    needs WAL from %s on (every timeline); written by %s, renewed %s",
         l->wal, l->created_by, age);
    if (e->state == LEASE_LIVE) {
        info_format_duration(l->expires - info->now, age);
        line(out, 6, "    expire keeps that WAL; the lease expires in %s unless renewed", age);
    } else {
        info_format_age(info->now, l->expires, age);
        line(out, 6, "    expired %s: ignored, the next expire removes it", age);
    }
}

static void print_leases(const Info *info, FILE *out)
{
    fputs("\nRECOVERY LEASES\n", out);
    if (info->leases_unknown)
        line(out, 4, "  UNKNOWN: the lease objects could not be read (see the warning)");
    else if (info->n_leases == 0)
        line(out, 4, "  none: no running recovery keeps WAL from expire");
    for (size_t i = 0; i < info->n_leases; i++)
        print_lease(info, &info->leases[i], out);
}

static void print_foreign(const Info *info, FILE *out)
{
    const Catalog *c = &info->cat;
    if (c->n_foreign == 0)
        return;
    fputs("\n", out);
    line(out, 4, "WARNING: %zu entr%s pgpitr does not recognize (not used):", c->n_foreign,
         c->n_foreign == 1 ? "y" : "ies");
    for (size_t i = 0; i < c->n_foreign && i < CATALOG_FOREIGN_MAX; i++) {
        char q[PGP_QUOTE_BUF];
        line(out, 4, "  \"%s\"", pgp_quote(c->foreign[i], q));
    }
}

void info_print_text(const Info *info, FILE *out)
{
    char now[32];
    catalog_format_time(info->now, now);
    char q[PGP_QUOTE_BUF];
    line(out, 2, "pgpitr info: repository \"%s\" at %s", pgp_quote(info->repo_path, q), now);
    if (!info->cat.bound) {
        line(out, 2, "the repository is empty: no repo.json yet (nothing archived or backed "
             "up); set archive_command to pgpitr archive-push and take a backup");
        return;
    }
    print_cluster(info, out);
    print_backups(info, out);
    print_locks(info, out);
    print_leases(info, out);
    print_archive(info, out);
    print_windows(info, out);
    print_drill(info, out);
    print_foreign(info, out);
}
