/*
 * pgconn_impl.h - private to src/pg: the PgConn struct shared by pgconn.c (connection,
 * IDENTIFY_SYSTEM, SHOW) and basebackup.c (the BASE_BACKUP copy stream), and the helpers
 * that turn libpq results into PgpErr. Nothing outside src/pg includes this file.
 * libpq is loaded at run time (libpq_lazy.h): its functions are called as usual here.
 */
#ifndef PGPITR_PG_PGCONN_IMPL_H
#define PGPITR_PG_PGCONN_IMPL_H

#include <stdbool.h>
#include <stdint.h>

#include "libpq_lazy.h"

#include "pgpitr/pg/pgconn.h"

typedef enum {
    PGCONN_IDLE = 0,    /* ready for a command */
    PGCONN_STREAMING,   /* a BASE_BACKUP is in progress: no other command may be sent */
    PGCONN_BROKEN,      /* an error left the protocol state unknown: only close it */
} PgConnState;

struct PgConn {
    PGconn *pg;
    PgConnState state;
};

/* Copies `in` into `out` (size > 0) with every run of whitespace or control characters
 * folded into one space and the ends trimmed: libpq messages span several lines. */
void pgconn_fold(const char *in, char *out, size_t size);

/* Fails with PGP_ERR_PG "<what>: <folded PQerrorMessage or result message>" and a HINT
 * when the server message names a common cause. `res` may be NULL. */
int pgconn_fail(PgConn *c, const PGresult *res, const char *what, PgpErr *err);

/* PGP_ERR_PG unless the connection accepts a new command (not streaming, not broken). */
int pgconn_check_idle(const PgConn *c, const char *what, PgpErr *err);

/* Every connection pgpitr opens from a user's conninfo (NULL or "": libpq defaults): loads
 * libpq, then connects with defaults the conninfo may override (fallback_application_name=
 * pgpitr, connect_timeout unless PGCONNECT_TIMEOUT is set, TCP keepalives) and
 * replication=<replication>, which it may not. Failures are PGP_ERR_PG "<what>: <libpq
 * message on one line>" with pgconn_fail's HINTs. */
int pgconn_connect(const char *conninfo, const char *replication, const char *what,
                   PGconn **out, PgpErr *err);

/* "host:port" of a connection (a socket directory for a host), folded onto one line. */
void pgconn_server_name(const PGconn *pg, char *out, size_t size);

/* Strict unsigned decimal: digits only, no sign or blanks, at most `max`. */
bool pgconn_parse_uint(const char *s, uint64_t max, uint64_t *out);

/* Reads an (LSN text, timeline) pair from columns lsn_col/tli_col of row 0 of `res`, as
 * IDENTIFY_SYSTEM and BASE_BACKUP send them. PGP_ERR_PG "malformed <what> ..." otherwise. */
int pgconn_get_lsn_tli(const PGresult *res, int lsn_col, int tli_col, const char *what,
                       uint64_t *lsn, uint32_t *tli, PgpErr *err);

#endif
