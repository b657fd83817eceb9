/*
 * info_text_archive.c - the ARCHIVE and RECOVERABLE sections of `pgpitr info` for people
 * (info_text.c has the others): each timeline's history, segments and gaps, and the windows a
 * restore can reach, with what cuts them. Only formats the model.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "pgpitr/cmd/info.h"
#include "info_text_impl.h"

static void print_history(const InfoTimeline *it, FILE *out)
{
    const CatalogTimeline *t = it->t;
    if (t->tli == 1)
        info_line(out, 6, "  timeline 1");
    else if (t->history_bad)
        info_line(out, 6, "  timeline %" PRIu32 ": history file BAD: %s", t->tli, t->error);
    else if (!t->history_found)
        info_line(out, 6, "  timeline %" PRIu32 ": history file MISSING (restore cannot follow "
                  "this timeline's switch point)", t->tli);
    else {
        char desc[256];
        pg_timeline_describe(&t->history, desc, sizeof desc);
        info_line(out, 6, "  timeline %" PRIu32 ": history %s", t->tli, desc);
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
        info_line(out, 6, "    forked off timeline %" PRIu32 " at %s", a->parent, fork);
    }
    if (!a->has_last)
        return;
    catalog_format_time(a->last, when);
    info_format_age(info->now, a->last, age);
    bool prod = info->production.known && info->production.tli == a->tli;
    info_line(out, 6, "    last archived %s (%s)%s", when, age,
              prod ? ": production's timeline" : "");
}

static void print_timeline(const Info *info, const InfoTimeline *it, FILE *out)
{
    print_history(it, out);
    print_activity(info, it, out);
    char a[PG_WALNAME_SEG_LEN + 1], b[PG_WALNAME_SEG_LEN + 1], size[INFO_SIZE_MAX];
    info_format_size(it->t->stored_size, size);
    if (it->has_segments) {
        info_segname(info, it->t->tli, it->first_segno, a);
        info_segname(info, it->t->tli, it->last_segno, b);
        info_line(out, 6, "    segments: %s..%s", a, b);
    }
    info_line(out, 6, "    %" PRIu64 " segment%s, %s stored; %zu .partial, %zu .backup file%s",
              it->t->n_segments, it->t->n_segments == 1 ? "" : "s", size, it->n_partial,
              it->n_backup_files, it->n_backup_files == 1 ? "" : "s");
    for (size_t g = 0; g < it->n_gaps; g++) {
        const CatalogGap *gap = &info->gaps[it->first_gap + g];
        info_segname(info, gap->tli, gap->from_segno, a);
        info_segname(info, gap->tli, gap->to_segno, b);
        info_line(out, 6, "    GAP: %s..%s (%" PRIu64 " missing)", a, b,
                  gap->to_segno - gap->from_segno + 1);
        if (gap->n_dropped > 0) {
            char when[32];
            catalog_format_time(gap->dropped_at, when);
            info_line(out, 6, "      %" PRIu64 " of them DROPPED by archive-push "
                      "(archive-push-queue-full = drop), recorded from %s", gap->n_dropped, when);
        }
    }
    if (it->n_conflicts > 0)
        info_line(out, 6, "    CONFLICT: %zu objects claim a name with different content "
                  "(archive-get refuses them)", it->n_conflicts);
}

void info_print_archive(const Info *info, FILE *out)
{
    fputs("\nARCHIVE\n", out);
    if (info->newest != NULL) {
        char when[32], age[INFO_DURATION_MAX + 16];
        catalog_format_time(info->newest->mtime, when);
        info_format_age(info->now, info->newest->mtime, age);
        info_line(out, 4, "  newest segment: %s", info->newest->name);
        info_line(out, 4, "    archived %s (%s)", when, age);
    } else {
        info_line(out, 4, "  no WAL segment archived yet (check archive_command)");
    }
    const TlProduction *p = &info->production;
    if (p->known) {
        char warn[640];
        info_line(out, 4, "  production's timeline: %" PRIu32 " (the most recently archived WAL)",
                  p->tli);
        tl_production_warning(p, true, p->tli, p->latest, warn, sizeof warn);
        if (warn[0] != '\0')
            info_line(out, 4, "  WARNING: %s", warn);
        tl_production_fork_warning(&info->activity, p->tli, info->now,
                                   info->cat.id.wal_segsize, warn, sizeof warn);
        if (warn[0] != '\0')
            info_line(out, 4, "  WARNING: %s", warn);
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
    info_line(out, 6, "  timeline %" PRIu32 ", from backup %s:", w->tli, w->from->label);
    info_line(out, 14, "    earliest: %s  LSN %s (end of the backup)", t0, l0);
    const CatalogTimeline *t = catalog_timeline(&info->cat, w->tli);
    info_segname(info, pg_timeline_of_segno(&t->history, r->end_segno, info->cat.id.wal_segsize),
            r->end_segno, seg);
    info_line(out, 14, "    latest:   %s  LSN %s", t1, l1);
    if (r->ends_at_backup)
        info_line(out, 14, "              (end of %s; archived before the backup ended: its end is "
                  "the latest time)", seg);
    else
        info_line(out, 14, "              (end of %s; time = when it was archived)", seg);
    if (!w->cut)
        return;
    info_segname(info, r->missing_tli, r->missing_segno, seg);
    info_line(out, 6, "    CUT: segment %s is missing", seg);
    if (w->has_resume) {
        info_segname(info, w->resume_tli, w->resume_segno, seg);
        info_line(out, 6, "    archived WAL resumes at %s", seg);
    }
    if (last)
        info_line(out, 6,
                  "    no backup after the gap: take one (pgpitr backup) to recover past it");
}

void info_print_windows(const Info *info, FILE *out)
{
    fputs("\nRECOVERABLE\n", out);
    for (size_t i = 0; i < info->n_tls; i++) {
        const InfoTimeline *it = &info->tls[i];
        if (it->n_windows == 0)
            info_line(out, 6, "  timeline %" PRIu32 ": NOTHING recoverable (no restorable backup "
                      "reaches it)", it->t->tli);
        for (size_t k = 0; k < it->n_windows; k++)
            print_window(info, &info->windows[it->first_window + k], k + 1 == it->n_windows,
                         out);
    }
    if (info->n_tls == 0)
        info_line(out, 4, "  nothing: no backup and no archived WAL");
}
