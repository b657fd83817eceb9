/*
 * test_drill_objectives.c - the recovery objectives of a drill (src/drill/drill_objectives.c):
 * judging them (an RTO over its objective fails the drill, an RPO missed only warns), the
 * report's "objectives" section and its text lines, and reading the section back from a report
 * that may have been tampered with (values out of range or of the wrong type are ignored, met
 * is never taken from the report).
 */
#include "pgpitr/drill/drill_report.h"
#include "fx_drill.h"

#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A report of a drill that recovered in 42.5 s, the archive 30 s old when it began. */
static void fill(DrillReport *r)
{
    drill_report_init(r);
    drill_make_id(1795320000000000LL, 1, r->id);
    r->started_us = 1795320000000000LL;
    r->finished_us = 1795320042500000LL;
    r->select_s = 0.5;
    r->restore_files_s = 10;
    r->replay_s = 30;
    r->checks_s = 2;
    r->total_s = 42.5;
    r->recovered = true;
    r->has_freshness = true;
    r->archive_freshness_s = 30;
    drill_report_check(r, "target", DRILL_CHECK_PASSED, "reached");
}

static json_t *objectives_of(const DrillReport *r)
{
    json_t *j = fx_drill_json(r);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "schema_version")), 2);
    json_t *o = json_incref(json_object_get(j, "objectives"));
    json_decref(j);
    ck_assert_msg(json_is_object(o), "no objectives section");
    return o;
}

static json_t *at(json_t *o, const char *which, const char *field)
{
    json_t *v = json_object_get(json_object_get(o, which), field);
    ck_assert_msg(v != NULL, "objectives.%s.%s is missing", which, field);
    return v;
}

START_TEST(not_set)
{
    DrillReport r;
    fill(&r);
    drill_report_objectives(&r, 0, 0);
    ck_assert(drill_report_passed(&r));
    ck_assert_uint_eq(r.n_checks, 1);                  /* no rto-objective check */
    json_t *o = objectives_of(&r);
    ck_assert(json_is_null(at(o, "rto", "objective_s")));
    ck_assert(json_real_value(at(o, "rto", "measured_s")) == 42.5);
    ck_assert(json_is_null(at(o, "rto", "met")));
    ck_assert(json_is_null(at(o, "rpo", "objective_s")));
    ck_assert(json_real_value(at(o, "rpo", "measured_s")) == 30);
    ck_assert(json_is_null(at(o, "rpo", "met")));
    json_decref(o);
    char *text = fx_drill_text(&r);
    ck_assert_ptr_null(strstr(text, "objective"));
    free(text);
    drill_report_free(&r);
}
END_TEST

START_TEST(both_met)
{
    DrillReport r;
    fill(&r);
    drill_report_objectives(&r, 1800, 3600);
    ck_assert(drill_report_passed(&r));
    ck_assert_uint_eq(r.n_warnings, 0);
    ck_assert_uint_eq(r.n_checks, 2);
    ck_assert_str_eq(r.checks[1].name, "rto-objective");
    ck_assert_int_eq(r.checks[1].status, DRILL_CHECK_PASSED);
    json_t *o = objectives_of(&r);
    ck_assert_int_eq(json_integer_value(at(o, "rto", "objective_s")), 1800);
    ck_assert(json_is_true(at(o, "rto", "met")));
    ck_assert_int_eq(json_integer_value(at(o, "rpo", "objective_s")), 3600);
    ck_assert(json_is_true(at(o, "rpo", "met")));
    json_decref(o);
    char *text = fx_drill_text(&r);
    ck_assert_msg(strstr(text, "  RTO:     objective 1800 s, recovery time 42.5 s: met\n") &&
                  strstr(text, "  RPO:     objective 3600 s, archive freshness 30.0 s: met\n"),
                  "%s", text);
    free(text);
    drill_report_free(&r);
}
END_TEST

/* Equal is met: the objective is the longest a recovery may take. */
START_TEST(rto_missed_fails)
{
    DrillReport r;
    fill(&r);
    r.total_s = 43;
    drill_report_objectives(&r, 43, 0);
    ck_assert(drill_report_passed(&r));
    drill_report_free(&r);

    fill(&r);
    drill_report_objectives(&r, 42, 0);
    ck_assert(!drill_report_passed(&r));
    ck_assert_int_eq(r.first_error, PGP_ERR_CORRUPT);   /* exit 7, as a failed check */
    ck_assert_uint_eq(r.n_reasons, 1);
    ck_assert_str_eq(r.reasons[0], "check \"rto-objective\" failed: measured RTO 42.5 s exceeds "
                                   "the rto-objective of 42 s");
    json_t *o = objectives_of(&r);
    ck_assert(json_is_false(at(o, "rto", "met")));
    ck_assert(json_real_value(at(o, "rto", "measured_s")) == 42.5);
    json_decref(o);
    char *text = fx_drill_text(&r);
    ck_assert_msg(strstr(text, "FAILED") && strstr(text, "recovery time 42.5 s: NOT MET\n") &&
                  strstr(text, "  reason:  check \"rto-objective\" failed"), "%s", text);
    free(text);
    drill_report_free(&r);
}
END_TEST

/* A server that never recovered measured no RTO: the objective is set, not met, and adds no
 * second reason (the drill failed on what stopped it). */
START_TEST(rto_not_measured)
{
    DrillReport r;
    fill(&r);
    r.recovered = false;
    drill_report_fail(&r, "restore failed: no backup");
    drill_report_objectives(&r, 60, 0);
    ck_assert_uint_eq(r.n_reasons, 1);
    json_t *o = objectives_of(&r);
    ck_assert_int_eq(json_integer_value(at(o, "rto", "objective_s")), 60);
    ck_assert(json_is_null(at(o, "rto", "measured_s")));
    ck_assert(json_is_false(at(o, "rto", "met")));
    json_decref(o);
    char *text = fx_drill_text(&r);
    ck_assert_ptr_nonnull(strstr(text, "  RTO:     objective 60 s, recovery time not measured\n"));
    free(text);
    drill_report_free(&r);
}
END_TEST

START_TEST(rpo_missed_warns)
{
    DrillReport r;
    fill(&r);
    r.archive_freshness_s = 7200;
    drill_report_objectives(&r, 0, 3600);
    ck_assert(drill_report_passed(&r));
    ck_assert_uint_eq(r.n_warnings, 1);
    ck_assert_ptr_nonnull(strstr(r.warnings[0], "rpo-objective missed"));
    json_t *o = objectives_of(&r);
    ck_assert(json_is_false(at(o, "rpo", "met")));
    json_decref(o);
    char *text = fx_drill_text(&r);
    ck_assert_msg(strstr(text, "PASSED with 1 WARNING\n") &&
                  strstr(text, "  WARNING: rpo-objective missed: the newest archived segment "
                               "was 7200 s old") &&
                  strstr(text, "archive freshness 7200.0 s: NOT MET\n"), "%s", text);
    free(text);
    /* Nothing archived: not measured, not met, no warning (the drill fails on its own). */
    drill_report_free(&r);
    fill(&r);
    r.has_freshness = false;
    drill_report_objectives(&r, 0, 3600);
    ck_assert_uint_eq(r.n_warnings, 0);
    o = objectives_of(&r);
    ck_assert(json_is_null(at(o, "rpo", "measured_s")));
    ck_assert(json_is_false(at(o, "rpo", "met")));
    json_decref(o);
    drill_report_free(&r);
}
END_TEST

/* Written, then read back by the summary parser: what info shows. */
START_TEST(summary_round_trip)
{
    DrillReport r;
    fill(&r);
    drill_report_objectives(&r, 40, 3600);
    char *text = NULL;
    ck_assert_int_eq(drill_report_to_json(&r, &text, NULL), 0);
    DrillReportSummary s;
    ck_assert(drill_report_summary_parse(r.id, text, strlen(text), &s));
    ck_assert(s.has_objectives);
    ck_assert(s.obj_rto.set && s.obj_rto.objective_s == 40);
    ck_assert(s.obj_rto.measured && s.obj_rto.measured_s == 42.5);
    ck_assert(!s.obj_rto.met);
    ck_assert(s.obj_rpo.set && s.obj_rpo.objective_s == 3600);
    ck_assert(s.obj_rpo.measured && s.obj_rpo.measured_s == 30 && s.obj_rpo.met);
    ck_assert_str_eq(s.status, "failed");
    free(text);
    drill_report_free(&r);

    /* A report of schema version 1 has no section: read as before. */
    static const char v1[] = "{\"schema_version\": 1, \"status\": \"passed\", "
                             "\"phases\": {\"total_s\": 3.5}}";
    ck_assert(drill_report_summary_parse("x", v1, strlen(v1), &s));
    ck_assert(!s.has_objectives && !s.obj_rto.set && !s.obj_rto.measured && !s.obj_rpo.set);
    ck_assert(s.has_total && s.total_s == 3.5);
}
END_TEST

static void parse_rto(const char *objectives, DrillReportSummary *s)
{
    char json[512];
    snprintf(json, sizeof json, "{\"status\": \"passed\", \"objectives\": %s}", objectives);
    ck_assert_msg(drill_report_summary_parse("20261101T040000Z-0001", json, strlen(json), s),
                  "%s", json);
}

/* Reports come from the repository: what is not a number of seconds within range is ignored,
 * and "met" is recomputed from what is left, whatever the report claims. */
START_TEST(summary_hostile)
{
    static const char *const bad[] = {"1e308", "-1e308", "-5", "0", "1.5e9", "\"60\"", "true",
                                      "[60]", "{}", "9223372036854775807"};
    DrillReportSummary s;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char o[256];
        snprintf(o, sizeof o, "{\"rto\": {\"objective_s\": %s, \"measured_s\": 5, "
                 "\"met\": true}}", bad[i]);
        parse_rto(o, &s);
        ck_assert_msg(s.has_objectives && !s.obj_rto.set && !s.obj_rto.met,
                      "objective_s %s was taken", bad[i]);
        ck_assert(s.obj_rto.measured && s.obj_rto.measured_s == 5);
        snprintf(o, sizeof o, "{\"rto\": {\"objective_s\": 60, \"measured_s\": %s, "
                 "\"met\": true}}", bad[i]);
        parse_rto(o, &s);
        bool zero = strcmp(bad[i], "0") == 0;      /* 0 s measured is a measurement */
        ck_assert_msg(s.obj_rto.set && s.obj_rto.measured == zero && s.obj_rto.met == zero,
                      "measured_s %s was taken", bad[i]);
    }
    /* A claim of "met" that the numbers contradict. */
    parse_rto("{\"rto\": {\"objective_s\": 60, \"measured_s\": 61, \"met\": true}, "
              "\"rpo\": {\"objective_s\": 60, \"measured_s\": 1, \"met\": false}}", &s);
    ck_assert(s.obj_rto.set && s.obj_rto.measured && !s.obj_rto.met);
    ck_assert(s.obj_rpo.met);
    /* Not an object: no section at all. */
    static const char *const not_object[] = {"null", "[]", "1", "\"x\""};
    for (size_t i = 0; i < sizeof not_object / sizeof not_object[0]; i++) {
        parse_rto(not_object[i], &s);
        ck_assert(!s.has_objectives && !s.obj_rto.set && !s.obj_rpo.set);
    }
    parse_rto("{\"rto\": 5, \"rpo\": null}", &s);
    ck_assert(s.has_objectives && !s.obj_rto.set && !s.obj_rto.measured && !s.obj_rpo.set);
}
END_TEST

Suite *suite_drill_objectives(void)
{
    Suite *s = suite_create("drill_objectives");
    TCase *tc = tcase_create("objectives");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, not_set);
    tcase_add_test(tc, both_met);
    tcase_add_test(tc, rto_missed_fails);
    tcase_add_test(tc, rto_not_measured);
    tcase_add_test(tc, rpo_missed_warns);
    tcase_add_test(tc, summary_round_trip);
    tcase_add_test(tc, summary_hostile);
    suite_add_tcase(s, tc);
    return s;
}
