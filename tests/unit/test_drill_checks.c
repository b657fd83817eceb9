/*
 * test_drill_checks.c - the server-less rules of `pgpitr drill` (src/drill/drill_checks.c): the
 * --check-sql format, the archive scan's newest segment per timeline, and whether recovery
 * reached the target, on synthetic server logs (src/pg/serverlog.c feeds them).
 */
#include "pgpitr/drill/drill_checks.h"

#include <check.h>
#include <stdio.h>
#include <string.h>

#include "pgpitr/pg/pgserverlog.h"

static DrillSqlChecks parse_ok(const char *text)
{
    DrillSqlChecks c;
    PgpErr err;
    pgp_err_clear(&err);
    int rc = drill_sql_parse(text, strlen(text), "checks.sql", &c, &err);
    ck_assert_msg(rc == 0, "parse failed: %s", err.msg);
    return c;
}

static void parse_bad(const char *text, const char *msg_part)
{
    DrillSqlChecks c;
    PgpErr err;
    pgp_err_clear(&err);
    int rc = drill_sql_parse(text, strlen(text), "checks.sql", &c, &err);
    ck_assert_int_eq(rc, PGP_ERR_USAGE);
    ck_assert_msg(strstr(err.msg, msg_part) != NULL, "\"%s\" not in \"%s\"", msg_part, err.msg);
    ck_assert_uint_eq(c.n, 0);
    ck_assert_ptr_null(c.v);
}

START_TEST(sql_basic)
{
    DrillSqlChecks c = parse_ok("-- checks of the restored accounts\n"
                                "\n"
                                "-- name: accounts\n"
                                "--   Expect :  100000  \n"
                                "SELECT count(*)\n"
                                "  FROM pgbench_accounts;\n"
                                "\n"
                                "-- expect: t\n"
                                "-- database: other db\n"
                                "SELECT true; -- trailing comment\n");
    ck_assert_uint_eq(c.n, 2);
    ck_assert_str_eq(c.v[0].name, "accounts");
    ck_assert_str_eq(c.v[0].expect, "100000");
    ck_assert_ptr_null(c.v[0].database);
    ck_assert_str_eq(c.v[0].sql, "SELECT count(*)\n  FROM pgbench_accounts;");
    ck_assert_int_eq(c.v[0].line, 3);
    ck_assert_str_eq(c.v[1].name, "line 8");
    ck_assert_str_eq(c.v[1].expect, "t");
    ck_assert_str_eq(c.v[1].database, "other db");
    ck_assert_str_eq(c.v[1].sql, "SELECT true; -- trailing comment");
    drill_sql_free(&c);
    drill_sql_free(&c); /* twice is fine */
}
END_TEST

START_TEST(sql_edge_cases)
{
    /* Empty expectation, CRLF, no final newline, comment lines inside the header. */
    DrillSqlChecks c = parse_ok("-- expect:\r\n-- a note\r\n-- name: empty\r\nSELECT ''");
    ck_assert_uint_eq(c.n, 1);
    ck_assert_str_eq(c.v[0].expect, "");
    ck_assert_str_eq(c.v[0].name, "empty");
    ck_assert_str_eq(c.v[0].sql, "-- a note\nSELECT ''");
    drill_sql_free(&c);
    /* "-- expected: 5" is a comment, not a header. */
    c = parse_ok("-- expect: 5\n-- expected: 6\nSELECT 5\n");
    ck_assert_uint_eq(c.n, 1);
    ck_assert_str_eq(c.v[0].expect, "5");
    drill_sql_free(&c);
}
END_TEST

START_TEST(sql_errors)
{
    parse_bad("SELECT 1;\n", "checks.sql:1: SQL before any");
    parse_bad("-- name: x\nSELECT 1;\n", "checks.sql:1: check has no \"-- expect:\" line");
    parse_bad("-- expect: 1\n\n-- just a comment\n", "checks.sql:1: check has no SQL");
    parse_bad("-- expect: 1\n-- expect: 2\nSELECT 1\n", "checks.sql:2: second \"-- expect:\"");
    parse_bad("-- expect: 1\nSELECT 1\n-- name:\nSELECT 2\n", "empty \"-- name:\"");
    parse_bad("-- expect: 1\nSELECT 1\n-- database:  \n", "empty \"-- database:\"");
    parse_bad("", "no check found");
    parse_bad("-- only comments\n\n", "no check found");
    DrillSqlChecks c;
    ck_assert_int_eq(drill_sql_parse("-- expect: 1\nSELECT\0 1", 20, "f", &c, NULL),
                     PGP_ERR_USAGE);
}
END_TEST

START_TEST(archive_scan_newest)
{
    DrillArchiveScan s = {0};
    const char *sha = "-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.zst";
    char name[128];
    const char *segs[] = {"000000010000000000000003", "000000010000000100000001",
                          "000000020000000000000009", "000000010000000000000004"};
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof name, "%s%s", segs[i], sha);
        ck_assert_int_eq(drill_archive_scan_add(&s, name, 1000 + i, NULL), 0);
    }
    /* Not segments: ignored. */
    ck_assert_int_eq(drill_archive_scan_add(&s, "000000010000000200000001.partial-ab.zst", 5000,
                                            NULL), 0);
    ck_assert_int_eq(drill_archive_scan_add(&s, "000000010000000000000002.00000028.backup-ab",
                                            5000, NULL), 0);
    ck_assert_int_eq(drill_archive_scan_add(&s, "garbage", 5000, NULL), 0);
    ck_assert_uint_eq(s.segments, 4);
    ck_assert(s.has_newest);
    ck_assert_int_eq(s.newest_mtime, 1003);
    ck_assert_str_eq(drill_archive_newest(&s, 1), "000000010000000100000001");
    ck_assert_str_eq(drill_archive_newest(&s, 2), "000000020000000000000009");
    ck_assert_ptr_null(drill_archive_newest(&s, 3));
    drill_archive_scan_free(&s);
}
END_TEST

/* A log as PostgreSQL 15 writes it at the end of a recovery. */
static void feed(PgServerLog *l, const char *const *lines)
{
    pg_server_log_init(l);
    for (size_t i = 0; lines[i] != NULL; i++)
        pg_server_log_feed(l, lines[i], strlen(lines[i]));
}

static const char *const latest_log[] = {
    "2026-11-22 04:00:01.000 UTC [10] LOG:  restored log file \"000000010000000000000003\" from archive",
    "2026-11-22 04:00:01.100 UTC [10] LOG:  redo starts at 0/3000028",
    "2026-11-22 04:00:01.200 UTC [10] LOG:  restored log file \"000000010000000000000004\" from archive",
    "2026-11-22 04:00:02.000 UTC [10] LOG:  redo done at 0/44A3EE8 system usage: CPU: user: 0.01 s",
    "2026-11-22 04:00:02.000 UTC [10] LOG:  last completed transaction was at log time 2026-11-22 04:09:39.676743+00",
    "2026-11-22 04:00:02.100 UTC [10] LOG:  restored log file \"000000010000000000000004\" from archive",
    "2026-11-22 04:00:02.200 UTC [10] LOG:  selected new timeline ID: 2",
    "2026-11-22 04:00:02.300 UTC [9] LOG:  database system is ready to accept connections",
    NULL,
};

START_TEST(target_latest)
{
    PgServerLog l;
    feed(&l, latest_log);
    DrillArchiveScan s = {0};
    ck_assert_int_eq(drill_archive_scan_add(&s, "000000010000000000000004-ab.zst", 1, NULL), 0);
    RestoreTargetSpec t = {.kind = RESTORE_TARGET_LATEST};
    DrillTargetResult r;
    drill_target_evaluate(&t, &l, &s, &r);
    ck_assert_msg(r.passed, "%s", r.detail);
    ck_assert(r.has_lsn);
    ck_assert_uint_eq(r.lsn, 0x44A3EE8);
    ck_assert(r.has_time);
    ck_assert_int_eq(r.time_us, 1795320579676743LL);
    ck_assert_uint_eq(r.timeline, 1);
    ck_assert_ptr_nonnull(strstr(r.detail, "000000010000000000000004"));
    /* The archive held more than was replayed: never pass with less data. */
    ck_assert_int_eq(drill_archive_scan_add(&s, "000000010000000000000005-cd.zst", 2, NULL), 0);
    drill_target_evaluate(&t, &l, &s, &r);
    ck_assert(!r.passed);
    ck_assert_ptr_nonnull(strstr(r.detail, "up to 000000010000000000000005"));
    drill_archive_scan_free(&s);
    /* No redo at all. */
    pg_server_log_init(&l);
    drill_target_evaluate(&t, &l, NULL, &r);
    ck_assert(!r.passed);
    ck_assert_ptr_nonnull(strstr(r.detail, "redo done"));
}
END_TEST

START_TEST(target_time_and_others)
{
    static const char *const log_time[] = {
        "x LOG:  restored log file \"000000010000000000000003\" from archive",
        "x LOG:  recovery stopping before commit of transaction 745, time 2026-11-22 04:00:09.5+00",
        "x LOG:  redo done at 0/3000148 system usage: CPU: user: 0.00 s",
        "x LOG:  last completed transaction was at log time 2026-11-22 05:00:07.25+01",
        NULL,
    };
    PgServerLog l;
    feed(&l, log_time);
    int64_t target_us = 0;
    ck_assert(pg_log_parse_timestamp("2026-11-22 04:00:08Z", &target_us));
    RestoreTargetSpec t = {.kind = RESTORE_TARGET_TIME, .time_us = target_us};
    DrillTargetResult r;
    drill_target_evaluate(&t, &l, NULL, &r);
    ck_assert_msg(r.passed, "%s", r.detail);
    ck_assert_ptr_nonnull(strstr(r.detail, "recovery stopping before commit of transaction 745"));
    /* Last commit after the target: failed. */
    t.time_us = target_us - 2000000;
    drill_target_evaluate(&t, &l, NULL, &r);
    ck_assert(!r.passed);
    ck_assert_ptr_nonnull(strstr(r.detail, "after the target"));
    /* xid: the stop line must name it. */
    RestoreTargetSpec x = {.kind = RESTORE_TARGET_XID, .xid = "745"};
    drill_target_evaluate(&x, &l, NULL, &r);
    ck_assert(r.passed);
    x.xid = "746";
    drill_target_evaluate(&x, &l, NULL, &r);
    ck_assert(!r.passed);
    /* No stop line (the WAL ended first): failed for every stopping target. */
    feed(&l, latest_log);
    RestoreTargetSpec n = {.kind = RESTORE_TARGET_NAME, .name = "before_four"};
    drill_target_evaluate(&n, &l, NULL, &r);
    ck_assert(!r.passed);
    ck_assert_ptr_nonnull(strstr(r.detail, "did not stop at the target"));
    RestoreTargetSpec i = {.kind = RESTORE_TARGET_IMMEDIATE};
    drill_target_evaluate(&i, &l, NULL, &r);
    ck_assert(!r.passed);
}
END_TEST

Suite *suite_drill_checks(void)
{
    Suite *s = suite_create("drill_checks");
    TCase *tc = tcase_create("check_sql");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, sql_basic);
    tcase_add_test(tc, sql_edge_cases);
    tcase_add_test(tc, sql_errors);
    suite_add_tcase(s, tc);
    tc = tcase_create("archive_and_target");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, archive_scan_newest);
    tcase_add_test(tc, target_latest);
    tcase_add_test(tc, target_time_and_others);
    suite_add_tcase(s, tc);
    return s;
}
