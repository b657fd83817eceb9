/*
 * test_hexstr.c - hex checks (src/common/hexstr.c): each case alone and both, a NUL or a
 * non-hex byte inside the checked length, runs counted up to a limit, and exact lengths
 * (the sha256 names of objects and spool records go through hexstr_exact).
 */
#include "pgpitr/common/hexstr.h"

#include <check.h>

#define SHA_ABC "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

START_TEST(test_cases)
{
    ck_assert(hexstr_is("0123456789abcdef", 16, HEX_LOWER));
    ck_assert(!hexstr_is("0123456789abcdeF", 16, HEX_LOWER));
    ck_assert(hexstr_is("0123456789ABCDEF", 16, HEX_UPPER));
    ck_assert(!hexstr_is("0123456789ABCDEf", 16, HEX_UPPER));
    ck_assert(hexstr_is("09aFbE", 6, HEX_ANY));
    ck_assert(!hexstr_is("09aFgE", 6, HEX_ANY));
    ck_assert(!hexstr_is("0g", 2, HEX_ANY));
    ck_assert(!hexstr_is("/:`G@", 1, HEX_ANY));   /* the bytes around the digit ranges */
    ck_assert(!hexstr_is(":", 1, HEX_ANY));
    ck_assert(!hexstr_is("`", 1, HEX_ANY));
    ck_assert(!hexstr_is("G", 1, HEX_ANY));
    ck_assert(!hexstr_is("@", 1, HEX_ANY));
    ck_assert(!hexstr_is("\xc3\xa9", 1, HEX_ANY));  /* no locale: bytes >= 0x80 are not hex */
}
END_TEST

START_TEST(test_prefix_and_span)
{
    ck_assert(hexstr_is("00000001000000A0-rest", 16, HEX_UPPER));   /* s goes on */
    ck_assert(!hexstr_is("ABC", 4, HEX_UPPER));                      /* NUL inside n */
    ck_assert(hexstr_is("", 0, HEX_ANY));
    ck_assert_uint_eq(hexstr_span("00000001000000A0000000FF.partial", 64, HEX_UPPER), 24);
    ck_assert_uint_eq(hexstr_span("ABCDEF", 3, HEX_UPPER), 3);      /* at most max */
    ck_assert_uint_eq(hexstr_span("abc", 10, HEX_UPPER), 0);
    ck_assert_uint_eq(hexstr_span("", 10, HEX_ANY), 0);
}
END_TEST

/* The contract pipe_hex_valid had: exactly n lowercase hex characters. */
START_TEST(test_exact)
{
    ck_assert(hexstr_exact(SHA_ABC, 64, HEX_LOWER));
    ck_assert(hexstr_exact("0001abff7e", 10, HEX_LOWER));
    ck_assert(!hexstr_exact("0001ABFF7E", 10, HEX_LOWER));       /* uppercase */
    ck_assert(!hexstr_exact("0001abff7", 10, HEX_LOWER));        /* short */
    ck_assert(!hexstr_exact("0001abff7e0", 10, HEX_LOWER));      /* long */
    ck_assert(!hexstr_exact("0001abfg7e", 10, HEX_LOWER));       /* not hex */
    ck_assert(!hexstr_exact(NULL, 10, HEX_LOWER));
    ck_assert(hexstr_exact("", 0, HEX_LOWER));
    ck_assert(hexstr_exact("0001ABFF7E", 10, HEX_UPPER));
}
END_TEST

Suite *suite_hexstr(void)
{
    Suite *s = suite_create("hexstr");
    TCase *tc = tcase_create("hexstr");
    tcase_add_test(tc, test_cases);
    tcase_add_test(tc, test_prefix_and_span);
    tcase_add_test(tc, test_exact);
    suite_add_tcase(s, tc);
    return s;
}
