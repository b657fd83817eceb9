/*
 * module_push.c - archive-push kept open across calls, for the archive module (module_push.h).
 * Owns the module's one repository (settings, storage, S3 connections), the push-ahead
 * record directory and the batch of segments being pushed ahead. It must not call
 * PostgreSQL (module_pg.c does), exit, or let a thread it starts take a signal.
 */
#include "pgpitr/module/module_push.h"

#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pgpitr/archive/push_ahead.h"
#include "pgpitr/archive/push_backlog.h"
#include "pgpitr/archive/wal_push.h"
#include "pgpitr/cmd/cmd.h"
#include "pgpitr/cmd/cmd_options.h"
#include "pgpitr/common/bufpool.h"
#include "pgpitr/common/log.h"
#include "pgpitr/pipe/pipe.h"

typedef struct State {
    bool loaded, open;
    char config_set[PATH_MAX], repo_set[PATH_MAX], jobs_flag[16];
    CmdGlobal g;               /* outlives s: s.global_flag points into it */
    CmdSettings s;
    Storage *storage;
    Repo *repo;
    WalPushOptions opt;
    long jobs;
    char key[PUSH_AHEAD_KEY_LEN + 1];
    char wal_dir[PATH_MAX];    /* the directory dfd belongs to ("" while none) */
    int dfd;                   /* pg_wal/pgpitr_push, or -1 */
    PushAhead *run;            /* the batch being pushed ahead, or NULL */
    PushAheadList batch;       /* its segments */
} State;

static State st = {.dfd = -1};
/* The last settings' archive-push-queue-* policy: kept when the repository then fails to open
 * (state_close frees the settings), which is when it matters. */
static PushBacklogPolicy policy;
static bool have_policy;

static void batch_join(void)
{
    if (st.run == NULL)
        return;
    PushAheadResult r;
    push_ahead_join(st.run, &r);
    st.run = NULL;
    st.batch.n = 0;
    log_info("pushed ahead: %zu stored, %zu already archived, %zu failed, %zu not started",
             r.pushed, r.already, r.failed, r.skipped);
}

static void state_close(void)
{
    batch_join();
    if (st.dfd >= 0)
        close(st.dfd);
    st.dfd = -1;
    st.wal_dir[0] = '\0';
    repo_free(st.repo);
    storage_free(st.storage);
    st.repo = NULL;
    st.storage = NULL;
    if (st.loaded)
        cmd_settings_free(&st.s);
    st.loaded = st.open = false;
}

static const char *nz(const char *s) { return s != NULL ? s : ""; }

static bool same_settings(const ModuleSettings *ms)
{
    char jobs[sizeof st.jobs_flag] = "";
    if (ms->jobs > 0)
        snprintf(jobs, sizeof jobs, "%d", ms->jobs);
    return strcmp(nz(ms->config), st.config_set) == 0 &&
           strcmp(nz(ms->repo), st.repo_set) == 0 && strcmp(jobs, st.jobs_flag) == 0;
}

/* Loads the settings as `pgpitr [--config C] [--repo R] archive-push [--jobs N]` would, and
 * opens (creating it on the first push) the repository. */
static int state_open(const ModuleSettings *ms, PgpErr *err)
{
    if (strlen(nz(ms->config)) >= sizeof st.config_set ||
        strlen(nz(ms->repo)) >= sizeof st.repo_set)
        return PGP_FAIL(err, PGP_ERR_CONFIG, "pgpitr.config or pgpitr.repo is too long");
    snprintf(st.config_set, sizeof st.config_set, "%s", nz(ms->config));
    snprintf(st.repo_set, sizeof st.repo_set, "%s", nz(ms->repo));
    st.jobs_flag[0] = '\0';
    if (ms->jobs > 0)
        snprintf(st.jobs_flag, sizeof st.jobs_flag, "%d", ms->jobs);
    memset(&st.g, 0, sizeof st.g);
    st.g.config = st.config_set[0] != '\0' ? st.config_set : NULL;
    st.g.repo = st.repo_set[0] != '\0' ? st.repo_set : NULL;
    int rc = cmd_settings_load(&st.g, &st.s, err);
    if (rc != 0)
        return rc;
    st.loaded = true;
    rc = cmd_push_backlog_policy(&st.s, &policy, err);
    have_policy = rc == 0;
    if (rc == 0)
        rc = cmd_compression(&st.s, NULL, NULL, &st.opt.codec, &st.opt.level, err);
    if (rc == 0)
        rc = cmd_opt_int_setting(&st.s, CMD_OPT_PUSH_JOBS,
                                 st.jobs_flag[0] != '\0' ? st.jobs_flag : NULL, &st.jobs, err);
    if (rc != 0)
        return rc;
    /* Two buffers a push kept between pushes (bufpool.h): the archiver's own push and, with
     * jobs > 1, that many pushing ahead. */
    bufpool_set_keep(2 * (st.jobs > 1 ? (size_t)st.jobs + 1 : 1));
    push_ahead_repo_key(st.s.repo_path, cmd_opt_setting(&st.s, CMD_OPT_S3_ENDPOINT, NULL),
                        st.key);
    rc = cmd_open_repo(&st.s, true, &st.storage, &st.repo, err);
    st.open = rc == 0;
    return rc;
}

/* path's directory into dir; false when it is too long. */
static bool dir_of(const char *path, char dir[PATH_MAX])
{
    const char *slash = strrchr(path, '/');
    size_t dlen = slash == NULL ? 1 : slash == path ? 1 : (size_t)(slash - path);
    if (dlen >= PATH_MAX)
        return false;
    memcpy(dir, slash == NULL ? "." : path, dlen);
    dir[dlen] = '\0';
    return true;
}

static bool has_archive_status(const char *dir)
{
    char status[PATH_MAX + 32];
    struct stat sb;
    snprintf(status, sizeof status, "%s/archive_status", dir);
    return stat(status, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* The record directory of path's directory, when it is a pg_wal (has archive_status); a
 * refused directory is a warning, as for the CLI. */
static void records_open(const char *path)
{
    char dir[PATH_MAX];
    if (!dir_of(path, dir) || strcmp(dir, st.wal_dir) == 0)
        return;
    batch_join();
    if (st.dfd >= 0)
        close(st.dfd);
    st.dfd = -1;
    snprintf(st.wal_dir, sizeof st.wal_dir, "%s", dir);
    if (!has_archive_status(dir))
        return;
    PgpErr err = {0};
    if (push_ahead_dir_open(dir, st.jobs > 1, &st.dfd, &err) != 0)
        log_warn("not using push records: %s", err.msg);
}

/* Starts pushing the ready segments after name, unless a batch is running already. */
static void batch_start(const char *name)
{
    if (st.jobs <= 1 || st.dfd < 0 || st.run != NULL || !repo_is_bound(st.repo) ||
        strlen(name) != PG_WALNAME_SEG_LEN)
        return;
    PgpErr err = {0};
    size_t queue = (size_t)st.jobs * PUSH_AHEAD_QUEUE_PER_JOB - 1;
    if (push_ahead_pick(st.wal_dir, st.dfd, name, queue, &st.batch, &err) != 0 ||
        (st.batch.n > 0 && push_ahead_start(st.repo, st.key, st.wal_dir, st.dfd, &st.batch,
                                            (size_t)st.jobs, &st.opt, &st.run, &err) != 0)) {
        st.batch.n = 0;
        log_warn("not pushing ahead: %s", err.msg);
    }
}

/* path into the open repository: confirmed from its record, or pushed, with the segments
 * after it pushed ahead meanwhile (batch_start). */
static int push_path(const char *path, const char *name, PgpErr *err)
{
    PushClaim claim = {.state = PUSH_CLAIM_NONE};
    if (push_ahead_has_record(st.dfd, name))
        push_ahead_take(st.dfd, path, st.key, (int64_t)time(NULL), &claim);
    WalPushResult res;
    bool confirmed = false;
    int rc = push_ahead_confirm(&claim, st.repo, &res, &confirmed, err);
    if (rc == 0 && confirmed) {
        log_info("\"%s\" was pushed ahead (confirmed: sha256 %s, %s)", path, res.sha256_hex,
                 claim.by_identity ? "the file unchanged" : "the file hashed again");
        /* The batch that pushed it is over (push_blocked): the next one starts now, not
         * when PostgreSQL's next call would have to push its own segment first. */
        batch_start(name);
        return 0;
    }
    WalPushJob *job = NULL;
    if (rc == 0)
        rc = wal_push_start(path, &st.opt, &job, err);
    if (rc == 0) {
        batch_start(name);
        rc = wal_push_finish(job, st.repo, &res, err);
    }
    if (rc == 0)
        log_info("archived \"%s\" (%llu bytes, %llu stored%s)", path,
                 (unsigned long long)res.size, (unsigned long long)res.stored_size,
                 res.already_archived ? ", already archived with the same content" : "");
    return rc;
}

/* What archive-push does after its push (push_backlog.h), for a file of a pg_wal: a success
 * ends a run of failures and uploads drop records; a failure is counted, alerted on once the
 * run lasts archive-push-alert-after, and dropped when the settings say so (0 then). */
static int backlog(const char *path, const char *name, int rc, const PgpErr *err)
{
    if (rc == 0) {
        if (st.dfd >= 0)
            push_backlog_success(st.dfd, st.repo);
        return 0;
    }
    char dir[PATH_MAX];
    if (!have_policy || !dir_of(path, dir) || !has_archive_status(dir))
        return rc;
    bool own = st.dfd < 0 || strcmp(st.wal_dir, dir) != 0;
    int dfd = own ? -1 : st.dfd;
    rc = push_backlog_failure(&policy, dir, &dfd, name, rc, err);
    if (own && dfd >= 0)
        close(dfd);
    return rc;
}

static int push_blocked(const ModuleSettings *ms, const char *path, PgpErr *err)
{
    const char *slash = strrchr(path, '/');
    const char *name = slash != NULL ? slash + 1 : path;
    if (st.open && !same_settings(ms))
        state_close();
    int rc = st.open ? 0 : state_open(ms, err);
    if (rc != 0) {
        state_close();
        return backlog(path, name, rc, err);
    }
    records_open(path);
    /* PostgreSQL asks in name order. A segment of the batch: wait for that one only, then
     * confirm its record; a name after the batch: the batch is finished first (pushing it
     * again meanwhile would only race the thread pushing it). A finished batch is joined so
     * that this call starts the next one. */
    if (st.run != NULL && strcmp(name, st.batch.names[0]) >= 0) {
        bool in_batch = strcmp(name, st.batch.names[st.batch.n - 1]) <= 0;
        if (!in_batch || push_ahead_wait(st.run, name))
            batch_join();
    }
    rc = push_path(path, name, err);
    int failed = rc;
    rc = backlog(path, name, rc, err);
    if (failed != 0) {
        /* The repository may be what failed: start no more, and open it again next time. */
        push_ahead_stop(st.run);
        state_close();
    }
    return rc;
}

int module_push(const ModuleSettings *ms, const char *path, PgpErr *err)
{
    /* Threads inherit the signal mask of the thread that creates them: with every signal
     * blocked here, no thread started below (push ahead, encoders, curl's resolver) ever
     * runs one of PostgreSQL's handlers; they stay pending for the archiver until we return. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = push_blocked(ms, path, err);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

void module_push_shutdown(void)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    state_close();
    bufpool_release();      /* the segment buffers kept between pushes (wal_push.c) */
    pipe_mem_release();     /* the codec contexts kept between pushes (mem_codec.c) */
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}
