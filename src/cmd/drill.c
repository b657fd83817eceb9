/*
 * drill.c - `pgpitr drill`: its options, then drill_run (src/drill/drill_run.c) on the
 * repository under a READ lock for the whole drill. Exit 0 only when the drill passed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pgpitr/cmd/cmd.h"
#include "pgpitr/cmd/cmd_options.h"
#include "pgpitr/drill/drill_checks.h"
#include "pgpitr/drill/drill_run.h"
#include "pgpitr/repo/manifest.h"
#include "pgpitr/restore/restore.h"
#include "pgpitr/pg/walname.h"

#define DEFAULT_TIMEOUT_S 3600
#define DEFAULT_MAX_TABLES 200

/* ---- options ----------------------------------------------------------------------------- */

static int set_target(DrillOptions *o, RestoreTargetKind kind, const char *text, PgpErr *err)
{
    o->n_targets++;
    o->target.kind = kind;
    o->target_text = text;
    switch (kind) {
    case RESTORE_TARGET_TIME:
        return restore_parse_time(text, &o->target.time_us, err);
    case RESTORE_TARGET_LSN:
        o->target.lsn = 0;
        if (pg_lsn_parse(text, &o->target.lsn, NULL) != 0)
            return cmd_usage_error(err, &cmd_drill, "invalid --target-lsn \"%s\" (expected X/X)",
                                   text);
        return 0;
    case RESTORE_TARGET_XID:
        if (text[0] == '\0' || strlen(text) > 20 || strspn(text, "0123456789") != strlen(text))
            return cmd_usage_error(err, &cmd_drill, "invalid --target-xid \"%s\"", text);
        o->target.xid = text;
        return 0;
    case RESTORE_TARGET_NAME:
        if (text[0] == '\0' || strlen(text) >= 64 || strchr(text, '\n') != NULL)
            return cmd_usage_error(err, &cmd_drill, "invalid --target-name (1-63 bytes)");
        o->target.name = text;
        return 0;
    default:
        return 0;
    }
}

static int parse_int_opt(CmdOptId id, const char *text, int *out, PgpErr *err)
{
    long v;
    if (cmd_opt_int_flag(&cmd_drill, id, text, &v, err) != 0)
        return PGP_ERR_USAGE;
    *out = (int)v;
    return 0;
}

static int parse_value_opt(void *ud, CmdOptId id, const char *arg, PgpErr *err)
{
    DrillOptions *o = ud;
    switch (id) {
    case CMD_OPT_TARGET_LATEST: o->n_targets++; o->target.kind = RESTORE_TARGET_LATEST; return 0;
    case CMD_OPT_TARGET_IMMEDIATE:
        o->n_targets++;
        o->target.kind = RESTORE_TARGET_IMMEDIATE;
        return 0;
    case CMD_OPT_TARGET_EXCLUSIVE: o->target.exclusive = true; return 0;
    case CMD_OPT_AMCHECK: o->amcheck = true; return 0;
    case CMD_OPT_KEEP: o->keep = true; return 0;
    case CMD_OPT_TARGET_TIME: return set_target(o, RESTORE_TARGET_TIME, arg, err);
    case CMD_OPT_TARGET_LSN: return set_target(o, RESTORE_TARGET_LSN, arg, err);
    case CMD_OPT_TARGET_XID: return set_target(o, RESTORE_TARGET_XID, arg, err);
    case CMD_OPT_TARGET_NAME: return set_target(o, RESTORE_TARGET_NAME, arg, err);
    case CMD_OPT_TARGET_TIMELINE: o->target.timeline = arg; return 0;
    case CMD_OPT_BACKUP: o->label = arg; return 0;
    case CMD_OPT_CHECK_SQL: o->check_sql = arg; return 0;
    case CMD_OPT_REPORT: o->report = arg; return 0;
    case CMD_OPT_WORKDIR: o->workdir = arg; return 0;
    case CMD_OPT_PG_BIN: o->pg_bin = arg; return 0;
    case CMD_OPT_DB_USER: o->db_user = arg; return 0;
    case CMD_OPT_LOCK_WAIT: o->lock_wait = arg; return 0;
    case CMD_OPT_TIMEOUT: return parse_int_opt(id, arg, &o->timeout_s, err);
    case CMD_OPT_DRILL_JOBS: return parse_int_opt(id, arg, &o->jobs, err);
    case CMD_OPT_MAX_TABLES: return parse_int_opt(id, arg, &o->max_tables, err);
    default: return 0;
    }
}

static int check_options(DrillOptions *o, PgpErr *err)
{
    if (o->n_targets > 1)
        return cmd_usage_error(err, &cmd_drill, "give at most one --target-* option");
    if (o->target.exclusive && o->target.kind != RESTORE_TARGET_TIME &&
        o->target.kind != RESTORE_TARGET_LSN && o->target.kind != RESTORE_TARGET_XID)
        return cmd_usage_error(err, &cmd_drill, "--target-exclusive needs --target-time, "
                               "--target-lsn or --target-xid");
    const char *tl = o->target.timeline;
    if (tl != NULL && strcmp(tl, "latest") != 0 && strcmp(tl, "current") != 0 &&
        strcmp(tl, "production") != 0 &&
        (tl[0] == '\0' || strlen(tl) > 10 || strspn(tl, "0123456789") != strlen(tl)))
        return cmd_usage_error(err, &cmd_drill, "--target-timeline must be production, latest, "
                               "current or a timeline number");
    if (o->label != NULL && !manifest_label_valid(o->label))
        return cmd_usage_error(err, &cmd_drill, "invalid backup label \"%s\"", o->label);
    return 0;
}

static int parse_options(int argc, char **argv, DrillOptions *o, bool *help, PgpErr *err)
{
    memset(o, 0, sizeof *o);
    o->target.kind = RESTORE_TARGET_LATEST;
    o->target.action = "promote";
    o->timeout_s = DEFAULT_TIMEOUT_S;
    o->max_tables = DEFAULT_MAX_TABLES;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    o->jobs = cpus > 0 ? (int)(cpus < 256 ? cpus : 256) : 1;
    CmdParse p = {.cmd = &cmd_drill, .each = parse_value_opt, .ud = o};
    CmdArgs a;
    int rc = cmd_args_parse(&p, argc, argv, &a, err);
    if (rc != 0 || (*help = a.help))
        return rc;
    o->json = a.json;
    return check_options(o, err);
}

/* ---- the work directory ------------------------------------------------------------------ */

/* READ for the whole drill: expire must not remove the backup or the WAL it replays. */
static int open_repo(const CmdSettings *s, const DrillOptions *o, Storage **storage, Repo **repo,
                     RepoLock **lock, PgpErr *err)
{
    int rc = cmd_open_repo(s, false, storage, repo, err);
    if (rc == 0)
        rc = cmd_lock_repo(s, *storage, REPO_LOCK_READ, "drill", o->lock_wait, lock, err);
    if (rc == 0 && !repo_is_bound(*repo)) {
        PGP_FAIL(err, PGP_ERR_NOT_FOUND, "repository \"%s\" has no backup (no repo.json)",
                 s->repo_path);
        pgp_err_hint(err, "take one with pgpitr backup");
        rc = PGP_ERR_NOT_FOUND;
    }
    return rc;
}

static int run(const CmdGlobal *g, int argc, char **argv, PgpErr *err)
{
    DrillOptions o;
    bool help = false;
    int rc = parse_options(argc, argv, &o, &help, err);
    if (rc != 0 || help)   /* help: the parser printed the usage */
        return rc;
    if (geteuid() == 0) {
        PGP_FAIL(err, PGP_ERR_USAGE, "drill cannot run as root: PostgreSQL refuses to start as "
                 "root");
        pgp_err_hint(err, "run it as the PostgreSQL OS user: sudo -u postgres pgpitr drill ...");
        return PGP_ERR_USAGE;
    }
    CmdSettings s;
    if ((rc = cmd_settings_load(g, &s, err)) != 0)
        return rc;
    rc = cmd_opt_duration_setting(&s, CMD_OPT_RTO_OBJECTIVE, NULL, &o.rto_objective_s, err);
    if (rc == 0)
        rc = cmd_opt_duration_setting(&s, CMD_OPT_RPO_OBJECTIVE, NULL, &o.rpo_objective_s, err);
    if (rc != 0) {
        cmd_settings_free(&s);
        return rc;
    }
    Storage *storage = NULL;
    Repo *repo = NULL;
    RepoLock *lock = NULL;
    DrillEnv env = {.pg_bin = cmd_opt_setting(&s, CMD_OPT_PG_BIN, o.pg_bin),
                    .config = g->config, .repo = g->repo, .log_level = g->log_level,
                    .argc = argc, .argv = argv};
    cmd_restore_env(&s, &env.restore);
    rc = open_repo(&s, &o, &storage, &repo, &lock, err);
    if (rc == 0)
        rc = drill_run(repo, &o, &env, err);
    repo_lock_release(lock);
    repo_free(repo);
    storage_free(storage);
    cmd_settings_free(&s);
    return rc;
}

const CmdDef cmd_drill = {
    .name = "drill",
    .summary = "restore into a throwaway server, replay, check, report (a recovery drill)",
    .usage =
        "usage: pgpitr [--repo PATH] drill [TARGET] [OPTIONS]\n"
        "\n"
        "Proves the repository can bring the cluster back: restores a backup into a\n"
        "throwaway directory, starts a private postgres (archive_mode = off, no\n"
        "primary_conninfo, no TCP, its own socket directory and port) that can never write\n"
        "into the archive nor reach the production cluster, replays archived WAL to the\n"
        "target, promotes, runs the checks, stops the server and removes its files. Writes a\n"
        "JSON report (docs/drill-report.schema.json), kept in the repository as\n"
        "drill/<id>.json. Exit status 0 only when the drill passed. Run as the PostgreSQL\n"
        "OS user (postgres refuses to run as root).\n"
        "\n"
        "With the settings rto-objective / rpo-objective (config or PGPITR_RTO_OBJECTIVE,\n"
        "PGPITR_RPO_OBJECTIVE) the report says whether they were met: a measured RTO over\n"
        "rto-objective fails the drill; an archive older than rpo-objective is a warning.\n"
        "\n"
        "target (one; default --target-latest):\n"
        "  --target-latest         replay every archived segment\n"
        "  --target-time TIME      ISO 8601 with an offset: 2026-11-22T03:15:07+01:00\n"
        "  --target-lsn X/X | --target-xid XID | --target-name NAME | --target-immediate\n"
        "  --target-exclusive      stop just before a time, LSN or xid target\n"
        "  --target-timeline production|latest|current|N\n"
        "                          default production: the timeline that received the most\n"
        "                          recently archived WAL (current with --target-immediate)\n"
        "\n"
        "options:\n"
        "  --backup LABEL          backup to restore (default: chosen like pgpitr restore)\n"
        "  --check-sql FILE        SQL checks: \"-- expect: VALUE\" then a query (docs/drill.md)\n"
        "  --amcheck               run pg_amcheck --all on the drill server\n"
        "  --max-tables N          count rows of at most N tables per database (default 200,\n"
        "                          0: none)\n"
        "  --report FILE           also write the report to FILE (atomically)\n"
        "  --output text|json      on stdout: a summary (default) or the report\n"
        "  --keep                  keep the work directory (the server is stopped anyway)\n"
        "  --workdir DIR           work directory, empty or missing (default: a new one in\n"
        "                          $TMPDIR or /tmp)\n"
        "  --pg-bin DIR            PostgreSQL binaries (env PGPITR_PG_BIN; default\n"
        "                          /usr/lib/postgresql/<backup's major version>/bin)\n"
        "  --db-user NAME          database role for the checks (default: the OS user)\n"
        "  --timeout S             limit for WAL replay and each check (default 3600)\n"
        "  --jobs N                parallel restore workers (default: online CPUs)\n"
        "  --lock-wait SECONDS     wait this long while an expire holds the repository lock\n"
        "                          (env PGPITR_LOCK_WAIT, config lock-wait; default 0)\n",
    .run = run,
    .exit_ok = "the drill passed",
    .exit_not_found =
        "no backup can reach the drill's target (as for restore), or the repository has "
        "no backup",
    .exit_other = "7 when the restored data failed a check or the measured RTO exceeded "
                  "rto-objective, 12 when PostgreSQL failed (a failed drill exits with the "
                  "status of its first error)",
};
