/*
 * check_server.c - what `pgpitr check` asks the PostgreSQL server (check_impl.h): its
 * identity and role, archive_mode and archive_command (followed into a wrapper script or a
 * --config file as far as a sound reading goes), pg_stat_archiver, and the end-to-end archive
 * test (a restore point, a WAL switch, then the segment awaited in the repository). Writes
 * nothing but that restore point and switch; every failure becomes a reason in CheckFacts.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check_impl.h"
#include "pgpitr/common/config.h"
#include "pgpitr/pg/pgquery.h"
#include "pgpitr/storage/storage.h"

#define SCRIPT_MAX (64 * 1024)

static void reason(char *out, size_t size, const PgpErr *e)
{
    check_copy(out, size, e->msg);
}

/* The one row of sql into r; false with *error set otherwise. */
static bool query_row(PgQueryConn *c, const char *sql, int cols, PgQueryResult **r, char *error,
                      size_t size)
{
    PgpErr e = {0};
    if (pg_query_exec(c, sql, r, &e) != 0) {
        reason(error, size, &e);
        return false;
    }
    if ((*r)->rows != 1 || (*r)->cols != cols) {
        snprintf(error, size, "unexpected answer to a query on the server");
        pg_query_result_free(*r);
        *r = NULL;
        return false;
    }
    return true;
}

static const char *cell(const PgQueryResult *r, int col)
{
    const char *v = pg_query_cell(r, 0, col);
    return v != NULL ? v : "";
}

/* The role and version, which any role may read; then the system identifier, which
 * pg_control_system() gives only to roles allowed to execute it (sysid_error otherwise: the
 * other server checks still run). */
static bool identity(PgQueryConn *c, CheckFacts *f)
{
    PgQueryResult *r = NULL;
    if (!query_row(c, "SELECT current_setting('server_version_num')::int / 10000, "
                      "pg_is_in_recovery()",
                   2, &r, f->pg_error, sizeof f->pg_error))
        return false;
    f->server_major = atoi(cell(r, 0));
    f->standby = strcmp(cell(r, 1), "t") == 0;
    pg_query_result_free(r);
    if (query_row(c, "SELECT system_identifier FROM pg_control_system()", 1, &r,
                  f->sysid_error, sizeof f->sysid_error)) {
        f->server_sysid = strtoull(cell(r, 0), NULL, 10);
        pg_query_result_free(r);
    }
    return true;
}

static void settings(PgQueryConn *c, CheckFacts *f)
{
    PgQueryResult *r = NULL;
    if (!query_row(c, "SELECT current_setting('archive_mode'), "
                      "current_setting('archive_command')",
                   2, &r, f->settings_error, sizeof f->settings_error))
        return;
    check_copy(f->archive_mode, sizeof f->archive_mode, cell(r, 0));
    check_copy(f->archive_command, sizeof f->archive_command, cell(r, 1));
    pg_query_result_free(r);
}

static void archiver(PgQueryConn *c, CheckFacts *f)
{
    PgQueryResult *r = NULL;
    if (!query_row(c, "SELECT archived_count, coalesce(last_archived_wal, ''), "
                      "coalesce((extract(epoch FROM last_archived_time) * 1000000)::bigint, 0), "
                      "failed_count, coalesce(last_failed_wal, ''), "
                      "coalesce((extract(epoch FROM last_failed_time) * 1000000)::bigint, 0) "
                      "FROM pg_stat_archiver",
                   6, &r, f->archiver_error, sizeof f->archiver_error))
        return;
    f->archived_count = strtoll(cell(r, 0), NULL, 10);
    check_copy(f->last_archived_wal, sizeof f->last_archived_wal, cell(r, 1));
    f->last_archived_us = strtoll(cell(r, 2), NULL, 10);
    f->failed_count = strtoll(cell(r, 3), NULL, 10);
    check_copy(f->last_failed_wal, sizeof f->last_failed_wal, cell(r, 4));
    f->last_failed_us = strtoll(cell(r, 5), NULL, 10);
    pg_query_result_free(r);
}

/* A directory path as the kernel resolves it, so that /srv/repo/ and /srv/./repo compare
 * equal; unchanged when it cannot be resolved (gone, or an S3 URL). */
static void canonical(char *path, size_t size)
{
    char real[PATH_MAX];
    if (!storage_is_s3_url(path) && path[0] == '/' && realpath(path, real) != NULL)
        check_copy(path, size, real);
}

/* The one line of a wrapper script that runs archive-push, parsed. */
static void follow_script(CheckFacts *f)
{
    char path[CHECK_TEXT_MAX];
    check_copy(path, sizeof path, f->ac.value);
    snprintf(f->ac_note, sizeof f->ac_note, " (through \"%.400s\")", path);
    /* Whatever archive_command names is opened without blocking (a FIFO) and read only
     * when it is a regular file, at most SCRIPT_MAX bytes of it. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(f->ac.value, sizeof f->ac.value, "cannot read the script: %s",
                 fd < 0 ? strerror(errno) : "not a regular file");
        f->ac.kind = CHECK_AC_UNKNOWN;
        if (fd >= 0)
            close(fd);
        return;
    }
    char *text = calloc(1, SCRIPT_MAX + 1);
    size_t n = 0;
    while (text != NULL && n < SCRIPT_MAX) {
        ssize_t got = read(fd, text + n, SCRIPT_MAX - n);
        if (got <= 0)
            break;
        n += (size_t)got;
    }
    close(fd);
    if (text == NULL || n < 2 || memcmp(text, "#!", 2) != 0 || strlen(text) != n) {
        /* a compiled program that is not pgpitr itself cannot be archive-push */
        bool elf = text != NULL && n >= 4 && memcmp(text, "\177ELF", 4) == 0;
        f->ac.kind = elf ? CHECK_AC_NOT_PGPITR : CHECK_AC_UNKNOWN;
        check_copy(f->ac.value, sizeof f->ac.value, elf ? "a program, not pgpitr"
                                                            : "not a script pgpitr can read");
        free(text);
        return;
    }
    const char *line = NULL;
    int lines = 0;
    for (char *p = text, *nl; p != NULL && *p != '\0'; p = nl != NULL ? nl + 1 : NULL) {
        nl = strchr(p, '\n');
        if (nl != NULL)
            *nl = '\0';
        if (p[0] != '#' && strstr(p, "archive-push") != NULL) {
            line = p;
            lines++;
        }
    }
    if (lines == 1) {
        check_parse_archive_command(line, false, &f->ac);
    } else {
        f->ac.kind = CHECK_AC_UNKNOWN;
        check_copy(f->ac.value, sizeof f->ac.value, lines == 0
                 ? "the script does not run archive-push itself"
                 : "the script runs archive-push on several lines");
    }
    free(text);
}

/* archive_command to the repository it names (f->ac_repo), as far as can be told. */
static void resolve_archive_command(CheckFacts *f)
{
    check_parse_archive_command(f->archive_command, true, &f->ac);
    if (f->ac.kind == CHECK_AC_SCRIPT)
        follow_script(f);
    if (f->ac.kind == CHECK_AC_CONFIG) {
        PgpConfig *cfg = NULL;
        PgpErr e = {0};
        const char *repo = NULL;
        if (f->ac.value[0] != '/') {
            f->ac.kind = CHECK_AC_UNKNOWN;
            snprintf(f->ac.value, sizeof f->ac.value, "--config is a relative path");
        } else if (config_load(f->ac.value, true, &cfg, &e) != 0) {
            f->ac.kind = CHECK_AC_UNKNOWN;
            check_copy(f->ac.value, sizeof f->ac.value, e.msg);
        } else if ((repo = config_get(cfg, "repo")) == NULL) {
            f->ac.kind = CHECK_AC_UNKNOWN;
            snprintf(f->ac.value, sizeof f->ac.value, "--config \"%.300s\" sets no repo "
                     "(the server's PGPITR_REPO decides)", config_path(cfg));
        } else {
            check_copy(f->ac_repo, sizeof f->ac_repo, repo);
        }
        config_free(cfg);
    } else if (f->ac.kind == CHECK_AC_REPO) {
        if (f->ac.value[0] != '/' && !storage_is_s3_url(f->ac.value)) {
            f->ac.kind = CHECK_AC_UNKNOWN;
            snprintf(f->ac.value, sizeof f->ac.value, "--repo is a relative path");
        } else {
            check_copy(f->ac_repo, sizeof f->ac_repo, f->ac.value);
        }
    }
    canonical(f->ac_repo, sizeof f->ac_repo);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Until the segment is in the repository or the timeout passes. */
static void await_segment(Repo *repo, int timeout_s, CheckFacts *f)
{
    int64_t start = now_ms();
    for (;;) {
        RepoArchiveObject o;
        PgpErr e = {0};
        int rc = repo_archive_find(repo, f->test_wal, &o, &e);
        int64_t waited = now_ms() - start;
        if (rc == 0) {
            f->test_archived = true;
            f->test_waited_s = (int)((waited + 999) / 1000);
            return;
        }
        if (rc != PGP_ERR_NOT_FOUND) {
            snprintf(f->test_error, sizeof f->test_error, "looking for %s: %.400s",
                     f->test_wal, e.msg);
            return;
        }
        if (waited >= (int64_t)timeout_s * 1000)
            return;
        nanosleep(&(struct timespec){.tv_nsec = 200 * 1000 * 1000}, NULL);
    }
}

static void archive_test(PgQueryConn *c, const CheckServerRequest *req, CheckFacts *f)
{
    f->test_timeout_s = req->archive_timeout_s;
    if (req->no_archive_test) {
        snprintf(f->test_skip, sizeof f->test_skip, "--no-archive-test");
        return;
    }
    if (f->standby) {
        snprintf(f->test_skip, sizeof f->test_skip, "the server is a standby (a restore point "
                 "and a WAL switch need the primary)");
        return;
    }
    if (req->repo == NULL) {
        snprintf(f->test_skip, sizeof f->test_skip, "the repository cannot be read");
        return;
    }
    if (strcmp(f->archive_mode, "off") == 0 || f->archive_mode[0] == '\0') {
        snprintf(f->test_skip, sizeof f->test_skip, "archive_mode is not on");
        return;
    }
    if (check_archives_elsewhere(f)) {
        snprintf(f->test_skip, sizeof f->test_skip, "archive_command does not archive into "
                 "this repository (see archive-command)");
        return;
    }
    char sql[256], stamp[32];
    time_t t = (time_t)f->now;
    struct tm tm;
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", gmtime_r(&t, &tm));
    /* The restore point's segment: the switch right after completes it, so it is archived
     * next, whatever else writes WAL meanwhile. */
    snprintf(sql, sizeof sql, "SELECT pg_walfile_name(pg_create_restore_point('pgpitr-check-%s'))"
             ", pg_switch_wal()", stamp);
    PgQueryResult *r = NULL;
    PgpErr e = {0};
    if (pg_query_exec(c, sql, &r, &e) != 0) {
        reason(f->test_error, sizeof f->test_error, &e);
        f->test_denied = strstr(e.msg, "permission denied") != NULL;
        return;
    }
    check_copy(f->test_wal, sizeof f->test_wal, r->rows == 1 ? cell(r, 0) : "");
    pg_query_result_free(r);
    await_segment(req->repo, req->archive_timeout_s, f);
}

void check_gather_server(const CheckServerRequest *req, CheckFacts *f)
{
    if (req->conninfo == NULL) {
        snprintf(f->pg_skip, sizeof f->pg_skip, "no --pg-conn (PGPITR_PG_CONN, pg-conn): "
                 "server checks skipped");
        return;
    }
    canonical(f->repo_path, sizeof f->repo_path);
    PgQueryConn *c = NULL;
    PgpErr e = {0};
    if (pg_query_open_conninfo(req->conninfo, "the server", &c, &e) != 0) {
        reason(f->pg_error, sizeof f->pg_error, &e);
        return;
    }
    if (identity(c, f)) {
        settings(c, f);
        if (f->settings_error[0] == '\0')
            resolve_archive_command(f);
        archive_test(c, req, f);
        archiver(c, f);   /* after the test: a failure it caused is counted */
    }
    pg_query_close(c);
}
