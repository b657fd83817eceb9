/*
 * check.c - `pgpitr check`: is the setup healthy? Gathers the facts (the settings, the
 * repository through the info model that info and metrics read too, a probe object, free
 * space, and the server through check_server.c), has check_judge (src/repo/check_judge.c)
 * conclude, prints a Nagios-style report or JSON (docs/check.schema.json) and exits 0 OK,
 * 1 WARNING, 2 CRITICAL; 3 UNKNOWN when it cannot run at all (docs/check.md).
 *
 * Read-only but for the probe object (check/probe-<host>-<pid>, removed at once) and the
 * archive test's restore point and WAL switch; takes no repository lock, so it runs while a
 * backup does.
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "check_impl.h"
#include "pgpitr/cmd/cmd.h"
#include "pgpitr/cmd/cmd_options.h"
#include "pgpitr/cmd/info.h"
#include "pgpitr/common/proc.h"

#define CHECK_SCHEMA_VERSION 1

typedef struct CheckOptions {
    bool json, help, no_archive_test;
    const char *pg_conn_flag, *timeout_flag;
} CheckOptions;

/* The first setting of the table (a number or a duration with a configuration key, also
 * given by its variable) that does not parse, then the compression settings. Rows without a
 * key are test knobs read where they act. */
static void gather_config(const CmdSettings *s, const CheckOptions *o, CheckFacts *f)
{
    PgpErr e = {0};
    int rc = 0;
    for (size_t i = 0; i < cmd_options_len && rc == 0; i++) {
        const CmdOption *opt = &cmd_options[i];
        if (opt->key == NULL)
            continue;
        const char *flag = opt->id == CMD_OPT_ARCHIVE_TIMEOUT ? o->timeout_flag : NULL;
        if (opt->type == CMD_VAL_INT) {
            long v;
            rc = cmd_opt_int_setting(s, opt->id, flag, &v, &e);
        } else if (opt->type == CMD_VAL_DURATION) {
            int64_t v;
            rc = cmd_opt_duration_setting(s, opt->id, flag, &v, &e);
        }
    }
    PipeCodec codec;
    int level;
    if (rc == 0)
        rc = cmd_compression(s, NULL, NULL, &codec, &level, &e);
    if (rc == 0 && s->repo_path == NULL)
        rc = PGP_FAIL(&e, PGP_ERR_CONFIG, "no repository configured (--repo, PGPITR_REPO, "
                      "repo)");
    if (rc != 0)
        check_copy(f->config_error, sizeof f->config_error, e.msg);
}

/* Writes and removes a small object under check/, a path nothing else uses: the repository
 * takes writes (a read-only mount or a key without write rights fails here, not at the next
 * archive-push). */
static void probe(Storage *st, CheckFacts *f)
{
    char host[PROC_HOST_MAX], path[REPO_PATH_MAX];
    PgpErr e = {0};
    if (proc_hostname(host, &e) != 0)
        snprintf(host, sizeof host, "host");
    char part[PROC_HOST_NAME_PART];
    proc_host_name_part(host, part);
    snprintf(path, sizeof path, "check/probe-%s-%ld", part, (long)getpid());
    static const char body[] = "pgpitr check probe: safe to remove\n";
    if (storage_put_all(st, path, STORAGE_WRITE_REPLACE, body, sizeof body - 1, &e) != 0 ||
        storage_remove(st, path, &e) != 0)
        check_copy(f->probe_error, sizeof f->probe_error, e.msg);
}

static void gather_space(const char *path, CheckFacts *f)
{
    struct statvfs v;
    if (statvfs(path, &v) != 0) {
        snprintf(f->fs_error, sizeof f->fs_error, "cannot read the free space of \"%.300s\": "
                 "%m", path);
        return;
    }
    f->fs_known = true;
    f->fs_avail = (uint64_t)v.f_bavail * v.f_frsize;
    f->fs_total = (uint64_t)v.f_blocks * v.f_frsize;
}

/* The repository: storage, repo.json, the info model (with the operations settings) and the
 * probe. *repo stays NULL when it cannot be read; the reason is in f->repo_error. */
static int gather_repo(const CmdSettings *s, Storage **st, Repo **repo, Info *info,
                       CheckFacts *f, PgpErr *err)
{
    PgpErr e = {0};
    if (s->repo_path == NULL) {
        snprintf(f->repo_error, sizeof f->repo_error, "no repository configured");
        return 0;
    }
    check_copy(f->repo_path, sizeof f->repo_path, s->repo_path);
    f->repo_local = !storage_is_s3_url(s->repo_path);
    int rc = cmd_open_repo(s, false, st, repo, &e);
    if (rc == 0)
        rc = info_load(*repo, s->repo_path, f->now, info, &e);
    if (rc == PGP_ERR_NOMEM) {
        *err = e;
        return rc;
    }
    if (rc != 0) {
        check_copy(f->repo_error, sizeof f->repo_error, e.msg);
        repo_free(*repo);
        *repo = NULL;
        return 0;
    }
    PgpErr ignored = {0};   /* a bad value is the configuration check's CRITICAL */
    (void)info_load_settings(s, info, &ignored);
    f->info = info;
    probe(*st, f);
    if (f->repo_local)
        gather_space(s->repo_path, f);
    return 0;
}

/* ---- output --------------------------------------------------------------------------------- */

static void print_text(const CheckReport *r, FILE *out)
{
    char line[CHECK_REASON_MAX + 256];
    check_summary(r, line, sizeof line);
    fprintf(out, "%s\n", line);
    for (int i = 0; i < CHECK__COUNT; i++)
        fprintf(out, "%-16s %-8s %s\n", check_name((CheckId)i),
                check_status_name(r->r[i].status), r->r[i].reason);
}

static int to_json(const CheckReport *r, const CheckFacts *f, int status, char **out,
                   PgpErr *err)
{
    char line[CHECK_REASON_MAX + 256];
    check_summary(r, line, sizeof line);
    json_t *checks = json_array();
    json_t *doc = json_pack("{s:i, s:s, s:i, s:s, s:o, s:s?, s:o}", "schema_version",
                            CHECK_SCHEMA_VERSION, "status", check_status_name(r->overall),
                            "exit_status", status, "summary", line, "checked_at",
                            repo_json_time(f->now), "repository",
                            f->repo_path[0] != '\0' ? f->repo_path : NULL, "checks", checks);
    for (int i = 0; doc != NULL && checks != NULL && i < CHECK__COUNT; i++) {
        json_t *c = json_pack("{s:s, s:s, s:s}", "name", check_name((CheckId)i), "status",
                              check_status_name(r->r[i].status), "reason", r->r[i].reason);
        if (c == NULL || json_array_append_new(checks, c) != 0) {
            json_decref(doc);
            doc = NULL;
        }
    }
    *out = doc != NULL ? repo_json_text(doc, JSON_INDENT(2)) : NULL;
    json_decref(doc);
    if (*out == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory building the check report");
    return 0;
}

static int print_report(const CheckReport *r, const CheckFacts *f, bool json, PgpErr *err)
{
    int status = (int)r->overall;   /* CHECK_OK 0, CHECK_WARNING 1, CHECK_CRITICAL 2 */
    if (!json) {
        print_text(r, stdout);
    } else {
        char *text = NULL;
        int rc = to_json(r, f, status, &text, err);
        if (rc != 0)
            return rc;
        fputs(text, stdout);
        free(text);
    }
    if (fflush(stdout) != 0 || ferror(stdout))
        return PGP_FAIL(err, PGP_ERR_IO, "cannot write the output");
    return status;
}

/* ---- the command ---------------------------------------------------------------------------- */

static int parse_options(int argc, char **argv, CheckOptions *o, PgpErr *err)
{
    CmdParse p = {.cmd = &cmd_check};
    CmdArgs a;
    int rc = cmd_args_parse(&p, argc, argv, &a, err);
    o->json = a.json;
    o->help = a.help;
    o->no_archive_test = a.flag[CMD_OPT_NO_ARCHIVE_TEST] != NULL;
    o->pg_conn_flag = a.flag[CMD_OPT_PG_CONN];
    o->timeout_flag = a.flag[CMD_OPT_ARCHIVE_TIMEOUT];
    if (rc == 0 && o->timeout_flag != NULL) {
        long v;
        rc = cmd_opt_int_flag(&cmd_check, CMD_OPT_ARCHIVE_TIMEOUT, o->timeout_flag, &v, err);
    }
    return rc;
}

static int run(const CmdGlobal *g, int argc, char **argv, PgpErr *err)
{
    CheckOptions o;
    int rc = parse_options(argc, argv, &o, err);
    if (rc != 0 || o.help)
        return rc;
    CmdSettings s;
    if ((rc = cmd_settings_load(g, &s, err)) != 0)
        return rc;   /* no settings at all: UNKNOWN */
    CheckFacts *f = calloc(1, sizeof *f);
    Info info;
    memset(&info, 0, sizeof info);
    Storage *st = NULL;
    Repo *repo = NULL;
    if (f == NULL) {
        rc = PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
        goto out;
    }
    f->now = (int64_t)time(NULL);
    gather_config(&s, &o, f);
    if ((rc = gather_repo(&s, &st, &repo, &info, f, err)) != 0)
        goto out;
    long timeout = 60;
    PgpErr ignored = {0};   /* a bad value: the configuration check; the default is used */
    if (cmd_opt_int_setting(&s, CMD_OPT_ARCHIVE_TIMEOUT, o.timeout_flag, &timeout, &ignored) != 0)
        timeout = 60;
    CheckServerRequest req = {
        .conninfo = cmd_opt_setting(&s, CMD_OPT_PG_CONN, o.pg_conn_flag),
        .repo = repo,
        .no_archive_test = o.no_archive_test,
        .archive_timeout_s = (int)timeout,
    };
    check_gather_server(&req, f);
    CheckReport *report = calloc(1, sizeof *report);
    if (report == NULL) {
        rc = PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
        goto out;
    }
    check_judge(f, report);
    rc = print_report(report, f, o.json, err);
    free(report);
out:
    info_free(&info);
    repo_free(repo);
    storage_free(st);
    free(f);
    cmd_settings_free(&s);
    return rc;
}

const CmdDef cmd_check = {
    .name = "check",
    .summary = "is the setup healthy: archiving, backups, drills, space (for monitoring)",
    .usage =
        "usage: pgpitr [--repo PATH] check [--pg-conn CONNINFO] [--no-archive-test]\n"
        "                                  [--archive-timeout S] [--output text|json]\n"
        "\n"
        "Runs every check of docs/check.md and prints a Nagios-style first line, then one\n"
        "line per check: its name, OK, WARNING, CRITICAL or SKIPPED, and why. The\n"
        "configuration, the repository (readable, writable: a probe object is written\n"
        "and removed), holes in the archive, the newest backup and drill, free space and\n"
        "the recovery objectives are checked from the repository; with a connection to\n"
        "the server also the cluster's identity, archive_mode, archive_command, the\n"
        "archiver's failures and an end-to-end archive test (a restore point and a WAL\n"
        "switch, whose segment must reach the repository within --archive-timeout).\n"
        "Takes no lock: it runs while a backup does.\n"
        "\n"
        "options:\n"
        "  --pg-conn CONNINFO      libpq connection string (env PGPITR_PG_CONN, config\n"
        "                          pg-conn); without one the server checks are skipped\n"
        "  --no-archive-test       no restore point and WAL switch (archive-test skipped)\n"
        "  --archive-timeout S     seconds to wait for the test segment (config\n"
        "                          archive-timeout, default 60)\n"
        "  --output text|json      text (default) or JSON (docs/check.schema.json)\n",
    .run = run,
    .failure_exit = 3,
    .exit_from_run = true,
    .exit_ok = "every check is OK or SKIPPED",
    .exit_not_found = "WARNING: at least one check is WARNING, none CRITICAL",
    .exit_other =
        "UNKNOWN: check itself could not run (a usage error, a configuration file that "
        "cannot be read, out of memory), nothing was checked. And 2, CRITICAL: at least one "
        "check is CRITICAL",
};
