/*
 * backup_standby.c - a base backup taken on a standby: refusing one without its primary,
 * checking the primary, and making it switch WAL after the stream (see backup_standby.h).
 *
 * The primary is reached over a normal SQL connection, not a replication one: pg_switch_wal()
 * is SQL, and a physical walsender runs no SQL. Everything asked of it is readable by any
 * role (pg_control_system(), pg_current_wal_lsn(), has_function_privilege()) except the
 * switch itself, whose privilege is checked before the stream so that a backup never streams
 * a whole database only to fail at the end.
 */
#include "pgpitr/backup/backup_standby.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgpitr/common/log.h"
#include "pgpitr/pg/pgquery.h"
#include "pgpitr/pg/walname.h"

/* What the primary says about itself. */
typedef struct PrimaryState {
    bool in_recovery;
    uint64_t system_identifier;
    bool may_switch;                /* EXECUTE on pg_switch_wal() */
    char user[128];
    uint64_t lsn;                   /* pg_current_wal_lsn(), when not in recovery */
    uint32_t tli;                   /* the timeline it writes, when not in recovery */
} PrimaryState;

static int bad_answer(const char *what, PgpErr *err)
{
    return PGP_FAIL(err, PGP_ERR_PG, "unexpected answer from the primary: %s", what);
}

static int read_identity(PgQueryConn *c, PrimaryState *st, PgpErr *err)
{
    PgQueryResult *r = NULL;
    int rc = pg_query_exec(c, "SELECT pg_catalog.pg_is_in_recovery(), "
                              "(SELECT system_identifier FROM pg_catalog.pg_control_system()), "
                              "pg_catalog.has_function_privilege('pg_catalog.pg_switch_wal()', "
                              "'EXECUTE'), current_user", &r, err);
    if (rc != 0)
        return rc;
    const char *rec = pg_query_cell(r, 0, 0), *sysid = pg_query_cell(r, 0, 1);
    const char *priv = pg_query_cell(r, 0, 2), *user = pg_query_cell(r, 0, 3);
    char *end = NULL;
    if (r->rows != 1 || rec == NULL || sysid == NULL || priv == NULL || user == NULL)
        rc = bad_answer("identity", err);
    else if ((st->system_identifier = strtoull(sysid, &end, 10)) == 0 || *end != '\0')
        rc = bad_answer("system identifier", err);
    st->in_recovery = rec != NULL && strcmp(rec, "t") == 0;
    st->may_switch = priv != NULL && strcmp(priv, "t") == 0;
    snprintf(st->user, sizeof st->user, "%s", user != NULL ? user : "");
    pg_query_result_free(r);
    return rc;
}

static int read_position(PgQueryConn *c, PrimaryState *st, PgpErr *err)
{
    PgQueryResult *r = NULL;
    /* pg_walfile_name() names the segment with the timeline the primary inserts on now. */
    int rc = pg_query_exec(c, "SELECT p::text, pg_catalog.pg_walfile_name(p) "
                              "FROM pg_catalog.pg_current_wal_lsn() AS p", &r, err);
    if (rc != 0)
        return rc;
    const char *lsn = pg_query_cell(r, 0, 0), *name = pg_query_cell(r, 0, 1);
    PgWalName wn;
    if (r->rows != 1 || lsn == NULL || name == NULL || pg_lsn_parse(lsn, &st->lsn, NULL) != 0 ||
        pg_walname_parse(name, &wn, NULL) != 0 || wn.kind != PG_WALFILE_SEGMENT)
        rc = bad_answer("WAL position", err);
    else
        st->tli = wn.tli;
    pg_query_result_free(r);
    return rc;
}

/* Connects and checks that the primary can serve the standby's backup on timeline tli. */
static int primary_open(const BackupSource *src, uint64_t sysid, uint32_t tli, PgQueryConn **out,
                        PrimaryState *st, char *server, size_t server_size, PgpErr *err)
{
    PgQueryConn *c = NULL;
    int rc = pg_query_open_conninfo(src->primary_conninfo, "the primary (--primary-conn)", &c,
                                    err);
    if (rc != 0)
        return rc;
    pg_query_server(c, server, server_size);
    rc = read_identity(c, st, err);
    if (rc == 0 && (st->in_recovery || st->system_identifier != sysid)) {
        if (st->in_recovery)
            PGP_FAIL(err, PGP_ERR_CONFIG, "--primary-conn reaches \"%s\", which is in recovery "
                     "too: it cannot switch WAL", server);
        else
            PGP_FAIL(err, PGP_ERR_CONFIG, "--primary-conn reaches \"%s\", a server of another "
                     "cluster (system identifier %" PRIu64 ", the standby's is %" PRIu64 ")",
                     server, st->system_identifier, sysid);
        pgp_err_hint(err, "point --primary-conn (config primary-conn) at the primary the "
                     "standby \"%s\" streams from", src->server);
        rc = PGP_ERR_CONFIG;
    }
    if (rc == 0)
        rc = read_position(c, st, err);
    if (rc == PGP_ERR_PG)   /* a query failed: say on which server */
        pgp_err_context(err, "the primary \"%s\"", server);
    if (rc == 0 && st->tli != tli) {
        rc = PGP_FAIL(err, PGP_ERR_PG, "the standby \"%s\" is on timeline %" PRIu32 ", the "
                      "primary \"%s\" on timeline %" PRIu32, src->server, tli, server, st->tli);
        pgp_err_hint(err, "back up once the standby follows the primary's timeline "
                     "(recovery_target_timeline = 'latest'), or back up the primary");
    }
    if (rc == 0 && !st->may_switch) {
        rc = PGP_FAIL(err, PGP_ERR_PG, "role \"%s\" may not run pg_switch_wal() on the primary "
                      "\"%s\", which a backup of a standby needs", st->user, server);
        pgp_err_hint(err, "run on the primary, as a superuser: GRANT EXECUTE ON FUNCTION "
                     "pg_catalog.pg_switch_wal() TO \"%s\"", st->user);
    }
    if (rc != 0) {
        pg_query_close(c);
        return rc;
    }
    *out = c;
    return 0;
}

static int refuse_without_primary(const BackupSource *src, PgpErr *err)
{
    PGP_FAIL(err, PGP_ERR_CONFIG, "\"%s\" is a standby: backing it up needs a connection to "
             "its primary too (--primary-conn), which switches WAL so that the backup's last "
             "segment is archived", src->server);
    pgp_err_hint(err, "add --primary-conn 'host=PRIMARY user=NAME dbname=postgres' (config "
                 "primary-conn, env PGPITR_PRIMARY_CONN), or back up the primary");
    return PGP_ERR_CONFIG;
}

int backup_source_check(PgConn *conn, const PgSystem *sys, const char *primary_conninfo,
                        BackupSource *out, PgpErr *err)
{
    memset(out, 0, sizeof *out);
    pg_conn_server(conn, out->server, sizeof out->server);
    int rc = pg_in_recovery(conn, &out->standby, err);
    if (rc != 0)
        return rc;
    bool given = primary_conninfo != NULL && primary_conninfo[0] != '\0';
    if (!out->standby) {
        if (given)
            log_warn("primary-conn is not used: \"%s\" is not a standby (it switches WAL itself)",
                     out->server);
        return 0;
    }
    if (!given)
        return refuse_without_primary(out, err);
    out->primary_conninfo = primary_conninfo;
    out->system_identifier = sys->system_identifier;
    PgQueryConn *c = NULL;
    PrimaryState st;
    rc = primary_open(out, sys->system_identifier, sys->timeline, &c, &st, out->primary,
                      sizeof out->primary, err);
    pg_query_close(c);
    if (rc == 0)
        log_info("backing up the standby \"%s\"; its primary \"%s\" will switch WAL at the end",
                 out->server, out->primary);
    return rc;
}

int backup_source_switch(const BackupSource *src, uint32_t tli, uint64_t stop_lsn,
                         uint32_t segsize, PgpErr *err)
{
    if (!src->standby)
        return 0;
    PgQueryConn *c = NULL;
    PrimaryState st;
    char server[PG_SERVER_NAME_MAX], lsn[20], stop[20];
    int rc = primary_open(src, src->system_identifier, tli, &c, &st, server, sizeof server, err);
    if (rc != 0)
        return pgp_err_context(err, "cannot have the primary switch WAL");
    pg_lsn_format(st.lsn, lsn);
    pg_lsn_format(stop_lsn, stop);
    /* The primary has at least what its standby replayed; less means another server. */
    if (st.lsn < stop_lsn) {
        rc = PGP_FAIL(err, PGP_ERR_PG, "the primary \"%s\" is at WAL position %s, behind the "
                      "backup's stop position %s on the standby \"%s\"", server, lsn, stop,
                      src->server);
        pgp_err_hint(err, "point --primary-conn at the primary the standby streams from");
    } else if (stop_lsn > 0 &&
               pg_lsn_segno(st.lsn, segsize) <= pg_lsn_segno(stop_lsn - 1, segsize)) {
        char *done = NULL;
        rc = pg_query_value(c, "SELECT pg_catalog.pg_switch_wal()::text", &done, err);
        if (rc == 0)
            log_info("the primary \"%s\" switched WAL at %s (backup stop %s)", server,
                     done != NULL ? done : "?", stop);
        free(done);
    }
    pg_query_close(c);
    return rc;
}

void backup_source_archiver(const BackupSource *src, char *out, size_t size)
{
    if (src != NULL && src->standby)
        snprintf(out, size, "the primary \"%s\" (the standby \"%s\" was backed up)", src->primary,
                 src->server);
    else
        snprintf(out, size, "the server");
}
