/*
 * run_unit.c - one Check runner for every unit suite. Each tests/unit/test_<name>.c defines
 * `Suite *suite_<name>(void)`; the Makefile generates unit_suites.h listing them.
 * Fork mode stays on (Check's default) so a crash fails one test, not the run.
 * `unit_tests --list` prints the suite names, one a line: tests/unit/run-parallel.sh runs them
 * a few at a time, each in its own process (CK_RUN_SUITE=name), to use every core.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UNIT_SUITE(name) Suite *suite_##name(void);
#include "unit_suites.h"
#undef UNIT_SUITE

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--list") == 0) {
#define UNIT_SUITE(name) puts(#name);
#include "unit_suites.h"
#undef UNIT_SUITE
        return fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
    }
    if (argc != 1) {
        fprintf(stderr, "usage: %s [--list]\n", argv[0]);
        return 2;
    }
    SRunner *sr = srunner_create(NULL);
#define UNIT_SUITE(name) srunner_add_suite(sr, suite_##name());
#include "unit_suites.h"
#undef UNIT_SUITE
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
