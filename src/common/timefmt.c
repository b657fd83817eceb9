/*
 * timefmt.c - UTC time to text (timefmt.h): gmtime_r + strftime behind one range check, so
 * every caller gets the same answer for the same second and the same refusal for a year
 * that ISO 8601's four digits cannot write.
 */
#include "pgpitr/common/timefmt.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static bool fail(char *out, size_t size)
{
    if (size > 0)
        out[0] = '\0';
    return false;
}

bool timefmt_utc(int64_t secs, const char *fmt, char *out, size_t size)
{
    time_t tt = (time_t)secs;
    struct tm tm;
    if ((int64_t)tt != secs || gmtime_r(&tt, &tm) == NULL || tm.tm_year + 1900 < 1 ||
        tm.tm_year + 1900 > 9999)
        return fail(out, size);
    if (size == 0 || strftime(out, size, fmt, &tm) == 0)
        return fail(out, size);
    return true;
}

bool timefmt_iso(int64_t secs, unsigned flags, char *out, size_t size)
{
    const char *fmt = (flags & TIMEFMT_BASIC) ? "%Y%m%dT%H%M%SZ" : "%Y-%m-%dT%H:%M:%SZ";
    return timefmt_utc(secs, fmt, out, size);
}

bool timefmt_utc_us(int64_t us, const char *fmt, const char *zone, char *out, size_t size)
{
    int64_t secs = us / 1000000, frac = us % 1000000;
    if (frac < 0) {             /* before 1970: floor, so the fraction counts forwards */
        secs--;
        frac += 1000000;
    }
    if (!timefmt_utc(secs, fmt, out, size))
        return false;
    char f[8] = "";
    if (frac != 0) {
        snprintf(f, sizeof f, ".%06lld", (long long)frac);
        for (int i = 6; i > 1 && f[i] == '0'; i--)
            f[i] = '\0';
    }
    size_t n = strlen(out);
    int m = snprintf(out + n, size - n, "%s%s", f, zone);
    if (m < 0 || (size_t)m >= size - n)
        return fail(out, size);
    return true;
}

bool timefmt_iso_us(int64_t us, char *out, size_t size)
{
    return timefmt_utc_us(us, "%Y-%m-%dT%H:%M:%S", "Z", out, size);
}
