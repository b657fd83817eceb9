/*
 * metrics_host.c - what `pgpitr metrics` learns on the database host and how it leaves its
 * result there (metrics.h): the .ready backlog of a data directory, pg_stat_archiver through a
 * normal connection, and the atomic write of the node_exporter textfile. Never writes into
 * the data directory or the repository.
 */
#include "pgpitr/cmd/metrics.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pgpitr/archive/push_backlog.h"
#include "pgpitr/common/log.h"
#include "pgpitr/pg/pgquery.h"
#include "pgpitr/common/fdio.h"

int metrics_ready_scan(const char *pgdata, MetricsReady *out, PgpErr *err)
{
    memset(out, 0, sizeof *out);
    char dir[4096];
    if ((size_t)snprintf(dir, sizeof dir, "%s/pg_wal", pgdata) >= sizeof dir)
        return PGP_FAIL(err, PGP_ERR_CONFIG, "--pgdata is too long");
    PgpErr e = {0};
    if (push_backlog_ready(dir, &out->files, &out->bytes, &e) != 0)
        return PGP_FAIL(err, PGP_ERR_CONFIG, "%s (is --pgdata a data directory?)", e.msg);
    out->have = true;
    PushFailing f;
    if (push_backlog_read_failing(dir, &out->push_failing, &f, &e) != 0)
        log_warn("archive-push's failing state: %s", e.msg);
    out->push_failing_since = out->push_failing ? f.since : 0;
    return 0;
}

static bool cell_u64(const PgQueryResult *r, int col, uint64_t *v)
{
    const char *c = pg_query_cell(r, 0, col);
    if (c == NULL)
        return false;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(c, &end, 10);
    if (errno != 0 || end == c || *end != '\0')
        return false;
    *v = (uint64_t)x;
    return true;
}

int metrics_pg_archiver(const char *conninfo, MetricsPg *out, PgpErr *err)
{
    (void)err;
    memset(out, 0, sizeof *out);
    out->asked = true;
    PgpErr e = {0};
    PgQueryConn *c = NULL;
    PgQueryResult *r = NULL;
    int rc = pg_query_open_conninfo(conninfo, "the cluster (--pg-conn)", &c, &e);
    if (rc == 0)
        rc = pg_query_exec(c,
                           "SELECT archived_count, failed_count, "
                           "floor(extract(epoch FROM last_archived_time))::bigint, "
                           "floor(extract(epoch FROM last_failed_time))::bigint, "
                           /* in microseconds: a failure and a success in one second */
                           "coalesce(last_failed_time > last_archived_time, "
                           "last_failed_time IS NOT NULL) "
                           "FROM pg_stat_archiver",
                           &r, &e);
    if (rc == 0 && (r->rows != 1 || r->cols != 5))
        rc = PGP_FAIL(&e, PGP_ERR_PG, "pg_stat_archiver returned %d rows", r->rows);
    uint64_t t;
    if (rc == 0 && (!cell_u64(r, 0, &out->archived_count) ||
                    !cell_u64(r, 1, &out->failed_count)))
        rc = PGP_FAIL(&e, PGP_ERR_PG, "pg_stat_archiver returned no counts");
    if (rc == 0) {
        out->up = true;
        if ((out->has_last_archived = cell_u64(r, 2, &t)))
            out->last_archived = (int64_t)t;
        if ((out->has_last_failed = cell_u64(r, 3, &t)))
            out->last_failed = (int64_t)t;
        const char *f = pg_query_cell(r, 0, 4);
        out->failing = f != NULL && strcmp(f, "t") == 0;
    } else {
        log_warn("cannot read pg_stat_archiver: %s", e.msg);
    }
    pg_query_result_free(r);
    pg_query_close(c);
    return 0;
}

int metrics_textfile_write(const char *dir, const char *text, PgpErr *err)
{
    char tmp[4096], final[4096];
    if ((size_t)snprintf(final, sizeof final, "%s/" METRICS_TEXTFILE_NAME, dir) >= sizeof final ||
        (size_t)snprintf(tmp, sizeof tmp, "%s/.pgpitr.prom.XXXXXX", dir) >= sizeof tmp)
        return PGP_FAIL(err, PGP_ERR_CONFIG, "--textfile-dir is too long");
    /* node_exporter reads only *.prom: the temporary name is never collected half-written. */
    int fd = mkstemp(tmp);
    if (fd < 0)
        return PGP_FAIL_PATH(err, errno, dir, "cannot create a file in \"%s\"", dir);
    int rc = 0, e = fchmod(fd, 0644) != 0 ? errno : fd_write_all(fd, text, strlen(text), -1, NULL);
    if (e == 0 && fsync(fd) != 0)
        e = errno;
    if (e != 0)
        rc = PGP_FAIL_SYS(err, e, "cannot write \"%s\"", tmp);
    if (close(fd) != 0 && rc == 0)
        rc = PGP_FAIL_SYS(err, errno, "cannot write \"%s\"", tmp);
    if (rc == 0 && rename(tmp, final) != 0)
        rc = PGP_FAIL_SYS(err, errno, "cannot rename \"%s\" to \"%s\"", tmp, final);
    if (rc != 0) {
        unlink(tmp);
        return rc;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || fsync(dfd) != 0)
        rc = PGP_FAIL_SYS(err, errno, "cannot fsync directory \"%s\"", dir);
    if (dfd >= 0)
        close(dfd);
    return rc;
}
