/*
 * fx_drill.h - a drill report's two renderings for the suites that check them
 * (test_drill_report, test_drill_objectives): the JSON parsed back, the text summary.
 */
#ifndef PGPITR_FX_DRILL_H
#define PGPITR_FX_DRILL_H

#include <jansson.h>

#include "pgpitr/drill/drill_report.h"

/* drill_report_to_json(r) parsed back (asserts that it succeeds, ends in a newline and is
 * JSON); the caller json_decref()s it. */
json_t *fx_drill_json(const DrillReport *r);
/* drill_report_print_text(r), malloc'd. */
char *fx_drill_text(const DrillReport *r);

#endif
