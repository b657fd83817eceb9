/*
 * run_unit.c - one Check runner for every unit suite. Each tests/unit/test_<name>.c defines
 * `Suite *suite_<name>(void)`; the Makefile generates unit_suites.h listing them.
 * Fork mode stays on (Check's default) so a crash fails one test, not the run.
 */
#include <check.h>
#include <stdlib.h>

#define UNIT_SUITE(name) Suite *suite_##name(void);
#include "unit_suites.h"
#undef UNIT_SUITE

int main(void)
{
    SRunner *sr = srunner_create(NULL);
#define UNIT_SUITE(name) srunner_add_suite(sr, suite_##name());
#include "unit_suites.h"
#undef UNIT_SUITE
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
