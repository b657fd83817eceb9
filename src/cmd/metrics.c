/*
 * metrics.c - the `pgpitr metrics` command line: options, the info model (info_load and
 * info_load_settings, as info and check use it), the database host's facts (metrics_host.c),
 * the exposition text (metrics_render.c), printed or written into a textfile directory.
 * Read-only on the repository and lock-free, like info.
 *
 * A repository that cannot be read is the one failure that still produces metrics: the
 * output says pgpitr_up 0 (a scrape of a broken setup must not be empty or stale), and the
 * command then exits with that error's status.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pgpitr/cmd/cmd.h"
#include "pgpitr/cmd/cmd_options.h"
#include "pgpitr/cmd/info.h"
#include "pgpitr/cmd/metrics.h"
#include "pgpitr/common/log.h"

typedef struct MetricsOptions {
    const char *pgdata, *pg_conn_flag, *textfile_dir;
} MetricsOptions;

static int parse_options(int argc, char **argv, MetricsOptions *o, bool *help, PgpErr *err)
{
    CmdParse p = {.cmd = &cmd_metrics};
    CmdArgs a;
    int rc = cmd_args_parse(&p, argc, argv, &a, err);
    *help = a.help;
    o->pgdata = a.flag[CMD_OPT_PGDATA];
    o->pg_conn_flag = a.flag[CMD_OPT_PG_CONN];
    o->textfile_dir = a.flag[CMD_OPT_TEXTFILE_DIR];
    if (rc == 0 && !a.help && o->pgdata != NULL && o->pgdata[0] == '\0')
        rc = cmd_usage_error(err, &cmd_metrics, "--pgdata must not be empty");
    if (rc == 0 && !a.help && o->textfile_dir != NULL && o->textfile_dir[0] == '\0')
        rc = cmd_usage_error(err, &cmd_metrics, "--textfile-dir must not be empty");
    return rc;
}

/* The repository's part: *repo_err holds why it could not be read (in->up false). */
static int load_repo(const CmdSettings *s, Info *info, MetricsInput *in, PgpErr *repo_err,
                     PgpErr *err)
{
    Storage *storage = NULL;
    Repo *repo = NULL;
    int rc = cmd_open_repo(s, false, &storage, &repo, repo_err);
    if (rc == 0)
        rc = info_load(repo, s->repo_path, in->now, info, repo_err);
    if (rc == 0)
        rc = info_count_objects(repo, info, repo_err);
    repo_free(repo);
    storage_free(storage);
    if (rc == PGP_ERR_NOMEM)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "%s", repo_err->msg);
    in->up = rc == 0;
    in->info = info;
    return 0;
}

static int emit(const MetricsOptions *o, const char *text, PgpErr *err)
{
    if (o->textfile_dir != NULL)
        return metrics_textfile_write(o->textfile_dir, text, err);
    fputs(text, stdout);
    if (fflush(stdout) != 0 || ferror(stdout))
        return PGP_FAIL(err, PGP_ERR_IO, "cannot write the output");
    return 0;
}

static int collect_and_emit(const CmdSettings *s, const MetricsOptions *o, PgpErr *err)
{
    MetricsInput in;
    memset(&in, 0, sizeof in);
    in.now = (int64_t)time(NULL);
    Info info;
    memset(&info, 0, sizeof info);
    PgpErr repo_err = {0};
    char *text = NULL;
    /* Settings first: a bad objective is a configuration error, not a broken repository. */
    int rc = info_load_settings(s, &info, err);
    if (rc == 0 && o->pgdata != NULL)
        rc = metrics_ready_scan(o->pgdata, &in.ready, err);
    const char *conn = cmd_opt_setting(s, CMD_OPT_PG_CONN, o->pg_conn_flag);
    if (rc == 0 && conn != NULL)
        rc = metrics_pg_archiver(conn, &in.pg, err);
    if (rc == 0)
        rc = load_repo(s, &info, &in, &repo_err, err);
    if (rc == 0 && in.up)
        rc = info_load_settings(s, &info, err);   /* info_load zeroed them */
    if (rc == 0)
        rc = metrics_render(&in, &text, err);
    if (rc == 0)
        rc = emit(o, text, err);
    if (rc == 0 && !in.up) {
        *err = repo_err;
        rc = repo_err.code;
    }
    free(text);
    info_free(&info);
    return rc;
}

static int run(const CmdGlobal *g, int argc, char **argv, PgpErr *err)
{
    MetricsOptions o;
    bool help;
    int rc = parse_options(argc, argv, &o, &help, err);
    if (rc != 0 || help)
        return rc;
    CmdSettings s;
    if ((rc = cmd_settings_load(g, &s, err)) != 0)
        return rc;
    rc = collect_and_emit(&s, &o, err);
    cmd_settings_free(&s);
    return rc;
}

const CmdDef cmd_metrics = {
    .name = "metrics",
    .summary = "Prometheus metrics: archiving, backups, window, drills, objectives",
    .usage =
        "usage: pgpitr [--repo PATH] metrics [OPTIONS]\n"
        "\n"
        "Prints the state of the repository (what pgpitr info shows) in the Prometheus\n"
        "text format: archive freshness and holes, backups and their ages, the\n"
        "recoverable window of each timeline, the newest drill and the recovery\n"
        "objectives, objects and bytes, lock holders. On the database host it adds\n"
        "pg_stat_archiver (--pg-conn) and the WAL waiting to be archived (--pgdata).\n"
        "A repository that cannot be read still gives metrics, with pgpitr_up 0.\n"
        "Takes no lock. docs/metrics.md lists every metric and the alert rules.\n"
        "\n"
        "options:\n"
        "  --pg-conn CONNINFO      read pg_stat_archiver from this server\n"
        "                          (env PGPITR_PG_CONN, config: pg-conn)\n"
        "  -D, --pgdata DIR        count the .ready files of this data directory\n"
        "  --textfile-dir DIR      write DIR/pgpitr.prom atomically (node_exporter's\n"
        "                          textfile collector) instead of printing\n",
    .run = run,
    .exit_ok = "the metrics were printed or written",
    .exit_other = "when the repository could not be read, the metrics "
                  "(with pgpitr_up 0) were printed or written first",
};
