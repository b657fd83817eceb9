/*
 * test_tl_production.c - production's timeline from what each timeline received
 * (src/repo/tl_production.c): a stray promoted copy while production goes on, a failover
 * whose new timeline has archived only its history file, ties with an ancestor and with a
 * sibling, hostile parent links, and the warnings' text.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "pgpitr/repo/tl_production.h"
#include "pgpitr/pg/walname.h"

#define T 1795316400

static TlActivityList list;

static void teardown(void)
{
    tl_activity_free(&list);
}

static void seg(uint32_t tli, int64_t t, const char *name)
{
    PgpErr err;
    ck_assert_int_eq(tl_activity_note(&list, tli, t, name, &err), 0);
}

#define SEGSIZE (UINT32_C(16) << 20)

/* archived segment segno of tli at t */
static void segn(uint32_t tli, uint64_t segno, int64_t t)
{
    char name[PG_WALNAME_SEG_LEN + 1];
    PgpErr err;
    pg_walname_format(tli, segno, SEGSIZE, name);
    ck_assert_int_eq(tl_activity_segment(&list, tli, segno, t, name, &err), 0);
}

static void hist(uint32_t tli, uint32_t parent, uint64_t fork, int64_t t)
{
    PgpErr err;
    ck_assert_int_eq(tl_activity_history(&list, tli, t, &err), 0);
    TlActivity *a = tl_activity_get(&list, tli);
    ck_assert(a->has_history);
    ck_assert_int_eq(a->history_time, t);
    a->parent = parent;
    a->fork_lsn = fork;
}

#define contains(hay, needle) \
    ck_assert_msg(strstr((hay), (needle)) != NULL, "\"%s\" not in \"%s\"", (needle), (hay))

START_TEST(empty_and_notes)
{
    TlProduction p;
    tl_production_decide(&list, &p);
    ck_assert(!p.known);
    ck_assert_uint_eq(p.latest, 1);
    char text[256];
    tl_production_describe(&p, text, sizeof text);
    ck_assert_str_eq(text, "nothing is archived");
    tl_production_warning(&p, false, 2, 2, text, sizeof text);
    ck_assert_str_eq(text, "");

    /* the newest time wins; in the same second the greater name, whatever the order */
    seg(1, T + 5, "000000010000000000000003");
    seg(1, T + 9, "000000010000000000000002");
    seg(1, T + 9, "000000010000000000000004");
    seg(1, T + 9, "000000010000000000000001");
    seg(1, T + 1, "000000010000000000000009");
    const TlActivity *a = tl_activity_find(&list, 1);
    ck_assert_int_eq(a->last, T + 9);
    ck_assert_str_eq(a->last_name, "000000010000000000000004");
    ck_assert_ptr_null(tl_activity_find(&list, 2));
    /* kept ascending */
    seg(5, T, "000000050000000000000001");
    seg(3, T, "000000030000000000000001");
    ck_assert_uint_eq(list.n, 3);
    ck_assert_uint_eq(list.v[0].tli, 1);
    ck_assert_uint_eq(list.v[1].tli, 3);
    ck_assert_uint_eq(list.v[2].tli, 5);
}
END_TEST

/* Two promoted copies archived (2 off 1, 3 off 2); production went on on timeline 1. */
START_TEST(stray_copies)
{
    seg(1, T + 10, "000000010000000000000005");
    hist(2, 1, 0x3000000, T + 20);
    seg(2, T + 21, "000000020000000000000003");
    hist(3, 2, 0x3800000, T + 30);
    seg(1, T + 40, "000000010000000000000006");
    TlProduction p;
    tl_production_decide(&list, &p);
    ck_assert(p.known);
    ck_assert_uint_eq(p.tli, 1);
    ck_assert_uint_eq(p.latest, 3);
    ck_assert(!p.ambiguous);
    ck_assert_str_eq(p.last_name, "000000010000000000000006");
    char text[512];
    tl_production_describe(&p, text, sizeof text);
    ck_assert_str_eq(text, "it received the most recently archived WAL: "
                           "000000010000000000000006 at 2026-11-22T03:00:40Z");
    /* following latest (3), as restore does by default */
    tl_production_warning(&p, false, 3, 3, text, sizeof text);
    contains(text, "timeline 3, followed as latest");
    contains(text, "is not production's: timeline 1 is");
    contains(text, "add --target-timeline 1");
    /* following production's (1), as the drill does */
    tl_production_warning(&p, true, 1, 3, text, sizeof text);
    contains(text, "timeline 3 has the highest history file");
    contains(text, "a restore without --target-timeline 1 follows timeline 3");
    ck_assert(tl_activity_is_ancestor(&list, 1, 3));
    ck_assert(tl_activity_is_ancestor(&list, 2, 3));
    ck_assert(!tl_activity_is_ancestor(&list, 3, 1));
    ck_assert(!tl_activity_is_ancestor(&list, 3, 3));
}
END_TEST

/* A failover: the new timeline archived its history file, not yet a segment. */
START_TEST(failover)
{
    seg(1, T + 10, "000000010000000000000005");
    hist(2, 1, 0x5000100, T + 11);
    seg(1, T + 11, "000000010000000000000005.partial"); /* a caller skips these; still fine */
    TlProduction p;
    tl_production_decide(&list, &p);
    ck_assert_uint_eq(p.tli, 2);
    ck_assert(!p.ambiguous);           /* the tie is with its parent */
    char text[512];
    tl_production_warning(&p, false, 2, 2, text, sizeof text);
    ck_assert_str_eq(text, "");
    tl_production_warning(&p, true, 2, 2, text, sizeof text);
    ck_assert_str_eq(text, "");
}
END_TEST

/* Siblings archiving in the same second: the higher, said to be ambiguous. */
START_TEST(sibling_tie)
{
    seg(1, T + 10, "000000010000000000000005");
    hist(2, 1, 0x3000000, T + 12);
    hist(3, 1, 0x4000000, T + 12);
    TlProduction p;
    tl_production_decide(&list, &p);
    ck_assert_uint_eq(p.tli, 3);
    ck_assert(p.ambiguous);
    ck_assert_uint_eq(p.tied, 2);
    char text[512];
    tl_production_describe(&p, text, sizeof text);
    contains(text, "(a tie)");
    tl_production_warning(&p, true, 3, 3, text, sizeof text);
    contains(text, "production's timeline is ambiguous: timeline 2 received WAL in that same "
                   "second");
    contains(text, "timeline 3 is followed");
}
END_TEST

/* Parent links come from files anyone with write access can change: no endless loop. */
START_TEST(hostile_parents)
{
    hist(2, 3, 0x1000000, T);
    hist(3, 2, 0x2000000, T + 1);
    hist(4, 4, 0x2000000, T + 2);
    ck_assert(!tl_activity_is_ancestor(&list, 1, 3));
    ck_assert(tl_activity_is_ancestor(&list, 2, 3));
    ck_assert(!tl_activity_is_ancestor(&list, 1, 4));
    TlProduction p;
    tl_production_decide(&list, &p);
    ck_assert_uint_eq(p.tli, 4);
}
END_TEST

/* A fork off the past of its parent, less than a day old: a copy, or a PITR that replaced
 * production; the rule cannot tell until production archives again. */
START_TEST(recent_fork)
{
    for (uint64_t n = 1; n <= 9; n++)
        segn(1, n, T + (int64_t)n);
    hist(2, 1, 0x3000100, T + 20);      /* forked off in segment 3, 1's WAL goes on to 9 */
    segn(2, 3, T + 21);
    hist(3, 2, 0x3800000, T + 30);      /* forked off the end of 2's archived WAL */
    char text[640];
    tl_production_fork_warning(&list, 2, T + 60, SEGSIZE, text, sizeof text);
    ck_assert_str_eq(text, "timeline 2 forked off timeline 1 at 0/3000100 recently (its history "
                           "file arrived 2026-11-22T03:00:20Z), yet timeline 1's archived WAL "
                           "goes on past that point, to 000000010000000000000009: either a "
                           "point-in-time restore replaced production, or timeline 2 is a "
                           "restored copy's and production is still on timeline 1 (then use "
                           "--target-timeline 1)");
    /* through the history: 3 forked off 2's end, 2 off 1's past */
    tl_production_fork_warning(&list, 3, T + 60, SEGSIZE, text, sizeof text);
    contains(text, "timeline 2 forked off timeline 1 at 0/3000100");
    /* a day later it is history */
    tl_production_fork_warning(&list, 2, T + 20 + TL_RECENT_FORK_S, SEGSIZE, text, sizeof text);
    ck_assert_str_eq(text, "");
    tl_production_fork_warning(&list, 1, T + 60, SEGSIZE, text, sizeof text);
    ck_assert_str_eq(text, "");
    tl_production_fork_warning(&list, 7, T + 60, SEGSIZE, text, sizeof text);
    ck_assert_str_eq(text, "");
    ck_assert_uint_eq(tl_activity_find(&list, 1)->last_segno, 9);
}
END_TEST

/* A failover forks off the end of the old timeline: its last segment is the fork's. */
START_TEST(failover_fork_is_not_recent_fork)
{
    for (uint64_t n = 1; n <= 5; n++)
        segn(1, n, T + (int64_t)n);
    hist(2, 1, 0x5000100, T + 10);
    segn(2, 5, T + 11);
    char text[640];
    tl_production_fork_warning(&list, 2, T + 12, SEGSIZE, text, sizeof text);
    ck_assert_str_eq(text, "");
}
END_TEST

Suite *suite_tl_production(void)
{
    Suite *s = suite_create("tl_production");
    TCase *tc = tcase_create("decide");
    tcase_set_timeout(tc, 10);
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, empty_and_notes);
    tcase_add_test(tc, stray_copies);
    tcase_add_test(tc, failover);
    tcase_add_test(tc, sibling_tie);
    tcase_add_test(tc, hostile_parents);
    tcase_add_test(tc, recent_fork);
    tcase_add_test(tc, failover_fork_is_not_recent_fork);
    suite_add_tcase(s, tc);
    return s;
}
