/*
 * hexstr.c - hex digit checks (hexstr.h). By hand rather than isxdigit(): the case matters
 * (a sha256 in a name is lowercase, a WAL name uppercase) and the locale must not.
 */
#include "pgpitr/common/hexstr.h"

static bool hex_digit(char ch, HexCase c)
{
    if (ch >= '0' && ch <= '9')
        return true;
    if ((c & HEX_LOWER) && ch >= 'a' && ch <= 'f')
        return true;
    return (c & HEX_UPPER) && ch >= 'A' && ch <= 'F';
}

size_t hexstr_span(const char *s, size_t max, HexCase c)
{
    size_t n = 0;
    while (n < max && s[n] != '\0' && hex_digit(s[n], c))
        n++;
    return n;
}

bool hexstr_is(const char *s, size_t n, HexCase c)
{
    return hexstr_span(s, n, c) == n;
}

bool hexstr_exact(const char *s, size_t n, HexCase c)
{
    return s != NULL && hexstr_is(s, n, c) && s[n] == '\0';
}
