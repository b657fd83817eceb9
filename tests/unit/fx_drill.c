/*
 * fx_drill.c - see fx_drill.h.
 */
#include "fx_drill.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_t *fx_drill_json(const DrillReport *r)
{
    char *text = NULL;
    PgpErr err;
    pgp_err_clear(&err);
    ck_assert_msg(drill_report_to_json(r, &text, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(text[strlen(text) - 1], '\n');
    json_error_t jerr;
    json_t *j = json_loads(text, 0, &jerr);
    ck_assert_msg(j != NULL, "not JSON: %s", jerr.text);
    free(text);
    return j;
}

char *fx_drill_text(const DrillReport *r)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    ck_assert_ptr_nonnull(f);
    drill_report_print_text(r, f);
    fclose(f);
    return text;
}
