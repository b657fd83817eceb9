/*
 * archive_push.c - `pgpitr archive-push PATH`, PostgreSQL's archive_command.
 * Parses options, resolves settings, starts encoding the file (wal_push_start), opens (or
 * creates) the repository meanwhile, and hands both to wal_push_finish(). Exit 0 tells
 * PostgreSQL it may recycle the segment, so every failure path must return non-zero.
 * With archive-push-jobs above 1, a call that pushes PATH also pushes ready segments after it,
 * in parallel, and a later call for one of those confirms its record instead of pushing it
 * (push_ahead.h): a fresh record without opening the repository. Pushing ahead is an
 * optimisation: anything wrong with it is a warning, and the exit status is only ever about
 * PATH. A run of failures is remembered, alerted on and, only when the DBA chose it, answered
 * by dropping PATH with a durable record (push_backlog.h).
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pgpitr/archive/push_ahead.h"
#include "pgpitr/archive/push_backlog.h"
#include "pgpitr/archive/wal_push.h"
#include "pgpitr/cmd/cmd.h"
#include "pgpitr/cmd/cmd_options.h"
#include "pgpitr/common/log.h"

typedef struct Ahead {
    long jobs;
    char key[PUSH_AHEAD_KEY_LEN + 1];   /* the configured repository's (push_ahead.h) */
    char wal_dir[PATH_MAX];
    const char *name;           /* PATH's file name */
    bool in_pg_wal;             /* PATH is in a directory with archive_status */
    int dfd;                    /* pg_wal/pgpitr_push, or -1: nothing pushed ahead */
    PushAhead *run;
} Ahead;



/* Opens the record directory when PATH is a segment in a directory PostgreSQL marks ready
 * files in (its pg_wal), creating it only when pushing ahead; a refused directory is a
 * warning (archiving goes on without records). */
static void ahead_open(Ahead *h, const char *path)
{
    const char *slash = strrchr(path, '/');
    h->name = slash != NULL ? slash + 1 : path;
    h->dfd = -1;
    size_t dlen = slash == NULL ? 1 : slash == path ? 1 : (size_t)(slash - path);
    if (dlen >= sizeof h->wal_dir)
        return;
    memcpy(h->wal_dir, slash == NULL ? "." : path, dlen);
    h->wal_dir[dlen] = '\0';
    char status[PATH_MAX + 32];
    struct stat sb;
    snprintf(status, sizeof status, "%s/archive_status", h->wal_dir);
    if (stat(status, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return;
    h->in_pg_wal = true;
    PgpErr err = {0};
    if (push_ahead_dir_open(h->wal_dir, h->jobs > 1, &h->dfd, &err) != 0)
        log_warn("not using push records: %s", err.msg);
}

/* Starts pushing the ready segments after PATH (a bound repository only: the first push
 * into a new repository binds it). */
static void ahead_start(Ahead *h, Repo *repo, const WalPushOptions *opt)
{
    if (h->jobs <= 1 || h->dfd < 0 || !repo_is_bound(repo) ||
        strlen(h->name) != PG_WALNAME_SEG_LEN)
        return;
    PushAheadList l;
    PgpErr err = {0};
    size_t queue = (size_t)h->jobs * PUSH_AHEAD_QUEUE_PER_JOB - 1;
    if (push_ahead_pick(h->wal_dir, h->dfd, h->name, queue, &l, &err) != 0 ||
        push_ahead_start(repo, h->key, h->wal_dir, h->dfd, &l, (size_t)h->jobs, opt, &h->run,
                         &err) != 0)
        log_warn("not pushing ahead: %s", err.msg);
}

static void ahead_finish(Ahead *h)
{
    PushAheadResult r;
    bool ran = h->run != NULL;
    push_ahead_join(h->run, &r);
    h->run = NULL;
    if (ran && r.pushed + r.already + r.failed + r.skipped > 0)
        log_info("pushed ahead: %zu stored, %zu already archived, %zu failed, %zu not started",
                 r.pushed, r.already, r.failed, r.skipped);
}

/* PATH into the repository: confirmed from its record (a fresh one without opening the
 * repository), or pushed (wal_push_*) with the segments after it pushed ahead meanwhile. */
static int push(const CmdSettings *s, const char *path, const WalPushOptions *opt, Ahead *h,
                Storage **storage, Repo **repo, WalPushResult *res, PgpErr *err)
{
    WalPushJob *job = NULL;
    bool confirmed = false;
    PushClaim claim = {.state = PUSH_CLAIM_NONE};
    if (push_ahead_has_record(h->dfd, h->name))
        push_ahead_take(h->dfd, path, h->key, (int64_t)time(NULL), &claim);
    int rc = 0;
    if (claim.state == PUSH_CLAIM_FRESH)
        rc = push_ahead_confirm(&claim, NULL, res, &confirmed, err);
    /* The file is compressed while the repository is opened (see wal_push.c). */
    if (rc == 0 && !confirmed && claim.state != PUSH_CLAIM_STALE)
        rc = wal_push_start(path, opt, &job, err);
    if (rc == 0 && !confirmed)
        rc = cmd_open_repo(s, true, storage, repo, err);
    if (rc == 0 && claim.state == PUSH_CLAIM_STALE) {
        rc = push_ahead_confirm(&claim, *repo, res, &confirmed, err);
        if (rc == 0 && !confirmed)
            rc = wal_push_start(path, opt, &job, err);
    }
    if (rc == 0 && !confirmed) {
        ahead_start(h, *repo, opt);
        rc = wal_push_finish(job, *repo, res, err);
        job = NULL;
        if (rc != 0)
            push_ahead_stop(h->run);   /* start no more: PostgreSQL retries PATH first */
    }
    wal_push_cancel(job);
    if (rc == 0 && confirmed)
        log_info("\"%s\" was pushed ahead by an earlier call (confirmed: sha256 %s%s%s, object "
                 "\"%s\")", path, res->sha256_hex,
                 claim.state == PUSH_CLAIM_FRESH ? ", a fresh record" : ", in the repository",
                 claim.by_identity ? ", the file unchanged" : ", the file hashed again",
                 res->object_path);
    return rc;
}

static int run(const CmdGlobal *g, int argc, char **argv, PgpErr *err)
{
    CmdParse p = {.cmd = &cmd_archive_push, .positional = true, .unknown = "unknown option"};
    CmdArgs a;
    int rc = cmd_args_parse(&p, argc, argv, &a, err);
    if (rc != 0 || a.help)   /* help: the parser printed the usage */
        return rc;
    if (argc - a.first != 1)
        return cmd_usage_error(err, &cmd_archive_push, "expected exactly one file to archive");
    const char *path = argv[a.first];

    CmdSettings s;
    rc = cmd_settings_load(g, &s, err);
    if (rc != 0)
        return rc;
    Storage *storage = NULL;
    Repo *repo = NULL;
    WalPushOptions opt;
    Ahead h = {.jobs = 1, .dfd = -1};
    PushBacklogPolicy b;
    rc = cmd_push_backlog_policy(&s, &b, err);
    if (rc == 0)
        rc = cmd_compression(&s, a.flag[CMD_OPT_COMPRESS], a.flag[CMD_OPT_COMPRESS_LEVEL], &opt.codec,
                         &opt.level, err);
    if (rc == 0)
        rc = cmd_opt_int_setting(&s, CMD_OPT_PUSH_JOBS, a.flag[CMD_OPT_PUSH_JOBS], &h.jobs, err);
    push_ahead_repo_key(s.repo_path, cmd_opt_setting(&s, CMD_OPT_S3_ENDPOINT,
                                                     s.global_flag != NULL
                                                         ? s.global_flag[CMD_OPT_S3_ENDPOINT]
                                                         : NULL),
                        h.key);
    WalPushResult res;
    if (rc == 0) {
        ahead_open(&h, path);
        rc = push(&s, path, &opt, &h, &storage, &repo, &res, err);
    }
    ahead_finish(&h);
    bool dropped = false;
    if (h.in_pg_wal && rc == 0)
        push_backlog_success(h.dfd, repo);
    else if (h.in_pg_wal) {
        rc = push_backlog_failure(&b, h.wal_dir, &h.dfd, h.name, rc, err);
        dropped = rc == 0;
    }
    if (h.dfd >= 0)
        close(h.dfd);
    if (rc == 0 && !dropped && res.already_archived)
        log_info("\"%s\" was already archived with the same content (sha256 %s)", path,
                 res.sha256_hex);
    else if (rc == 0 && !dropped)
        log_info("archived \"%s\" (%llu bytes, %llu stored as %s)", path,
                 (unsigned long long)res.size, (unsigned long long)res.stored_size,
                 pipe_codec_name(opt.codec));
    repo_free(repo);
    storage_free(storage);
    cmd_settings_free(&s);
    return rc;
}

const CmdDef cmd_archive_push = {
    .name = "archive-push",
    .summary = "archive one WAL file (PostgreSQL's archive_command)",
    .usage =
        "usage: pgpitr [--repo PATH] archive-push [OPTIONS] PATH\n"
        "\n"
        "Archives the WAL segment, .partial, .backup or .history file at PATH into the\n"
        "repository, durably. Exit 0 only when the file is safely stored under its final\n"
        "name with a verified SHA-256. A file already archived with the same content is\n"
        "success; with different content it is an error naming both checksums.\n"
        "\n"
        "  archive_command = 'pgpitr --repo /var/lib/pgpitr archive-push %p'\n"
        "\n"
        "options:\n"
        "  --compress zstd|lz4|none   codec (default zstd; config: compress)\n"
        "  --compress-level N         zstd 1..19 (default 1), lz4 0..12 (default 0)\n"
        "                             (config: compress-level)\n"
        "  --jobs N                   push up to 4N-1 ready segments after PATH too, on N\n"
        "                             threads; PostgreSQL's later calls for them confirm\n"
        "                             and return (default 1; config: archive-push-jobs;\n"
        "                             env PGPITR_ARCHIVE_PUSH_JOBS)\n",
    .run = run,
    .exit_ok =
        "the file is durable in the repository under its final name, or was already "
        "there with the same content",
};
