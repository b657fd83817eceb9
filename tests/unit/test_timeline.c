/*
 * test_timeline.c - timeline history files and lookups along a history (src/pg/timeline.c).
 */
#include <check.h>
#include <stdint.h>
#include <string.h>

#include "pgpitr/pg/timeline.h"

#define SEG16 (UINT32_C(16) << 20)

static PgTimelineHistory parse_ok(uint32_t tli, const char *text)
{
    PgTimelineHistory h;
    PgpErr err;
    pgp_err_clear(&err);
    int rc = pg_timeline_parse(tli, text, strlen(text), &h, &err);
    ck_assert_msg(rc == 0, "history of %u rejected: %s", (unsigned)tli, err.msg);
    return h;
}

static void parse_bad(uint32_t tli, const char *text, size_t len, const char *needle)
{
    PgTimelineHistory h;
    PgpErr err;
    pgp_err_clear(&err);
    ck_assert_int_eq(pg_timeline_parse(tli, text, len, &h, &err), PGP_ERR_CORRUPT);
    ck_assert_msg(strstr(err.msg, needle) != NULL, "\"%s\" not in \"%s\"", needle, err.msg);
    ck_assert_ptr_null(strchr(err.msg, '\n'));
    pg_timeline_free(&h);
}

START_TEST(parse_postgres_files)
{
    /* what PostgreSQL 15 writes after a PITR promotion */
    PgTimelineHistory h = parse_ok(2, "1\t0/3000158\tbefore 2026-11-22 03:15:07.25+00\n");
    ck_assert_uint_eq(h.tli, 2);
    ck_assert_uint_eq(h.n, 2);
    ck_assert_uint_eq(h.entries[0].tli, 1);
    ck_assert_uint_eq(h.entries[0].begin, 0);
    ck_assert_uint_eq(h.entries[0].end, 0x3000158);
    ck_assert_uint_eq(h.entries[1].tli, 2);
    ck_assert_uint_eq(h.entries[1].begin, 0x3000158);
    ck_assert(h.entries[1].end == PG_TIMELINE_OPEN);
    pg_timeline_free(&h);

    /* ancestors, comments, blank lines, CRLF, equal switch points, no final newline */
    h = parse_ok(5, "# written by hand\n\n1\t0/3000158\tno recovery target specified\r\n"
                    "  2\t1/5000000\tat restore point \"x\"\n3 1/5000000 reason\n"
                    "4\tA/B0000000");
    ck_assert_uint_eq(h.n, 5);
    ck_assert_uint_eq(h.entries[1].tli, 2);
    ck_assert_uint_eq(h.entries[1].end, UINT64_C(0x105000000));
    ck_assert_uint_eq(h.entries[2].begin, UINT64_C(0x105000000));
    ck_assert_uint_eq(h.entries[2].end, UINT64_C(0x105000000));
    ck_assert_uint_eq(h.entries[4].tli, 5);
    ck_assert_uint_eq(h.entries[4].begin, UINT64_C(0xAB0000000));
    pg_timeline_free(&h);

    /* timeline 1, and a timeline whose history file is lost: itself only */
    PgpErr err;
    pgp_err_clear(&err);
    ck_assert_int_eq(pg_timeline_single(7, &h, &err), 0);
    ck_assert_uint_eq(h.n, 1);
    ck_assert_uint_eq(h.entries[0].tli, 7);
    ck_assert_uint_eq(h.entries[0].begin, 0);
    ck_assert(h.entries[0].end == PG_TIMELINE_OPEN);
    pg_timeline_free(&h);
    pg_timeline_free(&h); /* twice, and NULL: fine */
    pg_timeline_free(NULL);
    ck_assert_int_eq(pg_timeline_single(0, &h, &err), PGP_ERR_INTERNAL);
    pg_timeline_free(&h);
}
END_TEST

START_TEST(parse_damaged_files)
{
    parse_bad(2, "x\t0/1\n", 6, "numeric timeline ID");
    parse_bad(2, "1\n", 2, "white space after");
    parse_bad(2, "1\tzz\n", 5, "switch point");
    parse_bad(2, "1\t0/\n", 5, "switch point");
    parse_bad(3, "0\t0/1\n", 6, "timeline ID 0");
    parse_bad(4, "2\t0/1\n1\t0/2\n", 12, "increasing sequence");
    parse_bad(4, "2\t0/1\n2\t0/2\n", 12, "increasing sequence");
    parse_bad(2, "2\t0/1\n", 6, "less than the child");
    parse_bad(2, "5\t0/1\n", 6, "less than the child");
    parse_bad(1, "1\t0/1\n", 6, "less than the child");
    parse_bad(4, "1\t0/5000000\n2\t0/4000000\n", 24, "backwards");
    parse_bad(2, "1\t0/1\0junk\n", 11, "NUL");
    parse_bad(2, "99999999999\t0/1\n", 16, "numeric timeline ID");
    parse_bad(2, "", PG_TIMELINE_HISTORY_MAX + 1, "too large");
}
END_TEST

START_TEST(lookups)
{
    /* 1 -> 2 at 0/3000158 -> 3 at 0/5000000 (a segment boundary) */
    PgTimelineHistory h = parse_ok(3, "1\t0/3000158\ta\n2\t0/5000000\tb\n");
    ck_assert_ptr_nonnull(pg_timeline_find(&h, 2));
    ck_assert_ptr_null(pg_timeline_find(&h, 4));
    ck_assert_uint_eq(pg_timeline_of_lsn(&h, 0), 1);
    ck_assert_uint_eq(pg_timeline_of_lsn(&h, 0x3000157), 1);
    ck_assert_uint_eq(pg_timeline_of_lsn(&h, 0x3000158), 2);
    ck_assert_uint_eq(pg_timeline_of_lsn(&h, 0x4FFFFFF), 2);
    ck_assert_uint_eq(pg_timeline_of_lsn(&h, 0x5000000), 3);
    ck_assert_uint_eq(pg_timeline_of_lsn(&h, UINT64_MAX - 1), 3);

    /* segment 3 holds the switch to 2: recovery reads it from timeline 2's file */
    ck_assert_uint_eq(pg_timeline_of_segno(&h, 2, SEG16), 1);
    ck_assert_uint_eq(pg_timeline_of_segno(&h, 3, SEG16), 2);
    ck_assert_uint_eq(pg_timeline_of_segno(&h, 4, SEG16), 2);
    /* a switch exactly at a segment boundary: the new timeline starts with that segment */
    ck_assert_uint_eq(pg_timeline_of_segno(&h, 5, SEG16), 3);
    ck_assert_uint_eq(pg_timeline_of_segno(&h, 900, SEG16), 3);
    ck_assert_uint_eq(pg_timeline_of_segno(&h, 5, 12345), 0);
    /* with 1 MiB segments the same switch points fall in other segments */
    ck_assert_uint_eq(pg_timeline_of_segno(&h, 0x2F, UINT32_C(1) << 20), 1);
    ck_assert_uint_eq(pg_timeline_of_segno(&h, 0x30, UINT32_C(1) << 20), 2);

    uint64_t fork = 1;
    ck_assert(pg_timeline_contains(&h, 1, 0x3000100, &fork));
    ck_assert_uint_eq(fork, 0x3000158);
    ck_assert(pg_timeline_contains(&h, 1, 0x3000158, NULL)); /* ends exactly at the fork */
    ck_assert(!pg_timeline_contains(&h, 1, 0x3000159, &fork));
    ck_assert(pg_timeline_contains(&h, 2, 0x4000000, NULL));
    ck_assert(pg_timeline_contains(&h, 3, UINT64_MAX - 1, &fork));
    ck_assert(fork == PG_TIMELINE_OPEN);
    ck_assert(!pg_timeline_contains(&h, 4, 0, &fork));
    ck_assert_uint_eq(fork, 0);

    char name[32], text[64];
    pg_timeline_history_name(0x1A, name);
    ck_assert_str_eq(name, "0000001A.history");
    pg_timeline_describe(&h, text, sizeof text);
    ck_assert_str_eq(text, "1 -> 2 at 0/3000158 -> 3 at 0/5000000");
    pg_timeline_describe(&h, text, 24);
    ck_assert_str_eq(text, "1 -> 2 at 0/3000158...");
    pg_timeline_free(&h);
}
END_TEST

Suite *suite_timeline(void)
{
    Suite *s = suite_create("timeline");
    TCase *tc = tcase_create("history");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, parse_postgres_files);
    tcase_add_test(tc, parse_damaged_files);
    tcase_add_test(tc, lookups);
    suite_add_tcase(s, tc);
    return s;
}
