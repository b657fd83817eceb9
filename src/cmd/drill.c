/*
 * drill.c - `pgpitr drill`: its options, then drill_run (src/drill/drill_run.c) on the
 * repository under a READ lock for the whole drill. Exit 0 only when the drill passed.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pgpitr/cmd/cmd.h"
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

static int parse_int_opt(const char *what, const char *text, long min, long max, int *out,
                         PgpErr *err)
{
    long v;
    if (cmd_parse_int(what, text, min, max, &v, NULL) != 0)
        return cmd_usage_error(err, &cmd_drill, "invalid %s \"%s\" (expected %ld..%ld)", what,
                               text, min, max);
    *out = (int)v;
    return 0;
}

static int parse_value_opt(int c, const char *arg, DrillOptions *o, PgpErr *err)
{
    switch (c) {
    case 'T': return set_target(o, RESTORE_TARGET_TIME, arg, err);
    case 'L': return set_target(o, RESTORE_TARGET_LSN, arg, err);
    case 'X': return set_target(o, RESTORE_TARGET_XID, arg, err);
    case 'N': return set_target(o, RESTORE_TARGET_NAME, arg, err);
    case 'l': o->target.timeline = arg; return 0;
    case 'b': o->label = arg; return 0;
    case 'q': o->check_sql = arg; return 0;
    case 'r': o->report = arg; return 0;
    case 'w': o->workdir = arg; return 0;
    case 'B': o->pg_bin = arg; return 0;
    case 'u': o->db_user = arg; return 0;
    case 'W': o->lock_wait = arg; return 0;
    case 't': return parse_int_opt("--timeout", arg, 1, 604800, &o->timeout_s, err);
    case 'j': return parse_int_opt("--jobs", arg, 1, 256, &o->jobs, err);
    case 'm': return parse_int_opt("--max-tables", arg, 0, 100000, &o->max_tables, err);
    case 'o':
        if (strcmp(arg, "json") != 0 && strcmp(arg, "text") != 0)
            return cmd_usage_error(err, &cmd_drill, "--output must be text or json");
        o->json = strcmp(arg, "json") == 0;
        return 0;
    default:
        return cmd_usage_error(err, &cmd_drill, "unknown or incomplete option");
    }
}

static const struct option longopts[] = {
    {"target-time", required_argument, NULL, 'T'}, {"target-lsn", required_argument, NULL, 'L'},
    {"target-xid", required_argument, NULL, 'X'},  {"target-name", required_argument, NULL, 'N'},
    {"target-latest", no_argument, NULL, 'A'},     {"target-immediate", no_argument, NULL, 'I'},
    {"target-exclusive", no_argument, NULL, 'E'},  {"target-timeline", required_argument, NULL, 'l'},
    {"backup", required_argument, NULL, 'b'},      {"check-sql", required_argument, NULL, 'q'},
    {"amcheck", no_argument, NULL, 'a'},           {"report", required_argument, NULL, 'r'},
    {"keep", no_argument, NULL, 'k'},              {"workdir", required_argument, NULL, 'w'},
    {"output", required_argument, NULL, 'o'},      {"pg-bin", required_argument, NULL, 'B'},
    {"db-user", required_argument, NULL, 'u'},     {"timeout", required_argument, NULL, 't'},
    {"jobs", required_argument, NULL, 'j'},        {"max-tables", required_argument, NULL, 'm'},
    {"help", no_argument, NULL, 'h'},              {"lock-wait", required_argument, NULL, 'W'},
    {NULL, 0, NULL, 0},
};

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
    int c, rc = 0;
    opterr = 0;
    optind = 0;
    while (rc == 0 && (c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
        switch (c) {
        case 'h': *help = true; return 0;
        case 'A': o->n_targets++; o->target.kind = RESTORE_TARGET_LATEST; break;
        case 'I': o->n_targets++; o->target.kind = RESTORE_TARGET_IMMEDIATE; break;
        case 'E': o->target.exclusive = true; break;
        case 'a': o->amcheck = true; break;
        case 'k': o->keep = true; break;
        case '?':
            return cmd_usage_error(err, &cmd_drill, "unknown or incomplete option \"%s\"",
                                   argv[optind - 1]);
        default: rc = parse_value_opt(c, optarg, o, err); break;
        }
    }
    if (rc != 0)
        return rc;
    if (optind != argc)
        return cmd_usage_error(err, &cmd_drill, "unexpected argument \"%s\"", argv[optind]);
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
    if (rc != 0 || help) {
        if (help)
            cmd_print_usage(&cmd_drill, stdout);
        return rc;
    }
    if (geteuid() == 0) {
        PGP_FAIL(err, PGP_ERR_USAGE, "drill cannot run as root: PostgreSQL refuses to start as "
                 "root");
        pgp_err_hint(err, "run it as the PostgreSQL OS user: sudo -u postgres pgpitr drill ...");
        return PGP_ERR_USAGE;
    }
    CmdSettings s;
    if ((rc = cmd_settings_load(g, &s, err)) != 0)
        return rc;
    Storage *storage = NULL;
    Repo *repo = NULL;
    RepoLock *lock = NULL;
    DrillEnv env = {.pg_bin = cmd_setting(&s, o.pg_bin, "PGPITR_PG_BIN", "pg-bin"),
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
    .exit_other = "7 when the restored data failed a check, 12 when PostgreSQL failed (a failed "
                  "drill exits with the status of its first error)",
};
