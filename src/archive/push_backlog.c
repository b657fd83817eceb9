/*
 * push_backlog.c - archive-push's memory of its failures, the ready backlog, dropped
 * segments with their durable records, and what a call (archive-push or the archive module)
 * does about them after its push (push_backlog.h).
 */
#include "pgpitr/archive/push_backlog.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pgpitr/archive/push_ahead.h"
#include "pgpitr/common/fdio.h"
#include "pgpitr/common/log.h"
#include "pgpitr/common/proc.h"
#include "pgpitr/common/timefmt.h"
#include "pgpitr/pg/walname.h"
#include "pgpitr/repo/meta_io.h"
#include "pgpitr/repo/repo_layout.h"
#include "pgpitr/storage/storage.h"

#define STATE_MAX 64

/* ---- the failing state ------------------------------------------------------------------ */

static bool state_parse(const char *text, PushFailing *out)
{
    long long since;
    unsigned long long calls;
    int used = 0;
    if (sscanf(text, "%lld %llu\n%n", &since, &calls, &used) != 2 || text[used] != '\0' ||
        since <= 0 || calls == 0)
        return false;
    out->since = since;
    out->calls = calls;
    return true;
}

/* dfd's state; false when there is none or it does not parse (then a new run starts). */
static bool state_read(int dfd, PushFailing *out)
{
    int fd = fd_open_regular(dfd, PUSH_BACKLOG_FAILING, NULL);
    if (fd < 0)
        return false;
    char text[STATE_MAX];
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    if (n <= 0)
        return false;
    text[n] = '\0';
    return state_parse(text, out);
}

void push_backlog_note_failure(int dfd, int64_t now, PushFailing *out)
{
    PushFailing st = {.since = now, .calls = 0};
    if (dfd < 0 || !state_read(dfd, &st) || st.since > now)
        st = (PushFailing){.since = now, .calls = 0};
    st.calls++;
    *out = st;
    if (dfd < 0)
        return;
    char text[STATE_MAX];
    int len = snprintf(text, sizeof text, "%lld %llu\n", (long long)st.since,
                       (unsigned long long)st.calls);
    /* Not durable: a state lost in a crash only restarts the count of the failing time. */
    int e = fd_replace_file(dfd, PUSH_BACKLOG_FAILING, text, (size_t)len, 0600, false);
    if (e != 0)
        log_warn("cannot record since when archiving fails: %s", strerror(e));
}

void push_backlog_clear(int dfd)
{
    if (dfd >= 0)
        unlinkat(dfd, PUSH_BACKLOG_FAILING, 0);
}

int push_backlog_read_failing(const char *wal_dir, bool *failing, PushFailing *out,
                              PgpErr *err)
{
    *failing = false;
    char path[PATH_MAX];
    if ((size_t)snprintf(path, sizeof path, "%s/%s/%s", wal_dir, PUSH_AHEAD_DIR,
                         PUSH_BACKLOG_FAILING) >= sizeof path)
        return PGP_FAIL(err, PGP_ERR_CONFIG, "path \"%s\" is too long", wal_dir);
    bool not_regular;
    int fd = fd_open_regular(AT_FDCWD, path, &not_regular);
    if (fd < 0 && not_regular)
        return PGP_FAIL(err, PGP_ERR_CORRUPT, "\"%s\" is not a regular file", path);
    if (fd < 0)
        return errno == ENOENT ? 0 : PGP_FAIL_SYS(err, errno, "cannot open \"%s\"", path);
    char text[STATE_MAX];
    ssize_t n = read(fd, text, sizeof text - 1);
    int e = errno;
    close(fd);
    if (n < 0)
        return PGP_FAIL_SYS(err, e, "cannot read \"%s\"", path);
    text[n] = '\0';
    if (!state_parse(text, out))
        return PGP_FAIL(err, PGP_ERR_CORRUPT, "\"%s\" does not parse", path);
    *failing = true;
    return 0;
}

/* ---- the ready backlog ------------------------------------------------------------------ */

int push_backlog_ready(const char *wal_dir, uint64_t *files, uint64_t *bytes, PgpErr *err)
{
    *files = *bytes = 0;
    char status[PATH_MAX];
    if ((size_t)snprintf(status, sizeof status, "%s/archive_status", wal_dir) >= sizeof status)
        return PGP_FAIL(err, PGP_ERR_CONFIG, "path \"%s\" is too long", wal_dir);
    DIR *d = opendir(status);
    if (d == NULL)
        return PGP_FAIL_SYS(err, errno, "cannot list \"%s\"", status);
    static const char suffix[] = ".ready";
    const size_t slen = sizeof suffix - 1;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        size_t n = strlen(e->d_name);
        if (n <= slen || strcmp(e->d_name + n - slen, suffix) != 0)
            continue;
        char wal[PATH_MAX];
        struct stat sb;
        (*files)++;
        if ((size_t)snprintf(wal, sizeof wal, "%s/%.*s", wal_dir, (int)(n - slen),
                             e->d_name) < sizeof wal && stat(wal, &sb) == 0 &&
            S_ISREG(sb.st_mode))   /* gone meanwhile: archived and removed */
            *bytes += (uint64_t)sb.st_size;
    }
    closedir(d);
    return 0;
}

/* ---- dropping --------------------------------------------------------------------------- */

bool push_backlog_droppable(const PgpErr *err, const char *name)
{
    PgWalName wn;
    PgpErr ignore;
    if (strlen(name) != PG_WALNAME_SEG_LEN || pg_walname_parse(name, &wn, &ignore) != 0 ||
        wn.kind != PG_WALFILE_SEGMENT)
        return false;
    return err->code == PGP_ERR_IO || err->code == PGP_ERR_NO_SPACE;
}

/* Opens dfd/dropped (creating it, durably, when create). -1 with errno when it is missing. */
static int dropped_dir(int dfd, bool create)
{
    if (create && mkdirat(dfd, PUSH_BACKLOG_DROPPED_DIR, 0700) == 0 && fsync(dfd) != 0)
        return -1;
    return openat(dfd, PUSH_BACKLOG_DROPPED_DIR,
                  O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

int push_backlog_record_drop(int dfd, const PushDrop *d, PgpErr *err)
{
    char host[PROC_HOST_MAX] = "";
    proc_hostname(host, NULL);
    json_t *j = json_pack("{s:i, s:s, s:I, s:s, s:I, s:I, s:I, s:I, s:I, s:s}", "format", 1,
                          "segment", d->name, "dropped_at", (json_int_t)d->now, "host", host,
                          "failing_since", (json_int_t)d->failing.since, "failed_calls",
                          (json_int_t)d->failing.calls, "ready_files",
                          (json_int_t)d->ready_files, "ready_bytes", (json_int_t)d->ready_bytes,
                          "queue_max", (json_int_t)d->queue_max, "error", d->error);
    char *text = j != NULL ? json_dumps(j, JSON_PRESERVE_ORDER) : NULL;
    json_decref(j);
    if (text == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    int rc = 0;
    int ddfd = dropped_dir(dfd, true);
    int e = ddfd < 0 ? errno : fd_replace_file(ddfd, d->name, text, strlen(text), 0600, true);
    if (e != 0)
        rc = PGP_FAIL_SYS(err, e, "cannot record the drop of \"%s\" in \"%s/%s\"", d->name,
                          PUSH_AHEAD_DIR, PUSH_BACKLOG_DROPPED_DIR);
    if (ddfd >= 0)
        close(ddfd);
    free(text);
    return rc;
}

/* One local record into the repository, then removed locally. */
static int upload_one(int ddfd, const char *name, Repo *repo, PgpErr *err)
{
    char path[REPO_PATH_MAX], *text = NULL;
    int rc = repo_dropped_path(name, path, err);
    bool not_regular = false;
    int fd = rc == 0 ? fd_open_regular(ddfd, name, &not_regular) : -1;
    if (rc == 0 && not_regular)
        rc = PGP_FAIL(err, PGP_ERR_CORRUPT, "the drop record of \"%s\" is not a regular file: "
                      "not written by pgpitr", name);
    else if (rc == 0 && fd < 0)
        rc = PGP_FAIL_SYS(err, errno, "cannot open the drop record of \"%s\"", name);
    /* one byte more than a record may hold, so that a longer file is refused, not cut */
    text = rc == 0 ? malloc(PUSH_BACKLOG_DROP_RECORD_MAX + 1) : NULL;
    if (rc == 0 && text == NULL)
        rc = PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    size_t n = 0;
    int e = rc == 0 ? fd_read_upto(fd, text, PUSH_BACKLOG_DROP_RECORD_MAX + 1, &n) : 0;
    if (rc == 0 && e != 0)
        rc = PGP_FAIL_SYS(err, e, "cannot read the drop record of \"%s\"", name);
    if (rc == 0 && n > PUSH_BACKLOG_DROP_RECORD_MAX)
        rc = PGP_FAIL(err, PGP_ERR_CORRUPT, "the drop record of \"%s\" is over %d bytes: not "
                      "written by pgpitr", name, PUSH_BACKLOG_DROP_RECORD_MAX);
    if (rc == 0) {
        rc = meta_put_all(repo_storage(repo), repo_crypto_key(repo), path, 0, text, n, err);
        if (rc == PGP_ERR_CONFLICT)   /* uploaded by a call that died before removing it */
            rc = 0;
    }
    if (rc == 0 && unlinkat(ddfd, name, 0) != 0 && errno != ENOENT)
        rc = PGP_FAIL_SYS(err, errno, "cannot remove the drop record of \"%s\"", name);
    if (fd >= 0)
        close(fd);
    free(text);
    return rc;
}

int push_backlog_upload_drops(int dfd, Repo *repo, size_t *n, PgpErr *err)
{
    *n = 0;
    int ddfd = dfd >= 0 ? dropped_dir(dfd, false) : -1;
    if (ddfd < 0)
        return 0;
    DIR *d = fd_opendir(ddfd, ".");
    int rc = d == NULL ? PGP_FAIL_SYS(err, errno, "cannot list \"%s/%s\"", PUSH_AHEAD_DIR,
                                      PUSH_BACKLOG_DROPPED_DIR)
                       : 0;
    for (struct dirent *e; rc == 0 && (e = readdir(d)) != NULL;) {
        PgWalName wn;
        PgpErr ignore;
        if (strlen(e->d_name) != PG_WALNAME_SEG_LEN ||
            pg_walname_parse(e->d_name, &wn, &ignore) != 0 || wn.kind != PG_WALFILE_SEGMENT)
            continue;   /* "." "..", a temporary file */
        rc = upload_one(ddfd, e->d_name, repo, err);
        if (rc == 0)
            (*n)++;
    }
    if (d != NULL)
        closedir(d);
    close(ddfd);
    return rc;
}

/* ---- what a call does after its push ------------------------------------------------------ */

void push_backlog_success(int dfd, Repo *repo)
{
    push_backlog_clear(dfd);
    size_t n = 0;
    PgpErr e = {0};
    if (repo != NULL && push_backlog_upload_drops(dfd, repo, &n, &e) != 0)
        log_warn("cannot record dropped segments in the repository yet: %s", e.msg);
    else if (n > 0)
        log_warn("recorded %zu dropped segment%s in the repository (%s/)", n, n == 1 ? "" : "s",
                 REPO_LAYOUT_DROPPED_DIR);
}

/* The alert line, once the failures last alert_after. */
static void alert(const PushFailing *f, int64_t now, uint64_t files, uint64_t bytes, bool drop,
                  bool drop_set)
{
    char since[40];
    timefmt_iso(f->since, 0, since, sizeof since);
    log_msg(LOG_ERROR, "ALERT: archiving has failed since %s (%lld s, %llu calls); %llu WAL "
            "files (%llu MiB) wait in pg_wal%s", since, (long long)(now - f->since),
            (unsigned long long)f->calls, (unsigned long long)files,
            (unsigned long long)(bytes >> 20),
            drop ? "" : drop_set ? " (not dropping: under archive-push-queue-max, or not a "
                                   "repository failure)"
                                 : "; PostgreSQL keeps them until archiving succeeds");
}

int push_backlog_failure(const PushBacklogPolicy *policy, const char *wal_dir, int *dfd,
                         const char *name, int rc, const PgpErr *err)
{
    PgpErr e = {0};
    if (*dfd < 0 && push_ahead_dir_open(wal_dir, true, dfd, &e) != 0)
        log_warn("cannot remember since when archiving fails: %s", e.msg);
    int64_t now = (int64_t)time(NULL);
    PushFailing f;
    push_backlog_note_failure(*dfd, now, &f);
    if (now - f.since < policy->alert_after)
        return rc;
    uint64_t files = 0, bytes = 0;
    if (push_backlog_ready(wal_dir, &files, &bytes, &e) != 0)
        log_warn("cannot count the ready WAL: %s", e.msg);
    bool drop = policy->drop && bytes > policy->queue_max && push_backlog_droppable(err, name);
    alert(&f, now, files, bytes, drop, policy->drop);
    if (!drop)
        return rc;
    PushDrop d = {.name = name, .now = now, .failing = f, .ready_files = files,
                  .ready_bytes = bytes, .queue_max = policy->queue_max, .error = err->msg};
    if (*dfd < 0 || push_backlog_record_drop(*dfd, &d, &e) != 0) {
        log_warn("not dropping \"%s\": %s", name, *dfd < 0 ? "no record directory" : e.msg);
        return rc;
    }
    log_msg(LOG_ERROR, "DROPPED WAL segment \"%s\" without archiving it "
            "(archive-push-queue-full = drop: %llu MiB ready, over archive-push-queue-max "
            "%llu MiB): recovery cannot cross it; take a backup once archiving works again. "
            "The push failed with: %s", name, (unsigned long long)(bytes >> 20),
            (unsigned long long)(policy->queue_max >> 20), err->msg);
    return 0;
}
