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
#include "pgpitr/archive/spool.h"
#include "pgpitr/archive/wal_push.h"
#include "pgpitr/cmd/cmd.h"
#include "pgpitr/cmd/cmd_options.h"
#include "pgpitr/common/log.h"
#include "pgpitr/common/timefmt.h"

typedef struct Ahead {
    long jobs;
    char key[PUSH_AHEAD_KEY_LEN + 1];   /* the configured repository's (push_ahead.h) */
    char wal_dir[PATH_MAX];
    const char *name;           /* PATH's file name */
    bool in_pg_wal;             /* PATH is in a directory with archive_status */
    int dfd;                    /* pg_wal/pgpitr_push, or -1: nothing pushed ahead */
    PushAhead *run;
} Ahead;

/* What a run of failures leads to (push_backlog.h). */
typedef struct Backlog {
    int64_t alert_after;        /* seconds */
    uint64_t queue_max;         /* bytes; 0: not set */
    bool drop;                  /* archive-push-queue-full = drop */
} Backlog;

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

static int backlog_settings(const CmdSettings *s, Backlog *b, PgpErr *err)
{
    *b = (Backlog){.alert_after = PUSH_BACKLOG_ALERT_DEFAULT};
    int rc = cmd_opt_duration_setting(s, CMD_OPT_PUSH_ALERT_AFTER, NULL, &b->alert_after, err);
    const char *max = cmd_opt_setting(s, CMD_OPT_PUSH_QUEUE_MAX, NULL);
    if (rc == 0 && max != NULL && (rc = spool_parse_size(max, &b->queue_max, err)) != 0)
        return pgp_err_context(err, "archive-push-queue-max");
    const char *full = cmd_opt_setting(s, CMD_OPT_PUSH_QUEUE_FULL, NULL);
    if (rc != 0 || full == NULL || strcmp(full, "fail") == 0)
        return rc;
    if (strcmp(full, "drop") != 0)
        return PGP_FAIL(err, PGP_ERR_CONFIG, "archive-push-queue-full must be fail or drop, "
                        "not \"%s\"", full);
    if (b->queue_max == 0)
        return PGP_FAIL(err, PGP_ERR_CONFIG, "archive-push-queue-full = drop needs "
                        "archive-push-queue-max (the ready WAL beyond which to drop)");
    b->drop = true;
    return 0;
}

/* A success ends a run of failures and records earlier drops in the repository (when this
 * call opened it). */
static void backlog_success(Ahead *h, Repo *repo)
{
    push_backlog_clear(h->dfd);
    size_t n = 0;
    PgpErr e = {0};
    if (repo != NULL && push_backlog_upload_drops(h->dfd, repo, &n, &e) != 0)
        log_warn("cannot record dropped segments in the repository yet: %s", e.msg);
    else if (n > 0)
        log_warn("recorded %zu dropped segment%s in the repository (%s/)", n, n == 1 ? "" : "s",
                 REPO_LAYOUT_DROPPED_DIR);
}

/* A failure of PATH's push (err): counted; once the run of failures lasts alert_after, an
 * alert; and dropped, returning 0, only when b says so and the drop is recorded. */
static int backlog_failure(const Backlog *b, Ahead *h, int rc, const PgpErr *err)
{
    PgpErr e = {0};
    if (h->dfd < 0 && push_ahead_dir_open(h->wal_dir, true, &h->dfd, &e) != 0)
        log_warn("cannot remember since when archiving fails: %s", e.msg);
    int64_t now = (int64_t)time(NULL);
    PushFailing f;
    push_backlog_note_failure(h->dfd, now, &f);
    if (now - f.since < b->alert_after)
        return rc;
    uint64_t files = 0, bytes = 0;
    if (push_backlog_ready(h->wal_dir, &files, &bytes, &e) != 0)
        log_warn("cannot count the ready WAL: %s", e.msg);
    char since[40];
    timefmt_iso(f.since, 0, since, sizeof since);
    bool drop = b->drop && bytes > b->queue_max && push_backlog_droppable(err, h->name);
    log_msg(LOG_ERROR, "ALERT: archiving has failed since %s (%lld s, %llu calls); %llu WAL "
            "files (%llu MiB) wait in pg_wal%s", since, (long long)(now - f.since),
            (unsigned long long)f.calls, (unsigned long long)files,
            (unsigned long long)(bytes >> 20),
            drop ? "" : b->drop ? " (not dropping: under archive-push-queue-max, or not a "
                                  "repository failure)"
                                : "; PostgreSQL keeps them until archiving succeeds");
    if (!drop)
        return rc;
    PushDrop d = {.name = h->name, .now = now, .failing = f, .ready_files = files,
                  .ready_bytes = bytes, .queue_max = b->queue_max, .error = err->msg};
    if (push_backlog_record_drop(h->dfd, &d, &e) != 0) {
        log_warn("not dropping \"%s\": %s", h->name, e.msg);
        return rc;
    }
    log_msg(LOG_ERROR, "DROPPED WAL segment \"%s\" without archiving it "
            "(archive-push-queue-full = drop: %llu MiB ready, over archive-push-queue-max "
            "%llu MiB): recovery cannot cross it; take a backup once archiving works again. "
            "The push failed with: %s", h->name, (unsigned long long)(bytes >> 20),
            (unsigned long long)(b->queue_max >> 20), err->msg);
    return 0;
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
        log_info("\"%s\" was pushed ahead by an earlier call (confirmed: sha256 %s%s, object "
                 "\"%s\")", path, res->sha256_hex,
                 claim.state == PUSH_CLAIM_FRESH ? ", a fresh record" : ", in the repository",
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
    Backlog b;
    rc = backlog_settings(&s, &b, err);
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
        backlog_success(&h, repo);
    else if (h.in_pg_wal) {
        rc = backlog_failure(&b, &h, rc, err);
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
