/*
 * fx_err.c - assertions on errors shared by unit suites (fx_err.h).
 */
#include "fx_err.h"

#include <check.h>
#include <string.h>

static void assert_printable(const char *s, const char *what)
{
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
        ck_assert_msg(*p >= 0x20 && *p != 0x7f, "control byte 0x%02x in the %s \"%s\"", *p,
                      what, s);
}

void fx_assert_printable_err(const PgpErr *err, const char *needle)
{
    ck_assert_msg(err->msg[0] != '\0', "empty error message");
    assert_printable(err->msg, "message");
    assert_printable(err->hint, "hint");
    if (needle != NULL)
        ck_assert_msg(strstr(err->msg, needle) != NULL, "\"%s\" not in \"%s\"", needle, err->msg);
}
