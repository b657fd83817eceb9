/*
 * test_drill_serverlog.c - reading a PostgreSQL 15 server log for the drill (src/pg/
 * serverlog.c): the recovery lines, FATAL and restore_command errors, timestamps with offsets,
 * incremental reading that never consumes half a line, and the tail of the file.
 */
#include "pgpitr/pg/pgserverlog.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void feed(PgServerLog *l, const char *line)
{
    pg_server_log_feed(l, line, strlen(line));
}

START_TEST(recovery_lines)
{
    PgServerLog l;
    pg_server_log_init(&l);
    ck_assert(!l.recovery_started);
    feed(&l, "2026-11-22 04:00:00.900 UTC [10] LOG:  starting point-in-time recovery to 2026-11-22 04:09:39.5-05:30");
    ck_assert(l.recovery_started);
    feed(&l, "2026-11-22 04:00:01.000 UTC [10] LOG:  restored log file \"00000002.history\" from archive");
    feed(&l, "2026-11-22 04:00:01.000 UTC [10] LOG:  restored log file \"000000010000000000000003\" from archive\n");
    feed(&l, "2026-11-22 04:00:01.100 UTC [10] LOG:  redo starts at 0/3000028");
    feed(&l, "2026-11-22 04:00:01.500 UTC [10] LOG:  restored log file \"000000020000000000000004\" from archive");
    feed(&l, "2026-11-22 04:00:01.900 UTC [10] LOG:  recovery stopping after reaching consistency");
    feed(&l, "2026-11-22 04:00:02.000 UTC [10] LOG:  redo done at 0/44A3EE8 system usage: CPU");
    feed(&l, "2026-11-22 04:00:02.000 UTC [10] LOG:  last completed transaction was at log time 2026-11-22 04:09:39.5-05:30");
    feed(&l, "2026-11-22 04:00:02.100 UTC [10] LOG:  restored log file \"000000020000000000000004\" from archive");
    feed(&l, "2026-11-22 04:00:02.200 UTC [10] LOG:  selected new timeline ID: 3");
    feed(&l, "2026-11-22 04:00:02.250 UTC [10] LOG:  archive recovery complete");
    feed(&l, "2026-11-22 04:00:02.300 UTC [9] LOG:  database system is ready to accept read-only connections");
    ck_assert(!l.ready);
    feed(&l, "2026-11-22 04:00:02.300 UTC [9] LOG:  database system is ready to accept connections");
    ck_assert(l.ready);
    ck_assert_uint_eq(l.history_restored, 1);
    ck_assert_uint_eq(l.segments_fetched, 3);
    ck_assert_uint_eq(l.segments_restored, 2);
    ck_assert_str_eq(l.last_segment, "000000020000000000000004");
    ck_assert(l.has_redo_start);
    ck_assert_uint_eq(l.redo_start_lsn, 0x3000028);
    ck_assert(l.has_redo_done);
    ck_assert_uint_eq(l.redo_done_lsn, 0x44A3EE8);
    ck_assert(l.has_last_xact);
    ck_assert_str_eq(l.last_xact_text, "2026-11-22 04:09:39.5-05:30");
    int64_t expect;
    ck_assert(pg_log_parse_timestamp("2026-11-22T09:39:39.5Z", &expect));
    ck_assert_int_eq(l.last_xact_us, expect);
    ck_assert_str_eq(l.stop_text, "recovery stopping after reaching consistency");
    ck_assert_uint_eq(l.new_timeline, 3);
    ck_assert(l.archive_recovery_complete);
    ck_assert_str_eq(l.last_fatal, "");
}
END_TEST

/* Seen in CI: the drill's connection probe, refused while the startup process failed, logged
 * its FATAL after the one that says why recovery failed; the reason named the probe's. */
START_TEST(refused_connection_keeps_the_cause)
{
    PgServerLog l;
    pg_server_log_init(&l);
    feed(&l, "2026-12-06 00:43:49.922 UTC [23146] FATAL:  recovery ended before configured recovery target was reached");
    feed(&l, "2026-12-06 00:43:49.937 UTC [23133] LOG:  startup process (PID 23146) exited with exit code 1");
    feed(&l, "2026-12-06 00:43:49.955 UTC [23182] FATAL:  the database system is in recovery mode");
    feed(&l, "2026-12-06 00:43:49.956 UTC [23183] FATAL:  the database system is starting up");
    feed(&l, "2026-12-06 00:43:49.957 UTC [23184] FATAL:  the database system is shutting down");
    ck_assert_str_eq(l.last_fatal, "recovery ended before configured recovery target was reached");
}
END_TEST

START_TEST(errors_and_noise)
{
    PgServerLog l;
    pg_server_log_init(&l);
    feed(&l, "pgpitr: error: object \"archive/wal/x\" is corrupt: checksum mismatch");
    feed(&l, "2026-11-22 04:00:01 UTC [10] FATAL:  could not restore file \"000000010000000000000005\" from archive: child process exited with exit code 255");
    feed(&l, "2026-11-22 04:00:01 UTC [10] CONTEXT:  WAL redo at 0/5000028 for Heap/INSERT");
    feed(&l, "2026-11-22 04:00:01 UTC [11] ERROR:  relation \"x\" does not exist");
    feed(&l, "2026-11-22 04:00:01 UTC [11] STATEMENT:  LOG:  redo done at 1/1");
    feed(&l, "restored log file \"000000010000000000000009\" from archive");   /* no severity */
    feed(&l, "2026-11-22 04:00:01 UTC [10] LOG:  restored log file \"../../etc/passwd\" from archive");
    feed(&l, "2026-11-22 04:00:01 UTC [10] LOG:  redo done at garbage");
    feed(&l, "2026-11-22 04:00:01 UTC [10] LOG:  last completed transaction was at log time yesterday");
    feed(&l, "2026-11-22 04:00:01 UTC [10] LOG:  selected new timeline ID: 0");
    ck_assert_str_eq(l.last_tool_error, "object \"archive/wal/x\" is corrupt: checksum mismatch");
    ck_assert_ptr_nonnull(strstr(l.last_fatal, "could not restore file \"000000010000000000000005\""));
    ck_assert_str_eq(l.last_error, "relation \"x\" does not exist");
    ck_assert_uint_eq(l.segments_fetched, 0);
    ck_assert(!l.has_redo_done);
    ck_assert(!l.has_last_xact);
    ck_assert_uint_eq(l.new_timeline, 0);
    /* Control characters never reach the report; very long lines are cut. */
    char longline[6000];
    memset(longline, 'a', sizeof longline);
    memcpy(longline, "x FATAL:  \x01", 11);
    pg_server_log_feed(&l, longline, sizeof longline);
    ck_assert_uint_eq(strlen(l.last_fatal), PG_SERVER_LOG_TEXT_MAX - 1);
    ck_assert_int_eq(l.last_fatal[0], '?');
}
END_TEST

START_TEST(timestamps)
{
    int64_t us;
    ck_assert(pg_log_parse_timestamp("1970-01-01 00:00:00+00", &us));
    ck_assert_int_eq(us, 0);
    int64_t z;
    ck_assert(pg_log_parse_timestamp("2026-11-22T02:15:07.250000Z", &z));
    ck_assert_int_eq(z, 1795313707250000LL);
    ck_assert(pg_log_parse_timestamp("2026-11-22 03:15:07.25+01", &us));
    ck_assert_int_eq(us, z);
    ck_assert(pg_log_parse_timestamp("2026-11-22 07:45:07.25+05:30", &us));
    ck_assert_int_eq(us, z);
    ck_assert(pg_log_parse_timestamp("2026-11-22 07:45:37.25+05:30:30", &us));
    ck_assert_int_eq(us, z);
    ck_assert(pg_log_parse_timestamp("2026-11-21 21:15:07.25-0500", &us));
    ck_assert_int_eq(us, z);
    ck_assert(pg_log_parse_timestamp("2026-11-22 02:15:07.1234567+00", &us)); /* extra digits cut */
    ck_assert_int_eq(us % 1000000, 123456);
    ck_assert(!pg_log_parse_timestamp("2026-11-22 02:15:07", &us));          /* no offset */
    ck_assert(!pg_log_parse_timestamp("2026-11-22 02:15:07 UTC", &us));
    ck_assert(!pg_log_parse_timestamp("2026-11-22 02:15:07.+00", &us));
    ck_assert(!pg_log_parse_timestamp("2026-13-22 02:15:07+00", &us));
    ck_assert(!pg_log_parse_timestamp("1969-12-31 23:59:59+00", &us));
    ck_assert(!pg_log_parse_timestamp("", &us));
}
END_TEST

START_TEST(poll_and_tail)
{
    char path[] = "/tmp/pgpitr_test_serverlog.XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    FILE *f = fdopen(fd, "w");
    PgServerLog l;
    pg_server_log_init(&l);
    fputs("a LOG:  redo starts at 0/10\nb LOG:  selected new timeline ID: 7", f);
    fflush(f);
    ck_assert_int_eq(pg_server_log_poll(&l, path, false, NULL), 0);
    ck_assert(l.has_redo_start);
    ck_assert_uint_eq(l.new_timeline, 0);           /* half a line waits */
    ck_assert_uint_eq(l.lines, 1);
    fputs("5\nc LOG:  database system is ready to accept connections", f);
    fflush(f);
    ck_assert_int_eq(pg_server_log_poll(&l, path, false, NULL), 0);
    ck_assert_uint_eq(l.new_timeline, 75);
    ck_assert(!l.ready);
    ck_assert_int_eq(pg_server_log_poll(&l, path, true, NULL), 0);
    ck_assert(l.ready);
    ck_assert_uint_eq(l.lines, 3);
    ck_assert_int_eq(pg_server_log_poll(&l, path, true, NULL), 0);
    ck_assert_uint_eq(l.lines, 3);
    fclose(f);

    char **lines = NULL;
    size_t n = 0;
    ck_assert_int_eq(pg_server_log_tail(path, 2, &lines, &n, NULL), 0);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(lines[0], "b LOG:  selected new timeline ID: 75");
    ck_assert_str_eq(lines[1], "c LOG:  database system is ready to accept connections");
    pg_server_log_tail_free(lines, n);
    ck_assert_int_eq(pg_server_log_tail(path, 10, &lines, &n, NULL), 0);
    ck_assert_uint_eq(n, 3);
    pg_server_log_tail_free(lines, n);
    unlink(path);
    ck_assert_int_eq(pg_server_log_poll(&l, path, true, NULL), 0);   /* missing: nothing yet */
    ck_assert_int_eq(pg_server_log_tail(path, 10, &lines, &n, NULL), 0);
    ck_assert_uint_eq(n, 0);
    ck_assert_ptr_null(lines);
}
END_TEST

/* Feeds lines through one filter; returns a malloc'd "|"-joined list of the kept lines'
 * messages (the text after the first "]  " or the whole line). */
static char *kept(const char *const *lines, size_t n)
{
    PgServerLogFilter f = {0};
    char *out = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&out, &len);
    for (size_t i = 0; i < n; i++) {
        if (!pg_server_log_relevant(&f, lines[i]))
            continue;
        const char *msg = strstr(lines[i], "] ");
        fprintf(m, "%s%s", ftell(m) > 0 ? "|" : "", msg != NULL ? msg + 2 : lines[i]);
    }
    fclose(m);
    return out;
}

/* What a failed drill shows: a check failed after recovery (milestones and the query's
 * error, not the per-segment, checkpoint and shutdown lines). */
START_TEST(excerpt_after_recovery)
{
    static const char *const log[] = {
        "2026-12-04 04:55:53.599 UTC [1] LOG:  starting PostgreSQL 15.18 (Debian) on x86_64",
        "2026-12-04 04:55:53.605 UTC [1] LOG:  listening on Unix socket \"/tmp/d/.s.PGSQL.5\"",
        "2026-12-04 04:55:53.609 UTC [3] LOG:  database system was interrupted; last known up at 2026-12-04 04:55:44 UTC",
        "2026-12-04 04:55:53.609 UTC [3] LOG:  starting archive recovery",
        "2026-12-04 04:55:53.609 UTC [3] LOG:  starting backup recovery with redo LSN 0/3000028, checkpoint LSN 0/3000060, on timeline ID 1",
        "2026-12-04 04:55:53.689 UTC [3] LOG:  restored log file \"000000010000000000000003\" from archive",
        "2026-12-04 04:55:53.691 UTC [3] LOG:  redo starts at 0/3000028",
        "2026-12-04 04:55:53.732 UTC [3] LOG:  restored log file \"000000010000000000000004\" from archive",
        "2026-12-04 04:55:53.733 UTC [3] LOG:  consistent recovery state reached at 0/3000100",
        "2026-12-04 04:55:53.747 UTC [3] LOG:  redo done at 0/401AEF0 system usage: CPU: user: 0.00 s",
        "2026-12-04 04:55:53.747 UTC [3] LOG:  last completed transaction was at log time 2026-12-04 04:55:46.131047+00",
        "2026-12-04 04:55:53.798 UTC [3] LOG:  selected new timeline ID: 2",
        "2026-12-04 04:55:53.812 UTC [3] LOG:  archive recovery complete",
        "2026-12-04 04:55:53.812 UTC [2] LOG:  checkpoint starting: end-of-recovery immediate wait",
        "2026-12-04 04:55:53.815 UTC [2] LOG:  checkpoint complete: wrote 25 buffers (0.2%)",
        "2026-12-04 04:55:53.820 UTC [1] LOG:  database system is ready to accept connections",
        "2026-12-04 04:55:53.900 UTC [7] ERROR:  relation \"nope\" does not exist at character 15",
        "2026-12-04 04:55:53.900 UTC [7] STATEMENT:  SELECT *",
        "\tFROM nope;",
        "2026-12-04 04:55:53.930 UTC [1] LOG:  received fast shutdown request",
        "2026-12-04 04:55:53.930 UTC [1] LOG:  aborting any active transactions",
        "2026-12-04 04:55:53.933 UTC [8] FATAL:  terminating connection due to administrator command",
        "2026-12-04 04:55:53.933 UTC [8] LOG:  could not send data to client: Broken pipe",
        "2026-12-04 04:55:53.939 UTC [1] LOG:  background worker \"logical replication launcher\" (PID 9) exited with exit code 1",
        "2026-12-04 04:55:53.940 UTC [2] LOG:  shutting down",
        "2026-12-04 04:55:53.940 UTC [2] LOG:  checkpoint starting: shutdown immediate",
        "2026-12-04 04:55:53.956 UTC [1] LOG:  database system is shut down",
    };
    char *got = kept(log, sizeof log / sizeof *log);
    ck_assert_str_eq(got,
        "LOG:  database system was interrupted; last known up at 2026-12-04 04:55:44 UTC|"
        "LOG:  starting archive recovery|"
        "LOG:  redo starts at 0/3000028|"
        "LOG:  consistent recovery state reached at 0/3000100|"
        "LOG:  redo done at 0/401AEF0 system usage: CPU: user: 0.00 s|"
        "LOG:  last completed transaction was at log time 2026-12-04 04:55:46.131047+00|"
        "LOG:  selected new timeline ID: 2|"
        "LOG:  archive recovery complete|"
        "LOG:  database system is ready to accept connections|"
        "ERROR:  relation \"nope\" does not exist at character 15|"
        "STATEMENT:  SELECT *|"
        "\tFROM nope;");
    free(got);
}
END_TEST

/* Recovery stopped: restore_command's own lines, the FATAL with its CONTEXT, where the WAL
 * ended, the startup process's exit; a setting refused at start-up. */
START_TEST(excerpt_of_failures)
{
    static const char *const corrupt[] = {
        "2026-12-04 05:01:40.000 UTC [3] LOG:  restored log file \"000000010000000000000005\" from archive",
        "pgpitr: info: fetched 000000010000000000000005",
        "pgpitr: warn: prefetch of \"000000010000000000000006\" failed, left to archive-get",
        "pgpitr: error: cannot restore \"000000010000000000000006\": checksum mismatch",
        "HINT: run pgpitr verify",
        "2026-12-04 05:01:40.100 UTC [3] FATAL:  could not restore file \"000000010000000000000006\" from archive: child process exited with exit code 255",
        "2026-12-04 05:01:40.100 UTC [3] CONTEXT:  WAL redo at 0/5000028 for Heap/INSERT",
        "2026-12-04 05:01:40.101 UTC [1] LOG:  startup process (PID 3) exited with exit code 1",
        "2026-12-04 05:01:40.101 UTC [1] LOG:  terminating any other active server processes",
        "2026-12-04 05:01:40.102 UTC [1] LOG:  shutting down due to startup process failure",
        "2026-12-04 05:01:40.103 UTC [1] LOG:  database system is shut down",
    };
    char *got = kept(corrupt, sizeof corrupt / sizeof *corrupt);
    ck_assert_str_eq(got,
        "pgpitr: warn: prefetch of \"000000010000000000000006\" failed, left to archive-get|"
        "pgpitr: error: cannot restore \"000000010000000000000006\": checksum mismatch|"
        "HINT: run pgpitr verify|"
        "FATAL:  could not restore file \"000000010000000000000006\" from archive: child process "
        "exited with exit code 255|"
        "CONTEXT:  WAL redo at 0/5000028 for Heap/INSERT|"
        "LOG:  startup process (PID 3) exited with exit code 1|"
        "LOG:  terminating any other active server processes|"
        "LOG:  shutting down due to startup process failure");
    free(got);

    static const char *const startup[] = {
        "2026-12-04 05:01:40.000 UTC [1] LOG:  invalid value for parameter \"shared_buffers\": \"lots\"",
        "2026-12-04 05:01:40.000 UTC [1] LOG:  unrecognized configuration parameter \"shared_bufers\" in file \"/d/postgresql.conf\" line 3",
        "2026-12-04 05:01:40.000 UTC [1] FATAL:  configuration file \"/d/postgresql.conf\" contains errors",
        "2026-12-04 05:01:40.000 UTC [3] LOG:  invalid record length at 0/401AEF0: wanted 24, got 0",
        "2026-12-04 05:01:40.000 UTC [3] WARNING:  recovery_target_timeline is odd",
        "2026-12-04 05:01:40.000 UTC [3] NOTICE:  nothing to see",
        "2026-12-04 05:01:40.000 UTC [3] DETAIL:  detail of the notice",
    };
    got = kept(startup, sizeof startup / sizeof *startup);
    ck_assert_str_eq(got,
        "LOG:  invalid value for parameter \"shared_buffers\": \"lots\"|"
        "LOG:  unrecognized configuration parameter \"shared_bufers\" in file \"/d/postgresql.conf\" line 3|"
        "FATAL:  configuration file \"/d/postgresql.conf\" contains errors|"
        "LOG:  invalid record length at 0/401AEF0: wanted 24, got 0|"
        "WARNING:  recovery_target_timeline is odd");
    free(got);
}
END_TEST

/* pg_server_log_excerpt: the last max_lines relevant lines of a file. */
START_TEST(excerpt_file)
{
    char path[] = "/tmp/pgpitr_test_serverlog.XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    FILE *f = fdopen(fd, "w");
    for (int i = 0; i < 100; i++)
        fprintf(f, "t [3] LOG:  restored log file \"0000000100000000000000%02X\" from archive\n", i);
    fputs("t [3] LOG:  redo starts at 0/3000028\nt [3] FATAL:  one\nt [3] FATAL:  two\n", f);
    fclose(f);
    char **lines = NULL;
    size_t n = 0;
    ck_assert_int_eq(pg_server_log_excerpt(path, 2, &lines, &n, NULL), 0);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(lines[0], "t [3] FATAL:  one");
    ck_assert_str_eq(lines[1], "t [3] FATAL:  two");
    pg_server_log_tail_free(lines, n);
    ck_assert_int_eq(pg_server_log_excerpt(path, 10, &lines, &n, NULL), 0);
    ck_assert_uint_eq(n, 3);
    ck_assert_str_eq(lines[0], "t [3] LOG:  redo starts at 0/3000028");
    pg_server_log_tail_free(lines, n);
    unlink(path);
    ck_assert_int_eq(pg_server_log_excerpt(path, 10, &lines, &n, NULL), 0);
    ck_assert_uint_eq(n, 0);
}
END_TEST

Suite *suite_drill_serverlog(void)
{
    Suite *s = suite_create("drill_serverlog");
    TCase *tc = tcase_create("serverlog");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, recovery_lines);
    tcase_add_test(tc, errors_and_noise);
    tcase_add_test(tc, refused_connection_keeps_the_cause);
    tcase_add_test(tc, timestamps);
    tcase_add_test(tc, poll_and_tail);
    tcase_add_test(tc, excerpt_after_recovery);
    tcase_add_test(tc, excerpt_of_failures);
    tcase_add_test(tc, excerpt_file);
    suite_add_tcase(s, tc);
    return s;
}
