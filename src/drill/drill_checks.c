/*
 * drill_checks.c - the server-less decisions of `pgpitr drill` (drill_checks.h): the
 * --check-sql file format, the archive as it was when the drill began, and whether recovery
 * reached the requested target. Talks to storage only to list archive/wal; never writes.
 */
#include "pgpitr/drill/drill_checks.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "pgpitr/drill/drill_report.h"
#include "pgpitr/repo/repo.h"
#include "pgpitr/repo/wal_index.h"
#include "pgpitr/pg/walname.h"

/* ---- --check-sql ------------------------------------------------------------------------ */

typedef struct SqlParse {
    const char *source;
    DrillSqlChecks *out;
    DrillSqlCheck cur;           /* being collected */
    bool in_header;              /* header lines seen, no SQL content yet */
    bool has_content;            /* cur.sql holds more than blanks and comments */
    char *sql;
    size_t sql_len, sql_cap;
    PgpErr *err;
} SqlParse;

void drill_sql_free(DrillSqlChecks *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->n; i++) {
        free(c->v[i].name);
        free(c->v[i].database);
        free(c->v[i].expect);
        free(c->v[i].sql);
    }
    free(c->v);
    c->v = NULL;
    c->n = 0;
}

static void check_clear(DrillSqlCheck *c)
{
    free(c->name);
    free(c->database);
    free(c->expect);
    free(c->sql);
    memset(c, 0, sizeof *c);
}

static char *dup_trimmed(const char *s, size_t len)
{
    while (len > 0 && isspace((unsigned char)*s))
        s++, len--;
    while (len > 0 && isspace((unsigned char)s[len - 1]))
        len--;
    return strndup(s, len);
}

/* "-- key: value" with key name|database|expect: the key index (0..2) and the value. -1 if
 * the line is not a header line. */
static int header_key(const char *line, size_t len, const char **value, size_t *vlen)
{
    static const char *const keys[] = {"name", "database", "expect"};
    const char *p = line, *end = line + len;
    while (p < end && isspace((unsigned char)*p))
        p++;
    if (end - p < 2 || p[0] != '-' || p[1] != '-')
        return -1;
    p += 2;
    while (p < end && isspace((unsigned char)*p))
        p++;
    for (int k = 0; k < 3; k++) {
        size_t kl = strlen(keys[k]);
        const char *q = p + kl;
        if ((size_t)(end - p) < kl || strncasecmp(p, keys[k], kl) != 0)
            continue;
        while (q < end && (*q == ' ' || *q == '\t'))
            q++;
        if (q >= end || *q != ':')
            continue;
        *value = q + 1;
        *vlen = (size_t)(end - q - 1);
        return k;
    }
    return -1;
}

static bool is_content(const char *line, size_t len)
{
    size_t i = 0;
    while (i < len && isspace((unsigned char)line[i]))
        i++;
    if (i == len)
        return false;
    return !(len - i >= 2 && line[i] == '-' && line[i + 1] == '-');
}

static int parse_fail(SqlParse *p, int line, const char *what)
{
    return PGP_FAIL(p->err, PGP_ERR_USAGE, "%s:%d: %s", p->source, line, what);
}

/* Ends the current check (if any header was seen). */
static int finish_check(SqlParse *p, int line)
{
    if (p->cur.line == 0)
        return 0;
    if (p->cur.expect == NULL)
        return parse_fail(p, p->cur.line, "check has no \"-- expect:\" line");
    if (!p->has_content)
        return parse_fail(p, p->cur.line, "check has no SQL");
    if (p->out->n >= DRILL_SQL_MAX_CHECKS)
        return parse_fail(p, line, "too many checks (at most 1000)");
    p->cur.sql = dup_trimmed(p->sql, p->sql_len);
    if (p->cur.name == NULL) {
        char name[32];
        snprintf(name, sizeof name, "line %d", p->cur.line);
        p->cur.name = strdup(name);
    }
    DrillSqlCheck *v = realloc(p->out->v, (p->out->n + 1) * sizeof *v);
    if (p->cur.sql == NULL || p->cur.name == NULL || v == NULL) {
        if (v != NULL)
            p->out->v = v;
        return PGP_FAIL(p->err, PGP_ERR_NOMEM, "out of memory");
    }
    p->out->v = v;
    v[p->out->n++] = p->cur;
    memset(&p->cur, 0, sizeof p->cur);
    p->sql_len = 0;
    p->has_content = false;
    return 0;
}

static int add_header(SqlParse *p, int key, const char *value, size_t vlen, int line)
{
    if (!p->in_header) {
        int rc = finish_check(p, line);
        if (rc != 0)
            return rc;
        p->in_header = true;
        p->cur.line = line;
    }
    char **slot = key == 0 ? &p->cur.name : key == 1 ? &p->cur.database : &p->cur.expect;
    static const char *const names[] = {"-- name:", "-- database:", "-- expect:"};
    if (*slot != NULL) {
        char msg[64];
        snprintf(msg, sizeof msg, "second \"%s\" line in one check", names[key]);
        return parse_fail(p, line, msg);
    }
    if ((*slot = dup_trimmed(value, vlen)) == NULL)
        return PGP_FAIL(p->err, PGP_ERR_NOMEM, "out of memory");
    if (key != 2 && (*slot)[0] == '\0')
        return parse_fail(p, line, key == 0 ? "empty \"-- name:\"" : "empty \"-- database:\"");
    return 0;
}

static int add_sql_line(SqlParse *p, const char *line, size_t len, int lineno)
{
    bool content = is_content(line, len);
    if (p->cur.line == 0) {
        if (content)
            return parse_fail(p, lineno, "SQL before any \"-- expect:\" header");
        return 0;                         /* comment or blank line before the first check */
    }
    if (content && p->cur.expect == NULL)
        return parse_fail(p, p->cur.line, "check has no \"-- expect:\" line");
    if (p->sql_len + len + 2 > p->sql_cap) {
        size_t cap = (p->sql_cap + len + 2) * 2;
        char *s = realloc(p->sql, cap);
        if (s == NULL)
            return PGP_FAIL(p->err, PGP_ERR_NOMEM, "out of memory");
        p->sql = s;
        p->sql_cap = cap;
    }
    memcpy(p->sql + p->sql_len, line, len);
    p->sql_len += len;
    p->sql[p->sql_len++] = '\n';
    p->sql[p->sql_len] = '\0';
    if (content) {
        p->has_content = true;
        p->in_header = false;
    }
    return 0;
}

int drill_sql_parse(const char *text, size_t len, const char *source, DrillSqlChecks *out,
                    PgpErr *err)
{
    memset(out, 0, sizeof *out);
    SqlParse p = {.source = source, .out = out, .err = err};
    if (memchr(text, '\0', len) != NULL)
        return PGP_FAIL(err, PGP_ERR_USAGE, "%s: holds a NUL byte", source);
    int rc = 0, lineno = 0;
    for (size_t pos = 0; rc == 0 && pos < len;) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t ll = nl ? (size_t)(nl - (text + pos)) : len - pos;
        const char *line = text + pos;
        pos += ll + (nl ? 1 : 0);
        lineno++;
        if (ll > 0 && line[ll - 1] == '\r')
            ll--;
        const char *value;
        size_t vlen;
        int key = header_key(line, ll, &value, &vlen);
        if (key >= 0)  /* after SQL: a new check; after header or comment lines: same one */
            rc = add_header(&p, key, value, vlen, lineno);
        else
            rc = add_sql_line(&p, line, ll, lineno);
    }
    if (rc == 0)
        rc = finish_check(&p, lineno);
    if (rc == 0 && out->n == 0)
        rc = PGP_FAIL(err, PGP_ERR_USAGE, "%s: no check found (each needs a \"-- expect:\" "
                      "line followed by a query)", source);
    check_clear(&p.cur);
    free(p.sql);
    if (rc != 0)
        drill_sql_free(out);
    return rc;
}

int drill_sql_load(const char *path, DrillSqlChecks *out, PgpErr *err)
{
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return PGP_FAIL_SYS(err, errno, "cannot open --check-sql file \"%s\"", path);
    char *buf = malloc(DRILL_SQL_MAX_BYTES + 1);
    size_t len = 0;
    int rc = buf ? 0 : PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    while (rc == 0) {
        ssize_t got = read(fd, buf + len, DRILL_SQL_MAX_BYTES + 1 - len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            rc = PGP_FAIL_SYS(err, errno, "cannot read \"%s\"", path);
        else if (got == 0)
            break;
        else if ((len += (size_t)got) > DRILL_SQL_MAX_BYTES)
            rc = PGP_FAIL(err, PGP_ERR_USAGE, "--check-sql file \"%s\" is larger than 1 MiB",
                          path);
    }
    close(fd);
    if (rc == 0)
        rc = drill_sql_parse(buf, len, path, out, err);
    free(buf);
    return rc;
}

/* ---- the archive when the drill began --------------------------------------------------- */

void drill_archive_scan_free(DrillArchiveScan *scan)
{
    if (scan == NULL)
        return;
    free(scan->tl);
    memset(scan, 0, sizeof *scan);
}

const char *drill_archive_newest(const DrillArchiveScan *scan, uint32_t tli)
{
    for (size_t i = 0; i < scan->n_tl; i++)
        if (scan->tl[i].tli == tli)
            return scan->tl[i].newest;
    return NULL;
}

/* One archived segment seg (already parsed into wn). */
static int scan_segment(DrillArchiveScan *scan, const PgWalName *wn, const char *seg,
                        int64_t mtime, PgpErr *err)
{
    scan->segments++;
    if (!scan->has_newest || mtime > scan->newest_mtime) {
        scan->has_newest = true;
        scan->newest_mtime = mtime;
    }
    for (size_t i = 0; i < scan->n_tl; i++) {
        if (scan->tl[i].tli != wn->tli)
            continue;
        if (strcmp(seg, scan->tl[i].newest) > 0)
            snprintf(scan->tl[i].newest, sizeof scan->tl[i].newest, "%s", seg);
        return 0;
    }
    DrillArchiveTimeline *tl = realloc(scan->tl, (scan->n_tl + 1) * sizeof *tl);
    if (tl == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    scan->tl = tl;
    tl[scan->n_tl].tli = wn->tli;
    snprintf(tl[scan->n_tl].newest, sizeof tl[scan->n_tl].newest, "%s", seg);
    scan->n_tl++;
    return 0;
}

int drill_archive_scan_add(DrillArchiveScan *scan, const char *name, int64_t mtime, PgpErr *err)
{
    /* Only the WAL name before the '-' matters here; the listing (wal_index) has checked the
     * whole object name. .partial and .backup objects are not segments. */
    char seg[PG_WALNAME_SEG_LEN + 1];
    PgWalName wn;
    if (strlen(name) <= PG_WALNAME_SEG_LEN || name[PG_WALNAME_SEG_LEN] != '-')
        return 0;
    memcpy(seg, name, PG_WALNAME_SEG_LEN);
    seg[PG_WALNAME_SEG_LEN] = '\0';
    if (pg_walname_parse(seg, &wn, NULL) != 0 || wn.kind != PG_WALFILE_SEGMENT)
        return 0;
    return scan_segment(scan, &wn, seg, mtime, err);
}

static int scan_object(void *ud, const WalIndexEntry *e, PgpErr *err)
{
    DrillArchiveScan *scan = ud;
    if (e->name == NULL || e->name->parsed.kind != PG_WALFILE_SEGMENT)
        return 0;
    return scan_segment(scan, &e->name->parsed, e->name->wal, e->info->mtime, err);
}

int drill_archive_scan(Storage *s, DrillArchiveScan *out, PgpErr *err)
{
    memset(out, 0, sizeof *out);
    int rc = wal_index_list_all(s, scan_object, out, err);
    if (rc != 0) {
        pgp_err_context(err, "cannot list the archive");
        drill_archive_scan_free(out);
    }
    return rc;
}

/* ---- target reached? --------------------------------------------------------------------- */

static void reached_from_log(const PgServerLog *log, DrillTargetResult *out)
{
    out->has_lsn = log->has_redo_done;
    out->lsn = log->redo_done_lsn;
    out->has_time = log->has_last_xact;
    out->time_us = log->last_xact_us;
    PgWalName wn;
    if (log->last_segment[0] != '\0' && pg_walname_parse(log->last_segment, &wn, NULL) == 0)
        out->timeline = wn.tli;
}

static void eval_latest(const PgServerLog *log, const DrillArchiveScan *scan,
                        DrillTargetResult *out, const char *where)
{
    const char *newest = scan ? drill_archive_newest(scan, out->timeline) : NULL;
    if (log->last_segment[0] == '\0') {
        snprintf(out->detail, sizeof out->detail, "no WAL segment was restored from the archive");
        return;
    }
    if (newest != NULL && strcmp(log->last_segment, newest) < 0) {
        snprintf(out->detail, sizeof out->detail,
                 "replay ended at segment %s but the archive held segments up to %s on "
                 "timeline %u when the drill began (%s)", log->last_segment, newest,
                 out->timeline, where);
        return;
    }
    out->passed = true;
    snprintf(out->detail, sizeof out->detail,
             "replayed the archive to its end: last segment restored %s (newest archived on "
             "timeline %u when the drill began: %s), %s", log->last_segment, out->timeline,
             newest ? newest : "none", where);
}

/* Recovery stopped at a target; for time targets the last commit must not be after it. */
static void eval_stopped(const RestoreTargetSpec *t, const PgServerLog *log,
                         DrillTargetResult *out, const char *where)
{
    char want[160] = "";
    if (t->kind == RESTORE_TARGET_XID)
        snprintf(want, sizeof want, "transaction %s", t->xid ? t->xid : "");
    else if (t->kind == RESTORE_TARGET_NAME)
        snprintf(want, sizeof want, "restore point \"%.128s\"", t->name ? t->name : "");
    if (log->stop_text[0] == '\0') {
        snprintf(out->detail, sizeof out->detail, "the server log has no \"recovery stopping\" "
                 "line: recovery did not stop at the target (%s)", where);
        return;
    }
    if (want[0] != '\0' && strstr(log->stop_text, want) == NULL) {
        snprintf(out->detail, sizeof out->detail, "recovery stopped elsewhere than at %s: %s",
                 want, log->stop_text);
        return;
    }
    if (t->kind == RESTORE_TARGET_TIME && out->has_time && out->time_us > t->time_us) {
        char at[40], target[40];
        drill_format_time(out->time_us, at);
        drill_format_time(t->time_us, target);
        snprintf(out->detail, sizeof out->detail, "the last replayed transaction committed at %s, "
                 "after the target %s", at, target);
        return;
    }
    out->passed = true;
    snprintf(out->detail, sizeof out->detail, "%s; %s", log->stop_text, where);
}

void drill_target_evaluate(const RestoreTargetSpec *t, const PgServerLog *log,
                           const DrillArchiveScan *scan, DrillTargetResult *out)
{
    memset(out, 0, sizeof *out);
    reached_from_log(log, out);
    if (!log->has_redo_done) {
        snprintf(out->detail, sizeof out->detail, "the server log has no \"redo done\" line: "
                 "recovery did not replay WAL to an end");
        return;
    }
    char lsn[20], where[200], at[40] = "";
    pg_lsn_format(log->redo_done_lsn, lsn);
    if (log->has_last_xact)
        drill_format_time(log->last_xact_us, at);
    snprintf(where, sizeof where, "redo done at %s, %s%s%s", lsn,
             at[0] ? "last transaction committed at " : "no transaction replayed", at,
             log->segments_restored ? "" : ", no segment restored");
    if (t->kind == RESTORE_TARGET_LATEST)
        eval_latest(log, scan, out, where);
    else
        eval_stopped(t, log, out, where);
}
