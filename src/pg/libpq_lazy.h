/*
 * libpq_lazy.h - private to src/pg: libpq loaded at run time (see pgpitr/dynlib.h for why).
 *
 * Include this instead of <libpq-fe.h>. Types and constants still come from libpq-fe.h; each
 * libpq function used here is a macro naming its slot in the table pg_libpq, so call sites
 * read like plain libpq (PQexec(c->pg, "...")). The table is empty until pg_libpq_load()
 * succeeds: pg_conn_open_replication calls it first, and every other entry point needs the
 * PgConn that only a successful open returns.
 *
 * To call another libpq function: add it to PG_LIBPQ_FUNCS with its prototype as written in
 * libpq-fe.h (a compile-time check compares the two) and to the #define list at the end.
 * Forgetting the #define fails at link time (libpq is not linked), never at run time.
 */
#ifndef PGPITR_PG_LIBPQ_LAZY_H
#define PGPITR_PG_LIBPQ_LAZY_H

#include <libpq-fe.h>

#include "pgpitr/common/err.h"

/* X(return type, name, parameter list) for every libpq function src/pg calls. */
#define PG_LIBPQ_FUNCS(X)                                                                    \
    X(PGconn *, PQconnectdbParams,                                                          \
      (const char *const *keywords, const char *const *values, int expand_dbname))          \
    X(void, PQfinish, (PGconn *conn))                                                        \
    X(char *, PQuser, (const PGconn *conn))                                                  \
    X(char *, PQdb, (const PGconn *conn))                                                    \
    X(char *, PQhost, (const PGconn *conn))                                                  \
    X(char *, PQport, (const PGconn *conn))                                                  \
    X(ConnStatusType, PQstatus, (const PGconn *conn))                                        \
    X(PGTransactionStatusType, PQtransactionStatus, (const PGconn *conn))                    \
    X(int, PQserverVersion, (const PGconn *conn))                                            \
    X(char *, PQerrorMessage, (const PGconn *conn))                                          \
    X(PQnoticeReceiver, PQsetNoticeReceiver,                                                 \
      (PGconn *conn, PQnoticeReceiver proc, void *arg))                                      \
    X(PGresult *, PQexec, (PGconn *conn, const char *query))                                 \
    X(int, PQsendQuery, (PGconn *conn, const char *query))                                   \
    X(PGresult *, PQgetResult, (PGconn *conn))                                               \
    X(int, PQgetCopyData, (PGconn *conn, char **buffer, int async))                          \
    X(ExecStatusType, PQresultStatus, (const PGresult *res))                                 \
    X(char *, PQresStatus, (ExecStatusType status))                                          \
    X(char *, PQresultErrorMessage, (const PGresult *res))                                   \
    X(char *, PQresultErrorField, (const PGresult *res, int fieldcode))                      \
    X(int, PQntuples, (const PGresult *res))                                                 \
    X(int, PQnfields, (const PGresult *res))                                                 \
    X(char *, PQgetvalue, (const PGresult *res, int tup_num, int field_num))                 \
    X(int, PQgetisnull, (const PGresult *res, int tup_num, int field_num))                   \
    X(void, PQclear, (PGresult *res))                                                        \
    X(void, PQfreemem, (void *ptr))

typedef struct PgLibpq {
#define PG_LIBPQ_SLOT(ret, name, params) ret (*name) params;
    PG_LIBPQ_FUNCS(PG_LIBPQ_SLOT)
#undef PG_LIBPQ_SLOT
} PgLibpq;

/* Each slot has exactly the type of the function libpq-fe.h declares (strict C11: _Generic
 * picks the association compatible with the real function's type; nothing is evaluated, so
 * no reference to libpq is emitted). */
#define PG_LIBPQ_CHECK(ret, name, params)                                                    \
    _Static_assert(_Generic(&name, ret (*) params: 1, default: 0),                           \
                   "prototype of " #name " in libpq_lazy.h differs from libpq-fe.h");
PG_LIBPQ_FUNCS(PG_LIBPQ_CHECK)
#undef PG_LIBPQ_CHECK

extern PgLibpq pg_libpq;

/* Loads libpq.so.5 and fills pg_libpq, once per process (thread-safe); later calls return
 * the first outcome. PGP_ERR_CONFIG "cannot load libpq (libpq.so.5): ..." with a HINT to
 * install the libpq5 package. */
int pg_libpq_load(PgpErr *err);

#ifndef PG_LIBPQ_LAZY_IMPL
#define PQconnectdbParams (pg_libpq.PQconnectdbParams)
#define PQfinish (pg_libpq.PQfinish)
#define PQuser (pg_libpq.PQuser)
#define PQdb (pg_libpq.PQdb)
#define PQhost (pg_libpq.PQhost)
#define PQport (pg_libpq.PQport)
#define PQstatus (pg_libpq.PQstatus)
#define PQtransactionStatus (pg_libpq.PQtransactionStatus)
#define PQserverVersion (pg_libpq.PQserverVersion)
#define PQerrorMessage (pg_libpq.PQerrorMessage)
#define PQsetNoticeReceiver (pg_libpq.PQsetNoticeReceiver)
#define PQexec (pg_libpq.PQexec)
#define PQsendQuery (pg_libpq.PQsendQuery)
#define PQgetResult (pg_libpq.PQgetResult)
#define PQgetCopyData (pg_libpq.PQgetCopyData)
#define PQresultStatus (pg_libpq.PQresultStatus)
#define PQresStatus (pg_libpq.PQresStatus)
#define PQresultErrorMessage (pg_libpq.PQresultErrorMessage)
#define PQresultErrorField (pg_libpq.PQresultErrorField)
#define PQntuples (pg_libpq.PQntuples)
#define PQnfields (pg_libpq.PQnfields)
#define PQgetvalue (pg_libpq.PQgetvalue)
#define PQgetisnull (pg_libpq.PQgetisnull)
#define PQclear (pg_libpq.PQclear)
#define PQfreemem (pg_libpq.PQfreemem)
#endif

#endif
