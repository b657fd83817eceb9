/*
 * retention.c - retention math (see include/pgpitr/repo/retention.h for the rules).
 *
 * Owns: deciding keep/remove with reasons, the WAL cut-off and the promised window start.
 * Must not: do I/O, read the clock, or know about storage paths; expire acts on the plan.
 *
 * Every policy walks the backups in one order computed once: newest first by stop time (then
 * stop LSN, label). Not by LSN: after a point-in-time recovery into the past, the backups of
 * the abandoned timeline can end at higher LSNs than the backups taken since on the new
 * timeline, and "the newest backup" must be the one taken last, never one of a dead branch.
 * Walking newest first makes "the newest backup of each period" the first one met in it.
 */
#include "pgpitr/repo/retention.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pgpitr/common/timefmt.h"

#define DAY_S INT64_C(86400)

typedef struct Ref {
    size_t idx;
    const RetentionBackup *b;
} Ref;

static int cmp_label(const Ref *x, const Ref *y)
{
    return strcmp(x->b->label, y->b->label);
}

/* newest first by time */
static int cmp_time_desc(const void *a, const void *b)
{
    const Ref *x = a, *y = b;
    if (x->b->stop_time != y->b->stop_time)
        return x->b->stop_time > y->b->stop_time ? -1 : 1;
    if (x->b->stop_lsn != y->b->stop_lsn)
        return x->b->stop_lsn > y->b->stop_lsn ? -1 : 1;
    return -cmp_label(x, y);
}

static int cmp_label_asc(const void *a, const void *b)
{
    return cmp_label(a, b);
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

/* Period numbers: consecutive integers for consecutive calendar periods (UTC). */
static int64_t day_of(int64_t t)
{
    return floor_div(t, DAY_S);
}

/* 1970-01-01 (day 0) was a Thursday: weeks counted from Monday 1969-12-29 (day -3). */
static int64_t week_of(int64_t t)
{
    return floor_div(day_of(t) + 3, 7);
}

static int64_t month_of(int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (gmtime_r(&tt, &tm) == NULL)
        return 0;
    return ((int64_t)tm.tm_year + 1900) * 12 + tm.tm_mon;
}

static void format_tm(int64_t t, const char *fmt, char out[16])
{
    if (!timefmt_utc(t, fmt, out, 16))
        snprintf(out, 16, "?");
}

void retention_day_name(int64_t t, char out[16])
{
    format_tm(t, "%Y-%m-%d", out);
}

void retention_week_name(int64_t t, char out[16])
{
    /* %G is the ISO 8601 week-based year, which differs from %Y around New Year */
    format_tm(t, "%G-W%V", out);
}

void retention_month_name(int64_t t, char out[16])
{
    format_tm(t, "%Y-%m", out);
}

static void add_reason(RetentionDecision *d, unsigned bit, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void add_reason(RetentionDecision *d, unsigned bit, const char *fmt, ...)
{
    d->keep = true;
    d->why |= bit;
    if (d->n_reasons >= RETENTION_REASONS_MAX)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->reasons[d->n_reasons++], RETENTION_REASON_LEN, fmt, ap);
    va_end(ap);
}

bool retention_policy_set(const RetentionPolicy *p)
{
    return p != NULL && (p->full || p->days || p->daily || p->weekly || p->monthly);
}

static int check_input(const RetentionBackup *backups, size_t n, const RetentionPolicy *p,
                       PgpErr *err)
{
    if (!retention_policy_set(p)) {
        PGP_FAIL(err, PGP_ERR_USAGE, "no retention policy set");
        pgp_err_hint(err, "set at least one of --retain-full, --retain-days, --retain-daily, "
                          "--retain-weekly, --retain-monthly (or the retain-* config keys)");
        return PGP_ERR_USAGE;
    }
    const unsigned counts[] = {p->full, p->days, p->daily, p->weekly, p->monthly};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++)
        if (counts[i] > RETENTION_COUNT_MAX)
            return PGP_FAIL(err, PGP_ERR_USAGE, "retention count %u is above the limit %u",
                            counts[i], RETENTION_COUNT_MAX);
    for (size_t i = 0; i < n; i++)
        if (backups[i].label == NULL)
            return PGP_FAIL(err, PGP_ERR_INTERNAL, "retention: backup %zu has no label", i);
    return 0;
}

static int check_unique_labels(Ref *refs, size_t n, PgpErr *err)
{
    qsort(refs, n, sizeof *refs, cmp_label_asc);
    for (size_t i = 1; i < n; i++)
        if (cmp_label(&refs[i - 1], &refs[i]) == 0) {
            char q[PGP_QUOTE_BUF];
            return PGP_FAIL(err, PGP_ERR_INTERNAL, "retention: backup label \"%s\" given twice",
                            pgp_quote(refs[i].b->label, q));
        }
    return 0;
}

static void apply_full(const Ref *by_time, size_t n, unsigned full, RetentionDecision *d)
{
    for (size_t i = 0; i < n && i < full; i++)
        add_reason(&d[by_time[i].idx], RETENTION_WHY_FULL, "full %zu/%u", i + 1, full);
}

static void apply_days(const Ref *by_time, size_t n, unsigned days, int64_t now,
                       RetentionDecision *d)
{
    int64_t start = now - (int64_t)days * DAY_S;
    for (size_t i = 0; i < n; i++) {
        if (by_time[i].b->stop_time > start) {
            add_reason(&d[by_time[i].idx], RETENTION_WHY_DAYS, "days %u: ended in window", days);
            continue;
        }
        /* the first one at or before the window start is the newest such: it is the base
         * from which the window's first second is restored */
        char when[32];
        if (!timefmt_iso(start, 0, when, sizeof when))
            snprintf(when, sizeof when, "%lld", (long long)start);
        add_reason(&d[by_time[i].idx], RETENTION_WHY_DAYS, "days %u: covers %s", days, when);
        break;
    }
}

typedef struct Calendar {
    unsigned bit;
    const char *name;
    int64_t (*period_of)(int64_t t);
    void (*period_name)(int64_t t, char out[16]);
} Calendar;

static void apply_calendar(const Ref *by_time, size_t n, const Calendar *cal, unsigned count,
                           int64_t now, RetentionDecision *d)
{
    int64_t current = cal->period_of(now);
    int64_t oldest = current - (int64_t)count + 1;
    bool have_last = false;
    int64_t last = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t t = by_time[i].b->stop_time;
        int64_t period = cal->period_of(t);
        if (period > current)   /* ended after `now` (clock skew): not a past period */
            continue;
        if (period < oldest)    /* newest first: every later one is older still */
            break;
        if (have_last && period == last)
            continue;
        have_last = true;
        last = period;
        char name[16];
        cal->period_name(t, name);
        add_reason(&d[by_time[i].idx], cal->bit, "%s %s", cal->name, name);
    }
}

static void summarize(RetentionPlan *out, const Ref *by_time, const RetentionBackup *backups)
{
    for (size_t i = 0; i < out->n; i++) {
        if (out->decisions[i].keep)
            out->n_keep++;
        else
            out->n_remove++;
    }
    /* the oldest kept is the last kept one in newest-first order */
    for (size_t i = out->n; i-- > 0;) {
        if (!out->decisions[by_time[i].idx].keep)
            continue;
        out->window_backup = by_time[i].idx;
        out->window_start_time = by_time[i].b->stop_time;
        out->window_start_lsn = by_time[i].b->stop_lsn;
        break;
    }
    for (size_t i = 0; i < out->n; i++) {
        if (!out->decisions[i].keep)
            continue;
        if (!out->has_cutoff || backups[i].start_segno < out->wal_cutoff)
            out->wal_cutoff = backups[i].start_segno;
        out->has_cutoff = true;
    }
}

int retention_plan(const RetentionBackup *backups, size_t n, const RetentionPolicy *p,
                   int64_t now, RetentionPlan *out, PgpErr *err)
{
    static const Calendar daily = {RETENTION_WHY_DAILY, "daily", day_of, retention_day_name};
    static const Calendar weekly = {RETENTION_WHY_WEEKLY, "weekly", week_of, retention_week_name};
    static const Calendar monthly = {RETENTION_WHY_MONTHLY, "monthly", month_of,
                                     retention_month_name};
    memset(out, 0, sizeof *out);
    Ref *by_time = NULL;
    int rc = check_input(backups, n, p, err);
    if (rc != 0)
        goto out;
    if (n == 0)
        goto out;
    out->decisions = calloc(n, sizeof *out->decisions);
    by_time = malloc(n * sizeof *by_time);
    if (out->decisions == NULL || by_time == NULL) {
        rc = PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory planning retention of %zu backups", n);
        goto out;
    }
    out->n = n;
    for (size_t i = 0; i < n; i++)
        by_time[i] = (Ref){i, &backups[i]};
    rc = check_unique_labels(by_time, n, err);
    if (rc != 0)
        goto out;
    qsort(by_time, n, sizeof *by_time, cmp_time_desc);

    out->newest = by_time[0].idx;
    add_reason(&out->decisions[out->newest], RETENTION_WHY_NEWEST, "newest");
    if (p->full)
        apply_full(by_time, n, p->full, out->decisions);
    if (p->days)
        apply_days(by_time, n, p->days, now, out->decisions);
    if (p->daily)
        apply_calendar(by_time, n, &daily, p->daily, now, out->decisions);
    if (p->weekly)
        apply_calendar(by_time, n, &weekly, p->weekly, now, out->decisions);
    if (p->monthly)
        apply_calendar(by_time, n, &monthly, p->monthly, now, out->decisions);
    summarize(out, by_time, backups);
out:
    free(by_time);
    if (rc != 0)
        retention_plan_free(out);
    return rc;
}

void retention_plan_free(RetentionPlan *p)
{
    if (p == NULL)
        return;
    free(p->decisions);
    memset(p, 0, sizeof *p);
}

bool retention_wal_removable(const RetentionPlan *p, uint32_t tli, uint64_t segno,
                             bool is_history)
{
    (void)tli; /* the cut-off holds on every timeline: see retention.h */
    if (is_history || !p->has_cutoff)
        return false;
    return segno < p->wal_cutoff;
}
