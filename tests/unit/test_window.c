/*
 * test_window.c - the recoverable window (window.h): the pure computation, and a property
 * test over many synthetic repositories that every place printing a window (catalog_reach
 * for info and verify, the expire plan, restore's plan and its refusal) gives one whose end
 * is never before its start.
 *
 * Why it could be inverted: a backup's stop time is recorded when pgpitr finishes it, after
 * its last WAL segment was archived, while a window's end is the archive time of the newest
 * archived segment. With nothing archived since the backup ended, that end came first
 * ("from 00:29:29 (end of backup) to 00:29:28"). The generator makes exactly that common:
 * segments are archived up to a few seconds before the backup that needs them ends.
 */
#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fx_tool.h"
#include "fx_repo.h"
#include "pgpitr/repo/catalog.h"
#include "pgpitr/repo/expire_plan.h"
#include "pgpitr/cmd/info.h"
#include "pgpitr/restore/restore_plan.h"
#include "pgpitr/repo/window.h"

#define T0 FX_T0
#define SEG ((uint64_t)FX_SEGSIZE)
#define US INT64_C(1000000)
#define ROUNDS 60

/* ---- the pure function -------------------------------------------------------------------- */

START_TEST(wal_archived_after_the_backup)
{
    RecoveryWindow w;
    recovery_window(T0, 0x2000100, T0 + 60, 0x4000000, &w);
    ck_assert_int_eq(w.from_time, T0);
    ck_assert_uint_eq(w.from_lsn, 0x2000100);
    ck_assert_int_eq(w.to_time, T0 + 60);
    ck_assert_uint_eq(w.to_lsn, 0x4000000);
    ck_assert(!w.ends_at_backup);
}
END_TEST

/* The segment holding the backup's end was archived a second before pgpitr recorded the end:
 * the window is the backup's end alone, not "from T0 to T0 - 1". */
START_TEST(nothing_archived_after_the_backup_ended)
{
    RecoveryWindow w;
    recovery_window(T0, 0x2000100, T0 - 1, 0x3000000, &w);
    ck_assert_int_eq(w.from_time, T0);
    ck_assert_int_eq(w.to_time, T0);
    ck_assert_uint_eq(w.to_lsn, 0x3000000); /* the LSN range of the archived WAL stays */
    ck_assert(w.ends_at_backup);
    recovery_window(T0, 0x2000100, T0, 0x3000000, &w);
    ck_assert(w.ends_at_backup);
    ck_assert_int_eq(w.to_time, T0);
    /* WAL that ends before the backup's end (a dead timeline's, say) */
    recovery_window(T0, 0x5000100, T0 + 9, 0x3000000, &w);
    ck_assert_uint_eq(w.to_lsn, 0x5000100);
    ck_assert_int_eq(w.to_time, T0 + 9);
}
END_TEST

static uint64_t rng_state;

static uint64_t rnd(uint64_t n)
{
    rng_state ^= rng_state << 13; /* xorshift64: fixed seeds, reproducible rounds */
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return n ? rng_state % n : 0;
}

START_TEST(pure_property)
{
    rng_state = 0x9E3779B97F4A7C15ull;
    for (int i = 0; i < 100000; i++) {
        int64_t st = (int64_t)rnd(1u << 30), wt = (int64_t)rnd(1u << 30);
        uint64_t sl = rnd(UINT64_MAX), wl = rnd(UINT64_MAX);
        if (rnd(2))
            wt = st + (int64_t)rnd(5) - 2;
        RecoveryWindow w;
        recovery_window(st, sl, wt, wl, &w);
        ck_assert(w.from_time == st && w.from_lsn == sl);
        ck_assert(w.from_time <= w.to_time && w.from_lsn <= w.to_lsn);
        ck_assert(w.ends_at_backup == (wt <= st));
        ck_assert(w.ends_at_backup ? w.to_time == st : w.to_time == wt);
    }
}
END_TEST

/* ---- synthetic repositories --------------------------------------------------------------- */

typedef struct Gen {
    FxRepo fx;
    int n_backups;
    bool forked;
} Gen;

/* mtime of a segment: around the end of the backup that needs it, often just before it */
static int64_t near(int64_t t)
{
    return t + (int64_t)rnd(8) - 5;
}

/*
 * 1-4 backups on timeline 1, 0-1 segment long, each ending 60-110 s after the previous; the
 * WAL from the first start to 0-3 segments past the last end, archived up to 5 s before or
 * 2 s after the end of the backup whose range holds it (or the last one's), sometimes with a
 * hole after the last backup; sometimes a timeline 2 forked after the last backup's end.
 */
static void generate(Gen *g, int round)
{
    char tag[32];
    snprintf(tag, sizeof tag, "window%d", round);
    fx_repo_init(&g->fx, tag);
    g->n_backups = 1 + (int)rnd(4);
    uint64_t seg = 2 + rnd(3), first = seg, start[4], stop[4];
    int64_t t = T0, stop_time[4];
    for (int i = 0; i < g->n_backups; i++) {
        start[i] = seg;
        stop[i] = seg + rnd(2);
        t += 60 + (int64_t)rnd(50);
        stop_time[i] = t;
        char label[16];
        snprintf(label, sizeof label, "B%d", i + 1);
        fx_save_backup(&g->fx, label, 1, start[i] * SEG + 0x28, stop[i] * SEG + 0x100, t, NULL);
        seg = stop[i] + 1 + rnd(3);
    }
    int last = g->n_backups - 1;
    uint64_t end = stop[last] + rnd(4), hole = rnd(3) == 0 ? stop[last] + 1 + rnd(3) : 0;
    for (uint64_t s = first; s <= end; s++) {
        int b = 0;
        while (b < last && s > stop[b])
            b++;
        if (s != hole)
            fx_put_wal(&g->fx, 1, s, NULL, near(stop_time[b]), NULL);
    }
    g->forked = rnd(3) == 0;
    if (g->forked) {
        uint64_t fork = stop[last] + 1;
        char hist[64];
        snprintf(hist, sizeof hist, "1\t0/%" PRIX64 "\tno reason\n", fork * SEG);
        fx_put_history(&g->fx, 2, hist);
        for (uint64_t s = fork; s <= fork + rnd(3); s++)
            fx_put_wal(&g->fx, 2, s, NULL, near(stop_time[last]), NULL);
    }
}

static void check_reach(const CatalogReach *r, const char *where, int round)
{
    if (!r->on_history || !r->consistent)
        return;
    ck_assert_msg(r->earliest_time <= r->latest_time && r->earliest_lsn <= r->latest_lsn,
                  "round %d, %s: window inverted: from %" PRId64 " (LSN %" PRIX64 ") to %" PRId64
                  " (LSN %" PRIX64 ")", round, where, r->earliest_time, r->earliest_lsn,
                  r->latest_time, r->latest_lsn);
}

static void check_catalog(const Catalog *c, int round)
{
    for (size_t i = 0; i < c->n_backups; i++)
        for (size_t t = 0; t < c->n_timelines; t++) {
            CatalogReach r;
            catalog_reach(c, &c->backups[i], c->timelines[t].tli, &r);
            check_reach(&r, "catalog_reach", round);
        }
}

static void check_info(Gen *g, int round)
{
    Info info;
    PgpErr err = {0};
    ck_assert_int_eq(info_load(g->fx.repo, g->fx.root, T0 + 100000, &info, &err), 0);
    for (size_t i = 0; i < info.n_windows; i++)
        check_reach(&info.windows[i].reach, "info window", round);
    info_free(&info);
}

/* The text plan's "from <time> ... to <time>", compared as ISO 8601 UTC text. */
static void check_expire(Gen *g, const Catalog *c, int round)
{
    RetentionPolicy pol = {.full = 1 + (unsigned)rnd((uint64_t)g->n_backups)};
    ExpirePlan p;
    PgpErr err = {0};
    ck_assert_int_eq(expire_plan_build(g->fx.st, NULL, c, &pol, T0 + 100000, &p, &err), 0);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    ck_assert_int_eq(expire_plan_print_text(&p, c, true, f, &err), 0);
    fclose(f);
    const char *line = strstr(text, "recoverable window after expire: from ");
    ck_assert_ptr_nonnull(line);
    char from[32] = "", to[32] = "";
    ck_assert_int_eq(sscanf(line, "recoverable window after expire: from %31s", from), 1);
    const char *t = strstr(line, ") to ");
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(sscanf(t, ") to %31s", to), 1);
    ck_assert_msg(strcmp(from, to) <= 0, "round %d: expire window inverted: %s", round, line);
    json_t *j = NULL;
    ck_assert_int_eq(expire_plan_to_json(&p, c, true, &j, &err), 0);
    const char *jf = json_string_value(json_object_get(json_object_get(j, "window"), "from_time"));
    const char *jt = json_string_value(json_object_get(json_object_get(j, "window"), "to_time"));
    ck_assert_msg(jf && jt && strcmp(jf, jt) <= 0, "round %d: JSON window %s to %s", round, jf,
                  jt);
    json_decref(j);
    free(text);
    expire_plan_free(&p);
}

/* Every "YYYY-MM-DD HH:MM:SS+00" after the first one in s (the backup's end) is later. */
static void check_times_in_order(const char *s, const char *where, int round)
{
    const char *p = s, *first = NULL;
    for (; *p != '\0'; p++) {
        int y, mo, d, h, mi, se;
        if (*p < '0' || *p > '9' || (p > s && p[-1] >= '0' && p[-1] <= '9') ||
            sscanf(p, "%4d-%2d-%2d %2d:%2d:%2d+00", &y, &mo, &d, &h, &mi, &se) != 6)
            continue;
        if (first == NULL)
            first = p;
        else
            ck_assert_msg(strncmp(first, p, 19) <= 0, "round %d, %s: %.19s before the backup's "
                          "end %.19s in: %s", round, where, p, first, s);
    }
}

/* Restore along timeline 1: to the end of the archive, and to a time far past it. */
static void check_restore(Gen *g, int round)
{
    RestoreRequest req = {.pgdata = "x", .target = {.timeline = "1"}};
    RestorePlan p;
    PgpErr err = {0};
    if (restore_plan_make(g->fx.repo, &req, &p, &err) == 0) {
        ck_assert_msg(p.latest_time >= p.manifest->stop_time && p.latest_lsn >= p.manifest->stop_lsn,
                      "round %d: restore window of %s inverted: ends %" PRId64 " before %" PRId64,
                      round, p.manifest->label, p.latest_time, p.manifest->stop_time);
        restore_plan_free(&p);
    }
    req.target.kind = RESTORE_TARGET_TIME;
    req.target.time_us = (T0 + 99999) * US;
    int rc = restore_plan_make(g->fx.repo, &req, &p, &err);
    ck_assert_int_eq(rc, PGP_ERR_NOT_FOUND);
    check_times_in_order(err.hint, "restore hint", round);
    check_times_in_order(err.msg, "restore error", round);
}

START_TEST(never_inverted_on_synthetic_repositories)
{
    rng_state = 0xD1B54A32D192ED03ull;
    /* a third of the rounds under a memory tool: 60 took 90 s under valgrind */
    int rounds = fx_under_memory_tool() ? ROUNDS / 3 : ROUNDS;
    for (int round = 0; round < rounds; round++) {
        Gen g;
        generate(&g, round);
        Catalog c;
        PgpErr err = {0};
        ck_assert_int_eq(catalog_load(g.fx.repo, CATALOG_LOAD_BACKUPS | CATALOG_LOAD_WAL, &c,
                                      &err), 0);
        check_catalog(&c, round);
        check_expire(&g, &c, round);
        catalog_free(&c);
        check_info(&g, round);
        check_restore(&g, round);
        fx_repo_free(&g.fx);
    }
}
END_TEST

Suite *suite_window(void)
{
    Suite *s = suite_create("window");
    TCase *tc = tcase_create("window");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, wal_archived_after_the_backup);
    tcase_add_test(tc, nothing_archived_after_the_backup_ended);
    tcase_add_test(tc, pure_property);
    tcase_add_test(tc, never_inverted_on_synthetic_repositories);
    suite_add_tcase(s, tc);
    return s;
}
