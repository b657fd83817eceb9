/*
 * drill_objectives.c - the recovery objectives of a drill (drill_report.h): the measured RTO
 * against rto-objective and the archive freshness against rpo-objective, judged once the drill
 * is over, written as the report's "objectives" section, printed, and read back from reports
 * kept in the repository (which anyone with write access there can change: nothing in them is
 * trusted).
 */
#include <math.h>
#include <string.h>

#include "pgpitr/common/log.h"
#include "pgpitr/repo/repo_layout.h"
#include "drill_report_impl.h"

/* met: set, measured and within the objective (info_model.h's InfoObjective). */
static void judge(InfoObjective *o)
{
    o->met = o->set && o->measured && o->measured_s <= o->objective_s;
}

void drill_report_objectives(DrillReport *r, int64_t rto_s, int64_t rpo_s)
{
    InfoObjective *rto = &r->obj_rto, *rpo = &r->obj_rpo;
    *rto = (InfoObjective){.set = rto_s > 0, .objective_s = (double)rto_s,
                           .measured = r->recovered && drill_report_seconds_ok(r->total_s, 0),
                           .measured_s = r->total_s};
    *rpo = (InfoObjective){.set = rpo_s > 0, .objective_s = (double)rpo_s,
                           .measured = r->has_freshness &&
                                       drill_report_seconds_ok(r->archive_freshness_s, 0),
                           .measured_s = r->archive_freshness_s};
    judge(rto);
    judge(rpo);
    /* Not measured (the server did not recover): the drill has failed already, and says why. */
    if (rto->set && rto->measured)
        drill_report_check(r, "rto-objective", rto->met ? DRILL_CHECK_PASSED : DRILL_CHECK_FAILED,
                           "measured RTO %.1f s %s the rto-objective of %lld s", rto->measured_s,
                           rto->met ? "is within" : "exceeds", (long long)rto_s);
    /* Archive freshness is about archiving, not restoring: the restore this drill proved works.
     * check and the alerts report a stale archive; the drill says it and passes. */
    if (rpo->set && rpo->measured && !rpo->met)
        drill_report_warn(r, "rpo-objective missed: the newest archived segment was %.0f s old "
                          "when the drill began, the objective is %lld s (check archiving)",
                          rpo->measured_s, (long long)rpo_s);
}

/* ---- JSON ---------------------------------------------------------------------------------- */

static json_t *objective_json(const InfoObjective *o)
{
    return json_pack("{s:o, s:o, s:o}",
                     "objective_s", o->set ? json_integer((json_int_t)o->objective_s) : json_null(),
                     "measured_s", o->measured ? drill_report_jsecs(o->measured_s) : json_null(),
                     "met", o->set ? json_boolean(o->met) : json_null());
}

json_t *drill_objectives_json(const DrillReport *r)
{
    return json_pack("{s:o, s:o}", "rto", objective_json(&r->obj_rto), "rpo",
                     objective_json(&r->obj_rpo));
}

/* ---- text ---------------------------------------------------------------------------------- */

static void print_one(const char *name, const char *measure, const InfoObjective *o, FILE *out)
{
    if (!o->set)
        return;
    fprintf(out, "  %s:     objective %.0f s, ", name, o->objective_s);
    if (!o->measured)
        fprintf(out, "%s not measured\n", measure);
    else
        fprintf(out, "%s %.1f s: %s\n", measure, o->measured_s, o->met ? "met" : "NOT MET");
}

void drill_objectives_print(const DrillReport *r, FILE *out)
{
    print_one("RTO", "recovery time", &r->obj_rto, out);
    print_one("RPO", "archive freshness", &r->obj_rpo, out);
}

/* ---- reading a kept report ------------------------------------------------------------------ */

/* A number of seconds within [min, DRILL_SECONDS_MAX]; JSON null (or absent) is "none", any
 * other value is ignored with a warning. */
static bool read_seconds(json_t *v, double min, const char *id, const char *what, double *out)
{
    if (v == NULL || json_is_null(v))
        return false;
    double secs = json_is_number(v) ? json_number_value(v) : NAN;
    if (json_is_number(v) && drill_report_seconds_ok(secs, min)) {
        *out = secs;
        return true;
    }
    log_warn("ignoring objectives.%s in the drill report \"" REPO_LAYOUT_DRILL_DIR "/%s.json\": "
             "not a number of seconds between %.0f and %.0f", what, id, min, DRILL_SECONDS_MAX);
    return false;
}

static void parse_one(json_t *o, const char *id, const char *name, InfoObjective *out)
{
    char what[32];
    memset(out, 0, sizeof *out);
    if (!json_is_object(o))
        return;
    snprintf(what, sizeof what, "%s.objective_s", name);
    /* An objective of 0 s cannot be set (0 means "not set" in the settings). */
    out->set = read_seconds(json_object_get(o, "objective_s"), 1, id, what, &out->objective_s);
    snprintf(what, sizeof what, "%s.measured_s", name);
    out->measured = read_seconds(json_object_get(o, "measured_s"), 0, id, what, &out->measured_s);
    judge(out);         /* never the report's own "met" */
}

void drill_objectives_parse(json_t *o, const char *id, DrillReportSummary *out)
{
    out->has_objectives = json_is_object(o);
    parse_one(json_object_get(o, "rto"), id, "rto", &out->obj_rto);
    parse_one(json_object_get(o, "rpo"), id, "rpo", &out->obj_rpo);
}
