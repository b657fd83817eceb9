/*
 * test_drill_report.c - the drill report (src/drill/drill_report.c): ids and times, reasons and
 * checks deciding the status, the JSON document (parsed back with jansson), text that is not
 * UTF-8, the text summary, finding the previous report in a repository (a real posix Storage
 * in a mkdtemp directory) and the atomic --report file.
 */
#include "pgpitr/drill/drill_report.h"
#include "fx_drill.h"

#include <check.h>
#include <ftw.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tdir[64];

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static void setup(void)
{
    snprintf(tdir, sizeof tdir, "/tmp/pgpitr_test_drill.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tdir));
}

static void teardown(void)
{
    nftw(tdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static const char *jstr_at(json_t *j, const char *a, const char *b)
{
    json_t *v = json_object_get(j, a);
    if (b != NULL)
        v = json_object_get(v, b);
    return json_string_value(v);
}

START_TEST(ids_and_times)
{
    char id[DRILL_ID_MAX], t[DRILL_TIME_MAX];
    drill_make_id(1795320000123456LL, 0x3fa9, id);
    ck_assert_str_eq(id, "20261122T040000Z-3fa9");
    drill_make_id(0, 0x12345, id);
    ck_assert_str_eq(id, "19700101T000000Z-2345");
    drill_format_time(1795320000000000LL, t);
    ck_assert_str_eq(t, "2026-11-22T04:00:00Z");
    drill_format_time(1795320000250000LL, t);
    ck_assert_str_eq(t, "2026-11-22T04:00:00.25Z");
    drill_format_time(1795320000000001LL, t);
    ck_assert_str_eq(t, "2026-11-22T04:00:00.000001Z");
}
END_TEST

static void fill(DrillReport *r)
{
    drill_report_init(r);
    drill_make_id(1795320000000000LL, 1, r->id);
    snprintf(r->host, sizeof r->host, "db1");
    r->started_us = 1795320000000000LL;
    r->finished_us = 1795320042500000LL;
    r->has_backup = true;
    snprintf(r->backup.label, sizeof r->backup.label, "base1");
    snprintf(r->backup.why, sizeof r->backup.why, "newest complete backup");
    r->backup.backup_timeline = 1;
    r->backup.backup_start_lsn = 0x3000028;
    r->backup.backup_stop_lsn = 0x3000100;
    r->backup.backup_start_time = 1795310000;
    r->backup.backup_stop_time = 1795310005;
    r->backup.pg_major = 15;
    r->backup.chunked_files = 2;
    r->backup.chunks_fetched = 1500;
    r->has_reached = true;
    r->reached_has_lsn = true;
    r->reached_lsn = 0x44A3EE8;
    r->reached_timeline = 1;
    r->new_timeline = 2;
    r->select_s = 0.5;
    r->restore_files_s = 10;
    r->replay_s = 30;
    r->checks_s = 2;
    r->total_s = 42.5;
    r->recovered = true;
    r->has_wal = true;
    r->wal_segments = 2;
    r->wal_fetches = 3;
    r->wal_bytes = 3 * 16777216ULL;
}

START_TEST(passed_report)
{
    DrillReport r;
    fill(&r);
    drill_report_check(&r, "target", DRILL_CHECK_PASSED, "reached %s", "the end");
    drill_report_table(&r, "postgres", "public.t", 4321);
    ck_assert(drill_report_passed(&r));
    json_t *j = fx_drill_json(&r);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "schema_version")), 2);
    ck_assert_str_eq(jstr_at(j, "status", NULL), "passed");
    ck_assert_str_eq(jstr_at(j, "id", NULL), "20261122T040000Z-0001");
    ck_assert_str_eq(jstr_at(j, "started", NULL), "2026-11-22T04:00:00Z");
    ck_assert_str_eq(jstr_at(j, "finished", NULL), "2026-11-22T04:00:42.5Z");
    ck_assert_str_eq(jstr_at(j, "backup", "stop_lsn"), "0/3000100");
    ck_assert_str_eq(jstr_at(j, "backup", "start_time"), "2026-11-22T01:13:20Z");
    json_t *bk = json_object_get(j, "backup");
    ck_assert_int_eq(json_integer_value(json_object_get(bk, "chunked_files")), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(bk, "chunks_fetched")), 1500);
    json_t *reached = json_object_get(json_object_get(j, "target"), "reached");
    ck_assert_str_eq(json_string_value(json_object_get(reached, "lsn")), "0/44A3EE8");
    ck_assert(json_is_null(json_object_get(reached, "time")));
    ck_assert_int_eq(json_integer_value(json_object_get(reached, "new_timeline")), 2);
    json_t *ph = json_object_get(j, "phases");
    ck_assert(json_real_value(json_object_get(ph, "select_restore_s")) == 10.5);
    ck_assert(json_real_value(json_object_get(ph, "total_s")) == 42.5);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(j, "wal"), "bytes")),
                     50331648);
    ck_assert_uint_eq(json_array_size(json_object_get(j, "reasons")), 0);
    json_t *t0 = json_array_get(json_object_get(j, "tables"), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(t0, "rows")), 4321);
    ck_assert(json_is_null(json_object_get(j, "previous")));
    ck_assert(json_is_null(json_object_get(j, "archive_freshness_s")));
    ck_assert_str_eq(jstr_at(j, "target", NULL) == NULL ? "ok" : "?", "ok");
    json_decref(j);
    drill_report_free(&r);
}
END_TEST

START_TEST(failed_report)
{
    DrillReport r;
    drill_report_init(&r);
    drill_make_id(1795320000000000LL, 2, r.id);
    ck_assert_str_eq(r.target_kind, "latest");
    ck_assert(drill_report_passed(&r));
    drill_report_check(&r, "sql: count", DRILL_CHECK_FAILED, "expected \"5\", got \"4\"");
    ck_assert(!drill_report_passed(&r));
    ck_assert_int_eq(r.first_error, PGP_ERR_CORRUPT);
    PgpErr err;
    PGP_FAIL(&err, PGP_ERR_PG, "the drill server stopped during recovery");
    drill_report_fail_err(&r, &err);
    ck_assert_int_eq(r.first_error, PGP_ERR_CORRUPT);      /* the first one stays */
    /* Not UTF-8 (a Latin-1 table name, a log line): replaced, the JSON stays valid. */
    drill_report_table(&r, "caf\xe9", "public.t\xff", 1);
    char **tail = malloc(sizeof *tail);
    tail[0] = strdup("FATAL: \xc3\x28 bad");
    drill_report_set_log_tail(&r, tail, 1);
    json_t *j = fx_drill_json(&r);
    ck_assert_str_eq(jstr_at(j, "status", NULL), "failed");
    json_t *reasons = json_object_get(j, "reasons");
    ck_assert_uint_eq(json_array_size(reasons), 2);
    ck_assert_str_eq(json_string_value(json_array_get(reasons, 0)),
                     "check \"sql: count\" failed: expected \"5\", got \"4\"");
    json_t *t0 = json_array_get(json_object_get(j, "tables"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(t0, "database")), "caf?");
    ck_assert_str_eq(json_string_value(json_object_get(t0, "table")), "public.t?");
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(j, "server_log_tail"), 0)),
                     "FATAL: ?( bad");
    ck_assert(json_is_null(json_object_get(j, "backup")));
    ck_assert(json_is_null(json_object_get(j, "wal")));
    ck_assert(json_is_null(json_object_get(json_object_get(j, "phases"), "replay_s")));
    ck_assert(json_is_null(json_object_get(json_object_get(j, "target"), "reached")));
    json_decref(j);

    char *text = fx_drill_text(&r);
    ck_assert_ptr_nonnull(strstr(text, "FAILED"));
    ck_assert_ptr_nonnull(strstr(text, "reason:  check \"sql: count\" failed"));
    ck_assert_ptr_nonnull(strstr(text, "0 passed, 1 failed"));
    free(text);
    drill_report_free(&r);
}
END_TEST

/* A drill that followed production's timeline 1 while a copy's timeline 3 is latest: passed,
 * with the warning in the JSON and, loud, in the text. */
START_TEST(timeline_and_warnings)
{
    DrillReport r;
    fill(&r);
    json_t *j = fx_drill_json(&r);
    ck_assert(json_is_null(json_object_get(j, "timeline")));
    ck_assert_uint_eq(json_array_size(json_object_get(j, "warnings")), 0);
    json_decref(j);

    PgpErr err;
    r.has_timeline = true;
    r.timeline = 1;
    snprintf(r.timeline_why, sizeof r.timeline_why, "production's: it received ...");
    r.production = (TlProduction){.known = true, .tli = 1, .latest = 3};
    r.latest_timeline = 3;
    ck_assert_int_eq(tl_activity_note(&r.timelines, 1, 1795320000, "000000010000000000000009",
                                      &err), 0);
    ck_assert_int_eq(tl_activity_note(&r.timelines, 3, 1795310000, "00000003.history", &err), 0);
    TlActivity *a3 = tl_activity_get(&r.timelines, 3);
    a3->parent = 2;
    a3->fork_lsn = 0x5000000;
    a3->has_history = true;
    drill_report_warn(&r, "timeline %u has the highest history file", 3u);
    ck_assert(drill_report_passed(&r));
    j = fx_drill_json(&r);
    ck_assert_str_eq(jstr_at(j, "status", NULL), "passed");
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(j, "warnings"), 0)),
                     "timeline 3 has the highest history file");
    json_t *tl = json_object_get(j, "timeline");
    ck_assert_int_eq(json_integer_value(json_object_get(tl, "followed")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(tl, "production")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(tl, "latest")), 3);
    ck_assert(json_is_false(json_object_get(tl, "production_ambiguous")));
    json_t *tls = json_object_get(tl, "timelines");
    ck_assert_uint_eq(json_array_size(tls), 2);
    ck_assert(json_is_null(json_object_get(json_array_get(tls, 0), "parent")));
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(tls, 0), "last_archived")),
                     "2026-11-22T04:00:00Z");
    json_t *t3 = json_array_get(tls, 1);
    ck_assert_int_eq(json_integer_value(json_object_get(t3, "parent")), 2);
    ck_assert_str_eq(json_string_value(json_object_get(t3, "fork_lsn")), "0/5000000");
    ck_assert_str_eq(json_string_value(json_object_get(t3, "last_object")), "00000003.history");
    ck_assert(json_is_true(json_object_get(t3, "history")));
    json_decref(j);

    char *text = fx_drill_text(&r);
    ck_assert_ptr_nonnull(strstr(text, ": PASSED with 1 WARNING\n"));
    ck_assert_ptr_nonnull(strstr(text, "  timeline: 1 (production's: it received ...)\n"));
    ck_assert_ptr_nonnull(strstr(text, "  WARNING: timeline 3 has the highest history file\n"));
    free(text);
    drill_report_free(&r);
}
END_TEST

/* "(and 1 more reason)", "(and 2 more reasons)": the error line's grammar. */
START_TEST(headline_grammar)
{
    DrillReport r;
    drill_report_init(&r);
    char line[256];
    drill_report_headline(&r, line, sizeof line);
    ck_assert_str_eq(line, "out of memory while checking");
    drill_report_fail(&r, "first");
    drill_report_headline(&r, line, sizeof line);
    ck_assert_str_eq(line, "first");
    drill_report_fail(&r, "second");
    drill_report_headline(&r, line, sizeof line);
    ck_assert_str_eq(line, "first (and 1 more reason)");
    drill_report_fail(&r, "third");
    drill_report_headline(&r, line, sizeof line);
    ck_assert_str_eq(line, "first (and 2 more reasons)");
    drill_report_headline(&r, line, 8);                       /* cut, still terminated */
    ck_assert_str_eq(line, "first (");
    drill_report_free(&r);
}
END_TEST

/* Recovery finished and a check failed after it: the RTO was measured, and says so. */
START_TEST(rto_of_a_failed_check)
{
    DrillReport r;
    fill(&r);
    drill_report_check(&r, "target", DRILL_CHECK_PASSED, "reached");
    drill_report_check(&r, "sql: count", DRILL_CHECK_FAILED, "expected \"5\", got \"4\"");
    char **lines = malloc(2 * sizeof *lines);
    lines[0] = strdup("2026-11-22 04:00:01 UTC [9] LOG:  redo done at 0/44A3EE8");
    lines[1] = strdup("2026-11-22 04:00:02 UTC [11] ERROR:  relation \"x\" does not exist");
    drill_report_set_log_tail(&r, lines, 2);
    json_t *j = fx_drill_json(&r);
    ck_assert(json_real_value(json_object_get(json_object_get(j, "phases"), "rto_s")) == 42.5);
    ck_assert(json_real_value(json_object_get(json_object_get(j, "phases"), "total_s")) == 42.5);
    json_decref(j);
    char *text = fx_drill_text(&r);
    ck_assert_msg(strstr(text, "  RTO:     42.5 s (select + restore 10.5 s, replay 30.0 s, checks "
                               "2.0 s); recovery finished, the drill failed on its checks\n") != NULL,
                  "%s", text);
    ck_assert_ptr_nonnull(strstr(text, "\n           2026-11-22 04:00:01 UTC [9] LOG:  redo done "
                                       "at 0/44A3EE8\n"));
    ck_assert_ptr_nonnull(strstr(text, "relation \"x\" does not exist\n"));
    ck_assert_ptr_nonnull(strstr(text, "  WAL:     2 segments restored"));
    free(text);
    r.wal_segments = 1;
    text = fx_drill_text(&r);
    ck_assert_ptr_nonnull(strstr(text, "  WAL:     1 segment restored"));
    free(text);

    /* Recovery did not finish: the time spent is no RTO, in the text and in the JSON. */
    r.recovered = false;
    j = fx_drill_json(&r);
    ck_assert(json_is_null(json_object_get(json_object_get(j, "phases"), "rto_s")));
    ck_assert(json_real_value(json_object_get(json_object_get(j, "phases"), "total_s")) == 42.5);
    json_decref(j);
    text = fx_drill_text(&r);
    ck_assert_ptr_null(strstr(text, "RTO:"));
    ck_assert_ptr_nonnull(strstr(text, "  time:    42.5 s until it failed (recovery did not "
                                       "finish: no RTO)\n"));
    free(text);
    drill_report_free(&r);
}
END_TEST

static void store(Storage *s, const char *id, const char *status, double total)
{
    DrillReport r;
    fill(&r);
    snprintf(r.id, sizeof r.id, "%s", id);
    if (strcmp(status, "failed") == 0)
        drill_report_fail(&r, "it broke");
    r.total_s = total;
    char *json = NULL;
    ck_assert_int_eq(drill_report_to_json(&r, &json, NULL), 0);
    ck_assert_int_eq(drill_report_store(s, NULL, &r, json, NULL), 0);
    /* Never replaced. */
    ck_assert_int_eq(drill_report_store(s, NULL, &r, json, NULL), PGP_ERR_CONFLICT);
    free(json);
    drill_report_free(&r);
}

START_TEST(previous_in_repository)
{
    Storage *s = NULL;
    ck_assert_int_eq(storage_posix_new(tdir, false, &s, NULL), 0);
    DrillReport r;
    fill(&r);
    snprintf(r.id, sizeof r.id, "20261122T040000Z-0001");
    ck_assert_int_eq(drill_report_find_previous(s, NULL, &r, NULL), 0);   /* no drill/ yet */
    ck_assert(!r.has_previous);
    store(s, "20261025T040000Z-aaaa", "passed", 40.0);
    store(s, "20261101T040000Z-bbbb", "failed", 12.25);
    store(s, "20261201T040000Z-cccc", "passed", 1.0);               /* later: not previous */
    ck_assert_int_eq(storage_put_all(s, "drill/20261102T000000Z-dddd.json", 0, "{", 1, NULL), 0);
    ck_assert_int_eq(storage_put_all(s, "drill/notes.txt", 0, "x", 1, NULL), 0);
    /* The newest older one that parses: the broken dddd is skipped with a warning. */
    ck_assert_int_eq(drill_report_find_previous(s, NULL, &r, NULL), 0);
    ck_assert(r.has_previous);
    ck_assert_str_eq(r.previous_id, "20261101T040000Z-bbbb");
    ck_assert_str_eq(r.previous_status, "failed");
    ck_assert(r.previous_has_rto);
    ck_assert(r.previous_rto_s == 12.25);
    json_t *j = fx_drill_json(&r);
    json_t *p = json_object_get(j, "previous");
    ck_assert(json_is_null(json_object_get(p, "delta_rto_s")));   /* against a failed drill */
    ck_assert(json_real_value(json_object_get(p, "rto_s")) == 12.25);
    ck_assert_str_eq(json_string_value(json_object_get(p, "id")), "20261101T040000Z-bbbb");
    json_decref(j);
    /* The one before that passed: 42.5 s now against 40 s then. */
    ck_assert_int_eq(storage_remove(s, "drill/20261101T040000Z-bbbb.json", NULL), 0);
    ck_assert_int_eq(drill_report_find_previous(s, NULL, &r, NULL), 0);
    ck_assert_str_eq(r.previous_id, "20261025T040000Z-aaaa");
    j = fx_drill_json(&r);
    p = json_object_get(j, "previous");
    ck_assert(json_real_value(json_object_get(p, "delta_rto_s")) == 2.5);
    ck_assert_str_eq(json_string_value(json_object_get(p, "status")), "passed");
    json_decref(j);
    drill_report_free(&r);
    storage_free(s);
}
END_TEST

/* A previous report in the repository is input from outside: its duration is used only when it
 * is a number of seconds within [0, DRILL_SECONDS_MAX]. Converting 1e308 (or -1e308) to an
 * integer while rounding was undefined behaviour (UBSan: "outside the range of representable
 * values"). */
START_TEST(tampered_previous_duration)
{
    static const char *const totals[] = {"1e308", "-1e308", "1e300", "-5", "1.5e9",
                                         "9223372036854775807", "-9223372036854775808"};
    Storage *s = NULL;
    ck_assert_int_eq(storage_posix_new(tdir, false, &s, NULL), 0);
    for (size_t i = 0; i < sizeof totals / sizeof totals[0]; i++) {
        char id[DRILL_ID_MAX], path[64], json[160];
        snprintf(id, sizeof id, "20261101T040000Z-%04zx", i);
        snprintf(path, sizeof path, "drill/%s.json", id);
        int n = snprintf(json, sizeof json, "{\"status\": \"passed\", \"phases\": "
                         "{\"total_s\": %s}}", totals[i]);
        ck_assert_int_eq(storage_put_all(s, path, 0, json, (size_t)n, NULL), 0);
        DrillReport r;
        fill(&r);                               /* passed, total_s 42.5 */
        snprintf(r.id, sizeof r.id, "20261122T040000Z-0001");
        ck_assert_int_eq(drill_report_find_previous(s, NULL, &r, NULL), 0);
        ck_assert_str_eq(r.previous_id, id);
        json_t *j = fx_drill_json(&r);                /* first: where the conversion happened */
        ck_assert_msg(!r.previous_has_rto, "total_s %s was taken as a duration", totals[i]);
        json_t *p = json_object_get(j, "previous");
        ck_assert(json_is_null(json_object_get(p, "rto_s")));
        ck_assert(json_is_null(json_object_get(p, "delta_rto_s")));
        json_decref(j);
        ck_assert_int_eq(storage_remove(s, path, NULL), 0);
        drill_report_free(&r);
    }
    /* Durations handed in directly go through the same check. */
    DrillReport r;
    fill(&r);
    r.total_s = 1e308;
    r.has_previous = r.previous_has_rto = true;
    snprintf(r.previous_status, sizeof r.previous_status, "passed");
    r.previous_rto_s = -1e308;
    json_t *j = fx_drill_json(&r);
    ck_assert(json_is_null(json_object_get(json_object_get(j, "phases"), "total_s")));
    ck_assert(json_is_null(json_object_get(json_object_get(j, "previous"), "rto_s")));
    ck_assert(json_is_null(json_object_get(json_object_get(j, "previous"), "delta_rto_s")));
    json_decref(j);
    drill_report_free(&r);
    storage_free(s);
}
END_TEST

START_TEST(report_file)
{
    char path[128], text[64];
    snprintf(path, sizeof path, "%s/last.json", tdir);
    ck_assert_int_eq(drill_report_write_file(path, "{\"a\": 1}\n", NULL), 0);
    ck_assert_int_eq(drill_report_write_file(path, "{\"a\": 2}\n", NULL), 0);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(fgets(text, sizeof text, f));
    fclose(f);
    ck_assert_str_eq(text, "{\"a\": 2}\n");
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0640 & ~(unsigned)umask(022));
    snprintf(path, sizeof path, "%s/missing/last.json", tdir);
    PgpErr err;
    ck_assert_int_ne(drill_report_write_file(path, "{}", &err), 0);
    ck_assert_ptr_nonnull(strstr(err.msg, "cannot create"));
}
END_TEST

Suite *suite_drill_report(void)
{
    Suite *s = suite_create("drill_report");
    TCase *tc = tcase_create("report");
    tcase_set_timeout(tc, 10);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, ids_and_times);
    tcase_add_test(tc, passed_report);
    tcase_add_test(tc, failed_report);
    tcase_add_test(tc, timeline_and_warnings);
    tcase_add_test(tc, headline_grammar);
    tcase_add_test(tc, rto_of_a_failed_check);
    tcase_add_test(tc, previous_in_repository);
    tcase_add_test(tc, tampered_previous_duration);
    tcase_add_test(tc, report_file);
    suite_add_tcase(s, tc);
    return s;
}
