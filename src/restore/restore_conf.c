/*
 * restore_conf.c - the recovery settings text, parsing of target times and formatting of
 * times and targets (restore_conf.h, restore_parse_time in restore.h). Pure text: no I/O.
 *
 * Times: a DBA at 3 a.m. types a wall-clock time; the server's TimeZone setting decides what
 * a time without an offset means to PostgreSQL, and that may not be the DBA's zone. So a
 * time must carry its offset, and restore writes it back in UTC with an explicit "+00": the
 * value PostgreSQL reads then means the same instant whatever its TimeZone is.
 */
#include "pgpitr/restore/restore_conf.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pgpitr/common/timefmt.h"
#include "pgpitr/pg/pgserver.h"
#include "pgpitr/pg/walname.h"

#define US_PER_SEC INT64_C(1000000)
#define LAST_SECOND INT64_C(253402300799)   /* 9999-12-31 23:59:59Z */

/* ---- times ------------------------------------------------------------------------------ */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static bool digits(const char **p, int n, unsigned *v)
{
    unsigned r = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return false;
        r = r * 10 + (unsigned)(c - '0');
    }
    *p += n;
    *v = r;
    return true;
}

static unsigned month_days(unsigned y, unsigned m)
{
    static const unsigned days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

static int time_error(const char *text, const char *why, PgpErr *err)
{
    char q[PGP_QUOTE_BUF];
    PGP_FAIL(err, PGP_ERR_USAGE, "invalid target time \"%s\": %s", pgp_quote(text, q), why);
    pgp_err_hint(err, "write an ISO 8601 time with its UTC offset, for example "
                 "2026-11-22T03:15:07+01:00, 2026-11-22 03:15:07.25-05 or 2026-11-22 02:15:07Z");
    return PGP_ERR_USAGE;
}

/* [.fraction] with 1..9 digits: microseconds (truncated). */
static bool parse_fraction(const char **pp, int64_t *us)
{
    const char *p = *pp;
    *us = 0;
    if (*p != '.' && *p != ',')
        return true;
    p++;
    int n = 0;
    int64_t scale = 100000;
    for (; *p >= '0' && *p <= '9'; p++, n++) {
        *us += (*p - '0') * scale;
        scale /= 10;
    }
    *pp = p;
    return n >= 1 && n <= 9;
}

/* 'Z' or +HH, +HHMM, +HH:MM (and '-'): seconds east of UTC. */
static int parse_offset(const char *text, const char **pp, int64_t *east, PgpErr *err)
{
    const char *p = *pp;
    unsigned oh = 0, om = 0;
    if (*p == 'Z' || *p == 'z') {
        *east = 0;
        *pp = p + 1;
        return 0;
    }
    if (*p == '\0') {
        PGP_FAIL(err, PGP_ERR_USAGE, "target time \"%.64s\" has no UTC offset", text);
        pgp_err_hint(err, "add the offset (2026-11-22 03:15:07+01:00) or Z for UTC: a time "
                     "without one would mean whatever the server's TimeZone says");
        return PGP_ERR_USAGE;
    }
    if (*p != '+' && *p != '-')
        return time_error(text, "expected Z or a numeric offset such as +01:00 after the time "
                          "(time zone names are not accepted)", err);
    int sign = *p == '-' ? -1 : 1;
    p++;
    if (!digits(&p, 2, &oh))
        return time_error(text, "the offset needs two digits of hours", err);
    if (*p == ':')
        p++;
    if (*p >= '0' && *p <= '9' && !digits(&p, 2, &om))
        return time_error(text, "the offset needs two digits of minutes", err);
    if (oh > 15 || om > 59)
        return time_error(text, "offset out of range", err);
    *east = sign * (int64_t)(oh * 3600 + om * 60);
    *pp = p;
    return 0;
}

int restore_parse_time(const char *text, int64_t *time_us, PgpErr *err)
{
    text = text != NULL ? text : "";
    const char *p = text;
    unsigned y, mo, d, h, mi, s = 0;
    int64_t frac = 0, east = 0;
    if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-' ||
        !digits(&p, 2, &d))
        return time_error(text, "expected a date YYYY-MM-DD", err);
    if (*p != 'T' && *p != 't' && *p != ' ')
        return time_error(text, "expected 'T' or a space between date and time", err);
    p++;
    if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi))
        return time_error(text, "expected a time HH:MM[:SS[.fraction]]", err);
    if (*p == ':' && (p++, !digits(&p, 2, &s)))
        return time_error(text, "expected two digits of seconds", err);
    if (!parse_fraction(&p, &frac))
        return time_error(text, "a fraction of a second has 1 to 9 digits", err);
    while (*p == ' ') /* "03:15:07 +01:00": PostgreSQL reads it, and `date` writes it so */
        p++;
    if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > month_days(y, mo) || h > 23 ||
        mi > 59 || s > 59)
        return time_error(text, "date or time out of range", err);
    int rc = parse_offset(text, &p, &east, err);
    if (rc != 0)
        return rc;
    if (*p != '\0')
        return time_error(text, "unexpected text after the offset", err);
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s - east;
    if (secs < 0)
        return time_error(text, "before 1970-01-01 00:00:00Z", err);
    /* restore_format_time (what postgresql.auto.conf gets) writes later times as a number */
    if (secs > LAST_SECOND)
        return time_error(text, "after 9999-12-31 23:59:59Z", err);
    *time_us = secs * US_PER_SEC + frac;
    return 0;
}

void restore_format_time(int64_t time_us, char out[RESTORE_TIME_TEXT_MAX])
{
    if (time_us < 0 || time_us / US_PER_SEC > LAST_SECOND ||
        !timefmt_utc_us(time_us, "%Y-%m-%d %H:%M:%S", "+00", out, RESTORE_TIME_TEXT_MAX))
        snprintf(out, RESTORE_TIME_TEXT_MAX, "@%" PRId64 "us", time_us);
}

void restore_target_describe(const RestoreTargetSpec *t, char *out, size_t size)
{
    char buf[RESTORE_TIME_TEXT_MAX];
    switch (t->kind) {
    case RESTORE_TARGET_TIME:
        restore_format_time(t->time_us, buf);
        snprintf(out, size, "time %s", buf);
        break;
    case RESTORE_TARGET_LSN:
        pg_lsn_format(t->lsn, buf);
        snprintf(out, size, "LSN %s", buf);
        break;
    case RESTORE_TARGET_XID:
        snprintf(out, size, "xid %s", t->xid != NULL ? t->xid : "?");
        break;
    case RESTORE_TARGET_NAME:
        snprintf(out, size, "restore point \"%s\"", t->name != NULL ? t->name : "?");
        break;
    case RESTORE_TARGET_IMMEDIATE:
        snprintf(out, size, "immediate (the backup's consistency point)");
        break;
    default:
        snprintf(out, size, "latest (the end of the archived WAL)");
        break;
    }
}

/* ---- recovery settings ----------------------------------------------------------------- */

/*
 * Every setting restore writes is one entry here; the text is written from the list at the
 * end, so that a setting the request gives again replaces restore's own line for it and each
 * name appears once (PostgreSQL would take the last one anyway; one line is what a DBA reads).
 */
#define CONF_OWN_MAX 20                 /* restore's own entries, at most */
#define ARCHIVE_OFF_COMMENT "# a restored copy must not archive into the repository of the " \
    "cluster it came from (pgpitr restore --archive-mode preserve keeps the backup's archiving)"
#define NOT_STANDBY_COMMENT "# not a standby: the backup's settings for following a primary " \
    "(a backup taken on a standby has them) must not apply (pgpitr restore --standby keeps them)"

typedef struct ConfEntry {
    const char *comment;                /* a "# ..." line written before it, or NULL */
    const char *name;
    const char *value;
} ConfEntry;

typedef struct ConfList {
    ConfEntry *v;
    size_t n, cap;
} ConfList;

static void add(ConfList *l, const char *comment, const char *name, const char *value)
{
    if (l->n < l->cap)
        l->v[l->n++] = (ConfEntry){comment, name, value};
}

static bool sh_safe(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s; s++) {
        if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._+,:=@-",
                   *s) == NULL)
            return false;
    }
    return true;
}

void restore_sh_word(FILE *f, const char *s, bool percent)
{
    bool quote = !sh_safe(s);
    if (quote)
        fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'')
            fputs("'\\''", f);
        else if (*s == '%' && percent)
            fputs("%%", f);
        else
            fputc(*s, f);
    }
    if (quote)
        fputc('\'', f);
}

/*
 * PostgreSQL's configuration parser ends a line at a newline even inside a quoted value, so a
 * path holding one makes postgresql.auto.conf unloadable (the server refuses to start, and
 * ALTER SYSTEM would rewrite the escape form \n back into a raw newline). A carriage return is
 * carried by the parser, but is refused too: at the end of a path it almost always comes from
 * a script or file with DOS line endings, and it hides itself in every message and listing.
 * Tabs and other control characters reach restore_command intact (checked with PostgreSQL 15)
 * and are allowed.
 */
static int check_path(const char *what, const char *path, const char *hint, PgpErr *err)
{
    if (strpbrk(path, "\r\n") == NULL)
        return 0;
    char q[PGP_QUOTE_BUF];
    PGP_FAIL(err, PGP_ERR_CONFIG, "the %s \"%s\" holds a line break, which restore_command in "
             "postgresql.auto.conf cannot carry", what, pgp_quote(path, q));
    pgp_err_hint(err, "%s", hint);
    return PGP_ERR_CONFIG;
}

static int restore_command_text(const RestoreRecoveryConf *c, char **cmd, PgpErr *err)
{
    bool config = c->config != NULL && c->config[0] != '\0';
    bool repo = c->repo != NULL && c->repo[0] != '\0';
    int rc = check_path("path of the pgpitr binary", c->bin, "install pgpitr in a directory "
                        "whose path has no line break", err);
    if (rc == 0 && config)
        rc = check_path("configuration file path", c->config, "rename the configuration file "
                        "(or the directory holding it) to a name without a line break", err);
    if (rc == 0 && repo)
        rc = check_path("repository path", c->repo, "rename the repository directory (or the "
                        "directory holding it) to a name without a line break", err);
    for (size_t i = 0; rc == 0 && i < c->n_env; i++)
        rc = check_path(c->env[i].name, c->env[i].value, "set it in a configuration file "
                        "given with --config instead", err);
    if (rc != 0)
        return rc;
    size_t len = 0;
    FILE *f = open_memstream(cmd, &len);
    if (f == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    /* PostgreSQL runs restore_command through /bin/sh: assignments before the program are
     * in its environment only */
    for (size_t i = 0; i < c->n_env; i++) {
        fprintf(f, "%s=", c->env[i].name);
        restore_sh_word(f, c->env[i].value, true);
        fputc(' ', f);
    }
    restore_sh_word(f, c->bin, true);
    if (config) {
        fputs(" --config ", f);
        restore_sh_word(f, c->config, true);
    }
    if (repo) {
        fputs(" --repo ", f);
        restore_sh_word(f, c->repo, true);
    }
    fputs(" archive-get %f \"%p\"", f);
    if (fclose(f) != 0) {
        free(*cmd);
        *cmd = NULL;
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    }
    return 0;
}

/*
 * All five recovery target settings, the unset ones as '' first and the target last: the
 * backup's own configuration may carry a target from an earlier restore (postgresql.auto.conf
 * keeps it after promotion), and PostgreSQL would use it - or refuse two targets - unless each
 * one is written again here. Likewise recovery_target_inclusive. The values live in *buf.
 */
static void add_target(ConfList *l, const RestoreTargetSpec *t, char buf[RESTORE_TIME_TEXT_MAX])
{
    static const struct { RestoreTargetKind kind; const char *name; } names[] = {
        {RESTORE_TARGET_IMMEDIATE, "recovery_target"}, {RESTORE_TARGET_LSN, "recovery_target_lsn"},
        {RESTORE_TARGET_NAME, "recovery_target_name"}, {RESTORE_TARGET_TIME, "recovery_target_time"},
        {RESTORE_TARGET_XID, "recovery_target_xid"},
    };
    const char *name = NULL, *value = NULL;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (names[i].kind == t->kind)
            name = names[i].name;
        else
            add(l, NULL, names[i].name, "");
    }
    switch (t->kind) {
    case RESTORE_TARGET_TIME: restore_format_time(t->time_us, buf); value = buf; break;
    case RESTORE_TARGET_LSN: pg_lsn_format(t->lsn, buf); value = buf; break;
    case RESTORE_TARGET_XID: value = t->xid; break;
    case RESTORE_TARGET_NAME: value = t->name; break;
    case RESTORE_TARGET_IMMEDIATE: value = "immediate"; break;
    default: break;
    }
    if (name != NULL)
        add(l, NULL, name, value);
    bool exclusive = t->exclusive && (t->kind == RESTORE_TARGET_TIME ||
                                      t->kind == RESTORE_TARGET_LSN || t->kind == RESTORE_TARGET_XID);
    add(l, NULL, "recovery_target_inclusive", exclusive ? "off" : "on");
}

/*
 * Without --standby: what a standby's configuration (a backup taken on a standby carries it,
 * pg_basebackup -R writes it) would make the restored server do. primary_conninfo and
 * primary_slot_name only act in standby mode, which restore never enters then, but a DBA who
 * later turns the directory into a standby must not find it streaming from production.
 * recovery_min_apply_delay holds back archive recovery too (a PITR to ten minutes ago from a
 * standby delayed by an hour would wait fifty minutes); archive_cleanup_command runs at every
 * restartpoint of the recovery (pg_archivecleanup of a shared archive would delete WAL that
 * others need), recovery_end_command at its end (a failover hook of production).
 */
static void add_not_standby(ConfList *l)
{
    add(l, NOT_STANDBY_COMMENT, "primary_conninfo", "");
    add(l, NULL, "primary_slot_name", "");
    add(l, NULL, "recovery_min_apply_delay", "0");
    add(l, NULL, "archive_cleanup_command", "");
    add(l, NULL, "recovery_end_command", "");
}

static int check_conf(const RestoreRecoveryConf *c, PgpErr *err)
{
    const RestoreTargetSpec *t = c->target;
    const char *a = t->action;
    if (a != NULL && strcmp(a, "promote") != 0 && strcmp(a, "pause") != 0 &&
        strcmp(a, "shutdown") != 0)
        return PGP_FAIL(err, PGP_ERR_USAGE, "invalid target action \"%.32s\" (expected promote, "
                        "pause or shutdown)", a);
    if ((t->kind == RESTORE_TARGET_XID && (t->xid == NULL || t->xid[0] == '\0')) ||
        (t->kind == RESTORE_TARGET_NAME && (t->name == NULL || t->name[0] == '\0')))
        return PGP_FAIL(err, PGP_ERR_USAGE, "the recovery target has no value");
    if (c->archive_mode != RESTORE_ARCHIVE_OFF && c->archive_mode != RESTORE_ARCHIVE_PRESERVE)
        return PGP_FAIL(err, PGP_ERR_USAGE, "invalid archive mode %d", (int)c->archive_mode);
    if (c->settings_comment != NULL && strpbrk(c->settings_comment, "\r\n") != NULL)
        return PGP_FAIL(err, PGP_ERR_USAGE, "the settings comment holds a line break");
    return 0;
}

static bool replaced_later(const ConfList *l, size_t i)
{
    for (size_t j = i + 1; j < l->n; j++)
        if (strcasecmp(l->v[j].name, l->v[i].name) == 0)
            return true;
    return false;
}

/*
 * Where the comment of a replaced entry i goes: a comment heads a group (the entries up to the
 * next comment), so to the group's first entry still written; when the whole group is
 * replaced, to the last entry of i's name (the line that replaced it). Into extra[] (two
 * slots per entry).
 */
static void move_comment(const ConfList *l, size_t i, const char *(*extra)[2])
{
    size_t to = i;
    for (size_t k = i + 1; k < l->n && l->v[k].comment == NULL; k++) {
        if (!replaced_later(l, k)) {
            to = k;
            break;
        }
    }
    for (size_t k = i + 1; to == i && k < l->n; k++)
        if (strcasecmp(l->v[k].name, l->v[i].name) == 0 && !replaced_later(l, k))
            to = k;
    extra[to][extra[to][0] != NULL] = l->v[i].comment;
}

/* The list as text: each name once, at its last place (comments of replaced entries as
 * move_comment says), each value quoted by pg_server_conf_line, which refuses a line break:
 * a value can never add a line. */
static int write_list(FILE *f, const ConfList *l, PgpErr *err)
{
    const char *(*extra)[2] = calloc(l->n + 1, sizeof *extra);
    if (extra == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].comment != NULL && replaced_later(l, i))
            move_comment(l, i, extra);
    int rc = 0;
    for (size_t i = 0; i < l->n && rc == 0; i++) {
        if (replaced_later(l, i))
            continue;
        char *line = NULL;
        rc = pg_server_conf_line(l->v[i].name, l->v[i].value, &line, err);
        if (rc != 0)
            break;
        if (l->v[i].comment != NULL)
            fprintf(f, "%s\n", l->v[i].comment);
        for (int k = 0; k < 2 && extra[i][k] != NULL; k++)
            fprintf(f, "%s\n", extra[i][k]);
        fprintf(f, "%s\n", line);
        free(line);
    }
    free(extra);
    return rc;
}

int restore_recovery_conf_text(const RestoreRecoveryConf *c, char **out, PgpErr *err)
{
    *out = NULL;
    char *cmd = NULL, *text = NULL, tl[16], buf[RESTORE_TIME_TEXT_MAX];
    size_t text_len = 0;
    int rc = check_conf(c, err);
    if (rc == 0)
        rc = restore_command_text(c, &cmd, err);
    if (rc != 0)
        return rc;
    ConfList l = {.cap = CONF_OWN_MAX + c->n_settings};
    if ((l.v = calloc(l.cap, sizeof *l.v)) == NULL) {
        free(cmd);
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    }
    add(&l, NULL, "restore_command", cmd);
    add_target(&l, c->target, buf);
    snprintf(tl, sizeof tl, "%" PRIu32, c->timeline);
    /* A standby follows its primary's promotions unless a timeline was asked for. */
    if (c->standby && c->target->timeline == NULL)
        add(&l, NULL, "recovery_target_timeline", "latest");
    else if (c->timeline != 0)
        add(&l, NULL, "recovery_target_timeline", tl);
    if (c->target->kind != RESTORE_TARGET_LATEST)
        add(&l, NULL, "recovery_target_action",
            c->target->action != NULL ? c->target->action : "promote");
    if (c->archive_mode == RESTORE_ARCHIVE_OFF)
        add(&l, ARCHIVE_OFF_COMMENT, "archive_mode", "off");
    if (!c->standby)
        add_not_standby(&l);
    for (size_t i = 0; i < c->n_settings; i++)
        add(&l, i == 0 ? c->settings_comment : NULL, c->settings[i].name, c->settings[i].value);
    FILE *f = open_memstream(&text, &text_len);
    if (f == NULL)
        rc = PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    if (rc == 0) {
        fprintf(f, "# added by pgpitr restore of backup %s\n", c->label);
        rc = write_list(f, &l, err);
        if (fclose(f) != 0 && rc == 0)
            rc = PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    }
    free(cmd);
    free(l.v);
    if (rc != 0) {
        free(text);
        return rc;
    }
    *out = text;
    return 0;
}
