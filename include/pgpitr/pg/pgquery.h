/*
 * pgquery.h - a normal (non-replication) libpq connection and simple queries, for the
 * drill's checks on its private server and for backup's questions to the primary of the
 * standby it backs up (pg_switch_wal). libpq is loaded at run time like everywhere in
 * src/pg (libpq_lazy.h). Results are copied out of libpq into plain strings so callers never
 * see a PGresult.
 *
 * pg_query_open makes connections from keyword/value pairs with expand_dbname off: a
 * database name holding '=' or a URI prefix is a name, never a connection string.
 * pg_query_open_conninfo takes a user's connection string, as a replication connection does.
 */
#ifndef PGPITR_PGQUERY_H
#define PGPITR_PGQUERY_H

#include <stdbool.h>

#include "pgpitr/common/err.h"

typedef struct PgQueryConn PgQueryConn;

typedef struct PgQueryParams {
    const char *host;                /* socket directory or host name */
    const char *port;
    const char *dbname;
    const char *user;                /* NULL: libpq's default (the OS user) */
    int connect_timeout_s;           /* 0: 10 */
    long statement_timeout_ms;       /* 0: the server's setting */
} PgQueryParams;

/* PGP_ERR_PG "cannot connect to database \"<db>\": <libpq message on one line>"; the
 * connection's raw libpq message is kept in err->msg too, so callers can match
 * "does not exist" or "starting up". */
int pg_query_open(const PgQueryParams *p, PgQueryConn **out, PgpErr *err);
/* A connection from a user's conninfo (URI or key=value; NULL or "" for libpq defaults),
 * with pg_conn_open_replication's defaults (connect_timeout, keepalives, application name)
 * and replication=false forced. `what` names the server in messages and must outlive the
 * connection (a literal): PGP_ERR_PG "cannot connect to <what>: <libpq message>", with a
 * HINT for the common causes. */
int pg_query_open_conninfo(const char *conninfo, const char *what, PgQueryConn **out,
                           PgpErr *err);
/* "host:port" of the server c is connected to, like pg_conn_server (pgconn.h). */
void pg_query_server(const PgQueryConn *c, char *out, size_t size);
void pg_query_close(PgQueryConn *c);   /* NULL is a no-op */

typedef struct PgQueryResult {
    int rows, cols;
    char **cells;                    /* rows * cols, row-major; NULL for SQL NULL */
} PgQueryResult;

/* Runs sql (one or more statements: the last one's result counts) and copies the rows.
 * A statement that returns no rows (PGRES_COMMAND_OK) gives rows = cols = 0. A server error
 * is PGP_ERR_PG with its primary message and detail on one line. */
int pg_query_exec(PgQueryConn *c, const char *sql, PgQueryResult **out, PgpErr *err);
const char *pg_query_cell(const PgQueryResult *r, int row, int col);
void pg_query_result_free(PgQueryResult *r);   /* NULL is a no-op */

/* Exactly one row with one column, else PGP_ERR_PG "... returned N rows and M columns";
 * *value is malloc'd, or NULL for SQL NULL. */
int pg_query_value(PgQueryConn *c, const char *sql, char **value, PgpErr *err);

#endif
