/*
 * info_text.c - `pgpitr info` for people (info.h): sections with headings, every line at
 * most INFO_WIDTH columns (long lines are wrapped, never cut silently), problems in capitals
 * (GAP, CUT, INCOMPLETE, CORRUPT, NOT RESTORABLE, DEAD) so they stand out at 3 a.m. Only
 * formats the model: the archive and the recoverable windows are info_text_archive.c's, the
 * formatting helpers (sizes, durations, ages, wrapping) info_format.c's.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "pgpitr/cmd/info.h"
#include "info_text_impl.h"

/* ---- sections ------------------------------------------------------------------------------ */

static void print_cluster(const Info *info, FILE *out)
{
    char seg[INFO_SIZE_MAX];
    info_format_size(info->cat.id.wal_segsize, seg);
    fputs("\nCLUSTER\n", out);
    info_line(out, 4, "  system identifier:  %" PRIu64, info->cat.id.system_identifier);
    info_line(out, 4, "  PostgreSQL:         %d", info->cat.id.pg_major);
    info_line(out, 4, "  WAL segment size:   %s", seg);
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
    info_line(out, 6, "  %s: complete, timeline %" PRIu32 ", took %s", m->label, m->timeline, took);
    info_line(out, 6, "    start:  %s  LSN %s", t0, l0);
    info_line(out, 6, "    stop:   %s  LSN %s", t1, l1);
    info_line(out, 6, "    size:   %s, stored %s (new in this backup %s)", size, stored, added);
    if (m->source != NULL)
        info_line(out, 6, "    taken on the standby %s (primary %s)", m->source->server,
                  m->source->primary);
    const InfoBackup *ib = &info->backups[i];
    if (!ib->restorable) {
        char seg[PG_WALNAME_SEG_LEN + 1];
        info_segname(info, ib->missing_tli ? ib->missing_tli : m->timeline, ib->missing_segno, seg);
        info_line(out, 6, "    NOT RESTORABLE: WAL segment %s, needed to reach the end of the "
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
        info_line(out, 6, "  %s: running (%s)", b->label, who);
        info_line(out, 6, "    no manifest.json yet; last change %s (%s)", when, age);
        return;
    }
    if (info->locks_unknown)
        info_line(out, 6, "  %s: INCOMPLETE (no manifest.json: running, failed or interrupted; the "
                  "locks could not be read)", b->label);
    else
        info_line(out, 6, "  %s: INCOMPLETE, failed or interrupted (removed by the next backup or "
                  "expire)", b->label);
    info_line(out, 6, "    last change %s (%s)", when, age);
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
    info_line(out, 2, "BACKUPS: %zu complete, %zu incomplete%s, %zu corrupt", n[0], n[1], nrun,
              n[2]);
    if (info->cat.n_backups == 0)
        info_line(out, 4, "  none: take one with pgpitr backup");
    for (size_t i = 0; i < info->cat.n_backups; i++) {
        const CatalogBackup *b = &info->cat.backups[i];
        if (b->status == CATALOG_BACKUP_COMPLETE) {
            print_complete(info, i, out);
        } else if (b->status == CATALOG_BACKUP_INCOMPLETE) {
            print_incomplete(info, i, out);
        } else {
            info_line(out, 6, "  %s: CORRUPT (manifest.json does not load)", b->label);
            info_line(out, 6, "    why: %s", b->error);
        }
    }
}

static void print_drill(const Info *info, FILE *out)
{
    const InfoDrill *d = &info->drill;
    fputs("\nLATEST DRILL\n", out);
    if (!d->found) {
        info_line(out, 4, "  none: prove a restore with pgpitr drill");
        return;
    }
    char age[INFO_DURATION_MAX + 16] = "";
    if (d->started_t != 0)
        info_format_age(info->now, d->started_t, age);
    info_line(out, 4, "  %s: %s%s%s%s", d->id,
              strcmp(d->status, "passed") == 0 ? "PASSED" : "FAILED",
              age[0] ? " (started " : "", age, age[0] ? ")" : "");
    info_line(out, 4, "    finished %s", d->finished[0] ? d->finished : "-");
    if (d->has_rto)
        info_line(out, 4, "    measured RTO %.1f s", d->rto_s);
}

static void print_lock(const Info *info, const RepoLockHolder *h, FILE *out)
{
    char q[PGP_QUOTE_BUF], age[INFO_DURATION_MAX + 16];
    if (!h->parsed) {
        info_format_age(info->now, h->mtime, age);
        info_line(out, 6, "  UNREADABLE lock object \"%s\", last changed %s", pgp_quote(h->path, q),
                  age);
        if (h->alive)
            info_line(out, 6, "    blocks every command that takes a lock until unchanged for %d s",
                      REPO_LOCK_STALE_DEFAULT);
        else
            info_line(out, 6, "    DEAD: removed by the next command that takes a lock");
        return;
    }
    char who[PGP_QUOTE_BUF + 128], label[PGP_QUOTE_BUF + 1] = "", cmd[PGP_QUOTE_BUF];
    holder_who(h, who, sizeof who);
    if (h->label[0] != '\0')
        snprintf(label, sizeof label, " %s", pgp_quote(h->label, q));
    pgp_quote(h->command, cmd);
    info_format_age(info->now, h->heartbeat, age);
    info_line(out, 6, "  %s lock, %s%s: %s (last heartbeat %s)", pgp_quote(h->kind_name, q), cmd,
              label, h->alive ? "live" : "DEAD", age);
    if (h->alive)
        info_line(out, 6, "    %s", who);
    else
        info_line(out, 6, "    %s; the process is gone: the next command that conflicts takes the "
                  "lock over", who);
}

static void print_locks(const Info *info, FILE *out)
{
    fputs("\nLOCKS\n", out);
    if (info->locks_unknown)
        info_line(out, 4, "  UNKNOWN: the lock objects could not be read (see the warning)");
    else if (info->n_locks == 0)
        info_line(out, 4, "  none: no backup, expire, verify, restore or drill is running");
    for (size_t i = 0; i < info->n_locks; i++)
        print_lock(info, &info->locks[i], out);
}

static void print_lease(const Info *info, const LeaseEntry *e, FILE *out)
{
    char q[PGP_QUOTE_BUF], q2[PGP_QUOTE_BUF], age[INFO_DURATION_MAX + 16];
    if (!e->parsed) {
        info_format_age(info->now, e->mtime, age);
        info_line(out, 6, "  UNREADABLE lease \"%s\" (%s), last changed %s", pgp_quote(e->path, q),
                  pgp_quote(e->error, q2), age);
        info_line(out, 6, "    %s", e->state == LEASE_STALE
                                   ? "STALE: the next expire removes it"
                                   : "keeps every WAL file from expire until unchanged for a day");
        return;
    }
    const Lease *l = &e->lease;
    info_line(out, 6, "  %s: host %s, data directory \"%s\"",
              e->state == LEASE_LIVE ? "live" : "STALE",
              pgp_quote(l->host, q), pgp_quote(l->datadir, q2));
    info_format_age(info->now, l->renewed, age);
    info_line(out, 6, "    needs WAL from %s on (every timeline); written by %s, renewed %s",
              l->wal, l->created_by, age);
    if (e->state == LEASE_LIVE) {
        info_format_duration(l->expires - info->now, age);
        info_line(out, 6, "    expire keeps that WAL; the lease expires in %s unless renewed", age);
    } else {
        info_format_age(info->now, l->expires, age);
        info_line(out, 6, "    expired %s: ignored, the next expire removes it", age);
    }
}

static void print_leases(const Info *info, FILE *out)
{
    fputs("\nRECOVERY LEASES\n", out);
    if (info->leases_unknown)
        info_line(out, 4, "  UNKNOWN: the lease objects could not be read (see the warning)");
    else if (info->n_leases == 0)
        info_line(out, 4, "  none: no running recovery keeps WAL from expire");
    for (size_t i = 0; i < info->n_leases; i++)
        print_lease(info, &info->leases[i], out);
}

/* Nothing when neither objective is set: the section would only say so. */
static void print_objectives(const Info *info, FILE *out)
{
    InfoObjective rpo, rto;
    const InfoDrill *from;
    char obj[INFO_DURATION_MAX], m[INFO_DURATION_MAX];
    info_objective_rpo(info, &rpo);
    info_objective_rto(info, &rto, &from);
    if (!rpo.set && !rto.set)
        return;
    fputs("\nOBJECTIVES\n", out);
    if (rpo.set) {
        info_format_duration((int64_t)rpo.objective_s, obj);
        info_format_duration((int64_t)rpo.measured_s, m);
        if (rpo.measured)
            info_line(out, 4, "  RPO %s: archive freshness %s, %s", obj, m,
                      rpo.met ? "met" : "NOT MET");
        else
            info_line(out, 4, "  RPO %s: nothing archived yet", obj);
    }
    if (rto.set) {
        info_format_duration((int64_t)rto.objective_s, obj);
        if (rto.measured)
            info_line(out, 4, "  RTO %s: newest drill %.1f s (%s), %s", obj, rto.measured_s,
                      from->id, rto.met ? "met" : "NOT MET");
        else if (info->drill.found)
            info_line(out, 4, "  RTO %s: the newest drill (%s) did not measure it", obj,
                      info->drill.id);
        else
            info_line(out, 4, "  RTO %s: no drill measured it (run pgpitr drill)", obj);
    }
}

static void print_foreign(const Info *info, FILE *out)
{
    const Catalog *c = &info->cat;
    if (c->n_foreign == 0)
        return;
    fputs("\n", out);
    info_line(out, 4, "WARNING: %zu entr%s pgpitr does not recognize (not used):", c->n_foreign,
              c->n_foreign == 1 ? "y" : "ies");
    for (size_t i = 0; i < c->n_foreign && i < CATALOG_FOREIGN_MAX; i++) {
        char q[PGP_QUOTE_BUF];
        info_line(out, 4, "  \"%s\"", pgp_quote(c->foreign[i], q));
    }
}

void info_print_text(const Info *info, FILE *out)
{
    char now[32];
    catalog_format_time(info->now, now);
    char q[PGP_QUOTE_BUF];
    info_line(out, 2, "pgpitr info: repository \"%s\" at %s", pgp_quote(info->repo_path, q), now);
    if (!info->cat.bound) {
        info_line(out, 2, "the repository is empty: no repo.json yet (nothing archived or backed "
                  "up); set archive_command to pgpitr archive-push and take a backup");
        return;
    }
    print_cluster(info, out);
    print_backups(info, out);
    print_locks(info, out);
    print_leases(info, out);
    info_print_archive(info, out);
    info_print_windows(info, out);
    print_drill(info, out);
    print_objectives(info, out);
    print_foreign(info, out);
}
