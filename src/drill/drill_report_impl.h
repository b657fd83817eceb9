/*
 * drill_report_impl.h - shared by the drill report (drill_report.c) and its objectives section
 * (drill_objectives.c). Internal to src/drill.
 */
#ifndef PGPITR_DRILL_REPORT_IMPL_H
#define PGPITR_DRILL_REPORT_IMPL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "pgpitr/drill/drill_report.h"

/* Whether s is a number of seconds a report can hold: finite, within [min, DRILL_SECONDS_MAX]
 * (checked before any conversion to an integer). */
bool drill_report_seconds_ok(double s, double min);
/* Seconds rounded to milliseconds; JSON null when not drill_report_seconds_ok(s, 0). */
json_t *drill_report_jsecs(double s);

/* The "objectives" section of the report (never NULL unless out of memory). */
json_t *drill_objectives_json(const DrillReport *r);
/* Its text lines (nothing when neither objective is set). */
void drill_objectives_print(const DrillReport *r, FILE *out);
/* Fills out->has_objectives, obj_rto and obj_rpo from a report's "objectives" value (NULL or
 * anything but an object: none); id names the report in warnings. */
void drill_objectives_parse(json_t *o, const char *id, DrillReportSummary *out);

#endif
