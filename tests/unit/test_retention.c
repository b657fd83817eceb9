/*
 * test_retention.c - retention math on synthetic repositories (src/repo/retention.c): each
 * policy and their union, calendar periods in UTC (ISO weeks across New Year), the newest
 * backup always kept, WAL cut-off on several timelines, and the recoverability guarantee as
 * a property over random repositories (fixed seed).
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fx_tool.h"
#include "pgpitr/repo/retention.h"

#define DAY INT64_C(86400)
#define MAXB 1024

static int64_t at(int y, int mo, int d, int h, int mi)
{
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h,
                    .tm_min = mi};
    return (int64_t)timegm(&tm);
}

/* A synthetic repository: labels are stored here so RetentionBackup can point at them. */
typedef struct Repo {
    RetentionBackup b[MAXB];
    char labels[MAXB][32];
    size_t n;
} Repo;

static size_t add(Repo *r, const char *label, uint32_t tli, uint64_t start_segno,
                  uint64_t stop_lsn, int64_t stop_time)
{
    ck_assert_uint_lt(r->n, MAXB);
    size_t i = r->n++;
    snprintf(r->labels[i], sizeof r->labels[i], "%s", label);
    r->b[i] = (RetentionBackup){r->labels[i], tli, start_segno, stop_lsn, stop_time};
    return i;
}

/* One backup at time t, named after its stop time; segments are 16 MiB, one per hour. */
static size_t add_at(Repo *r, int64_t t, uint32_t tli)
{
    char label[32];
    struct tm tm;
    time_t tt = (time_t)t;
    gmtime_r(&tt, &tm);
    strftime(label, sizeof label, "%Y%m%dT%H%M%SZ", &tm);
    uint64_t segno = (uint64_t)(t / 3600);
    return add(r, label, tli, segno - 1, (segno << 24) + 0x28, t);
}

static RetentionPlan plan_ok(const Repo *r, RetentionPolicy p, int64_t now)
{
    RetentionPlan plan;
    PgpErr err;
    pgp_err_clear(&err);
    int rc = retention_plan(r->b, r->n, &p, now, &plan, &err);
    ck_assert_msg(rc == 0, "plan failed: %s", err.msg);
    ck_assert_uint_eq(plan.n, r->n);
    ck_assert_uint_eq(plan.n_keep + plan.n_remove, r->n);
    return plan;
}

static size_t find(const Repo *r, const char *label)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->labels[i], label) == 0)
            return i;
    ck_abort_msg("no backup \"%s\"", label);
    return 0;
}

static bool has_reason(const RetentionDecision *d, const char *text)
{
    for (size_t i = 0; i < d->n_reasons; i++)
        if (strcmp(d->reasons[i], text) == 0)
            return true;
    return false;
}

/* The kept labels, ascending by input order, joined with ' '. */
static void kept_list(const Repo *r, const RetentionPlan *p, char *out, size_t size)
{
    out[0] = '\0';
    for (size_t i = 0; i < r->n; i++) {
        if (!p->decisions[i].keep)
            continue;
        if (out[0] != '\0')
            strncat(out, " ", size - strlen(out) - 1);
        strncat(out, r->labels[i], size - strlen(out) - 1);
    }
}

START_TEST(refuses_bad_input)
{
    Repo r = {0};
    add(&r, "a", 1, 2, 0x3000000, 1000);
    RetentionPlan plan;
    PgpErr err;
    RetentionPolicy none = {0};
    pgp_err_clear(&err);
    ck_assert(!retention_policy_set(&none));
    ck_assert_int_eq(retention_plan(r.b, r.n, &none, 5000, &plan, &err), PGP_ERR_USAGE);
    ck_assert_str_eq(err.msg, "no retention policy set");
    ck_assert_ptr_nonnull(strstr(err.hint, "--retain-full"));
    ck_assert_ptr_null(plan.decisions);
    /* even with no backups at all the command must refuse a missing policy */
    ck_assert_int_eq(retention_plan(NULL, 0, &none, 5000, &plan, &err), PGP_ERR_USAGE);

    RetentionPolicy huge = {.days = RETENTION_COUNT_MAX + 1};
    ck_assert_int_eq(retention_plan(r.b, r.n, &huge, 5000, &plan, &err), PGP_ERR_USAGE);

    add(&r, "a", 1, 5, 0x6000000, 2000);
    RetentionPolicy full = {.full = 1};
    ck_assert_int_eq(retention_plan(r.b, r.n, &full, 5000, &plan, &err), PGP_ERR_INTERNAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "\"a\" given twice"));
    ck_assert_ptr_null(plan.decisions);

    /* nothing to decide: no cut-off, so no WAL goes */
    ck_assert_int_eq(retention_plan(NULL, 0, &full, 5000, &plan, &err), 0);
    ck_assert_uint_eq(plan.n_keep, 0);
    ck_assert(!plan.has_cutoff);
    ck_assert(!retention_wal_removable(&plan, 1, 0, false));
    retention_plan_free(&plan);
    retention_plan_free(&plan);
    retention_plan_free(NULL);
}
END_TEST

START_TEST(full_keeps_newest_by_time)
{
    Repo r = {0};
    add(&r, "b1", 1, 2, 0x2000100, 1000);
    add(&r, "b2", 1, 4, 0x4000100, 2000);
    add(&r, "b3", 2, 6, 0x6000100, 3000);   /* taken last, on a timeline forked in the past */
    add(&r, "b4", 1, 8, 0x8000100, 2500);   /* higher LSN, taken earlier: not the newest */
    add(&r, "b5", 1, 8, 0x9000100, 2500);   /* same stop time as b4: the higher LSN is newer */
    RetentionPlan p = plan_ok(&r, (RetentionPolicy){.full = 2}, 4000);
    char kept[256];
    kept_list(&r, &p, kept, sizeof kept);
    ck_assert_str_eq(kept, "b3 b5");
    ck_assert_uint_eq(p.newest, find(&r, "b3"));
    ck_assert_uint_eq(p.decisions[2].n_reasons, 2);
    ck_assert_str_eq(p.decisions[2].reasons[0], "newest");
    ck_assert_str_eq(p.decisions[2].reasons[1], "full 1/2");
    ck_assert_uint_eq(p.decisions[4].why, RETENTION_WHY_FULL);
    ck_assert_str_eq(p.decisions[4].reasons[0], "full 2/2");
    ck_assert_uint_eq(p.decisions[0].n_reasons, 0);
    ck_assert_uint_eq(p.decisions[0].why, 0);
    ck_assert_uint_eq(p.n_remove, 3);
    ck_assert(p.has_cutoff);
    ck_assert_uint_eq(p.wal_cutoff, 6);
    /* window: the end of the oldest retained backup */
    ck_assert_uint_eq(p.window_backup, find(&r, "b5"));
    ck_assert_uint_eq(p.window_start_lsn, 0x9000100);
    ck_assert_int_eq(p.window_start_time, 2500);
    retention_plan_free(&p);
}
END_TEST

START_TEST(newest_always_kept)
{
    int64_t now = at(2026, 11, 22, 12, 0);
    Repo r = {0};
    add_at(&r, now - 40 * DAY, 1);
    add_at(&r, now - 35 * DAY, 1);
    size_t newest = add_at(&r, now - 30 * DAY, 1);
    /* days 1: the window holds no backup; the newest one that ended before it is its base,
     * and it is also the newest */
    RetentionPlan p = plan_ok(&r, (RetentionPolicy){.days = 1}, now);
    ck_assert_uint_eq(p.n_keep, 1);
    ck_assert(p.decisions[newest].keep);
    ck_assert(has_reason(&p.decisions[newest], "newest"));
    ck_assert(has_reason(&p.decisions[newest], "days 1: covers 2026-11-21T12:00:00Z"));
    retention_plan_free(&p);
    /* daily 1 and monthly 1: no backup in this day or month; only "newest" saves it */
    p = plan_ok(&r, (RetentionPolicy){.daily = 1, .monthly = 1}, now);
    ck_assert_uint_eq(p.n_keep, 1);
    ck_assert(p.decisions[newest].keep);
    ck_assert_uint_eq(p.decisions[newest].why, RETENTION_WHY_NEWEST);
    ck_assert_uint_eq(p.wal_cutoff, r.b[newest].start_segno);
    retention_plan_free(&p);
}
END_TEST

/* 400 days of backups at 01:00 UTC from 2025-10-18, two (also 13:00) on every 10th day
 * (..., 2026-11-02, 11-12; 10-23 falls in the gap), none in a gap from 2026-10-23 to 10-30. */
static void year_of_backups(Repo *r, int64_t now)
{
    int64_t first = (now / DAY - 400) * DAY;
    for (int i = 0; i <= 400; i++) {
        int64_t day = first + i * DAY;
        if (day + DAY > now - 30 * DAY && day < now - 23 * DAY)   /* the gap */
            continue;
        if (day + 3600 <= now)
            add_at(r, day + 3600, 1);
        if (i % 10 == 0 && day + 13 * 3600 <= now)
            add_at(r, day + 13 * 3600, 1);
    }
}

START_TEST(days_window_and_its_base)
{
    int64_t now = at(2026, 11, 22, 12, 0);
    Repo r = {0};
    year_of_backups(&r, now);
    RetentionPlan p = plan_ok(&r, (RetentionPolicy){.days = 3}, now);
    char kept[512];
    kept_list(&r, &p, kept, sizeof kept);
    /* window starts 2026-11-19T12:00: the 19th's 01:00 backup is its base */
    ck_assert_str_eq(kept, "20261119T010000Z 20261120T010000Z 20261121T010000Z "
                           "20261122T010000Z");
    ck_assert(has_reason(&p.decisions[find(&r, "20261119T010000Z")],
                         "days 3: covers 2026-11-19T12:00:00Z"));
    ck_assert(has_reason(&p.decisions[find(&r, "20261120T010000Z")], "days 3: ended in window"));
    ck_assert_uint_eq(p.window_start_time, at(2026, 11, 19, 1, 0));
    ck_assert_uint_eq(p.wal_cutoff, r.b[find(&r, "20261119T010000Z")].start_segno);
    retention_plan_free(&p);

    /* a window starting inside the gap week: the base is the last backup before the gap */
    p = plan_ok(&r, (RetentionPolicy){.days = 27}, now);
    size_t base = find(&r, "20261022T010000Z");
    ck_assert(p.decisions[base].keep);
    ck_assert(!p.decisions[find(&r, "20261021T010000Z")].keep);
    ck_assert(has_reason(&p.decisions[base], "days 27: covers 2026-10-26T12:00:00Z"));
    /* Oct 31 .. Nov 22 at 01:00, Nov 2 and Nov 12 at 13:00, and the base */
    ck_assert_uint_eq(p.n_keep, 23 + 2 + 1);
    retention_plan_free(&p);
}
END_TEST

START_TEST(calendar_periods)
{
    int64_t now = at(2026, 11, 22, 12, 0);   /* a Sunday, ISO week 2026-W47 */
    Repo r = {0};
    year_of_backups(&r, now);
    /* daily 3: the 22nd, 21st and 20th */
    RetentionPlan p = plan_ok(&r, (RetentionPolicy){.daily = 3}, now);
    char kept[1024];
    kept_list(&r, &p, kept, sizeof kept);
    ck_assert_str_eq(kept, "20261120T010000Z 20261121T010000Z 20261122T010000Z");
    ck_assert(has_reason(&p.decisions[find(&r, "20261120T010000Z")], "daily 2026-11-20"));
    retention_plan_free(&p);
    /* daily 11 reaches the 12th, which has two backups: the later one stays */
    p = plan_ok(&r, (RetentionPolicy){.daily = 11}, now);
    ck_assert_uint_eq(p.n_keep, 11);
    ck_assert(p.decisions[find(&r, "20261112T130000Z")].keep);
    ck_assert(!p.decisions[find(&r, "20261112T010000Z")].keep);
    ck_assert(!p.decisions[find(&r, "20261111T010000Z")].keep);
    retention_plan_free(&p);

    /* weekly 3: W47 (this week), W46, W45 -> the newest of each (Sundays) */
    p = plan_ok(&r, (RetentionPolicy){.weekly = 3}, now);
    kept_list(&r, &p, kept, sizeof kept);
    ck_assert_str_eq(kept, "20261108T010000Z 20261115T010000Z 20261122T010000Z");
    ck_assert(has_reason(&p.decisions[find(&r, "20261115T010000Z")], "weekly 2026-W46"));
    retention_plan_free(&p);

    /* weekly 6 reaches into the gap: W44 (Oct 26 - Nov 1) keeps Nov 1, W43 (Oct 19-25)
     * ends at the gap, so its newest is Thursday Oct 22; W42 keeps Sunday Oct 18 */
    p = plan_ok(&r, (RetentionPolicy){.weekly = 6}, now);
    kept_list(&r, &p, kept, sizeof kept);
    ck_assert_str_eq(kept, "20261018T010000Z 20261022T010000Z 20261101T010000Z "
                           "20261108T010000Z 20261115T010000Z 20261122T010000Z");
    retention_plan_free(&p);

    /* monthly 3: Nov (newest), Oct 31, Sep 30; a later day of August is gone */
    p = plan_ok(&r, (RetentionPolicy){.monthly = 3}, now);
    kept_list(&r, &p, kept, sizeof kept);
    ck_assert_str_eq(kept, "20260930T010000Z 20261031T010000Z 20261122T010000Z");
    ck_assert(has_reason(&p.decisions[find(&r, "20261031T010000Z")], "monthly 2026-10"));
    ck_assert(!p.decisions[find(&r, "20260831T010000Z")].keep);
    retention_plan_free(&p);

    /* monthly 15 over 400 days: Oct 2025 .. Nov 2026 are 14 months with backups */
    p = plan_ok(&r, (RetentionPolicy){.monthly = 15}, now);
    ck_assert_uint_eq(p.n_keep, 14);
    ck_assert(has_reason(&p.decisions[find(&r, "20251031T010000Z")], "monthly 2025-10"));
    ck_assert(!p.decisions[find(&r, "20251030T010000Z")].keep);
    retention_plan_free(&p);
}
END_TEST

START_TEST(iso_weeks_and_utc)
{
    char name[16];
    retention_week_name(at(2027, 1, 3, 23, 59), name);   /* Sunday: still 2026's week 53 */
    ck_assert_str_eq(name, "2026-W53");
    retention_week_name(at(2027, 1, 4, 0, 0), name);
    ck_assert_str_eq(name, "2027-W01");
    retention_week_name(at(2024, 12, 30, 0, 0), name);   /* Monday of 2025-W01 */
    ck_assert_str_eq(name, "2025-W01");
    retention_day_name(at(2026, 3, 29, 23, 59), name);
    ck_assert_str_eq(name, "2026-03-29");
    retention_month_name(at(2026, 2, 28, 12, 0), name);
    ck_assert_str_eq(name, "2026-02");

    /* weekly 2 on 2027-01-03 (Sunday of 2026-W53): Mon Dec 28 .. Sun Jan 3 is one week */
    int64_t now = at(2027, 1, 3, 22, 0);
    Repo r = {0};
    add_at(&r, at(2026, 12, 27, 23, 59), 1);   /* Sunday of W52 */
    add_at(&r, at(2026, 12, 28, 0, 0), 1);     /* Monday of W53 */
    add_at(&r, at(2027, 1, 1, 10, 0), 1);      /* W53 too */
    add_at(&r, at(2027, 1, 3, 21, 0), 1);      /* W53, newest */
    RetentionPlan p = plan_ok(&r, (RetentionPolicy){.weekly = 2}, now);
    char kept[256];
    kept_list(&r, &p, kept, sizeof kept);
    ck_assert_str_eq(kept, "20261227T235900Z 20270103T210000Z");
    ck_assert(has_reason(&p.decisions[0], "weekly 2026-W52"));
    ck_assert(has_reason(&p.decisions[3], "weekly 2026-W53"));
    retention_plan_free(&p);

    /* daily 2 at 00:30 UTC: "today" is the UTC day, whatever the local zone says */
    now = at(2027, 1, 2, 0, 30);
    r = (Repo){0};
    add_at(&r, at(2027, 1, 2, 0, 10), 1);
    add_at(&r, at(2027, 1, 1, 23, 50), 1);
    add_at(&r, at(2027, 1, 1, 1, 0), 1);
    add_at(&r, at(2026, 12, 31, 23, 0), 1);
    p = plan_ok(&r, (RetentionPolicy){.daily = 2}, now);
    kept_list(&r, &p, kept, sizeof kept);
    ck_assert_str_eq(kept, "20270102T001000Z 20270101T235000Z");
    retention_plan_free(&p);

    /* a backup stamped after `now` (clock skew) belongs to no past period, but is newest */
    r = (Repo){0};
    add_at(&r, at(2027, 1, 1, 1, 0), 1);
    size_t future = add_at(&r, at(2027, 1, 5, 1, 0), 1);
    p = plan_ok(&r, (RetentionPolicy){.daily = 2}, at(2027, 1, 2, 0, 30));
    ck_assert_uint_eq(p.n_keep, 2);
    ck_assert_uint_eq(p.decisions[future].why, RETENTION_WHY_NEWEST);
    ck_assert(has_reason(&p.decisions[0], "daily 2027-01-01"));
    retention_plan_free(&p);
}
END_TEST

START_TEST(union_of_policies)
{
    int64_t now = at(2026, 11, 22, 12, 0);
    Repo r = {0};
    year_of_backups(&r, now);
    RetentionPlan p = plan_ok(&r, (RetentionPolicy){.full = 2, .days = 2, .daily = 2,
                                                    .weekly = 2, .monthly = 2}, now);
    char kept[1024];
    kept_list(&r, &p, kept, sizeof kept);
    ck_assert_str_eq(kept, "20261031T010000Z 20261115T010000Z 20261120T010000Z "
                           "20261121T010000Z 20261122T010000Z");
    const RetentionDecision *d = &p.decisions[find(&r, "20261122T010000Z")];
    ck_assert_uint_eq(d->n_reasons, 6);
    ck_assert_str_eq(d->reasons[0], "newest");
    ck_assert_str_eq(d->reasons[1], "full 1/2");
    ck_assert_str_eq(d->reasons[2], "days 2: ended in window");
    ck_assert_str_eq(d->reasons[3], "daily 2026-11-22");
    ck_assert_str_eq(d->reasons[4], "weekly 2026-W47");
    ck_assert_str_eq(d->reasons[5], "monthly 2026-11");
    d = &p.decisions[find(&r, "20261120T010000Z")];
    ck_assert_uint_eq(d->why, RETENTION_WHY_DAYS);
    ck_assert_str_eq(d->reasons[0], "days 2: covers 2026-11-20T12:00:00Z");
    ck_assert_uint_eq(p.decisions[find(&r, "20261031T010000Z")].why, RETENTION_WHY_MONTHLY);
    ck_assert_uint_eq(p.window_backup, find(&r, "20261031T010000Z"));
    ck_assert_uint_eq(p.wal_cutoff, r.b[find(&r, "20261031T010000Z")].start_segno);
    retention_plan_free(&p);
}
END_TEST

START_TEST(wal_cutoff_on_every_timeline)
{
    /* tli 1 backups, a fork to tli 2 at segment 20, a fork of 2 to 3 back at segment 15
     * (PITR into the past): LSNs are not in time order across timelines */
    Repo r = {0};
    add(&r, "t1a", 1, 2, UINT64_C(3) << 24, 100);
    add(&r, "t1b", 1, 10, UINT64_C(11) << 24, 200);
    add(&r, "t2a", 2, 22, UINT64_C(23) << 24, 300);
    add(&r, "t3a", 3, 16, UINT64_C(17) << 24, 400);
    RetentionPlan p = plan_ok(&r, (RetentionPolicy){.full = 2}, 1000);
    char kept[128];
    kept_list(&r, &p, kept, sizeof kept);
    ck_assert_str_eq(kept, "t2a t3a");   /* t3a, taken last, is the newest (not t2a: seg 23) */
    ck_assert_uint_eq(p.newest, 3);
    ck_assert_uint_eq(p.wal_cutoff, 16);
    ck_assert_uint_eq(p.window_backup, 2);
    ck_assert_uint_eq(p.window_start_lsn, UINT64_C(23) << 24);
    /* every timeline, every kind below the cut-off; never a history file */
    for (uint32_t tli = 1; tli <= 3; tli++) {
        ck_assert(retention_wal_removable(&p, tli, 0, false));
        ck_assert(retention_wal_removable(&p, tli, 15, false));
        ck_assert(!retention_wal_removable(&p, tli, 16, false));
        ck_assert(!retention_wal_removable(&p, tli, 22, false));
        ck_assert(!retention_wal_removable(&p, tli, 0, true));
    }
    retention_plan_free(&p);
}
END_TEST

/* ---- property check over random repositories ---- */

static uint64_t rng_state;
static uint32_t rnd(uint32_t bound)
{
    rng_state = rng_state * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
    return (uint32_t)(rng_state >> 33) % bound;
}

static void random_repo(Repo *r, int64_t now)
{
    *r = (Repo){0};
    size_t n = 1 + rnd(200);
    int64_t t = now - (int64_t)rnd(500) * DAY;
    uint64_t lsn = UINT64_C(1) << 24;
    uint32_t tli = 1;
    for (size_t i = 0; i < n; i++) {
        switch (rnd(10)) {
        case 0: t += (int64_t)(7 + rnd(10)) * DAY; break;          /* gap */
        case 1: t += rnd(3600); break;                              /* same day */
        default: t += (int64_t)rnd(2 * DAY); break;
        }
        if (rnd(20) == 0) {                                         /* new timeline */
            tli++;
            if (rnd(2) == 0 && lsn > (UINT64_C(40) << 24))
                lsn -= (uint64_t)rnd(30) << 24;                     /* forked in the past */
        }
        uint64_t start = lsn + rnd(1u << 24);
        lsn = start + 1 + rnd(3u << 24);
        char label[32];
        snprintf(label, sizeof label, "r%04zu", i);
        add(r, label, tli, start >> 24, lsn, t + (rnd(30) == 0 ? 3 * DAY : 0));
        lsn += (uint64_t)rnd(8) << 24;
    }
}

static bool newer_by_time(const RetentionBackup *a, const RetentionBackup *b)
{
    if (a->stop_time != b->stop_time)
        return a->stop_time > b->stop_time;
    if (a->stop_lsn != b->stop_lsn)
        return a->stop_lsn > b->stop_lsn;
    return strcmp(a->label, b->label) > 0;
}

static void check_property(const Repo *r, const RetentionPolicy *pol, int64_t now,
                           const RetentionPlan *p)
{
    /* the newest is kept; removed ones have no reason */
    size_t newest = 0;
    for (size_t i = 1; i < r->n; i++)
        if (newer_by_time(&r->b[i], &r->b[newest]))
            newest = i;
    ck_assert_uint_eq(p->newest, newest);
    ck_assert(p->decisions[newest].keep);
    for (size_t i = 0; i < r->n; i++)
        ck_assert(p->decisions[i].keep == (p->decisions[i].why != 0));
    /* no WAL at or after a retained backup's start is removable, on any timeline (the
     * random repository's timelines and one beyond) */
    uint32_t max_tli = r->b[r->n - 1].tli + 1;
    for (size_t i = 0; i < r->n; i++) {
        if (!p->decisions[i].keep)
            continue;
        for (uint32_t tli = 1; tli <= max_tli; tli++) {
            ck_assert(!retention_wal_removable(p, tli, r->b[i].start_segno, false));
            ck_assert(!retention_wal_removable(p, tli, r->b[i].start_segno + 100, false));
        }
        /* the window starts no later than any retained backup's end */
        ck_assert(!newer_by_time(&r->b[p->window_backup], &r->b[i]));
    }
    ck_assert(p->decisions[p->window_backup].keep);
    ck_assert(p->has_cutoff);
    /* the cut-off is not needlessly low: it is some retained backup's start */
    bool cut_is_start = false;
    for (size_t i = 0; i < r->n; i++)
        cut_is_start |= p->decisions[i].keep && r->b[i].start_segno == p->wal_cutoff;
    ck_assert(cut_is_start);
    /* full N: the N newest by time (counted by brute force) */
    for (size_t i = 0; pol->full && i < r->n; i++) {
        size_t newer = 0;
        for (size_t j = 0; j < r->n; j++)
            newer += newer_by_time(&r->b[j], &r->b[i]);
        if (newer < pol->full)
            ck_assert(p->decisions[i].why & RETENTION_WHY_FULL);
        else
            ck_assert(!(p->decisions[i].why & RETENTION_WHY_FULL));
    }
    /* days D: every hour of the window has a retained base that ended at or before it
     * (when any backup did) */
    for (int64_t t = now - (int64_t)pol->days * DAY; pol->days && t <= now; t += 3600) {
        bool any = false, kept = false;
        for (size_t i = 0; i < r->n; i++) {
            if (r->b[i].stop_time > t)
                continue;
            any = true;
            kept |= p->decisions[i].keep;
        }
        ck_assert(kept == any);
    }
    /* daily N: each of the last N days with a backup keeps its newest (brute force) */
    for (unsigned k = 0; pol->daily && k < pol->daily; k++) {
        int64_t day0 = (now / DAY - k) * DAY;
        size_t best = SIZE_MAX;
        for (size_t i = 0; i < r->n; i++) {
            int64_t st = r->b[i].stop_time;
            if (st < day0 || st >= day0 + DAY)
                continue;
            if (best == SIZE_MAX || st > r->b[best].stop_time ||
                (st == r->b[best].stop_time && r->b[i].stop_lsn > r->b[best].stop_lsn))
                best = i;
        }
        if (best != SIZE_MAX)
            ck_assert(p->decisions[best].why & RETENTION_WHY_DAILY);
    }
}

START_TEST(random_repositories_stay_recoverable)
{
    rng_state = 20261122;
    int64_t now = at(2026, 11, 22, 12, 0);
    static Repo r;
    int rounds = fx_under_memory_tool() ? 100 : 300;   /* 300 took 36 s under valgrind */
    for (int round = 0; round < rounds; round++) {
        random_repo(&r, now);
        RetentionPolicy pol = {0};
        while (!retention_policy_set(&pol)) {
            pol.full = rnd(3) == 0 ? rnd(6) : 0;
            pol.days = rnd(3) == 0 ? rnd(60) : 0;
            pol.daily = rnd(3) == 0 ? rnd(10) : 0;
            pol.weekly = rnd(4) == 0 ? rnd(8) : 0;
            pol.monthly = rnd(4) == 0 ? rnd(15) : 0;
        }
        int64_t plan_now = now + (int64_t)rnd(DAY);
        RetentionPlan p = plan_ok(&r, pol, plan_now);
        check_property(&r, &pol, plan_now, &p);
        retention_plan_free(&p);
    }
}
END_TEST

Suite *suite_retention(void)
{
    Suite *s = suite_create("retention");
    TCase *tc = tcase_create("plan");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, refuses_bad_input);
    tcase_add_test(tc, full_keeps_newest_by_time);
    tcase_add_test(tc, newest_always_kept);
    tcase_add_test(tc, days_window_and_its_base);
    tcase_add_test(tc, calendar_periods);
    tcase_add_test(tc, iso_weeks_and_utc);
    tcase_add_test(tc, union_of_policies);
    tcase_add_test(tc, wal_cutoff_on_every_timeline);
    tcase_add_test(tc, random_repositories_stay_recoverable);
    suite_add_tcase(s, tc);
    return s;
}
