/*
 * drill_server.h - the drill's private server: the settings that make it harmless (the
 * non-negotiable: it can never write into the archive nor reach the production cluster), its
 * start, the wait for the end of recovery, its stop, and the checks run against it (SQL from
 * --check-sql, row counts of user tables, pg_amcheck). Results go into the DrillReport.
 *
 * The harmless settings are applied twice: appended to postgresql.auto.conf by the restore (so
 * a directory kept with --keep stays harmless when started by hand), and given as "-c" options
 * on the postgres command line, which no configuration file (nor an `include` in the backup's
 * postgresql.conf) can override.
 */
#ifndef PGPITR_DRILL_SERVER_H
#define PGPITR_DRILL_SERVER_H

#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pgpitr/drill/drill_checks.h"
#include "pgpitr/drill/drill_report.h"
#include "pgpitr/common/err.h"
#include "pgpitr/pg/pgquery.h"
#include "pgpitr/pg/pgserver.h"
#include "pgpitr/pg/pgserverlog.h"

/* Settings of the drill server, in order. */
#define DRILL_SERVER_N_SETTINGS 27

typedef struct DrillServer {
    char workdir[PATH_MAX];      /* absolute; also the socket directory */
    char pgdata[PATH_MAX];       /* workdir/data */
    char log_path[PATH_MAX];     /* workdir/postgres.log */
    char bin_dir[PATH_MAX];
    char port[16];
    const char *user;            /* database role to connect as; NULL: the OS user */
    char maint_db[64];           /* "postgres", or "template1" when postgres does not exist */
    long statement_timeout_ms;
    int tool_timeout_s;
    const volatile sig_atomic_t *cancel;
    bool tty;                    /* a progress line on stderr while recovery runs */
    PgServer *server;
    PgServerLog log;
    /* name/value pairs (values point into value_buf) */
    PgServerSetting settings[DRILL_SERVER_N_SETTINGS];
    char value_buf[4][PATH_MAX + 32];
} DrillServer;

/* PGP_ERR_USAGE unless workdir is absolute, short enough for a Unix socket path and free of
 * what PostgreSQL's comma-separated socket settings cannot take (',', quotes, blanks, '\'). */
int drill_server_check_workdir(const char *workdir, PgpErr *err);

/* Fills workdir-derived paths and the settings (port chosen by the caller). workdir must be
 * absolute and short enough for a Unix socket path. */
int drill_server_init(DrillServer *d, const char *workdir, int port, PgpErr *err);

/* After the restore: writes workdir/pg_hba.conf (local trust: the socket directory is private
 * to the drill's OS user), workdir/pg_ident.conf and an empty data/postgresql.conf when the
 * backup has none (Debian keeps it in /etc), then starts the server. (A backup's
 * standby.signal, with which it would never promote, is never restored: restore_run.) */
int drill_server_start(DrillServer *d, PgpErr *err);

/* Waits until the server accepts connections with pg_is_in_recovery() = false, at most
 * timeout_s. The server exiting first (restore_command failed, target not reachable, a
 * setting it refused at start-up, ...) is PGP_ERR_PG naming whether recovery had begun, the
 * last FATAL line of its log and, when restore_command printed one, pgpitr's own error line;
 * with a HINT when the log says what to do (start-up refused, target beyond the archive). */
int drill_server_wait_promoted(DrillServer *d, int timeout_s, PgpErr *err);

/* Fast shutdown, then immediate, then SIGKILL (pg_server_stop); reads the rest of the log. */
int drill_server_stop(DrillServer *d, PgpErr *err);

int drill_server_connect(DrillServer *d, const char *db, PgQueryConn **out, PgpErr *err);

/* The timeline the server runs on now (from pg_walfile_name(pg_current_wal_lsn())). */
int drill_server_timeline(DrillServer *d, uint32_t *tli, PgpErr *err);

/* The checks: each adds DrillCheck entries (and reasons when failed) to r. */
void drill_server_sql_checks(DrillServer *d, const DrillSqlChecks *c, DrillReport *r);
void drill_server_count_tables(DrillServer *d, int max_tables, DrillReport *r);
void drill_server_amcheck(DrillServer *d, int jobs, DrillReport *r);

#endif
