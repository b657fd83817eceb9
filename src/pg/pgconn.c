/*
 * pgconn.c - physical replication connections through libpq (see pgconn.h): connecting
 * with safe defaults, IDENTIFY_SYSTEM, SHOW, and turning libpq failures into one-line
 * PgpErr messages with a HINT for the common causes. The BASE_BACKUP stream lives in
 * basebackup.c, the pure CopyData parser in copymsg.c. Nothing here prints or exits.
 */
#include "pgconn_impl.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgpitr/common/log.h"
#include "pgpitr/pg/walname.h"

/* libpq has no read timeout: TCP keepalives are what make a dead peer surface instead of a
 * blocking read that never returns. 30 s idle, then 6 probes 10 s apart: ~90 s. */
#define KEEPALIVE_IDLE "30"
#define KEEPALIVE_INTERVAL "10"
#define KEEPALIVE_COUNT "6"
#define DEFAULT_CONNECT_TIMEOUT "10"

void pgconn_fold(const char *in, char *out, size_t size)
{
    size_t o = 0;
    bool pending_space = false;
    if (size == 0)
        return;
    for (const unsigned char *p = (const unsigned char *)(in ? in : ""); *p != '\0'; p++) {
        if (isspace(*p) || *p < 0x20 || *p == 0x7f) {
            pending_space = (o > 0);
            continue;
        }
        if (pending_space && o + 1 < size)
            out[o++] = ' ';
        pending_space = false;
        if (o + 1 >= size)
            break;
        out[o++] = (char)*p;
    }
    out[o] = '\0';
}

/* What an operator should do for the failures people actually hit. Matching is on the
 * English server/libpq texts; with translated messages there is simply no hint. */
static void set_hint(PgConn *c, const char *msg, PgpErr *err)
{
    const char *user = (c && c->pg) ? PQuser(c->pg) : NULL;
    if (user == NULL || *user == '\0')
        user = "name";
    if (strstr(msg, "must be superuser or replication role") ||
        strstr(msg, "permission denied to start WAL sender")) {
        pgp_err_hint(err, "grant the role REPLICATION (ALTER ROLE \"%s\" REPLICATION)", user);
    } else if (strstr(msg, "no pg_hba.conf entry for replication connection")) {
        pgp_err_hint(err, "add a 'replication' line for role \"%s\" to pg_hba.conf (e.g. "
                     "'host replication %s <client address>/32 scram-sha-256') and reload "
                     "the server", user, user);
    } else if (strstr(msg, "exceeds max_wal_senders")) {
        pgp_err_hint(err, "raise max_wal_senders in postgresql.conf (needs a restart) or "
                     "stop other replication clients");
    } else if (strstr(msg, "WAL level not sufficient")) {
        pgp_err_hint(err, "set wal_level = replica in postgresql.conf and restart the server");
    } else if (strstr(msg, "password authentication failed")) {
        pgp_err_hint(err, "check the user name and password (PGPASSWORD or ~/.pgpass)");
    } else if (strstr(msg, "Connection refused") ||
               (strstr(msg, "on socket") && strstr(msg, "No such file or directory"))) {
        pgp_err_hint(err, "is the server running and accepting connections? check host and "
                     "port in the connection string (or PGHOST/PGPORT)");
    } else if (strstr(msg, "timeout expired")) {
        pgp_err_hint(err, "the server did not answer within connect_timeout: check host, "
                     "port and firewalls");
    }
}

int pgconn_fail(PgConn *c, const PGresult *res, const char *what, PgpErr *err)
{
    /* A server error has fields: keep its primary text and detail on one line and its
     * HINT as ours. A libpq-made error (connection lost, bad conninfo) has only text. */
    const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
    const char *server_hint = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_HINT) : NULL;
    char raw[PGP_ERR_MSG_MAX];
    if (primary != NULL && *primary != '\0') {
        snprintf(raw, sizeof raw, "%s%s%s", primary, detail ? ": " : "", detail ? detail : "");
    } else {
        const char *m = res ? PQresultErrorMessage(res) : NULL;
        if ((m == NULL || *m == '\0') && c && c->pg)
            m = PQerrorMessage(c->pg);
        snprintf(raw, sizeof raw, "%s", m ? m : "");
    }
    char msg[PGP_ERR_MSG_MAX];
    pgconn_fold(raw, msg, sizeof msg);
    if (msg[0] == '\0')
        snprintf(msg, sizeof msg, "unexpected result status %s",
                 res ? PQresStatus(PQresultStatus(res)) : "(no result)");
    int rc = PGP_FAIL(err, PGP_ERR_PG, "%s: %s", what, msg);
    set_hint(c, msg, err);
    if (err != NULL && err->hint[0] == '\0' && server_hint != NULL) {
        char h[PGP_ERR_HINT_MAX];
        pgconn_fold(server_hint, h, sizeof h);
        pgp_err_hint(err, "%s", h);
    }
    if (c && c->pg && PQstatus(c->pg) != CONNECTION_OK)
        c->state = PGCONN_BROKEN;
    return rc;
}

int pgconn_check_idle(const PgConn *c, const char *what, PgpErr *err)
{
    if (c == NULL || c->pg == NULL)
        return PGP_FAIL(err, PGP_ERR_INTERNAL, "%s: no connection", what);
    if (c->state == PGCONN_STREAMING)
        return PGP_FAIL(err, PGP_ERR_INTERNAL, "%s: connection is busy with a base backup",
                        what);
    if (c->state == PGCONN_BROKEN || PQstatus(c->pg) != CONNECTION_OK)
        return PGP_FAIL(err, PGP_ERR_PG,
                        "%s: connection is unusable after an earlier failure or an "
                        "abandoned backup; reconnect", what);
    return 0;
}

bool pgconn_parse_uint(const char *s, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (s == NULL || *s == '\0')
        return false;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9')
            return false;
        unsigned d = (unsigned)(*s - '0');
        if (v > (max - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

int pgconn_get_lsn_tli(const PGresult *res, int lsn_col, int tli_col, const char *what,
                       uint64_t *lsn, uint32_t *tli, PgpErr *err)
{
    if (PQntuples(res) != 1 || PQnfields(res) <= lsn_col || PQnfields(res) <= tli_col)
        return PGP_FAIL(err, PGP_ERR_PG, "malformed %s: %d rows and %d columns", what,
                        PQntuples(res), PQnfields(res));
    if (PQgetisnull(res, 0, lsn_col) || PQgetisnull(res, 0, tli_col))
        return PGP_FAIL(err, PGP_ERR_PG, "malformed %s: null position or timeline", what);
    const char *ls = PQgetvalue(res, 0, lsn_col);
    const char *ts = PQgetvalue(res, 0, tli_col);
    uint64_t t;
    char q[40];
    if (pg_lsn_parse(ls, lsn, NULL) != 0) {
        pgconn_fold(ls, q, sizeof q);
        return PGP_FAIL(err, PGP_ERR_PG, "malformed %s: bad position \"%s\"", what, q);
    }
    if (!pgconn_parse_uint(ts, UINT32_MAX, &t) || t == 0) {
        pgconn_fold(ts, q, sizeof q);
        return PGP_FAIL(err, PGP_ERR_PG, "malformed %s: bad timeline \"%s\"", what, q);
    }
    *tli = (uint32_t)t;
    return 0;
}

/* libpq's default notice processor writes to stderr itself; route server NOTICEs and
 * WARNINGs (e.g. "WAL archiving is not enabled" during BASE_BACKUP) through log.h. */
static void notice_receiver(void *arg, const PGresult *res)
{
    (void)arg;
    const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
    const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    char msg[PGP_ERR_MSG_MAX];
    pgconn_fold(primary ? primary : PQresultErrorMessage(res), msg, sizeof msg);
    if (sev != NULL && strcmp(sev, "WARNING") == 0)
        log_warn("server: %s", msg);
    else
        log_info("server: %s", msg);
}

#define KEYWORDS_MAX 10

static void keywords(const char *conninfo, const char *replication,
                     const char *kw[KEYWORDS_MAX], const char *val[KEYWORDS_MAX])
{
    /* Keywords are applied in order and the last one wins: defaults the user may override
     * come before the expanded conninfo, replication after it (never overridable). */
    int n = 0;
    kw[n] = "fallback_application_name", val[n++] = "pgpitr";
    const char *env_timeout = getenv("PGCONNECT_TIMEOUT");
    if (env_timeout == NULL || *env_timeout == '\0')
        kw[n] = "connect_timeout", val[n++] = DEFAULT_CONNECT_TIMEOUT;
    kw[n] = "keepalives", val[n++] = "1";
    kw[n] = "keepalives_idle", val[n++] = KEEPALIVE_IDLE;
    kw[n] = "keepalives_interval", val[n++] = KEEPALIVE_INTERVAL;
    kw[n] = "keepalives_count", val[n++] = KEEPALIVE_COUNT;
    if (conninfo != NULL && *conninfo != '\0')
        kw[n] = "dbname", val[n++] = conninfo;
    kw[n] = "replication", val[n++] = replication;
    kw[n] = NULL, val[n] = NULL;
}

int pgconn_connect(const char *conninfo, const char *replication, const char *what,
                   PGconn **out, PgpErr *err)
{
    const char *kw[KEYWORDS_MAX], *val[KEYWORDS_MAX];
    *out = NULL;
    int rc = pg_libpq_load(err);
    if (rc != 0)
        return rc;
    keywords(conninfo, replication, kw, val);
    PgConn c = {.pg = PQconnectdbParams(kw, val, 1), .state = PGCONN_BROKEN};
    if (c.pg == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "%s: out of memory", what);
    if (PQstatus(c.pg) != CONNECTION_OK) {
        rc = pgconn_fail(&c, NULL, what, err);
        PQfinish(c.pg);
        return rc;
    }
    *out = c.pg;
    return 0;
}

void pgconn_server_name(const PGconn *pg, char *out, size_t size)
{
    const char *host = pg != NULL ? PQhost(pg) : NULL;
    const char *port = pg != NULL ? PQport(pg) : NULL;
    char raw[512];
    snprintf(raw, sizeof raw, "%s:%s", host != NULL && *host != '\0' ? host : "?",
             port != NULL && *port != '\0' ? port : "?");
    pgconn_fold(raw, out, size);
}

int pg_conn_open_replication(const char *conninfo, PgConn **out, PgpErr *err)
{
    *out = NULL;
    PgConn *c = calloc(1, sizeof *c);
    if (c == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "cannot connect to PostgreSQL: out of memory");
    int rc = pgconn_connect(conninfo, "true", "cannot connect to PostgreSQL", &c->pg, err);
    if (rc != 0) {
        free(c);
        return rc;
    }
    PQsetNoticeReceiver(c->pg, notice_receiver, NULL);
    c->state = PGCONN_IDLE;
    *out = c;
    return 0;
}

void pg_conn_close(PgConn *c)
{
    if (c == NULL)
        return;
    PQfinish(c->pg);
    free(c);
}

int pg_identify_system(PgConn *c, PgSystem *out, PgpErr *err)
{
    int rc = pgconn_check_idle(c, "IDENTIFY_SYSTEM", err);
    if (rc != 0)
        return rc;
    PGresult *res = PQexec(c->pg, "IDENTIFY_SYSTEM");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        rc = pgconn_fail(c, res, "IDENTIFY_SYSTEM failed", err);
        goto out;
    }
    PgSystem sys = {0};
    uint64_t sysid;
    /* Columns: systemid text, timeline int4, xlogpos text, dbname text. */
    if (PQntuples(res) != 1 || PQnfields(res) < 3 || PQgetisnull(res, 0, 0) ||
        !pgconn_parse_uint(PQgetvalue(res, 0, 0), UINT64_MAX, &sysid)) {
        rc = PGP_FAIL(err, PGP_ERR_PG, "malformed IDENTIFY_SYSTEM result: bad system "
                      "identifier or shape (%d rows, %d columns)", PQntuples(res),
                      PQnfields(res));
        goto out;
    }
    rc = pgconn_get_lsn_tli(res, 2, 1, "IDENTIFY_SYSTEM result", &sys.xlogpos,
                            &sys.timeline, err);
    if (rc != 0)
        goto out;
    sys.system_identifier = sysid;
    sys.server_version_num = PQserverVersion(c->pg);
    sys.pg_major = sys.server_version_num >= 100000 ? sys.server_version_num / 10000
                                                    : sys.server_version_num / 100;
    *out = sys;
out:
    PQclear(res);
    return rc;
}

/* GUC names are identifiers: letters, digits, '_' and '.' (custom "ext.name" settings). */
static bool guc_name_ok(const char *name)
{
    size_t n = 0;
    if (name == NULL)
        return false;
    for (; name[n] != '\0'; n++) {
        char ch = name[n];
        if (!(isalnum((unsigned char)ch) || ch == '_' || ch == '.') || n >= 63)
            return false;
    }
    return n > 0;
}

int pg_show(PgConn *c, const char *name, char **value, PgpErr *err)
{
    *value = NULL;
    if (!guc_name_ok(name)) {
        char q[80];
        pgconn_fold(name, q, sizeof q);
        return PGP_FAIL(err, PGP_ERR_USAGE, "invalid setting name \"%s\"", q);
    }
    int rc = pgconn_check_idle(c, "SHOW", err);
    if (rc != 0)
        return rc;
    char cmd[96];
    snprintf(cmd, sizeof cmd, "SHOW %s", name);
    PGresult *res = PQexec(c->pg, cmd);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        char what[128];
        snprintf(what, sizeof what, "cannot read setting \"%s\"", name);
        rc = pgconn_fail(c, res, what, err);
    } else if (PQntuples(res) != 1 || PQnfields(res) < 1 || PQgetisnull(res, 0, 0)) {
        rc = PGP_FAIL(err, PGP_ERR_PG, "malformed SHOW %s result", name);
    } else if ((*value = strdup(PQgetvalue(res, 0, 0))) == NULL) {
        rc = PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    }
    PQclear(res);
    return rc;
}

void pg_conn_server(const PgConn *c, char *out, size_t size)
{
    pgconn_server_name(c != NULL ? c->pg : NULL, out, size);
}

/* in_hot_standby (PostgreSQL 14 and later) is shown from the server's live recovery state,
 * and SHOW is one of the few commands a physical replication connection accepts:
 * pg_is_in_recovery() would need a normal connection, which the role or pg_hba.conf may not
 * allow. */
int pg_in_recovery(PgConn *c, bool *in_recovery, PgpErr *err)
{
    char *v = NULL;
    int rc = pg_show(c, "in_hot_standby", &v, err);
    if (rc != 0)
        return rc;
    if (strcmp(v, "on") == 0 || strcmp(v, "off") == 0)
        *in_recovery = strcmp(v, "on") == 0;
    else
        rc = PGP_FAIL(err, PGP_ERR_PG, "malformed SHOW in_hot_standby result");
    free(v);
    return rc;
}
