/*
 * fuzz_size.c - size and integer settings from the configuration file, the environment and
 * the command line: spool_parse_size (src/archive/spool.c, spool-size "512MiB") and
 * cmd_parse_int (src/cmd/settings.c: jobs, lock-wait, retention counts...).
 * Input: the text (cut at its first NUL).
 * Properties: an accepted size is its number times the unit's power of 1024, without
 * overflow, and its value written in bytes reads back the same; an accepted integer lies in
 * its range and reads back the same.
 */
#include "fuzz.h"

#include <ctype.h>
#include <inttypes.h>
#include <limits.h>

#include "pgpitr/cmd/cmd.h"
#include "pgpitr/archive/spool.h"

static void check_size(const char *s)
{
    uint64_t v = 0, again = 0;
    PgpErr err;
    int rc = spool_parse_size(s, &v, &err);
    if (rc != 0) {
        fuzz_check_err(rc, &err, PGP_ERR_CONFIG);
        return;
    }
    /* The number part, checked independently: decimal digits, then an optional unit. */
    char *end = NULL;
    FUZZ_ASSERT(isdigit((unsigned char)s[0]), "\"%s\" accepted without a leading digit", s);
    unsigned long long n = strtoull(s, &end, 10);
    while (*end == ' ')
        end++;
    unsigned shift = 0;
    switch (tolower((unsigned char)end[0])) {
    case 'k': shift = 10; break;
    case 'm': shift = 20; break;
    case 'g': shift = 30; break;
    case 't': shift = 40; break;
    default: break;
    }
    FUZZ_ASSERT(n <= (UINT64_MAX >> shift) && v == ((uint64_t)n << shift),
                "\"%s\" is %" PRIu64 " bytes, expected %llu << %u", s, v, n, shift);
    char bytes[32];
    snprintf(bytes, sizeof bytes, "%" PRIu64, v);
    FUZZ_ASSERT(spool_parse_size(bytes, &again, &err) == 0 && again == v,
                "\"%s\" -> %" PRIu64 " -> \"%s\" -> %" PRIu64, s, v, bytes, again);
}

static void check_int(const char *s, long min, long max)
{
    long v = 0, again = 0;
    PgpErr err;
    int rc = cmd_parse_int("setting", s, min, max, &v, &err);
    if (rc != 0) {
        fuzz_check_err(rc, &err, PGP_ERR_CONFIG);
        return;
    }
    FUZZ_ASSERT(v >= min && v <= max, "\"%s\" -> %ld outside %ld..%ld", s, v, min, max);
    char text[32];
    snprintf(text, sizeof text, "%ld", v);
    FUZZ_ASSERT(cmd_parse_int("setting", text, min, max, &again, &err) == 0 && again == v,
                "\"%s\" -> %ld -> \"%s\" -> %ld", s, v, text, again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    char *s = fuzz_cstr(data, size);
    check_size(s);
    check_int(s, 0, LONG_MAX);
    check_int(s, 1, 32);
    check_int(s, LONG_MIN, LONG_MAX);
    free(s);
    return 0;
}
