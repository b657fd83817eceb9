/*
 * basebackup.c - the BASE_BACKUP command of the replication protocol, PostgreSQL 15+
 * syntax and stream format (see pgconn.h). Owns the command text, the two result sets
 * before the copy (start position, tablespace list), pulling CopyData messages one at a
 * time in stream order, and the end position after it. Parsing of each message is in
 * copymsg.c; what the archives contain is the caller's business.
 *
 * Result sequence (libpq view):
 *   TUPLES_OK  start position (recptr text, tli int8)
 *   TUPLES_OK  tablespaces (spcoid oid, spclocation text, size int8 in kB or NULL)
 *   COPY_OUT   'n','d','p','m' messages until CopyDone
 *   TUPLES_OK  end position (recptr, tli)
 *   COMMAND_OK "BASE_BACKUP", then NULL
 * Newer servers may send an extra COMMAND_OK between the tablespace list and the copy.
 */
#include "pgconn_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LABEL_MAX 100
#define RATE_MIN 32
#define RATE_MAX 1048576
/* Results tolerated where one is expected (extra COMMAND_OKs); more means a confused peer. */
#define EXTRA_RESULTS_MAX 4

typedef enum { BB_COPYING = 0, BB_ENDED, BB_FINISHED, BB_FAILED } BbState;
typedef enum { SEC_NONE = 0, SEC_ARCHIVE, SEC_MANIFEST } BbSection;

struct PgBackupStream {
    PgConn *c;
    BbState state;
    BbSection section;
    char *copybuf;           /* libpq buffer of the message last returned */
    PGresult *end_result;    /* end position, when it was read while detecting the end */
    PgTablespace *tablespaces;
    size_t n_tablespaces;
    PgpErr failure;          /* replayed by calls after a failure */
    uint64_t received;       /* bytes of CopyData messages */
};

/* ---- command text ---------------------------------------------------------------- */

static int check_options(const PgBaseBackupOptions *opt, PgpErr *err)
{
    if (opt == NULL)
        return PGP_FAIL(err, PGP_ERR_INTERNAL, "no base backup options");
    if (opt->label != NULL) {
        size_t n = strlen(opt->label);
        if (n == 0)
            return PGP_FAIL(err, PGP_ERR_USAGE, "backup label must not be empty");
        if (n > LABEL_MAX)
            return PGP_FAIL(err, PGP_ERR_USAGE, "backup label is %zu bytes long, the "
                            "maximum is %d", n, LABEL_MAX);
        for (size_t i = 0; i < n; i++) {
            unsigned char ch = (unsigned char)opt->label[i];
            if (ch < 0x20 || ch == 0x7f)
                return PGP_FAIL(err, PGP_ERR_USAGE, "backup label contains a control "
                                "character (byte %zu)", i);
        }
    }
    if (opt->max_rate_kb != 0 && (opt->max_rate_kb < RATE_MIN || opt->max_rate_kb > RATE_MAX))
        return PGP_FAIL(err, PGP_ERR_USAGE, "maximum transfer rate %u kB/s is out of range "
                        "(%d..%d, or 0 for unlimited)", opt->max_rate_kb, RATE_MIN, RATE_MAX);
    if (opt->compress.zstd && opt->compress.level != 0 &&
        (opt->compress.level < PG_SERVER_ZSTD_LEVEL_MIN ||
         opt->compress.level > PG_SERVER_ZSTD_LEVEL_MAX))
        return PGP_FAIL(err, PGP_ERR_USAGE, "server zstd level %d is out of range (%d..%d)",
                        opt->compress.level, PG_SERVER_ZSTD_LEVEL_MIN,
                        PG_SERVER_ZSTD_LEVEL_MAX);
    return 0;
}

int pg_server_compress_parse(const char *text, PgServerCompress *out, PgpErr *err)
{
    PgServerCompress c = {0};
    bool ok = true;
    if (strcmp(text, "zstd") == 0) {
        c.zstd = true;
    } else if (strncmp(text, "zstd:", 5) == 0) {
        const char *p = text + 5;
        char *end = NULL;
        long v = (*p >= '0' && *p <= '9') ? strtol(p, &end, 10) : -1;
        ok = end != NULL && *end == '\0' && v >= PG_SERVER_ZSTD_LEVEL_MIN &&
             v <= PG_SERVER_ZSTD_LEVEL_MAX;
        c.zstd = true;
        c.level = ok ? (int)v : 0;
    } else {
        ok = strcmp(text, "none") == 0;
    }
    if (!ok) {
        char q[PGP_QUOTE_BUF];
        return PGP_FAIL(err, PGP_ERR_CONFIG, "invalid --server-compress \"%s\" (expected none, "
                        "zstd or zstd:LEVEL with LEVEL %d..%d)", pgp_quote(text, q),
                        PG_SERVER_ZSTD_LEVEL_MIN, PG_SERVER_ZSTD_LEVEL_MAX);
    }
    *out = c;
    return 0;
}

/* The replication grammar's quoted strings know only '' as an escape (no backslashes);
 * the label was checked for length and control characters already. */
static void build_command(const PgBaseBackupOptions *opt, char *cmd, size_t size)
{
    char label[2 * LABEL_MAX + 1];
    size_t o = 0;
    for (const char *p = opt->label ? opt->label : "pgpitr base backup"; *p; p++) {
        if (*p == '\'')
            label[o++] = '\'';
        label[o++] = *p;
    }
    label[o] = '\0';
    char rate[32] = "", compress[64] = "";
    if (opt->max_rate_kb != 0)
        snprintf(rate, sizeof rate, ", MAX_RATE %u", opt->max_rate_kb);
    if (opt->compress.zstd && opt->compress.level != 0)
        snprintf(compress, sizeof compress, ", COMPRESSION 'zstd', COMPRESSION_DETAIL 'level=%d'",
                 opt->compress.level);
    else if (opt->compress.zstd)
        snprintf(compress, sizeof compress, ", COMPRESSION 'zstd'");
    /* TARGET 'client' selects the single-COPY "copystream" format with typed messages;
     * without it a PostgreSQL 15 server falls back to one COPY per tablespace.
     * WAIT false: the server still switches WAL at the end of the backup, but does not poll
     * the archive (once a second) before answering; pgpitr waits for the WAL itself, in its
     * own repository, which is the check that matters.
     * MANIFEST_CHECKSUMS 'CRC32C': the cheapest checksum that still covers every byte of every
     * file, so each received file is still checked against what the server read; SHA-256
     * there cost the walsender ~1.1 s per GB on its one core, for a hash pgpitr computes
     * itself anyway (the content address). */
    snprintf(cmd, size,
             "BASE_BACKUP ( LABEL '%s'%s, CHECKPOINT '%s', WAIT false, WAL false, "
             "MANIFEST 'yes', MANIFEST_CHECKSUMS 'CRC32C', TABLESPACE_MAP, "
             "TARGET 'client'%s%s )",
             label, opt->progress ? ", PROGRESS" : "",
             opt->fast_checkpoint ? "fast" : "spread", rate, compress);
}

/* ---- results before the copy ------------------------------------------------------ */

static int read_tablespaces(const PGresult *res, bool progress, PgBackupStream *s,
                            int64_t *total, PgpErr *err)
{
    int rows = PQntuples(res);
    if (PQnfields(res) != 3)
        return PGP_FAIL(err, PGP_ERR_PG, "malformed tablespace list: %d columns, expected 3",
                        PQnfields(res));
    s->tablespaces = calloc(rows > 0 ? (size_t)rows : 1, sizeof *s->tablespaces);
    if (s->tablespaces == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    int main_rows = 0;
    int64_t sum = 0;
    bool sizes_known = progress;
    for (int i = 0; i < rows; i++) {
        int64_t size = -1;
        uint64_t v;
        if (!PQgetisnull(res, i, 2)) {
            if (!pgconn_parse_uint(PQgetvalue(res, i, 2), INT64_MAX / 1024, &v))
                return PGP_FAIL(err, PGP_ERR_PG, "malformed tablespace list: bad size in "
                                "row %d", i + 1);
            size = (int64_t)v * 1024;   /* the server reports kB */
            sum += size;
            if (sum < 0)
                return PGP_FAIL(err, PGP_ERR_PG, "malformed tablespace list: sizes overflow");
        } else {
            sizes_known = false;
        }
        bool null_oid = PQgetisnull(res, i, 0), null_loc = PQgetisnull(res, i, 1);
        if (null_oid && null_loc) {   /* the main data directory */
            main_rows++;
            continue;
        }
        if (null_oid || null_loc ||
            !pgconn_parse_uint(PQgetvalue(res, i, 0), UINT32_MAX, &v) || v == 0 ||
            PQgetvalue(res, i, 1)[0] == '\0')
            return PGP_FAIL(err, PGP_ERR_PG, "malformed tablespace list: bad oid or location "
                            "in row %d", i + 1);
        PgTablespace *t = &s->tablespaces[s->n_tablespaces];
        t->oid = (uint32_t)v;
        t->size = size;
        if ((t->location = strdup(PQgetvalue(res, i, 1))) == NULL)
            return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
        s->n_tablespaces++;
    }
    if (main_rows != 1)
        return PGP_FAIL(err, PGP_ERR_PG, "malformed tablespace list: %d rows for the main "
                        "data directory, expected 1", main_rows);
    *total = sizes_known ? sum : -1;
    return 0;
}

/* Next result that is not an extra COMMAND_OK; NULL result -> error. */
static int next_result(PgConn *c, ExecStatusType want, const char *what, PGresult **out,
                       PgpErr *err)
{
    *out = NULL;
    for (int i = 0; i <= EXTRA_RESULTS_MAX; i++) {
        PGresult *res = PQgetResult(c->pg);
        ExecStatusType st = PQresultStatus(res);
        if (res != NULL && st == want) {
            *out = res;
            return 0;
        }
        if (res != NULL && st == PGRES_COMMAND_OK) {
            PQclear(res);
            continue;
        }
        int rc;
        if (res == NULL)
            rc = PGP_FAIL(err, PGP_ERR_PG, "%s: the server sent no result", what);
        else if (st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE)
            rc = pgconn_fail(c, res, what, err);
        else
            rc = PGP_FAIL(err, PGP_ERR_PG, "%s: unexpected result %s, expected %s", what,
                          PQresStatus(st), PQresStatus(want));
        PQclear(res);
        return rc;
    }
    return PGP_FAIL(err, PGP_ERR_PG, "%s: too many unexpected results", what);
}

/* After a server ERROR the command is over: drain what is left so the connection can be
 * used again. Any other leftover state means it cannot. */
static void settle_after_error(PgConn *c)
{
    c->state = PGCONN_BROKEN;
    if (PQstatus(c->pg) != CONNECTION_OK)
        return;
    for (int i = 0; i <= EXTRA_RESULTS_MAX; i++) {
        PGresult *res = PQgetResult(c->pg);
        if (res == NULL) {
            if (PQtransactionStatus(c->pg) == PQTRANS_IDLE)
                c->state = PGCONN_IDLE;
            return;
        }
        ExecStatusType st = PQresultStatus(res);
        PQclear(res);
        if (st == PGRES_COPY_OUT || st == PGRES_COPY_IN || st == PGRES_COPY_BOTH)
            return;
    }
}

static void stream_destroy(PgBackupStream *s)
{
    if (s == NULL)
        return;
    PQfreemem(s->copybuf);
    PQclear(s->end_result);
    for (size_t i = 0; i < s->n_tablespaces; i++)
        free(s->tablespaces[i].location);
    free(s->tablespaces);
    free(s);
}

static int send_command(PgConn *c, const PgBaseBackupOptions *opt, PgpErr *err)
{
    int rc = check_options(opt, err);
    if (rc == 0)
        rc = pgconn_check_idle(c, "cannot start base backup", err);
    if (rc != 0)
        return rc;
    int v = PQserverVersion(c->pg);
    if (v < 150000) {
        rc = PGP_FAIL(err, PGP_ERR_PG, "cannot start base backup: server version %d.%d is "
                      "not supported, PostgreSQL 15 or later is required", v / 10000,
                      v >= 100000 ? v % 10000 : (v / 100) % 100);
        pgp_err_hint(err, "the BASE_BACKUP protocol of older servers differs; upgrade the "
                     "server or use its own pg_basebackup");
        return rc;
    }
    char cmd[512];
    build_command(opt, cmd, sizeof cmd);
    if (!PQsendQuery(c->pg, cmd))
        return pgconn_fail(c, NULL, "cannot start base backup", err);
    c->state = PGCONN_STREAMING;
    return 0;
}

int pg_basebackup_begin(PgConn *c, const PgBaseBackupOptions *opt, PgBackupStream **out,
                        PgBackupStart *start, PgpErr *err)
{
    *out = NULL;
    int rc = send_command(c, opt, err);
    if (rc != 0)
        return rc;
    PgBackupStream *s = calloc(1, sizeof *s);
    PGresult *res = NULL;
    PgBackupStart st = {0};
    if (s == NULL) {
        rc = PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
        goto fail;
    }
    s->c = c;
    rc = next_result(c, PGRES_TUPLES_OK, "cannot start base backup", &res, err);
    if (rc == 0)
        rc = pgconn_get_lsn_tli(res, 0, 1, "backup start position", &st.start_lsn,
                                &st.timeline, err);
    PQclear(res);
    res = NULL;
    if (rc != 0)
        goto fail;
    rc = next_result(c, PGRES_TUPLES_OK, "cannot read tablespace list", &res, err);
    if (rc == 0)
        rc = read_tablespaces(res, opt->progress, s, &st.total_size, err);
    PQclear(res);
    res = NULL;
    if (rc != 0)
        goto fail;
    rc = next_result(c, PGRES_COPY_OUT, "cannot start backup copy stream", &res, err);
    PQclear(res);
    if (rc != 0)
        goto fail;
    st.tablespaces = s->tablespaces;
    st.n_tablespaces = s->n_tablespaces;
    *start = st;
    *out = s;
    return 0;
fail:
    stream_destroy(s);
    settle_after_error(c);
    return rc;
}

/* ---- the copy stream -------------------------------------------------------------- */

/* Records the error already in s->failure, poisons stream and connection, copies it out. */
static int stream_failed(PgBackupStream *s, PgpErr *err)
{
    s->state = BB_FAILED;
    s->c->state = PGCONN_BROKEN;
    if (err != NULL)
        *err = s->failure;
    return s->failure.code;
}

/* Message order the server guarantees: data only inside an archive or the manifest, the
 * manifest once and last. Anything else means we would file bytes in the wrong place. */
static int check_order(PgBackupStream *s, const PgCopyMsg *m)
{
    switch (m->kind) {
    case PG_COPYMSG_NEW_ARCHIVE:
        if (s->section == SEC_MANIFEST)
            return PGP_FAIL(&s->failure, PGP_ERR_PG, "malformed backup stream: new archive "
                            "\"%s\" after the manifest", m->archive_name);
        s->section = SEC_ARCHIVE;
        return 0;
    case PG_COPYMSG_MANIFEST:
        if (s->section == SEC_MANIFEST)
            return PGP_FAIL(&s->failure, PGP_ERR_PG, "malformed backup stream: second "
                            "manifest");
        s->section = SEC_MANIFEST;
        return 0;
    case PG_COPYMSG_DATA:
        if (s->section == SEC_NONE)
            return PGP_FAIL(&s->failure, PGP_ERR_PG, "malformed backup stream: data before "
                            "the first archive");
        return 0;
    default:
        return 0;
    }
}

/* CopyDone arrived: only a clean result after it makes this the end of the stream. */
static int stream_end(PgBackupStream *s, PgCopyMsg *msg)
{
    PGconn *pg = s->c->pg;
    PGresult *res = PQgetResult(pg);
    ExecStatusType st = PQresultStatus(res);
    if (res == NULL || (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)) {
        /* A FATAL error ends the session: for the caller that is a lost connection. */
        const char *sev = res ? PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED) : NULL;
        bool lost = PQstatus(pg) != CONNECTION_OK ||
                    (sev != NULL && (strcmp(sev, "FATAL") == 0 || strcmp(sev, "PANIC") == 0));
        const char *what = lost ? "connection to the server was lost during the backup"
                                : "base backup failed";
        if (res == NULL)
            PGP_FAIL(&s->failure, PGP_ERR_PG, "%s: no result after the copy stream", what);
        else
            pgconn_fail(s->c, res, what, &s->failure);
        PQclear(res);
        return PGP_ERR_PG;
    }
    if (s->section != SEC_MANIFEST) {
        PQclear(res);
        return PGP_FAIL(&s->failure, PGP_ERR_PG, "the server sent no backup manifest");
    }
    if (st == PGRES_TUPLES_OK)
        s->end_result = res;
    else
        PQclear(res);
    s->state = BB_ENDED;
    msg->kind = PG_COPYMSG_END;
    return 0;
}

int pg_basebackup_next(PgBackupStream *s, PgCopyMsg *msg, PgpErr *err)
{
    memset(msg, 0, sizeof *msg);
    if (s->state == BB_FAILED)
        return stream_failed(s, err);
    if (s->state != BB_COPYING) {
        msg->kind = PG_COPYMSG_END;
        return 0;
    }
    PQfreemem(s->copybuf);
    s->copybuf = NULL;
    int r = PQgetCopyData(s->c->pg, &s->copybuf, 0);
    if (r > 0) {
        s->received += (uint64_t)r;
        if (pg_copymsg_parse((const uint8_t *)s->copybuf, (size_t)r, msg, &s->failure) != 0 ||
            check_order(s, msg) != 0) {
            memset(msg, 0, sizeof *msg);
            return stream_failed(s, err);
        }
        return 0;
    }
    if (r == -1)
        return stream_end(s, msg) == 0 ? 0 : stream_failed(s, err);
    if (PQstatus(s->c->pg) != CONNECTION_OK)
        pgconn_fail(s->c, NULL, "connection to the server was lost during the backup",
                    &s->failure);
    else
        pgconn_fail(s->c, NULL, "cannot read backup data", &s->failure);
    return stream_failed(s, err);
}

int pg_basebackup_finish(PgBackupStream *s, uint64_t *end_lsn, uint32_t *end_timeline,
                         PgpErr *err)
{
    if (s->state == BB_FAILED)
        return stream_failed(s, err);
    if (s->state != BB_ENDED)
        return PGP_FAIL(err, PGP_ERR_INTERNAL, "base backup finished before the end of its "
                        "copy stream");
    PgConn *c = s->c;
    PGresult *res = s->end_result;
    s->end_result = NULL;
    int rc = 0;
    if (res == NULL)
        rc = next_result(c, PGRES_TUPLES_OK, "cannot read backup end position", &res,
                         &s->failure);
    uint64_t lsn = 0;
    uint32_t tli = 0;
    if (rc == 0)
        rc = pgconn_get_lsn_tli(res, 0, 1, "backup end position", &lsn, &tli, &s->failure);
    PQclear(res);
    /* Then the command completion, then nothing: the connection is idle again. */
    for (int i = 0; rc == 0; i++) {
        res = PQgetResult(c->pg);
        if (res == NULL)
            break;
        ExecStatusType st = PQresultStatus(res);
        if (st != PGRES_COMMAND_OK)
            rc = pgconn_fail(c, res, "base backup failed after its end position",
                             &s->failure);
        else if (i >= EXTRA_RESULTS_MAX)
            rc = PGP_FAIL(&s->failure, PGP_ERR_PG, "base backup: too many results after "
                          "the end position");
        PQclear(res);
    }
    if (rc != 0)
        return stream_failed(s, err);
    s->state = BB_FINISHED;
    c->state = PGCONN_IDLE;
    *end_lsn = lsn;
    *end_timeline = tli;
    return 0;
}

uint64_t pg_basebackup_received(const PgBackupStream *s)
{
    return s != NULL ? s->received : 0;
}

void pg_basebackup_free(PgBackupStream *s)
{
    if (s == NULL)
        return;
    /* Abandoned mid-stream: the connection is still inside the COPY; only closing is left. */
    if (s->state != BB_FINISHED)
        s->c->state = PGCONN_BROKEN;
    stream_destroy(s);
}
