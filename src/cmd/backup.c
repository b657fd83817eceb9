/*
 * backup.c - `pgpitr backup`: its options, then backup_run (src/backup/backup_run.c) on the
 * repository, created when missing, under the BACKUP lock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pgpitr/backup/backup_run.h"
#include "pgpitr/cmd/cmd.h"
#include "pgpitr/cmd/cmd_options.h"
#include "pgpitr/common/alloc_tune.h"
#include "pgpitr/repo/manifest.h"

/* ---- options ----------------------------------------------------------------------------- */

/* "100M", "512k", "2048" (kB/s) -> kB/s within PostgreSQL's MAX_RATE range. */
static int parse_rate(const char *text, uint32_t *kb, PgpErr *err)
{
    char *end = NULL;
    double v = strtod(text, &end);
    double mult = 1;
    if (end != text && (*end == 'M' || *end == 'm') && end[1] == '\0')
        mult = 1024;
    else if (end != text && (*end == 'k' || *end == 'K') && end[1] == '\0')
        mult = 1;
    else if (end == text || *end != '\0')
        v = -1;
    v *= mult;
    if (v < 32 || v > 1048576) {
        PGP_FAIL(err, PGP_ERR_CONFIG, "invalid --max-rate \"%s\"", text);
        pgp_err_hint(err, "give kB/s from 32 to 1048576, or with a suffix: 512k, 100M");
        return PGP_ERR_CONFIG;
    }
    *kb = (uint32_t)v;
    return 0;
}

/* The options checked as they come, in command-line order. */
static int take_option(void *ud, CmdOptId id, const char *arg, PgpErr *err)
{
    BackupOptions *o = ud;
    if (id == CMD_OPT_MAX_RATE)
        return parse_rate(arg, &o->max_rate_kb, err);
    if (id == CMD_OPT_CHECKPOINT)   /* fast or spread: the parser refuses anything else */
        o->fast_checkpoint = strcmp(arg, "fast") == 0;
    if (id == CMD_OPT_PROGRESS || id == CMD_OPT_NO_PROGRESS)   /* the last one given wins */
        o->progress = id == CMD_OPT_PROGRESS ? PROGRESS_ON : PROGRESS_OFF;
    return 0;
}

static int parse_options(int argc, char **argv, const CmdSettings *s, BackupOptions *o,
                         bool *help, PgpErr *err)
{
    memset(o, 0, sizeof *o);
    o->fast_checkpoint = true;
    CmdParse p = {.cmd = &cmd_backup, .each = take_option, .ud = o};
    CmdArgs a;
    int rc = cmd_args_parse(&p, argc, argv, &a, err);
    if (rc != 0 || (*help = a.help))
        return rc;
    o->label = a.flag[CMD_OPT_LABEL];
    o->lock_wait = a.flag[CMD_OPT_LOCK_WAIT];
    o->json = a.json;
    if (o->label != NULL && !manifest_label_valid(o->label))
        return cmd_usage_error(err, &cmd_backup,
                               "invalid label \"%s\" (letters, digits, '.', '_', '-'; 1-64 chars)",
                               o->label);
    const char *const *f = a.flag;
    o->conninfo = cmd_opt_setting(s, CMD_OPT_PG_CONN, f[CMD_OPT_PG_CONN]);
    o->primary_conninfo = cmd_opt_setting(s, CMD_OPT_PRIMARY_CONN, f[CMD_OPT_PRIMARY_CONN]);
    if ((rc = cmd_compression(s, f[CMD_OPT_COMPRESS], f[CMD_OPT_COMPRESS_LEVEL], &o->store.codec,
                              &o->store.level, err)) != 0)
        return rc;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    long v = ncpu > 0 ? ncpu : 1;
    if ((rc = cmd_opt_int_setting(s, CMD_OPT_JOBS, f[CMD_OPT_JOBS], &v, err)) != 0)
        return rc;
    o->jobs = (int)v;
    v = 60;
    if ((rc = cmd_opt_int_setting(s, CMD_OPT_ARCHIVE_TIMEOUT, f[CMD_OPT_ARCHIVE_TIMEOUT], &v,
                                  err)) != 0)
        return rc;
    o->archive_timeout = (int)v;
    const char *sc = cmd_opt_setting(s, CMD_OPT_SERVER_COMPRESS, f[CMD_OPT_SERVER_COMPRESS]);
    if (sc != NULL && (rc = pg_server_compress_parse(sc, &o->server_compress, err)) != 0)
        return rc;
    return 0;
}

/* The repository, created when missing, under the BACKUP lock for backup_run. */
static int run_backup(const CmdSettings *s, const BackupOptions *o, PgpErr *err)
{
    Storage *storage = NULL;
    Repo *repo = NULL;
    RepoLock *lock = NULL;
    int rc = cmd_open_repo(s, true, &storage, &repo, err);
    if (rc == 0)
        rc = cmd_lock_repo(s, storage, REPO_LOCK_BACKUP, "backup", o->lock_wait, &lock, err);
    if (rc == 0)
        rc = backup_run(repo, lock, o, err);
    repo_lock_release(lock);
    repo_free(repo);
    storage_free(storage);
    return rc;
}

static int run(const CmdGlobal *g, int argc, char **argv, PgpErr *err)
{
    /* A buffer per chunk and per small file, by the thousand: kept for reuse (alloc_tune.c).
     * Here and not for every command: elsewhere an array grown by realloc then leaves its old
     * blocks behind (info's peak RSS on a million-file manifest: 72 MiB instead of 56), and
     * restore reuses its buffers already (1,800 page faults either way). */
    (void)alloc_keep_buffers();
    CmdSettings s;
    int rc = cmd_settings_load(g, &s, err);
    if (rc != 0)
        return rc;
    BackupOptions o;
    bool help = false;
    rc = parse_options(argc, argv, &s, &o, &help, err);
    if (rc == 0 && !help)   /* help: the parser printed the usage */
        rc = run_backup(&s, &o, err);
    cmd_settings_free(&s);
    return rc;
}

const CmdDef cmd_backup = {
    .name = "backup",
    .summary = "take a base backup over the replication protocol",
    .usage =
        "usage: pgpitr [--repo PATH] backup [OPTIONS]\n"
        "\n"
        "Takes a base backup with BASE_BACKUP over a replication connection and stores\n"
        "every file as a compressed, content-addressed object (files already in the\n"
        "repository are referenced, not stored again) with a manifest. Every file is\n"
        "checked against PostgreSQL's backup_manifest. The backup is complete, and\n"
        "restorable, only once the WAL from its start to its end is in the archive.\n"
        "\n"
        "options:\n"
        "  --pg-conn CONNINFO      libpq connection string (env PGPITR_PG_CONN, config\n"
        "                          pg-conn; default: libpq defaults and PG* variables)\n"
        "  --primary-conn CONNINFO the primary's, when --pg-conn is a standby: it switches\n"
        "                          WAL at the end (env PGPITR_PRIMARY_CONN, config\n"
        "                          primary-conn; a normal connection; the role may run\n"
        "                          pg_switch_wal())\n"
        "  --label TEXT            backup label (default: start time, 20261122T020000Z)\n"
        "  --checkpoint fast|spread  checkpoint at start (default fast)\n"
        "  --compress zstd|lz4|none  codec (default zstd)\n"
        "  --compress-level N      codec level (default zstd 1)\n"
        "  --jobs N                compression workers (default: number of CPUs)\n"
        "  --max-rate RATE         server read limit in kB/s, or 512k, 100M\n"
        "  --server-compress zstd[:LEVEL]  the server compresses the stream (zstd level\n"
        "                          1..22, default the server's 3; none: off; env\n"
        "                          PGPITR_SERVER_COMPRESS, config server-compress): fewer\n"
        "                          bytes over a slow network, more server CPU\n"
        "  --archive-timeout S     how long to wait for the backup's WAL (default 60)\n"
        "  --output text|json      summary format (default text)\n"
        "  --progress              a status line on stderr, redrawn 5 times a second, and a\n"
        "                          line per phase (checkpoint, stream, check, wal, manifest)\n"
        "                          with its time and MiB/s, even when stderr is not a\n"
        "                          terminal or with --output json (default: on a terminal,\n"
        "                          without json; elsewhere the phase lines are info messages)\n"
        "  --no-progress           neither, even on a terminal\n"
        "  --lock-wait SECONDS     wait this long for a conflicting repository lock (another\n"
        "                          backup, an expire; env PGPITR_LOCK_WAIT, config lock-wait;\n"
        "                          default 0: fail at once, exit 13)\n",
    .run = run,
    .exit_ok = "the backup is complete and restorable",
    .exit_not_found =
        "a WAL segment the backup needs did not reach the archive within "
        "--archive-timeout: the backup is not restorable (check archiving)",
};
