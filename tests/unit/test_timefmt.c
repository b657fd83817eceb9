/*
 * test_timefmt.c - UTC time to text (src/common/timefmt.c): the extended and basic ISO 8601
 * forms, microseconds with their trailing zeros dropped (and before 1970) in the ISO and
 * PostgreSQL forms, the calendar names retention uses, the year range 1..9999 and a buffer
 * too small: every refusal leaves "" behind, never a cut-down time.
 */
#include "pgpitr/common/timefmt.h"

#include <check.h>
#include <string.h>

#define T2023 INT64_C(1700000000)            /* 2023-11-14T22:13:20Z */
#define T9999 INT64_C(253402300799)          /* 9999-12-31T23:59:59Z */
#define T0001 INT64_C(-62135596800)          /* 0001-01-01T00:00:00Z */

START_TEST(test_iso_forms)
{
    char out[TIMEFMT_MAX];
    ck_assert(timefmt_iso(0, 0, out, sizeof out));
    ck_assert_str_eq(out, "1970-01-01T00:00:00Z");
    ck_assert(timefmt_iso(T2023, 0, out, sizeof out));
    ck_assert_str_eq(out, "2023-11-14T22:13:20Z");
    ck_assert(timefmt_iso(T2023, TIMEFMT_BASIC, out, sizeof out));
    ck_assert_str_eq(out, "20231114T221320Z");
    ck_assert(timefmt_iso(T9999, 0, out, sizeof out));
    ck_assert_str_eq(out, "9999-12-31T23:59:59Z");
    ck_assert(timefmt_iso(T0001, 0, out, sizeof out));
    ck_assert_str_eq(out, "1-01-01T00:00:00Z");     /* strftime's %Y: no padding */
    ck_assert(timefmt_iso(-1, 0, out, sizeof out));
    ck_assert_str_eq(out, "1969-12-31T23:59:59Z");
}
END_TEST

START_TEST(test_iso_us)
{
    char out[TIMEFMT_MAX];
    ck_assert(timefmt_iso_us(T2023 * 1000000, out, sizeof out));
    ck_assert_str_eq(out, "2023-11-14T22:13:20Z");
    ck_assert(timefmt_iso_us(T2023 * 1000000 + 123450, out, sizeof out));
    ck_assert_str_eq(out, "2023-11-14T22:13:20.12345Z");
    ck_assert(timefmt_iso_us(T2023 * 1000000 + 500000, out, sizeof out));
    ck_assert_str_eq(out, "2023-11-14T22:13:20.5Z");
    ck_assert(timefmt_iso_us(T2023 * 1000000 + 1, out, sizeof out));
    ck_assert_str_eq(out, "2023-11-14T22:13:20.000001Z");
    ck_assert(timefmt_iso_us(-1, out, sizeof out));             /* floor, not truncation */
    ck_assert_str_eq(out, "1969-12-31T23:59:59.999999Z");
    ck_assert(timefmt_iso_us(T9999 * 1000000 + 999999, out, sizeof out));
    ck_assert_str_eq(out, "9999-12-31T23:59:59.999999Z");
    ck_assert_uint_lt(strlen(out), TIMEFMT_MAX);
    /* another form and zone: PostgreSQL's recovery_target_time */
    ck_assert(timefmt_utc_us(T2023 * 1000000 + 250000, "%Y-%m-%d %H:%M:%S", "+00", out,
                             sizeof out));
    ck_assert_str_eq(out, "2023-11-14 22:13:20.25+00");
    ck_assert(timefmt_utc_us(T2023 * 1000000, "%Y-%m-%d %H:%M:%S", "+00", out, sizeof out));
    ck_assert_str_eq(out, "2023-11-14 22:13:20+00");
}
END_TEST

START_TEST(test_calendar_names)
{
    char out[16];
    ck_assert(timefmt_utc(T2023, "%Y-%m-%d", out, sizeof out));
    ck_assert_str_eq(out, "2023-11-14");
    ck_assert(timefmt_utc(T2023, "%Y-%m", out, sizeof out));
    ck_assert_str_eq(out, "2023-11");
    /* 2021-01-03 is a Sunday in ISO week 53 of 2020 */
    ck_assert(timefmt_utc(INT64_C(1609632000), "%G-W%V", out, sizeof out));
    ck_assert_str_eq(out, "2020-W53");
}
END_TEST

START_TEST(test_refusals)
{
    char out[TIMEFMT_MAX];
    memset(out, 'x', sizeof out);
    ck_assert(!timefmt_iso(T9999 + 1, 0, out, sizeof out));     /* year 10000 */
    ck_assert_str_eq(out, "");
    memset(out, 'x', sizeof out);
    ck_assert(!timefmt_iso(T0001 - 1, 0, out, sizeof out));     /* year 0 */
    ck_assert_str_eq(out, "");
    memset(out, 'x', sizeof out);
    ck_assert(!timefmt_iso(INT64_MAX, 0, out, sizeof out));
    ck_assert_str_eq(out, "");
    memset(out, 'x', sizeof out);
    ck_assert(!timefmt_iso_us(INT64_MIN, out, sizeof out));
    ck_assert_str_eq(out, "");
    /* exactly the room needed works; one byte less is refused, not cut */
    ck_assert(timefmt_iso(T2023, 0, out, 21));
    ck_assert_str_eq(out, "2023-11-14T22:13:20Z");
    memset(out, 'x', sizeof out);
    ck_assert(!timefmt_iso(T2023, 0, out, 20));
    ck_assert_str_eq(out, "");
    ck_assert(timefmt_iso_us(T2023 * 1000000 + 5, out, 28));
    memset(out, 'x', sizeof out);
    ck_assert(!timefmt_iso_us(T2023 * 1000000 + 5, out, 27));   /* the fraction does not fit */
    ck_assert_str_eq(out, "");
    ck_assert(!timefmt_iso(T2023, 0, out, 0));                  /* nothing written */
}
END_TEST

Suite *suite_timefmt(void)
{
    Suite *s = suite_create("timefmt");
    TCase *tc = tcase_create("timefmt");
    tcase_add_test(tc, test_iso_forms);
    tcase_add_test(tc, test_iso_us);
    tcase_add_test(tc, test_calendar_names);
    tcase_add_test(tc, test_refusals);
    suite_add_tcase(s, tc);
    return s;
}
