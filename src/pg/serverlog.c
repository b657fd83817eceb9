/*
 * serverlog.c - reading a PostgreSQL 15 server's stderr log for what a drill must prove about
 * its recovery (see pgserverlog.h for the lines and why the log). Pure text work plus an
 * incremental reader; never writes, never trusts a line's length or content.
 */
#include "pgpitr/pg/pgserverlog.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pgpitr/pg/walname.h"

#define TOOL_ERROR_PREFIX "pgpitr: error: "

void pg_server_log_init(PgServerLog *l)
{
    memset(l, 0, sizeof *l);
}

/* Copies len bytes of s into out (size > 0), control characters as '?', trailing blanks cut. */
static void copy_text(char *out, size_t size, const char *s, size_t len)
{
    size_t n = len < size - 1 ? len : size - 1;
    for (size_t i = 0; i < n; i++)
        out[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
    while (n > 0 && out[n - 1] == ' ')
        n--;
    out[n] = '\0';
}

/* Severity markers as elog.c writes them: "<LEVEL>:  " (two blanks). */
static const char *const severities[] = {
    "LOG:  ", "FATAL:  ", "PANIC:  ", "ERROR:  ", "WARNING:  ", "DETAIL:  ", "HINT:  ",
    "CONTEXT:  ", "STATEMENT:  ", "INFO:  ", "NOTICE:  ", "DEBUG1:  ", "DEBUG2:  ",
};
#define N_SEVERITIES (sizeof severities / sizeof severities[0])

/* The earliest severity marker in line: its index in severities, *msg after it. -1: none. */
static int find_severity(const char *line, const char **msg)
{
    int best = -1;
    const char *best_at = NULL;
    for (size_t i = 0; i < N_SEVERITIES; i++) {
        const char *at = strstr(line, severities[i]);
        /* "LOG:  " also matches the tail of a longer word; require a boundary. */
        if (at != NULL && at > line && isalpha((unsigned char)at[-1]))
            at = NULL;
        if (at != NULL && (best_at == NULL || at < best_at)) {
            best_at = at;
            best = (int)i;
        }
    }
    if (best >= 0)
        *msg = best_at + strlen(severities[best]);
    return best;
}

static bool starts(const char *s, const char *prefix, const char **rest)
{
    size_t n = strlen(prefix);
    if (strncmp(s, prefix, n) != 0)
        return false;
    *rest = s + n;
    return true;
}

/* "X/X" at the start of s, ended by a blank or the end. */
static bool parse_lsn_word(const char *s, uint64_t *lsn)
{
    char word[20];
    size_t n = strcspn(s, " \t,");
    if (n == 0 || n >= sizeof word)
        return false;
    memcpy(word, s, n);
    word[n] = '\0';
    return pg_lsn_parse(word, lsn, NULL) == 0;
}

static void on_restored(PgServerLog *l, const char *rest)
{
    /* rest: "\"NAME\" from archive" */
    if (rest[0] != '"')
        return;
    const char *end = strchr(rest + 1, '"');
    if (end == NULL || (size_t)(end - rest - 1) >= PG_WALNAME_MAX)
        return;
    char name[PG_WALNAME_MAX];
    memcpy(name, rest + 1, (size_t)(end - rest - 1));
    name[end - rest - 1] = '\0';
    PgWalName wn;
    if (pg_walname_parse(name, &wn, NULL) != 0)
        return;
    if (wn.kind == PG_WALFILE_HISTORY) {
        l->history_restored++;
    } else if (wn.kind == PG_WALFILE_SEGMENT) {
        l->segments_fetched++;
        if (strcmp(name, l->last_segment) != 0)
            l->segments_restored++;
        memcpy(l->last_segment, name, PG_WALNAME_SEG_LEN + 1);
    }
}

/* A client's connection refused while the server starts, recovers or stops ("the database
 * system is in recovery mode", "... is starting up", "... is shutting down"): a consequence,
 * never the cause. The drill's own probes connect while the startup process fails, so such a
 * line can follow the FATAL that explains the failure and must not replace it. */
static bool refused_connection(const char *msg)
{
    const char *rest;
    return starts(msg, "the database system is ", &rest);
}

static void on_log(PgServerLog *l, const char *msg)
{
    const char *rest;
    if (starts(msg, "restored log file ", &rest)) {
        on_restored(l, rest);
    } else if (starts(msg, "redo starts at ", &rest)) {
        l->has_redo_start = parse_lsn_word(rest, &l->redo_start_lsn);
    } else if (starts(msg, "redo done at ", &rest)) {
        l->has_redo_done = parse_lsn_word(rest, &l->redo_done_lsn);
    } else if (starts(msg, "last completed transaction was at log time ", &rest)) {
        copy_text(l->last_xact_text, sizeof l->last_xact_text, rest, strlen(rest));
        l->has_last_xact = pg_log_parse_timestamp(l->last_xact_text, &l->last_xact_us);
    } else if (starts(msg, "recovery stopping ", &rest)) {
        copy_text(l->stop_text, sizeof l->stop_text, msg, strlen(msg));
    } else if (starts(msg, "selected new timeline ID: ", &rest)) {
        char *end = NULL;
        unsigned long v = strtoul(rest, &end, 10);
        if (end != rest && v > 0 && v <= UINT32_MAX)
            l->new_timeline = (uint32_t)v;
    } else if (starts(msg, "starting archive recovery", &rest) ||
               starts(msg, "starting point-in-time recovery", &rest) ||
               starts(msg, "entering standby mode", &rest)) {
        l->recovery_started = true;
    } else if (strcmp(msg, "archive recovery complete") == 0) {
        l->archive_recovery_complete = true;
    } else if (strcmp(msg, "database system is ready to accept connections") == 0) {
        l->ready = true;
    }
}

void pg_server_log_feed(PgServerLog *l, const char *line, size_t len)
{
    char buf[2048];
    size_t n = len < sizeof buf - 1 ? len : sizeof buf - 1;
    memcpy(buf, line, n);
    buf[n] = '\0';
    while (n > 0 && (buf[n - 1] == '\r' || buf[n - 1] == '\n'))
        buf[--n] = '\0';
    l->lines++;
    const char *msg = NULL;
    if (strncmp(buf, TOOL_ERROR_PREFIX, strlen(TOOL_ERROR_PREFIX)) == 0) {
        msg = buf + strlen(TOOL_ERROR_PREFIX);
        copy_text(l->last_tool_error, sizeof l->last_tool_error, msg, strlen(msg));
        return;
    }
    int sev = find_severity(buf, &msg);
    if (sev < 0)
        return;
    const char *name = severities[sev];
    if (strncmp(name, "LOG:", 4) == 0)
        on_log(l, msg);
    else if ((strncmp(name, "FATAL:", 6) == 0 || strncmp(name, "PANIC:", 6) == 0) &&
             !refused_connection(msg))
        copy_text(l->last_fatal, sizeof l->last_fatal, msg, strlen(msg));
    else if (strncmp(name, "ERROR:", 6) == 0)
        copy_text(l->last_error, sizeof l->last_error, msg, strlen(msg));
}

int pg_server_log_poll(PgServerLog *l, const char *path, bool final, PgpErr *err)
{
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        if (errno == ENOENT)
            return 0;
        return PGP_FAIL_SYS(err, errno, "cannot open the server log \"%s\"", path);
    }
    int rc = 0;
    if (fseeko(f, (off_t)l->offset, SEEK_SET) != 0) {
        rc = PGP_FAIL_SYS(err, errno, "cannot read the server log \"%s\"", path);
        fclose(f);
        return rc;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    while ((got = getline(&line, &cap, f)) > 0) {
        bool complete = line[got - 1] == '\n';
        if (!complete && !final)
            break;
        pg_server_log_feed(l, line, (size_t)got);
        l->offset += (uint64_t)got;
    }
    if (ferror(f))
        rc = PGP_FAIL_SYS(err, errno, "cannot read the server log \"%s\"", path);
    free(line);
    fclose(f);
    return rc;
}

void pg_server_log_tail_free(char **lines, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(lines[i]);
    free(lines);
}

/* ---- what is worth showing -------------------------------------------------------------- */

/* LOG messages that say how far recovery got (its milestones). */
static const char *const log_milestones[] = {
    "database system was ", "starting point-in-time recovery", "starting archive recovery",
    "entering standby mode", "redo starts at ", "consistent recovery state reached",
    "recovery stopping ", "pausing at the end of recovery", "recovery has paused",
    "redo done at ", "redo is not required", "last completed transaction was at log time ",
    "selected new timeline ID: ", "archive recovery complete",
    "database system is ready to accept connections", "started streaming WAL",
};

/* LOG messages that report a problem: where the WAL ended (xlogreader's complaints are LOG
 * in recovery), a setting the server refused (the FATAL that follows only names the file), a
 * child process that died, and the shutdown that follows a failed start-up. */
static const char *const log_problems[] = {
    "invalid ", "record with incorrect prev-link", "unexpected pageaddr",
    "incorrect resource manager data checksum", "missing contrecord", "there is no contrecord",
    "could not ", "unrecognized configuration parameter", "parameter \"",
    "syntax error in file", "configuration file ", "startup process ", "server process ",
    "background worker ", "terminating any other active server processes",
    "shutting down due to startup process failure",
    "aborting startup due to startup process failure",
};

static bool starts_any(const char *msg, const char *const *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strncmp(msg, v[i], strlen(v[i])) == 0)
            return true;
    return false;
}

bool pg_server_log_relevant(PgServerLogFilter *f, const char *line)
{
    const char *msg = NULL;
    bool keep;
    if (strncmp(line, TOOL_ERROR_PREFIX, strlen(TOOL_ERROR_PREFIX)) == 0 ||
        strncmp(line, "pgpitr: warn: ", 14) == 0) {
        keep = true;                   /* restore_command's own error and warning lines */
    } else {
        int sev = find_severity(line, &msg);
        const char *name = sev >= 0 ? severities[sev] : "";
        if (sev < 0 || strncmp(name, "DETAIL:", 7) == 0 || strncmp(name, "HINT:", 5) == 0 ||
            strncmp(name, "CONTEXT:", 8) == 0 || strncmp(name, "STATEMENT:", 10) == 0) {
            /* the rest of the message above (pgpitr's "HINT: " has one blank, and a
             * multi-line statement continues without a prefix) */
            keep = f->prev_kept;
        } else if (strncmp(name, "LOG:", 4) == 0) {
            if (strncmp(msg, "received ", 9) == 0 && strstr(msg, "shutdown request") != NULL)
                f->shutdown = true;
            /* After the drill's own shutdown request the LOG lines are its consequences. */
            keep = !f->shutdown &&
                   (starts_any(msg, log_milestones, sizeof log_milestones / sizeof *log_milestones) ||
                    starts_any(msg, log_problems, sizeof log_problems / sizeof *log_problems));
        } else if (strncmp(name, "FATAL:", 6) == 0) {
            /* the sessions a shutdown ends are not a failure */
            keep = !(f->shutdown &&
                     strcmp(msg, "terminating connection due to administrator command") == 0);
        } else {
            keep = strncmp(name, "PANIC:", 6) == 0 || strncmp(name, "ERROR:", 6) == 0 ||
                   strncmp(name, "WARNING:", 8) == 0;
        }
    }
    f->prev_kept = keep;
    return keep;
}

/* The last max_lines lines of the file at path (only the relevant ones when filter). */
static int collect_lines(const char *path, size_t max_lines, bool filter, char ***lines,
                         size_t *n, PgpErr *err)
{
    *lines = NULL;
    *n = 0;
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return errno == ENOENT ? 0 : PGP_FAIL_SYS(err, errno, "cannot open \"%s\"", path);
    char **ring = max_lines > 0 ? calloc(max_lines, sizeof *ring) : NULL;
    if (max_lines > 0 && ring == NULL) {
        fclose(f);
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    }
    PgServerLogFilter state = {0};
    size_t total = 0;
    char *line = NULL, text[PG_SERVER_LOG_TEXT_MAX];
    size_t cap = 0;
    ssize_t got;
    int rc = 0;
    while (rc == 0 && max_lines > 0 && (got = getline(&line, &cap, f)) > 0) {
        while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r'))
            got--;
        copy_text(text, sizeof text, line, (size_t)got);
        if (filter && !pg_server_log_relevant(&state, text))
            continue;
        char *copy = strdup(text);
        if (copy == NULL) {
            rc = PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
            break;
        }
        free(ring[total % max_lines]);
        ring[total % max_lines] = copy;
        total++;
    }
    free(line);
    fclose(f);
    size_t count = total < max_lines ? total : max_lines;
    char **out = count > 0 ? malloc(count * sizeof *out) : NULL;
    if (rc == 0 && count > 0 && out == NULL)
        rc = PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < count; i++) {
        size_t slot = (total - count + i) % max_lines;
        if (rc == 0) {
            out[i] = ring[slot];
            ring[slot] = NULL;
        }
    }
    pg_server_log_tail_free(ring, max_lines);
    if (rc != 0) {
        free(out);
        return rc;
    }
    *lines = out;
    *n = count;
    return 0;
}

int pg_server_log_tail(const char *path, size_t max_lines, char ***lines, size_t *n,
                       PgpErr *err)
{
    return collect_lines(path, max_lines, false, lines, n, err);
}

int pg_server_log_excerpt(const char *path, size_t max_lines, char ***lines, size_t *n,
                          PgpErr *err)
{
    return collect_lines(path, max_lines, true, lines, n, err);
}

/* ---- timestamps ---------------------------------------------------------------------- */

/* Exactly `digits` decimal digits at *s (advanced); false otherwise. */
static bool take_num(const char **s, int digits, int *out)
{
    int v = 0;
    for (int i = 0; i < digits; i++) {
        if (!isdigit((unsigned char)(*s)[i]))
            return false;
        v = v * 10 + ((*s)[i] - '0');
    }
    *s += digits;
    *out = v;
    return true;
}

/* "+HH", "+HH:MM", "+HHMM", "+HH:MM:SS", "Z" -> seconds east of UTC. */
static bool parse_offset(const char *s, long *east)
{
    if (strcmp(s, "Z") == 0) {
        *east = 0;
        return true;
    }
    if (*s != '+' && *s != '-')
        return false;
    int sign = *s == '-' ? -1 : 1, h, m = 0, sec = 0;
    s++;
    if (!take_num(&s, 2, &h))
        return false;
    if (*s == ':')
        s++;
    if (*s != '\0' && !take_num(&s, 2, &m))
        return false;
    if (*s == ':')
        s++;
    if (*s != '\0' && !take_num(&s, 2, &sec))
        return false;
    if (*s != '\0' || h > 15 || m > 59 || sec > 59)
        return false;
    *east = sign * (h * 3600L + m * 60L + sec);
    return true;
}

bool pg_log_parse_timestamp(const char *text, int64_t *us)
{
    const char *s = text;
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    int y, mo, d, h, mi, se;
    if (!take_num(&s, 4, &y) || *s++ != '-' || !take_num(&s, 2, &mo) || *s++ != '-' ||
        !take_num(&s, 2, &d) || (*s != ' ' && *s != 'T'))
        return false;
    s++;
    if (!take_num(&s, 2, &h) || *s++ != ':' || !take_num(&s, 2, &mi) || *s++ != ':' ||
        !take_num(&s, 2, &se))
        return false;
    int64_t frac = 0;
    if (*s == '.') {
        int digits = 0;
        for (s++; isdigit((unsigned char)*s); s++, digits++)
            if (digits < 6)
                frac = frac * 10 + (*s - '0');
        if (digits == 0)
            return false;
        for (; digits < 6; digits++)
            frac *= 10;
    }
    long east;
    if (!parse_offset(s, &east) || y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 ||
        h > 23 || mi > 59 || se > 60)
        return false;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = se;
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return false;
    *us = ((int64_t)t - east) * 1000000 + frac;
    return true;
}
