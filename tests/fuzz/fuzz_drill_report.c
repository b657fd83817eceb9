/*
 * fuzz_drill_report.c - drill reports kept in the repository, drill/<id>.json
 * (drill_report_summary_parse, src/drill/drill_report.c): info and the next drill read the
 * newest one, and the next drill copies its status and total into its own report.
 * Input: the report's bytes.
 * Properties: an accepted summary is passed or failed with terminated texts; the next
 * drill's report built on it (as drill_report_find_previous does) is written and printed
 * without fault, links to it, and its own summary reads back as written.
 */
#include "fuzz.h"

#include <jansson.h>

#include "pgpitr/drill/drill_report.h"

#define PREV_ID "20261122T040000Z-3fa9"
#define NEXT_ID "20261222T040000Z-0001"
#define NEXT_STARTED_US INT64_C(1797912000250000)   /* 2026-12-22T04:00:00.25Z */

static FILE *devnull;

static void check_next_report(const DrillReportSummary *prev)
{
    DrillReport r;
    drill_report_init(&r);
    snprintf(r.id, sizeof r.id, "%s", NEXT_ID);
    snprintf(r.host, sizeof r.host, "db1");
    r.started_us = NEXT_STARTED_US;
    r.finished_us = NEXT_STARTED_US + 93500000;
    r.select_s = 0.5;
    r.restore_files_s = 40;
    r.replay_s = 50;
    r.checks_s = 3;
    r.total_s = 93.5;
    /* What drill_report_find_previous copies from the summary. */
    r.has_previous = true;
    snprintf(r.previous_id, sizeof r.previous_id, "%s", prev->id);
    snprintf(r.previous_status, sizeof r.previous_status, "%s", prev->status);
    r.previous_has_rto = prev->has_total;
    r.previous_rto_s = prev->total_s;

    char *text = NULL;
    PgpErr err;
    int rc = drill_report_to_json(&r, &text, &err);
    FUZZ_ASSERT(rc == 0, "next report: %s", err.msg);
    drill_report_print_text(&r, devnull);

    json_t *j = json_loads(text, 0, NULL);
    FUZZ_ASSERT(j != NULL, "next report is not json:\n%s", text);
    json_t *p = json_object_get(j, "previous");
    FUZZ_ASSERT(json_is_string(json_object_get(p, "id")) &&
                    strcmp(json_string_value(json_object_get(p, "id")), PREV_ID) == 0 &&
                    strcmp(json_string_value(json_object_get(p, "status")), prev->status) == 0,
                "next report does not name the previous one:\n%s", text);
    json_decref(j);

    DrillReportSummary again;
    FUZZ_ASSERT(drill_report_summary_parse(NEXT_ID, text, strlen(text), &again),
                "next report's summary does not parse:\n%s", text);
    char started[DRILL_TIME_MAX];
    drill_format_time(r.started_us, started);
    FUZZ_ASSERT(strcmp(again.status, "passed") == 0 && strcmp(again.started, started) == 0 &&
                    again.has_total && again.total_s == 93.5 && strcmp(again.id, NEXT_ID) == 0,
                "next report's summary: %s %s %g", again.status, again.started, again.total_s);
    free(text);
    drill_report_free(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    if (devnull == NULL && (devnull = fopen("/dev/null", "w")) == NULL)
        abort();
    DrillReportSummary s;
    memset(&s, 0x5A, sizeof s);
    if (!drill_report_summary_parse(PREV_ID, (const char *)data, size, &s)) {
        for (size_t i = 0; i < sizeof s; i++)
            FUZZ_ASSERT(((const unsigned char *)&s)[i] == 0x5A, "rejected, yet *out changed");
        return 0;
    }
    FUZZ_ASSERT(s.found && strcmp(s.id, PREV_ID) == 0, "id \"%.40s\"", s.id);
    FUZZ_ASSERT(strcmp(s.status, "passed") == 0 || strcmp(s.status, "failed") == 0,
                "status \"%.16s\"", s.status);
    FUZZ_ASSERT(memchr(s.started, '\0', sizeof s.started) && memchr(s.finished, '\0', sizeof s.finished),
                "times not terminated");
    FUZZ_ASSERT(s.has_total || s.total_s == 0, "total without has_total");
    check_next_report(&s);
    return 0;
}
