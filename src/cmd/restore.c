/*
 * restore.c - the `pgpitr restore` command line: options into a RestoreRequest, then
 * restore_run() (restore_run.c), which chooses and validates the backup, restores it and
 * configures recovery. Owns only option parsing and the usage text.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgpitr/cmd/cmd.h"
#include "pgpitr/cmd/cmd_options.h"
#include "pgpitr/common/log.h"
#include "pgpitr/repo/manifest.h"
#include "pgpitr/repo/recovery_lease.h"
#include "pgpitr/restore/restore.h"
#include "pgpitr/restore/restore_settings.h"
#include "pgpitr/storage/storage.h"
#include "pgpitr/pg/walname.h"
#include "settings_crypto.h"
#include "settings_s3.h"

typedef struct RestoreCli {
    RestoreRequest req;
    RestoreTablespaceMap *ts;           /* argc entries at most */
    PgServerSetting *set;               /* --set: argc entries at most, names malloc'd */
    int n_targets;                      /* target options given: at most one */
    const char *jobs;
} RestoreCli;

static int set_target(RestoreCli *c, CmdOptId opt, const char *arg, PgpErr *err)
{
    RestoreTargetSpec *t = &c->req.target;
    c->n_targets++;
    switch (opt) {
    case CMD_OPT_TARGET_TIME:
        t->kind = RESTORE_TARGET_TIME;
        t->time_text = arg;
        return restore_parse_time(arg, &t->time_us, err);
    case CMD_OPT_TARGET_LSN:
        t->kind = RESTORE_TARGET_LSN;
        return pg_lsn_parse(arg, &t->lsn, err);
    case CMD_OPT_TARGET_XID:
        t->kind = RESTORE_TARGET_XID;
        t->xid = arg;
        return 0;
    case CMD_OPT_TARGET_NAME:
        t->kind = RESTORE_TARGET_NAME;
        t->name = arg;
        return 0;
    default:
        t->kind = RESTORE_TARGET_IMMEDIATE;
        return 0;
    }
}

static int add_ts_map(RestoreCli *c, const char *arg, PgpErr *err)
{
    const char *eq = strchr(arg, '=');
    if (eq == NULL || eq == arg || eq[1] == '\0')
        return cmd_usage_error(err, &cmd_restore, "invalid --tablespace-map \"%s\" (expected "
                               "OID=DIR)", arg);
    char *name = strndup(arg, (size_t)(eq - arg));
    if (name == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    c->ts[c->req.n_ts_map++] = (RestoreTablespaceMap){.name = name, .dir = eq + 1};
    return 0;
}

/* A flag only, never the configuration file or the environment: preserve is for the one
 * restore that replaces production, and a default there would also reach every copy. */
static int set_archive_mode(RestoreCli *c, const char *arg, PgpErr *err)
{
    if (strcmp(arg, "off") == 0)
        c->req.archive_mode = RESTORE_ARCHIVE_OFF;
    else if (strcmp(arg, "preserve") == 0)
        c->req.archive_mode = RESTORE_ARCHIVE_PRESERVE;
    else
        return cmd_usage_error(err, &cmd_restore, "invalid --archive-mode \"%s\" (expected off "
                               "or preserve)", arg);
    return 0;
}

static int parse_one(void *ud, CmdOptId opt, const char *arg, PgpErr *err)
{
    RestoreCli *c = ud;
    RestoreTargetSpec *t = &c->req.target;
    switch (opt) {
    case CMD_OPT_PGDATA: c->req.pgdata = arg; return 0;
    case CMD_OPT_BACKUP: c->req.label = arg; return 0;
    case CMD_OPT_RESTORE_JOBS: c->jobs = arg; return 0;
    case CMD_OPT_TARGET_TIMELINE: t->timeline = arg; return 0;
    case CMD_OPT_TARGET_ACTION: t->action = arg; return 0;
    case CMD_OPT_TARGET_EXCLUSIVE: t->exclusive = true; return 0;
    case CMD_OPT_DELTA: c->req.delta = true; return 0;
    case CMD_OPT_KEEP_OLD: c->req.keep_old = arg; return 0;
    case CMD_OPT_TABLESPACE_MAP: return add_ts_map(c, arg, err);
    case CMD_OPT_LOCK_WAIT: c->req.lock_wait = arg; return 0;
    case CMD_OPT_ARCHIVE_MODE: return set_archive_mode(c, arg, err);
    case CMD_OPT_STANDBY: c->req.standby = true; return 0;
    case CMD_OPT_SET: return restore_set_parse(arg, &c->set[c->req.n_settings++], err);
    case CMD_OPT_PROGRESS: c->req.progress = PROGRESS_ON; return 0;
    case CMD_OPT_NO_PROGRESS: c->req.progress = PROGRESS_OFF; return 0;
    default: return set_target(c, opt, arg, err);
    }
}

static int parse_args(int argc, char **argv, RestoreCli *c, bool *help, PgpErr *err)
{
    CmdParse p = {.cmd = &cmd_restore, .each = parse_one, .ud = c};
    CmdArgs a;
    int rc = cmd_args_parse(&p, argc, argv, &a, err);
    *help = a.help;
    return rc;
}

static int check_options(RestoreCli *c, PgpErr *err)
{
    const RestoreTargetSpec *t = &c->req.target;
    if (c->req.pgdata == NULL || c->req.pgdata[0] == '\0')
        return cmd_usage_error(err, &cmd_restore, "--pgdata DIR is required");
    if (c->req.label != NULL && !manifest_label_valid(c->req.label))
        return cmd_usage_error(err, &cmd_restore, "invalid backup label \"%s\"", c->req.label);
    if (c->n_targets > 1)
        return cmd_usage_error(err, &cmd_restore, "give at most one of --target-time, "
                               "--target-lsn, --target-xid, --target-name, --target-immediate");
    if (t->action != NULL && t->kind == RESTORE_TARGET_LATEST)
        return cmd_usage_error(err, &cmd_restore, "--target-action needs a recovery target "
                               "(without one, recovery replays all archived WAL and promotes)");
    if (c->req.keep_old != NULL && (!c->req.delta || c->req.keep_old[0] == '\0'))
        return cmd_usage_error(err, &cmd_restore, "--keep-old DIR needs --delta (without it, "
                               "restore writes only into a new or empty directory: nothing to "
                               "keep)");
    int rc = restore_standby_check(&c->req, err);
    if (rc == 0)
        rc = restore_set_check(c->set, c->req.n_settings, c->req.standby, err);
    if (rc != 0)
        return rc;
    long jobs = 0;
    if (c->jobs != NULL && cmd_opt_int_flag(&cmd_restore, CMD_OPT_RESTORE_JOBS, c->jobs, &jobs,
                                            err) != 0)
        return PGP_ERR_USAGE;
    c->req.jobs = (int)jobs;
    return 0;
}

static void cli_free(RestoreCli *c)
{
    for (size_t i = 0; i < c->req.n_ts_map; i++)
        free((char *)c->ts[i].name);
    for (size_t i = 0; i < c->req.n_settings; i++)
        free((char *)c->set[i].name);
    free(c->ts);
    free(c->set);
}

/* The repository opened and READ-locked for restore_run: expire cannot remove the backup or
 * its WAL while it is planned and copied. The request and lease-ttl are checked first, as
 * restore_run checks them, so that their errors come before the repository's. */
static int run_restore(const CmdSettings *s, RestoreRequest *req, PgpErr *err)
{
    Storage *storage = NULL;
    Repo *repo = NULL;
    RepoLock *lock = NULL;
    RestoreReport rep;
    int ttl_s;
    cmd_restore_env(s, &req->env);
    int rc = restore_request_check(req, err);
    if (rc == 0)
        rc = recovery_lease_ttl(req->env.lease_ttl, &ttl_s, err);
    if (rc == 0)
        rc = cmd_open_repo(s, false, &storage, &repo, err);
    /* Settings given only by a flag or the environment would not reach the restore_command:
     * the server does not run it with restore's environment. */
    CmdCryptoEnv kenv = {.n = 0};
    CmdS3Env s3env = {.n = 0};
    RestoreCommandEnv cenv[CMD_CRYPTO_ENV_MAX + CMD_S3_ENV_MAX];
    if (rc == 0 && repo_encrypted(repo))
        rc = cmd_crypto_command_env(&kenv, err);
    if (rc == 0 && storage_is_s3_url(s->repo_path))
        rc = cmd_s3_command_env(s, &s3env, err);
    if (rc == 0) {
        memcpy(cenv, kenv.v, kenv.n * sizeof cenv[0]);
        memcpy(cenv + kenv.n, s3env.v, s3env.n * sizeof cenv[0]);
        req->env.command_env = kenv.n + s3env.n > 0 ? cenv : NULL;
        req->env.n_command_env = kenv.n + s3env.n;
    }
    if (rc == 0)
        rc = cmd_lock_repo(s, storage, REPO_LOCK_READ, "restore", req->lock_wait, &lock, err);
    if (rc == 0)
        rc = restore_run(repo, req, &rep, err);
    /* After the restore wrote restore_command, not before an error of its own */
    if (rc == 0 && s3env.secret_env != NULL)
        log_warn("the S3 credentials come from the environment (%s), which PostgreSQL does not "
                 "pass to restore_command: recovery stops at its first WAL fetch unless the "
                 "server's environment has them too; put s3-key and s3-key-secret in the "
                 "configuration file given with --config", s3env.secret_env);
    req->env.command_env = NULL;   /* kenv's, gone with this frame */
    req->env.n_command_env = 0;
    repo_lock_release(lock);
    repo_free(repo);
    storage_free(storage);
    return rc;
}

static int run(const CmdGlobal *g, int argc, char **argv, PgpErr *err)
{
    RestoreCli c = {.ts = calloc((size_t)argc + 1, sizeof *c.ts),
                    .set = calloc((size_t)argc + 1, sizeof *c.set)};
    if (c.ts == NULL || c.set == NULL) {
        cli_free(&c);
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    }
    c.req.ts_map = c.ts;
    c.req.settings = c.set;
    c.req.settings_comment = "# given with pgpitr restore --set";
    bool help = false;
    int rc = parse_args(argc, argv, &c, &help, err);
    if (c.req.n_settings == 0) {
        c.req.settings = NULL;
        c.req.settings_comment = NULL;
    }
    if (rc == 0 && !help)   /* help: the parser printed the usage */
        rc = check_options(&c, err);
    CmdSettings s = {0};
    if (rc == 0 && !help)
        rc = cmd_settings_load(g, &s, err);
    if (rc == 0 && !help) {
        rc = run_restore(&s, &c.req, err);
        cmd_settings_free(&s);
    }
    cli_free(&c);
    return rc;
}

const CmdDef cmd_restore = {
    .name = "restore",
    .summary = "restore a backup and configure recovery to a target",
    .usage =
        "usage: pgpitr [--repo PATH] restore --pgdata DIR [--backup LABEL]\n"
        "         [--target-time TS | --target-lsn LSN | --target-xid XID |\n"
        "          --target-name NAME | --target-immediate]\n"
        "         [--target-timeline latest|production|current|N]\n"
        "         [--target-action promote|pause|shutdown]\n"
        "         [--target-exclusive] [--delta [--keep-old DIR]] [--tablespace-map OID=DIR]...\n"
        "         [--jobs N] [--archive-mode off|preserve] [--standby] [--set NAME=VALUE]...\n"
        "         [--progress | --no-progress]\n"
        "\n"
        "Chooses the newest complete backup that can reach the target on the target timeline's\n"
        "history (or the one given with --backup) and says which and why. Before writing\n"
        "anything it checks that every object of the backup exists and that the WAL from the\n"
        "backup's start to the target is archived with no gap along the timeline path;\n"
        "otherwise it refuses, naming the missing segment and the earliest and latest\n"
        "recoverable points. Then it restores into DIR (created if missing; it must be empty\n"
        "unless --delta, and never holds a running server), verifying every file's SHA-256,\n"
        "writes global/pg_control last, recovery.signal, and in postgresql.auto.conf\n"
        "restore_command = 'pgpitr [--config FILE] [--repo PATH] archive-get %f \"%p\"'\n"
        "(the configuration file and repository this restore used, as absolute paths: the\n"
        "server does not have this shell's PGPITR_CONFIG or PGPITR_REPO), the recovery\n"
        "target and archive_mode = off: a restored copy never archives into this repository\n"
        "unless --archive-mode preserve says so. The backup's standby.signal (a backup taken\n"
        "on a standby) is not restored and primary_conninfo, primary_slot_name,\n"
        "recovery_min_apply_delay, archive_cleanup_command and recovery_end_command are\n"
        "emptied: the server promotes and never connects to a primary, unless --standby.\n"
        "When the restored port is in use on this host (the running source), restore says\n"
        "so and prints a pg_ctl command that starts the server on a free port.\n"
        "\n"
        "Without a target, recovery replays all archived WAL, then promotes (before PITR\n"
        "support, restore stopped at the backup's end: that is --target-immediate now).\n"
        "\n"
        "A recovery lease (leases/ in the repository) keeps expire from removing the WAL\n"
        "the recovery still needs until the server promotes, or lease-ttl seconds (env\n"
        "PGPITR_LEASE_TTL, default 86400) after its last archive-get (docs/expire.md).\n"
        "\n"
        "options:\n"
        "  -D, --pgdata DIR        target data directory (required)\n"
        "  --backup LABEL          backup to restore (default: chosen for the target)\n"
        "  --target-time TS        ISO 8601 with an offset: 2026-11-22T03:15:07+01:00,\n"
        "                          2026-11-22 02:15:07.5Z; a time without offset is refused.\n"
        "                          Written as UTC (+00), so the server's TimeZone cannot\n"
        "                          change its meaning\n"
        "  --target-lsn LSN        X/X, as pg_current_wal_lsn() prints it\n"
        "  --target-xid XID        a transaction ID\n"
        "  --target-name NAME      a restore point (pg_create_restore_point)\n"
        "  --target-immediate      stop as soon as the backup is consistent (its end)\n"
        "  --target-exclusive      stop just before the target (time, LSN, xid)\n"
        "  --target-timeline T     latest (default; current with --target-immediate): the\n"
        "                          highest timeline with a history file in the archive;\n"
        "                          production: the one that received the most recently\n"
        "                          archived WAL (warned about when latest is another);\n"
        "                          current: the backup's own; or a timeline ID\n"
        "  --target-action A       promote (default), pause or shutdown at the target\n"
        "  --archive-mode M        off (default): the restored server does not archive, even\n"
        "                          after promotion; preserve: it keeps the backup's archiving\n"
        "                          settings, for a PITR that replaces production (its new\n"
        "                          timeline, history file first, goes into the repository)\n"
        "  --standby               build a standby: standby.signal instead of recovery.signal,\n"
        "                          the backup's primary_conninfo and primary_slot_name kept\n"
        "                          (or given with --set), recovery_target_timeline 'latest'\n"
        "                          unless --target-timeline; no recovery target\n"
        "  --set NAME=VALUE        a server setting for postgresql.auto.conf, after restore's\n"
        "                          own (repeatable): --set port=5433 to start beside the\n"
        "                          running source. Not for recovery_target*, restore_command,\n"
        "                          archive_mode (use their options); primary_conninfo and\n"
        "                          primary_slot_name only with --standby\n"
        "  --delta                 restore over an existing data directory, and over the\n"
        "                          tablespace locations it links or --tablespace-map names:\n"
        "                          files whose size and SHA-256 match the backup are kept,\n"
        "                          others rewritten, everything else removed\n"
        "  --keep-old DIR          with --delta: first copy everything the delta restore may\n"
        "                          change (the data directory, the backup's entries in each\n"
        "                          tablespace location) into DIR, new or empty, outside them;\n"
        "                          sh DIR/undo.sh puts it back (docs/pitr.md)\n"
        "  --tablespace-map OID=DIR  restore tablespace OID into DIR instead of its original\n"
        "                          location (repeatable; backups know tablespaces by oid)\n"
        "  -j, --jobs N            parallel file workers, 1..256 (default: online CPUs)\n"
        "  --progress              a status line on stderr, redrawn 5 times a second, and a\n"
        "                          line per phase (plan, delta, files, finish) with its time\n"
        "                          and MiB/s, even when stderr is not a terminal (default: on\n"
        "                          a terminal; elsewhere the phase lines are info messages)\n"
        "  --no-progress           neither, even on a terminal\n"
        "  --lock-wait SECONDS     wait this long while an expire holds the repository lock\n"
        "                          (env PGPITR_LOCK_WAIT, config lock-wait; default 0: fail\n"
        "                          at once, exit 13)\n",
    .run = run,
    .exit_ok = "the backup is restored and recovery is configured: start the server next",
    .exit_not_found =
        "no backup can reach the target: the backup asked for does not exist or is "
        "incomplete, there is no complete backup, or WAL needed on the way is not "
        "archived; nothing was written",
};
