/*
 * pgquery.c - normal libpq connections and simple queries (pgquery.h): the drill's checks on
 * its private server, and backup's questions to the primary when it backs up a standby.
 * Every libpq call goes through the run-time loaded table (libpq_lazy.h); messages are folded
 * onto one line with pgconn_fold. Nothing here prints or decides what a result means.
 */
#include "pgconn_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgpitr/common/log.h"
#include "pgpitr/pg/pgquery.h"

struct PgQueryConn {
    PGconn *pg;
    char dbname[128];
};

/* arg: a static text naming the server in the log ("drill server", "primary"). */
static void notice_receiver(void *arg, const PGresult *res)
{
    const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    char msg[PGP_ERR_MSG_MAX];
    pgconn_fold(primary ? primary : PQresultErrorMessage(res), msg, sizeof msg);
    log_debug("%s: %s", (const char *)arg, msg);
}

int pg_query_open(const PgQueryParams *p, PgQueryConn **out, PgpErr *err)
{
    *out = NULL;
    int rc = pg_libpq_load(err);
    if (rc != 0)
        return rc;
    char timeout[16], options[64];
    snprintf(timeout, sizeof timeout, "%d", p->connect_timeout_s > 0 ? p->connect_timeout_s : 10);
    const char *kw[8], *val[8];
    int n = 0;
    kw[n] = "host", val[n++] = p->host;
    kw[n] = "port", val[n++] = p->port;
    kw[n] = "dbname", val[n++] = p->dbname;
    if (p->user != NULL)
        kw[n] = "user", val[n++] = p->user;
    kw[n] = "connect_timeout", val[n++] = timeout;
    kw[n] = "application_name", val[n++] = "pgpitr drill";
    if (p->statement_timeout_ms > 0) {
        snprintf(options, sizeof options, "-c statement_timeout=%ld", p->statement_timeout_ms);
        kw[n] = "options", val[n++] = options;
    }
    kw[n] = NULL, val[n] = NULL;
    PgQueryConn *c = calloc(1, sizeof *c);
    if (c == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    snprintf(c->dbname, sizeof c->dbname, "%s", p->dbname);
    c->pg = PQconnectdbParams(kw, val, 0);
    if (c->pg == NULL || PQstatus(c->pg) != CONNECTION_OK) {
        char msg[PGP_ERR_MSG_MAX];
        pgconn_fold(c->pg ? PQerrorMessage(c->pg) : "out of memory", msg, sizeof msg);
        rc = PGP_FAIL(err, PGP_ERR_PG, "cannot connect to database \"%s\": %s", c->dbname, msg);
        pg_query_close(c);
        return rc;
    }
    PQsetNoticeReceiver(c->pg, notice_receiver, (void *)"drill server");
    *out = c;
    return 0;
}

int pg_query_open_conninfo(const char *conninfo, const char *what, PgQueryConn **out,
                           PgpErr *err)
{
    *out = NULL;
    PgQueryConn *c = calloc(1, sizeof *c);
    if (c == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    char head[128];
    snprintf(head, sizeof head, "cannot connect to %s", what);
    /* replication=false: a conninfo copied from a replication setup must not turn this
     * connection into a walsender, which runs no SQL. */
    int rc = pgconn_connect(conninfo, "false", head, &c->pg, err);
    if (rc != 0) {
        free(c);
        return rc;
    }
    const char *db = PQdb(c->pg);
    snprintf(c->dbname, sizeof c->dbname, "%s", db != NULL ? db : "");
    PQsetNoticeReceiver(c->pg, notice_receiver, (void *)what);
    *out = c;
    return 0;
}

void pg_query_server(const PgQueryConn *c, char *out, size_t size)
{
    pgconn_server_name(c != NULL ? c->pg : NULL, out, size);
}

void pg_query_close(PgQueryConn *c)
{
    if (c == NULL)
        return;
    if (c->pg != NULL)
        PQfinish(c->pg);
    free(c);
}

void pg_query_result_free(PgQueryResult *r)
{
    if (r == NULL)
        return;
    for (long i = 0; i < (long)r->rows * r->cols; i++)
        free(r->cells[i]);
    free(r->cells);
    free(r);
}

const char *pg_query_cell(const PgQueryResult *r, int row, int col)
{
    if (r == NULL || row < 0 || col < 0 || row >= r->rows || col >= r->cols)
        return NULL;
    return r->cells[(long)row * r->cols + col];
}

static int query_fail(PgQueryConn *c, const PGresult *res, PgpErr *err)
{
    const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
    char raw[PGP_ERR_MSG_MAX], msg[PGP_ERR_MSG_MAX];
    if (primary != NULL)
        snprintf(raw, sizeof raw, "%s%s%s", primary, detail ? ": " : "", detail ? detail : "");
    else
        snprintf(raw, sizeof raw, "%s", PQerrorMessage(c->pg));
    pgconn_fold(raw, msg, sizeof msg);
    if (msg[0] == '\0')
        snprintf(msg, sizeof msg, "unexpected result status %s",
                 res ? PQresStatus(PQresultStatus(res)) : "(no result)");
    return PGP_FAIL(err, PGP_ERR_PG, "query on database \"%s\" failed: %s", c->dbname, msg);
}

static int copy_rows(const PGresult *res, PgQueryResult *r, PgpErr *err)
{
    r->rows = PQntuples(res);
    r->cols = PQnfields(res);
    long n = (long)r->rows * r->cols;
    r->cells = n > 0 ? calloc((size_t)n, sizeof *r->cells) : NULL;
    if (n > 0 && r->cells == NULL) {
        r->rows = r->cols = 0;
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < r->rows; i++) {
        for (int j = 0; j < r->cols; j++) {
            if (PQgetisnull(res, i, j))
                continue;
            char *v = strdup(PQgetvalue(res, i, j));
            if (v == NULL)
                return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
            r->cells[(long)i * r->cols + j] = v;
        }
    }
    return 0;
}

int pg_query_exec(PgQueryConn *c, const char *sql, PgQueryResult **out, PgpErr *err)
{
    *out = NULL;
    PGresult *res = PQexec(c->pg, sql);
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    int rc = 0;
    PgQueryResult *r = NULL;
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)
        rc = query_fail(c, res, err);
    else if ((r = calloc(1, sizeof *r)) == NULL)
        rc = PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    else if (st == PGRES_TUPLES_OK)
        rc = copy_rows(res, r, err);
    PQclear(res);
    if (rc != 0) {
        pg_query_result_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

int pg_query_value(PgQueryConn *c, const char *sql, char **value, PgpErr *err)
{
    *value = NULL;
    PgQueryResult *r = NULL;
    int rc = pg_query_exec(c, sql, &r, err);
    if (rc != 0)
        return rc;
    if (r->rows != 1 || r->cols != 1) {
        rc = PGP_FAIL(err, PGP_ERR_PG, "query returned %d rows and %d columns, expected one value",
                      r->rows, r->cols);
    } else if (r->cells[0] != NULL) {
        *value = r->cells[0];
        r->cells[0] = NULL;
    }
    pg_query_result_free(r);
    return rc;
}
