/*
 * fuzz_time.c - the time parsers: restore_parse_time (src/restore/restore_conf.c, the DBA's
 * --target-time) and pg_log_parse_timestamp (src/pg/serverlog.c, times the server logs).
 * Input: the text (cut at its first NUL).
 * Properties: an accepted target time is printed by restore_format_time in a form both
 * parsers read back as the same instant (that text goes into postgresql.auto.conf, where the
 * server reads it); where both parsers accept the same text they agree on the instant; the
 * drill report's ISO form (drill_format_time) reads back as the same instant too.
 */
#include "fuzz.h"

#include <inttypes.h>

#include "pgpitr/drill/drill_report.h"
#include "pgpitr/pg/pgserverlog.h"
#include "pgpitr/restore/restore.h"
#include "pgpitr/restore/restore_conf.h"

static void check_printed(int64_t us, const char *from)
{
    char text[RESTORE_TIME_TEXT_MAX], iso[DRILL_TIME_MAX];
    restore_format_time(us, text);
    int64_t back = -1, log_back = -1;
    PgpErr err;
    int rc = restore_parse_time(text, &back, &err);
    FUZZ_ASSERT(rc == 0 && back == us, "\"%s\" -> %" PRId64 " -> \"%s\" -> %s (%" PRId64 ")",
                from, us, text, rc ? err.msg : "ok", back);
    FUZZ_ASSERT(pg_log_parse_timestamp(text, &log_back) && log_back == us,
                "\"%s\" (from \"%s\") is not the same instant for the log parser", text, from);
    drill_format_time(us, iso);
    FUZZ_ASSERT(restore_parse_time(iso, &back, &err) == 0 && back == us,
                "drill time \"%s\" of %" PRId64 " reads back as %" PRId64, iso, us, back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    char *s = fuzz_cstr(data, size);
    int64_t us = -1, log_us = -1;
    PgpErr err;
    int rc = restore_parse_time(s, &us, &err);
    bool log_ok = pg_log_parse_timestamp(s, &log_us);
    if (rc != 0) {
        fuzz_check_err(rc, &err, PGP_ERR_USAGE);
    } else {
        FUZZ_ASSERT(us >= 0, "\"%s\" is before 1970: %" PRId64, s, us);
        check_printed(us, s);
    }
    if (log_ok) {
        FUZZ_ASSERT(log_us >= 0 || rc != 0, "log time \"%s\" is %" PRId64, s, log_us);
        FUZZ_ASSERT(rc != 0 || log_us == us, "\"%s\": target time %" PRId64 ", log time %" PRId64,
                    s, us, log_us);
    }
    free(s);
    return 0;
}
