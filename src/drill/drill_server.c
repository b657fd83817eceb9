/*
 * drill_server.c - the drill's private server and the checks run against it (see
 * drill_server.h). Owns the list of settings that make the server harmless; process control is
 * pg/server.c's, SQL is pg/pgquery.c's, log parsing pg/serverlog.c's.
 */
#include "pgpitr/drill/drill_server.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pgpitr/common/log.h"

#define SOCKET_PATH_MAX 107          /* sun_path minus the NUL */
#define STOP_TIMEOUT_S 120
#define CONNECT_EVERY_S 1.0

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void nap_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int drill_server_check_workdir(const char *workdir, PgpErr *err)
{
    if (workdir[0] != '/' || strlen(workdir) + sizeof "/.s.PGSQL.65535.lock" > SOCKET_PATH_MAX) {
        PGP_FAIL(err, PGP_ERR_USAGE, "drill work directory \"%s\" is not an absolute path short "
                 "enough for a Unix socket (at most %d bytes)", workdir,
                 (int)(SOCKET_PATH_MAX - sizeof "/.s.PGSQL.65535.lock"));
        pgp_err_hint(err, "give a shorter --workdir or TMPDIR");
        return PGP_ERR_USAGE;
    }
    /* unix_socket_directories and libpq's host are comma-separated lists. */
    if (strpbrk(workdir, ",\"' \t\n\\") != NULL) {
        PGP_FAIL(err, PGP_ERR_USAGE, "drill work directory \"%s\" holds a comma, quote, "
                 "backslash or blank, which PostgreSQL's socket settings cannot take", workdir);
        pgp_err_hint(err, "give another --workdir or TMPDIR");
        return PGP_ERR_USAGE;
    }
    return 0;
}

int drill_server_init(DrillServer *d, const char *workdir, int port, PgpErr *err)
{
    memset(d, 0, sizeof *d);
    int rc = drill_server_check_workdir(workdir, err);
    if (rc != 0)
        return rc;
    snprintf(d->workdir, sizeof d->workdir, "%s", workdir);
    snprintf(d->pgdata, sizeof d->pgdata, "%s/data", workdir);
    snprintf(d->log_path, sizeof d->log_path, "%s/postgres.log", workdir);
    snprintf(d->port, sizeof d->port, "%d", port);
    snprintf(d->maint_db, sizeof d->maint_db, "postgres");
    snprintf(d->value_buf[0], sizeof d->value_buf[0], "%s/pg_hba.conf", workdir);
    snprintf(d->value_buf[1], sizeof d->value_buf[1], "%s/pg_ident.conf", workdir);
    snprintf(d->value_buf[2], sizeof d->value_buf[2], "%s/postmaster.external.pid", workdir);
    pg_server_log_init(&d->log);
    /* Why each one: docs/drill.md, "What makes the drill server harmless". */
    const PgServerSetting s[DRILL_SERVER_N_SETTINGS] = {
        {"archive_mode", "off"},           {"archive_command", ""},
        {"archive_library", ""},           {"archive_cleanup_command", ""},
        {"recovery_end_command", ""},      {"primary_conninfo", ""},
        {"primary_slot_name", ""},         {"synchronous_standby_names", ""},
        {"listen_addresses", ""},          {"port", d->port},
        {"unix_socket_directories", d->workdir}, {"unix_socket_permissions", "0700"},
        {"hba_file", d->value_buf[0]},     {"ident_file", d->value_buf[1]},
        {"external_pid_file", d->value_buf[2]},         {"ssl", "off"},
        {"logging_collector", "off"},      {"log_destination", "stderr"},
        {"log_line_prefix", "%m [%p] "},   {"lc_messages", "C"},
        {"log_min_messages", "warning"},   {"shared_buffers", "128MB"},
        {"huge_pages", "try"},             {"cluster_name", "pgpitr-drill"},
        {"recovery_target_action", "promote"}, {"hot_standby", "off"},
        {"jit", "off"},
    };
    memcpy(d->settings, s, sizeof s);
    return 0;
}

static int write_new(const char *path, const char *text, PgpErr *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return PGP_FAIL_SYS(err, errno, "cannot create \"%s\"", path);
    size_t len = strlen(text);
    ssize_t w = write(fd, text, len);
    int e = errno;
    close(fd);
    if (w != (ssize_t)len)
        return PGP_FAIL_SYS(err, w < 0 ? e : ENOSPC, "cannot write \"%s\"", path);
    return 0;
}

static int prepare_files(DrillServer *d, PgpErr *err)
{
    char path[PATH_MAX + 32];
    int rc = write_new(d->value_buf[0], "# pgpitr drill: only the drill's OS user can reach the "
                       "socket directory\nlocal all all trust\n", err);
    if (rc == 0)
        rc = write_new(d->value_buf[1], "# pgpitr drill: no user name maps\n", err);
    snprintf(path, sizeof path, "%s/postgresql.conf", d->pgdata);
    struct stat st;
    if (rc == 0 && lstat(path, &st) != 0 && errno == ENOENT)
        rc = write_new(path, "# pgpitr drill: the backup has no postgresql.conf\n", err);
    return rc;   /* restore never restores standby.signal (restore_settings.h) */
}

int drill_server_start(DrillServer *d, PgpErr *err)
{
    int rc = prepare_files(d, err);
    PgServerOptions o = {.bin_dir = d->bin_dir, .pgdata = d->pgdata, .log_path = d->log_path,
                         .settings = d->settings, .n_settings = DRILL_SERVER_N_SETTINGS};
    if (rc == 0)
        rc = pg_server_start(&o, &d->server, err);
    if (rc != 0)
        pgp_err_context(err, "cannot start the drill server");
    return rc;
}

int drill_server_connect(DrillServer *d, const char *db, PgQueryConn **out, PgpErr *err)
{
    PgQueryParams p = {.host = d->workdir, .port = d->port, .dbname = db, .user = d->user,
                       .connect_timeout_s = 10, .statement_timeout_ms = d->statement_timeout_ms};
    return pg_query_open(&p, out, err);
}

/* One attempt: 1 promoted, 0 not yet (or not accepting connections), <0 error in err. */
static int try_promoted(DrillServer *d, PgpErr *err)
{
    PgQueryConn *c = NULL;
    char *v = NULL;
    int rc = drill_server_connect(d, d->maint_db, &c, err);
    if (rc != 0 && strcmp(d->maint_db, "postgres") == 0 &&
        strstr(err->msg, "database \"postgres\" does not exist") != NULL) {
        snprintf(d->maint_db, sizeof d->maint_db, "template1");
        rc = drill_server_connect(d, d->maint_db, &c, err);
    }
    if (rc == 0)
        rc = pg_query_value(c, "SELECT pg_is_in_recovery()", &v, err);
    pg_query_close(c);
    int out = rc != 0 ? -1 : (v != NULL && strcmp(v, "f") == 0);
    free(v);
    return out;
}

static int exited_early(DrillServer *d, const char *how, PgpErr *err)
{
    pg_server_log_poll(&d->log, d->log_path, true, NULL);
    const char *fatal = d->log.last_fatal[0] ? d->log.last_fatal : "no FATAL line in its log";
    int rc = PGP_FAIL(err, PGP_ERR_PG, "the drill server stopped %s (%s): %s%s%s",
                      d->log.recovery_started ? "during recovery" : "before recovery began",
                      how, fatal, d->log.last_tool_error[0] ? "; restore_command: " : "",
                      d->log.last_tool_error);
    /* The next step for the DBA (drill_next.h adds `pgpitr verify` for restore_command). */
    if (!d->log.recovery_started)
        pgp_err_hint(err, "PostgreSQL refused to start with the backup's configuration "
                     "(postgresql.conf, postgresql.auto.conf): the log lines say why; this host "
                     "needs the extensions and libraries production loads");
    else if (strstr(fatal, "recovery target") != NULL)
        pgp_err_hint(err, "the archive ends before the target: pgpitr info shows what it can "
                     "recover to");
    return rc;
}

/* "\rdrill: replaying WAL: ..." once a second on a terminal: a large archive replays for
 * minutes, and the segment count is what tells the person it moves. */
static void replay_progress(const DrillServer *d, double started, double now, double *next)
{
    if (!d->tty || now < *next)
        return;
    *next = now + 1.0;
    fprintf(stderr, "\rdrill: replaying WAL: %llu segments restored, %.0f s   ",
            (unsigned long long)d->log.segments_restored, now - started);
    fflush(stderr);
}

static int wait_promoted(DrillServer *d, int timeout_s, double started, PgpErr *err);

int drill_server_wait_promoted(DrillServer *d, int timeout_s, PgpErr *err)
{
    double started = mono_s();
    int rc = wait_promoted(d, timeout_s, started, err);
    if (d->tty) {
        double next = 0;
        replay_progress(d, started, mono_s(), &next);   /* the final count */
        fputc('\n', stderr);
    }
    return rc;
}

static int wait_promoted(DrillServer *d, int timeout_s, double started, PgpErr *err)
{
    double deadline = started + timeout_s, next_try = 0, next_show = 0;
    char how[64];
    PgpErr cerr;
    for (;;) {
        if (d->cancel != NULL && *d->cancel != 0)
            return PGP_FAIL(err, PGP_ERR_IO, "interrupted by signal %d during recovery",
                            (int)*d->cancel);
        int rc = pg_server_log_poll(&d->log, d->log_path, false, err);
        if (rc != 0)
            return rc;
        if (pg_server_exited(d->server, how, sizeof how))
            return exited_early(d, how, err);
        double now = mono_s();
        replay_progress(d, started, now, &next_show);
        if (d->log.ready || now >= next_try) {
            pgp_err_clear(&cerr);
            int p = try_promoted(d, &cerr);
            if (p == 1)
                return 0;
            if (p < 0 && d->log.ready) {   /* read-write and still no connection: give up */
                *err = cerr;
                return pgp_err_context(err, "the drill server promoted but refuses connections");
            }
            next_try = now + CONNECT_EVERY_S;
        }
        if (now >= deadline) {
            PGP_FAIL(err, PGP_ERR_PG, "recovery did not finish within %d s (%llu segments "
                     "restored so far)", timeout_s, (unsigned long long)d->log.segments_restored);
            pgp_err_hint(err, "raise --timeout for a large archive");
            return PGP_ERR_PG;
        }
        nap_ms(100);
    }
}

int drill_server_stop(DrillServer *d, PgpErr *err)
{
    if (d->server == NULL)
        return 0;
    int rc = pg_server_stop(d->server, STOP_TIMEOUT_S, err);
    pg_server_free(d->server);
    d->server = NULL;
    pg_server_log_poll(&d->log, d->log_path, true, NULL);
    return rc;
}

int drill_server_timeline(DrillServer *d, uint32_t *tli, PgpErr *err)
{
    PgQueryConn *c = NULL;
    char *v = NULL;
    int rc = drill_server_connect(d, d->maint_db, &c, err);
    if (rc == 0)
        rc = pg_query_value(c, "SELECT pg_walfile_name(pg_current_wal_lsn())", &v, err);
    pg_query_close(c);
    unsigned long t = 0;
    if (rc == 0 && (v == NULL || strlen(v) != 24 || sscanf(v, "%8lx", &t) != 1 || t == 0))
        rc = PGP_FAIL(err, PGP_ERR_PG, "unexpected WAL file name from the drill server");
    if (rc == 0)
        *tli = (uint32_t)t;
    free(v);
    return rc;
}

/* ---- checks ------------------------------------------------------------------------------ */

static void sql_check(DrillServer *d, const DrillSqlCheck *c, DrillReport *r)
{
    const char *db = c->database ? c->database : d->maint_db;
    char name[256];
    snprintf(name, sizeof name, "sql: %s", c->name);
    PgQueryConn *conn = NULL;
    PgQueryResult *res = NULL;
    PgpErr err;
    pgp_err_clear(&err);
    int rc = drill_server_connect(d, db, &conn, &err);
    if (rc == 0)
        rc = pg_query_exec(conn, c->sql, &res, &err);
    pg_query_close(conn);
    if (rc != 0) {
        drill_report_check(r, name, DRILL_CHECK_FAILED, "%s", err.msg);
        return;
    }
    if (res->rows != 1 || res->cols != 1)
        drill_report_check(r, name, DRILL_CHECK_FAILED, "expected one value, the query returned "
                           "%d rows and %d columns", res->rows, res->cols);
    else if (pg_query_cell(res, 0, 0) == NULL)
        drill_report_check(r, name, DRILL_CHECK_FAILED, "expected \"%s\", got NULL", c->expect);
    else if (strcmp(pg_query_cell(res, 0, 0), c->expect) != 0)
        drill_report_check(r, name, DRILL_CHECK_FAILED, "expected \"%s\", got \"%.200s\"",
                           c->expect, pg_query_cell(res, 0, 0));
    else
        drill_report_check(r, name, DRILL_CHECK_PASSED, "got \"%.200s\" as expected", c->expect);
    pg_query_result_free(res);
}

void drill_server_sql_checks(DrillServer *d, const DrillSqlChecks *c, DrillReport *r)
{
    for (size_t i = 0; i < c->n; i++)
        sql_check(d, &c->v[i], r);
}

/* Row counts of one database's ordinary tables (partitions included, each counted ONLY for
 * itself so inheritance parents do not count their children twice). */
static int count_db(DrillServer *d, const char *db, int max_tables, DrillReport *r, PgpErr *err)
{
    char sql[768];
    snprintf(sql, sizeof sql,
             "SELECT format('%%I.%%I', n.nspname, c.relname), "
             "format('SELECT count(*) FROM ONLY %%I.%%I', n.nspname, c.relname) "
             "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
             "WHERE c.relkind = 'r' AND n.nspname <> 'information_schema' "
             "AND n.nspname !~ '^pg_' ORDER BY n.nspname, c.relname LIMIT %d", max_tables + 1);
    PgQueryConn *conn = NULL;
    PgQueryResult *tables = NULL;
    int rc = drill_server_connect(d, db, &conn, err);
    if (rc == 0)
        rc = pg_query_exec(conn, sql, &tables, err);
    for (int i = 0; rc == 0 && i < tables->rows && i < max_tables; i++) {
        char *v = NULL;
        rc = pg_query_value(conn, pg_query_cell(tables, i, 1), &v, err);
        if (rc == 0)
            drill_report_table(r, db, pg_query_cell(tables, i, 0), v ? strtoll(v, NULL, 10) : 0);
        else
            pgp_err_context(err, "counting %s", pg_query_cell(tables, i, 0));
        free(v);
    }
    if (rc == 0 && tables->rows > max_tables)
        r->tables_truncated = true;
    pg_query_result_free(tables);
    pg_query_close(conn);
    return rc;
}

void drill_server_count_tables(DrillServer *d, int max_tables, DrillReport *r)
{
    PgQueryConn *conn = NULL;
    PgQueryResult *dbs = NULL;
    PgpErr err;
    pgp_err_clear(&err);
    int rc = drill_server_connect(d, d->maint_db, &conn, &err);
    if (rc == 0)
        rc = pg_query_exec(conn, "SELECT datname FROM pg_database WHERE datallowconn AND NOT "
                           "datistemplate ORDER BY datname", &dbs, &err);
    pg_query_close(conn);
    int n_db = 0;
    for (int i = 0; rc == 0 && dbs != NULL && i < dbs->rows; i++, n_db++)
        rc = count_db(d, pg_query_cell(dbs, i, 0), max_tables, r, &err);
    pg_query_result_free(dbs);
    if (rc != 0)
        drill_report_check(r, "row counts", DRILL_CHECK_FAILED, "%s", err.msg);
    else
        drill_report_check(r, "row counts", DRILL_CHECK_PASSED, "counted %zu tables in %d "
                           "databases%s", r->n_tables, n_db,
                           r->tables_truncated ? " (--max-tables reached)" : "");
}

/* The first lines of the tool's output, for the check's detail. */
static void first_lines(const char *path, char *out, size_t size)
{
    out[0] = '\0';
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return;
    char line[512];
    size_t used = 0;
    for (int i = 0; i < 5 && fgets(line, sizeof line, f) != NULL; i++) {
        line[strcspn(line, "\n")] = '\0';
        int n = snprintf(out + used, size - used, "%s%s", used ? " | " : "", line);
        if (n < 0 || (size_t)n >= size - used)
            break;
        used += (size_t)n;
    }
    fclose(f);
}

void drill_server_amcheck(DrillServer *d, int jobs, DrillReport *r)
{
    char path[PATH_MAX + 16], jobs_text[16], detail[1024];
    snprintf(path, sizeof path, "%s/amcheck.log", d->workdir);
    snprintf(jobs_text, sizeof jobs_text, "%d", jobs > 0 ? jobs : 1);
    const char *args[16];
    int n = 0;
    args[n++] = "--host", args[n++] = d->workdir, args[n++] = "--port", args[n++] = d->port;
    if (d->user != NULL)
        args[n++] = "--username", args[n++] = d->user;
    args[n++] = "--no-password", args[n++] = "--all", args[n++] = "--install-missing";
    args[n++] = "--jobs", args[n++] = jobs_text, args[n++] = "--maintenance-db";
    args[n++] = d->maint_db;
    args[n] = NULL;
    int code = 0;
    PgpErr err;
    pgp_err_clear(&err);
    double t0 = mono_s();
    int rc = pg_server_run_tool(d->bin_dir, "pg_amcheck", args, path, d->tool_timeout_s,
                                d->cancel, &code, &err);
    first_lines(path, detail, sizeof detail);
    if (rc != 0)
        drill_report_check(r, "amcheck", DRILL_CHECK_FAILED, "%s", err.msg);
    else if (code != 0)
        drill_report_check(r, "amcheck", DRILL_CHECK_FAILED, "pg_amcheck exited with status %d: "
                           "%s", code, detail[0] ? detail : "no output");
    else
        drill_report_check(r, "amcheck", DRILL_CHECK_PASSED, "pg_amcheck --all found no "
                           "corruption (%.1f s)", mono_s() - t0);
}
