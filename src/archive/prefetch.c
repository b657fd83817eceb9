/*
 * prefetch.c - the background prefetcher behind archive-get's spool (prefetch.h, spool.h).
 *
 * Process: archive-get takes the flock on .prefetch.lock without waiting (taken: one runs,
 * nothing to do) and forks; the child calls setsid() and forks again, so the prefetcher is in
 * its own session (PostgreSQL signals the startup process's process group; the prefetcher
 * must neither die with it mid-file nor keep it waiting) and is not PostgreSQL's child (no
 * zombie, system() returns at once). The grandchild inherits the locked descriptor; the lock
 * lives as long as it does. It works from "/", so it keeps no directory busy; its warnings go
 * to the server log when stderr is a file opened for appending, else to .prefetch.log in the
 * spool (never hold a pipe someone waits on).
 *
 * The spool directory is checked once (spool_dir_open: ours, mode 0700, no symlink) by
 * prefetch_ensure and then only reached through that descriptor, handed to the grandchild:
 * names relative to it (openat, renameat, unlinkat), and for wal_get_file, which takes a path,
 * "/proc/self/fd/N/..." - so a spool path swapped after the check (a symlink to elsewhere)
 * never receives a file, and nothing is published outside the checked directory.
 *
 * Threads: the main thread wakes on every change in the spool directory (inotify; else every
 * POLL_MS) and at least every WATCH_MS: it reads .requested (what PostgreSQL got last), lists
 * the spool (at most max_segments + a few entries), removes what can no longer be asked for,
 * and watches for the end (idle, postmaster gone, recovery over, SIGTERM). Workers claim
 * the next segment of the window under the mutex, mark it in flight (.inflight.<name>, so that
 * archive-get waits for it rather than fetching it too), fetch it with wal_get_file into a work
 * file (verified there), then publish it with its record (spool_file.h: the SHA-256 a take
 * checks again) by rename under the mutex and the identity lock. The bound holds because
 * "complete files of the current timeline + fetches in flight" is counted under the same mutex
 * that publishing takes; archive-get only ever removes files.
 */
#include "pgpitr/archive/prefetch.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pgpitr/common/grow.h"
#include "pgpitr/common/log.h"
#include "pgpitr/repo/recovery_lease.h"
#include "pgpitr/archive/spool_file.h"
#include "pgpitr/archive/wal_get.h"
#include "pgpitr/pg/walname.h"

#define POLL_MS 25              /* sleep between looks at the spool when inotify is missing */
#define LOOKUP_BATCH 16         /* segments looked up with one listing */
#define FOUND_MAX 64            /* objects found ahead and not fetched yet */
#define WATCH_MS 100            /* postmaster and signal files checked this often */

typedef enum { END_NONE, END_IDLE, END_SIGNAL, END_POSTMASTER, END_RECOVERY, END_OWNER } EndReason;

/* An archived object found by a listing before its segment was claimed. */
typedef struct Found {
    uint32_t tli;
    uint64_t segno;
    RepoArchiveObject obj;
} Found;

typedef struct Prefetch {
    const SpoolSettings *st;
    int dfd;                    /* the checked spool directory */
    char dir[32];               /* "/proc/self/fd/<dfd>": the same directory as a path */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool quit;
    uint32_t tli;
    uint64_t base, next, stop, last;
    uint64_t *ready;            /* sorted segnos of complete files of tli */
    size_t n_ready, cap_ready;
    uint64_t inflight[SPOOL_MAX_JOBS];
    unsigned n_inflight;
    Found found[FOUND_MAX];     /* looked up ahead (one listing for a run of segments) */
    unsigned n_found;
    EndReason end;
    pid_t postmaster;           /* 0: not watched */
    bool watch_signals;
} Prefetch;

static volatile sig_atomic_t got_term;

static void on_term(int sig)
{
    (void)sig;
    got_term = 1;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static bool have(void *ud, uint64_t segno)
{
    Prefetch *p = ud;
    for (unsigned i = 0; i < p->n_inflight; i++)
        if (p->inflight[i] == segno)
            return true;
    return p->n_ready > 0 &&
           bsearch(&segno, p->ready, p->n_ready, sizeof *p->ready, cmp_u64) != NULL;
}

static bool add_ready(Prefetch *p, uint64_t segno)
{
    if (GROW(p->ready, p->n_ready, p->cap_ready, 64, NULL, NULL) != 0)
        return false;
    p->ready[p->n_ready++] = segno;
    return true;
}

/* A record whose segment is gone (taken by archive-get, removed) or obsolete. */
static bool record_orphaned(const Prefetch *p, const char *rname)
{
    const char *seg = rname + strlen(SPOOL_RECORD_PREFIX);
    struct stat sb;
    return spool_file_kind(seg) != SPOOL_FILE_SEGMENT ||
           spool_file_obsolete(seg, p->st->segsize, p->tli, p->base) ||
           fstatat(p->dfd, seg, &sb, AT_SYMLINK_NOFOLLOW) != 0;
}

/* Under mu: rebuilds the ready set from the directory, removing obsolete segments and
 * orphaned records (publishing, which writes the record first, also holds mu). */
static bool rescan(Prefetch *p)
{
    int fd = openat(p->dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (d == NULL) {
        if (fd >= 0)
            close(fd);
        return false;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || sb.st_nlink == 0) {   /* the spool directory was removed */
        closedir(d);
        return false;
    }
    p->n_ready = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        SpoolFileKind kind = spool_file_kind(de->d_name);
        if (kind == SPOOL_FILE_RECORD && record_orphaned(p, de->d_name))
            unlinkat(p->dfd, de->d_name, 0);
        if (kind != SPOOL_FILE_SEGMENT)
            continue;
        PgWalName wn;
        uint64_t segno;
        if (spool_file_obsolete(de->d_name, p->st->segsize, p->tli, p->base) ||
            pg_walname_parse(de->d_name, &wn, NULL) != 0 ||
            !pg_walname_segno(&wn, p->st->segsize, &segno)) {
            unlinkat(p->dfd, de->d_name, 0);
            continue;
        }
        if (!add_ready(p, segno)) {
            closedir(d);
            return false;
        }
    }
    closedir(d);
    if (p->n_ready > 1)
        qsort(p->ready, p->n_ready, sizeof *p->ready, cmp_u64);
    return true;
}

/* Under mu: the next segment to fetch, if the window and the bound allow one. */
static bool claim(Prefetch *p, uint64_t *segno)
{
    SpoolWindow w = {.base = p->base, .next = p->next, .max = p->st->max_segments,
                     .held = (unsigned)(p->n_ready + p->n_inflight), .stop = p->stop,
                     .last = p->last};
    if (p->n_inflight >= SPOOL_MAX_JOBS || !spool_window_next(&w, have, p, segno))
        return false;
    p->inflight[p->n_inflight++] = *segno;
    p->next = *segno + 1;
    return true;
}

static void unclaim(Prefetch *p, uint64_t segno)
{
    for (unsigned i = 0; i < p->n_inflight; i++)
        if (p->inflight[i] == segno) {
            p->inflight[i] = p->inflight[--p->n_inflight];
            return;
        }
}

/* Under mu, after a verified fetch into work: publish it as spool/name with its record, or
 * drop it when it is no longer wanted (timeline switched, PostgreSQL already past it, shutting
 * down). */
static void publish(Prefetch *p, uint32_t tli, uint64_t segno, const char *work, const char *name,
                    const WalGetResult *res)
{
    int fd = -1;
    if (p->quit || tli != p->tli || segno <= p->base) {
        unlinkat(p->dfd, work, 0);
        return;
    }
    if (!spool_identity_lock(p->dfd, p->st->identity, &fd)) {
        unlinkat(p->dfd, work, 0);   /* the spool changed hands: not ours to fill any more */
        p->end = END_OWNER;
        p->quit = true;
        return;
    }
    PgpErr err;
    pgp_err_clear(&err);
    if (spool_file_publish(p->dfd, work, name, res->content_sha256, res->size, &err) != 0) {
        log_warn("prefetch: cannot publish \"%s\" in \"%s\": %s", name, p->st->path, err.msg);
        unlinkat(p->dfd, work, 0);
        p->stop = segno < p->stop ? segno : p->stop;
    } else if (!add_ready(p, segno)) {
        p->quit = true;
    } else if (p->n_ready > 1) {
        qsort(p->ready, p->n_ready, sizeof *p->ready, cmp_u64);
    }
    spool_identity_unlock(fd);
}

/* Under mu: takes the object found ahead for (tli, segno), if any. */
static bool found_take(Prefetch *p, uint32_t tli, uint64_t segno, RepoArchiveObject *obj)
{
    for (unsigned i = 0; i < p->n_found; i++)
        if (p->found[i].tli == tli && p->found[i].segno == segno) {
            *obj = p->found[i].obj;
            p->found[i] = p->found[--p->n_found];
            return true;
        }
    return false;
}

/* Under mu: remembers an object found ahead; entries PostgreSQL is past or of another timeline
 * make room first, and when there is none the object is simply looked up again later. */
static void found_put(Prefetch *p, uint32_t tli, uint64_t segno, const RepoArchiveObject *obj)
{
    for (unsigned i = 0; i < p->n_found;) {
        if (p->found[i].tli != p->tli || p->found[i].segno <= p->base ||
            (p->found[i].tli == tli && p->found[i].segno == segno))
            p->found[i] = p->found[--p->n_found];
        else
            i++;
    }
    if (p->n_found < FOUND_MAX)
        p->found[p->n_found++] = (Found){tli, segno, *obj};
}

/* The archived object of segment segno: found ahead, or looked up together with the segments
 * after it in the same archive directory (one listing on S3 instead of one per segment: a
 * round trip less for each fetch). What the listing says about the others is remembered only
 * when they are archived (an object, exactly one): a segment not archived yet is looked up
 * again when its turn comes, so the end of the archive moves as before. */
static int find_object(Prefetch *p, Repo *repo, uint32_t tli, uint64_t segno,
                       RepoArchiveObject *obj, PgpErr *err)
{
    pthread_mutex_lock(&p->mu);
    bool have = found_take(p, tli, segno, obj);
    pthread_mutex_unlock(&p->mu);
    if (have)
        return 0;
    char names[LOOKUP_BATCH][PG_WALNAME_SEG_LEN + 1];
    const char *np[LOOKUP_BATCH];
    size_t n = 0;
    for (; n < LOOKUP_BATCH && segno + n <= p->last; n++) {
        pg_walname_format(tli, segno + n, p->st->segsize, names[n]);
        if (n > 0 && strncmp(names[n], names[0], REPO_LAYOUT_WAL_DIR_LEN) != 0)
            break;   /* the next archive directory: its own listing, later */
        np[n] = names[n];
    }
    RepoArchiveObject *objs = calloc(n, sizeof *objs);
    PgpErr *errs = calloc(n, sizeof *errs);
    int *rcs = calloc(n, sizeof *rcs);
    int rc = objs && errs && rcs ? repo_archive_find_many(repo, np, n, objs, rcs, errs, err)
                                 : PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    if (rc == 0 && (rc = rcs[0]) != 0)
        *err = errs[0];
    if (rc == 0) {
        *obj = objs[0];
        pthread_mutex_lock(&p->mu);
        for (size_t i = 1; i < n; i++)
            if (rcs[i] == 0)
                found_put(p, tli, segno + i, &objs[i]);
        pthread_mutex_unlock(&p->mu);
    }
    free(objs);
    free(errs);
    free(rcs);
    return rc;
}

static void fetch_one(Prefetch *p, Repo *repo, uint32_t tli, uint64_t segno)
{
    char name[PG_WALNAME_SEG_LEN + 1], work[PG_WALNAME_SEG_LEN + 8], path[PATH_MAX];
    char mark[SPOOL_INFLIGHT_NAME_MAX];
    pg_walname_format(tli, segno, p->st->segsize, name);
    snprintf(work, sizeof work, ".fetch.%s", name);
    spool_join(path, p->dir, work);   /* fits: p->dir is short */
    spool_inflight_name(mark, name);
    /* The in-flight mark lets an archive-get that finds no file wait for this fetch instead
     * of doing the same work again. */
    int fd = openat(p->dfd, mark, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd >= 0)
        close(fd);
    PgpErr err;
    pgp_err_clear(&err);
    WalGetResult res;
    RepoArchiveObject obj;
    int rc = find_object(p, repo, tli, segno, &obj, &err);
    if (rc == 0)
        rc = wal_get_object(repo, &obj, name, path, &res, &err);
    pthread_mutex_lock(&p->mu);
    unclaim(p, segno);
    if (rc == 0) {
        publish(p, tli, segno, work, name, &res);
    } else {
        /* Stop here: PostgreSQL's own request for this segment goes to the repository and
         * meets (and reports) the same answer - "not archived" or the failure. */
        if (tli == p->tli && segno < p->stop)
            p->stop = segno;
        if (rc != PGP_ERR_NOT_FOUND)
            log_warn("prefetch of \"%s\" failed, left to archive-get: %s", name, err.msg);
    }
    if (fd >= 0)
        unlinkat(p->dfd, mark, 0);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

/* Each worker its own instance: its own connections to an S3 store. */
static int open_storage(const SpoolSettings *st, Storage **out, PgpErr *err)
{
    return st->opener.open != NULL ? st->opener.open(st->opener.ud, out, err)
                                   : storage_posix_new(st->repo, false, out, err);
}

static void *worker(void *arg)
{
    Prefetch *p = arg;
    Storage *storage = NULL;
    Repo *repo = NULL;
    PgpErr err;
    pgp_err_clear(&err);
    const SpoolRepoOpener *ro = &p->st->repo_opener;
    if (open_storage(p->st, &storage, &err) != 0 ||
        (ro->open != NULL ? ro->open(ro->ud, storage, &repo, &err)
                          : repo_open(storage, &repo, &err)) != 0) {
        log_warn("prefetch: cannot open repository \"%s\": %s", p->st->repo, err.msg);
        storage_free(storage);
        return NULL;
    }
    pthread_mutex_lock(&p->mu);
    while (!p->quit) {
        uint64_t segno;
        if (!claim(p, &segno)) {
            pthread_cond_wait(&p->cv, &p->mu);
            continue;
        }
        uint32_t tli = p->tli;
        pthread_mutex_unlock(&p->mu);
        fetch_one(p, repo, tli, segno);
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    repo_free(repo);
    storage_free(storage);
    return NULL;
}

/* ---- the main thread ---------------------------------------------------------------------- */

static bool parse_request(const char *name, uint32_t segsize, uint32_t *tli, uint64_t *segno)
{
    PgWalName wn;
    return pg_walname_parse(name, &wn, NULL) == 0 && wn.kind == PG_WALFILE_SEGMENT &&
           pg_walname_segno(&wn, segsize, segno) && (*tli = wn.tli, true);
}

static pid_t read_postmaster_pid(const char *datadir)
{
    char p[PATH_MAX], line[32] = "";
    FILE *f = spool_join(p, datadir, "postmaster.pid") ? fopen(p, "re") : NULL;
    if (f == NULL)
        return 0;
    if (fgets(line, sizeof line, f) == NULL)
        line[0] = '\0';
    fclose(f);
    long v = strtol(line, NULL, 10);
    return v > 0 ? (pid_t)v : 0;
}

static bool in_recovery(const char *datadir)
{
    char a[PATH_MAX], b[PATH_MAX];
    struct stat sb;
    return (spool_join(a, datadir, "recovery.signal") && stat(a, &sb) == 0) ||
           (spool_join(b, datadir, "standby.signal") && stat(b, &sb) == 0);
}

/* Whether the server this spool serves is gone or done with archive recovery. */
static EndReason watch(const Prefetch *p)
{
    /* The end of recovery first: a server stopped right after promoting has ended its
     * recovery too, and that ends its lease (recovery_lease.h). */
    if (p->watch_signals && !in_recovery(p->st->datadir))
        return END_RECOVERY;
    if (p->postmaster > 0 && kill(p->postmaster, 0) != 0 && errno == ESRCH)
        return END_POSTMASTER;
    return END_NONE;
}

/* Under mu: follow what PostgreSQL asked for last. Returns true if it changed. */
static bool follow_request(Prefetch *p)
{
    char name[32];
    uint32_t tli;
    uint64_t segno;
    if (!spool_read_request(p->dfd, name) ||
        !parse_request(name, p->st->segsize, &tli, &segno) || (tli == p->tli && segno == p->base))
        return false;
    /* PostgreSQL caught up with where fetching stopped (end of archive, a failure): try
     * that segment again. A new timeline, or going back (a restarted server replays from its
     * last restartpoint): start over from the request. */
    if (tli == p->tli && segno + 1 >= p->stop && p->stop != UINT64_MAX) {
        if (p->next > p->stop)
            p->next = p->stop;
        p->stop = UINT64_MAX;
    }
    if (tli != p->tli || segno < p->base) {
        p->next = segno + 1;
        p->stop = UINT64_MAX;
    }
    p->tli = tli;
    p->base = segno;
    return true;
}

/* Waits up to WATCH_MS for a change in the spool directory (inotify: archive-get taking a
 * file or writing .requested wakes us at once), or sleeps POLL_MS without inotify. */
static void wait_change(int ino)
{
    if (ino < 0) {
        struct timespec ts = {0, POLL_MS * 1000000L};
        nanosleep(&ts, NULL);
        return;
    }
    struct pollfd pfd = {.fd = ino, .events = POLLIN};
    if (poll(&pfd, 1, WATCH_MS) > 0) {
        char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
        while (read(ino, buf, sizeof buf) > 0)
            ;
    }
}

static void main_loop(Prefetch *p)
{
    int ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (ino >= 0 && inotify_add_watch(ino, p->dir, IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE) < 0) {
        close(ino);
        ino = -1;
    }
    int64_t last_activity = now_ms(), last_watch = 0;
    for (;;) {
        wait_change(ino);
        int64_t now = now_ms();
        EndReason end = got_term ? END_SIGNAL : END_NONE;
        if (end == END_NONE && now - last_watch >= WATCH_MS) {
            end = watch(p);
            last_watch = now;
        }
        pthread_mutex_lock(&p->mu);
        if (follow_request(p))
            last_activity = now;
        if (end == END_NONE && now - last_activity > (int64_t)p->st->idle_timeout_s * 1000)
            end = END_IDLE;
        if (end == END_NONE && !p->quit && !rescan(p))
            end = END_OWNER;   /* the spool directory is gone */
        if (end != END_NONE && p->end == END_NONE)
            p->end = end;
        if (p->end != END_NONE)
            p->quit = true;
        bool quit = p->quit;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        if (quit)
            break;
    }
    if (ino >= 0)
        close(ino);
}

static void finish(Prefetch *p)
{
    static const char *const why[] = {"", "idle", "signal", "postmaster gone",
                                      "recovery ended", "spool taken over"};
    log_debug("prefetch: stopping (%s)", why[p->end]);
    if (p->end == END_OWNER)
        return;   /* the spool is someone else's now: leave it alone */
    bool all = p->end == END_RECOVERY;
    if (all) {  /* promoted: nothing will ask for archived WAL again */
        Storage *st = NULL;
        PgpErr e;
        pgp_err_clear(&e);
        if (open_storage(p->st, &st, &e) == 0)
            recovery_lease_end_in(st, p->st->datadir);
        else
            log_warn("cannot remove the recovery lease of \"%s\" (its ttl ends it): %s",
                     p->st->datadir, e.msg);
        storage_free(st);
    }
    spool_wipe(p->dfd, all);
    if (all && p->st->is_default_path)
        rmdir(p->st->path);
}

void prefetch_run(const SpoolSettings *st, const char *name, int lock_fd, int dfd)
{
    (void)lock_fd;   /* held by being open */
    Prefetch p = {.st = st, .dfd = dfd, .stop = UINT64_MAX};
    snprintf(p.dir, sizeof p.dir, "/proc/self/fd/%d", dfd);
    struct stat sb;
    if (!parse_request(name, st->segsize, &p.tli, &p.base))
        return;
    if (stat(p.dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {   /* no /proc: no prefetching */
        log_warn("prefetch: cannot reach the spool directory \"%s\" through \"%s\"",
                 st->path, p.dir);
        return;
    }
    p.next = p.base + 1;
    p.last = pg_wal_segs_per_id(st->segsize) * UINT64_C(0x100000000) - 1;
    if (st->datadir[0] != '\0') {
        p.postmaster = read_postmaster_pid(st->datadir);
        p.watch_signals = in_recovery(st->datadir);
    }
    pthread_mutex_init(&p.mu, NULL);
    pthread_cond_init(&p.cv, NULL);
    /* Work files of a prefetcher that died; we hold the lock, nobody else writes them. */
    spool_wipe_work(dfd);
    pthread_mutex_lock(&p.mu);
    bool ok = rescan(&p);
    pthread_mutex_unlock(&p.mu);

    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);   /* workers get no signals */
    pthread_t tids[SPOOL_MAX_JOBS];
    unsigned n = 0;
    for (; ok && n < st->jobs; n++)
        if (pthread_create(&tids[n], NULL, worker, &p) != 0)
            break;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (n > 0)
        main_loop(&p);
    pthread_mutex_lock(&p.mu);
    p.quit = true;
    if (p.end == END_NONE)
        p.end = END_IDLE;
    pthread_cond_broadcast(&p.cv);
    pthread_mutex_unlock(&p.mu);
    for (unsigned i = 0; i < n; i++)
        pthread_join(tids[i], NULL);
    finish(&p);
    free(p.ready);
    pthread_cond_destroy(&p.cv);
    pthread_mutex_destroy(&p.mu);
}

/* ---- starting it -------------------------------------------------------------------------- */

/* Where the prefetcher's warnings go: the inherited stderr when it is a file opened for
 * appending (pg_ctl -l, a wrapper's 2>>), so they land in the server log; else (a pipe such as
 * `$(...)` or the syslogger's, a terminal) .prefetch.log in the spool, so that nobody waits
 * for the end of a pipe the prefetcher would hold open. */
static int log_fd(int dfd)
{
    struct stat sb;
    int fl = fcntl(2, F_GETFL);
    if (fl >= 0 && (fl & O_APPEND) != 0 && fstat(2, &sb) == 0 && S_ISREG(sb.st_mode))
        return 2;
    return openat(dfd, ".prefetch.log",
                  O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
}

/* In the grandchild: no terminal, no inherited descriptors but the lock (moved to fd 3), the
 * spool directory (fd 4) and the log, "/" as the working directory, a clean stop on SIGTERM.
 * dup2 clears O_CLOEXEC on 3 and 4: harmless, the prefetcher runs nothing. */
static void detach(int lock_fd, int dfd)
{
    /* Both above 4 first, so that moving one into place cannot overwrite the other. */
    int lk = fcntl(lock_fd, F_DUPFD_CLOEXEC, 5), d = fcntl(dfd, F_DUPFD_CLOEXEC, 5);
    if (lk < 0 || d < 0 || dup2(lk, 3) < 0 || dup2(d, 4) < 0)
        _exit(0);
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    int log = log_fd(4);
    if (null < 0)
        _exit(0);
    dup2(null, 0);
    dup2(null, 1);
    if (log != 2)
        dup2(log >= 0 ? log : null, 2);
    close_range(5, ~0U, 0);   /* also the originals: fds 3 and 4 keep them */
    if (chdir("/") != 0)
        _exit(0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGPIPE, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = SIG_DFL;
    sigaction(SIGCHLD, &sa, NULL);
    sigaction(SIGQUIT, &sa, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

void prefetch_ensure(const SpoolSettings *st, const char *name)
{
    PgpErr err;
    pgp_err_clear(&err);
    int dfd = -1;
    if (spool_dir_open(st->path, false, &dfd, &err) != 0) {
        log_warn("prefetch: %s", err.msg);
        return;
    }
    int fd = openat(dfd, ".prefetch.lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        log_warn("prefetch: cannot open \"%s/.prefetch.lock\": %s", st->path, strerror(errno));
        close(dfd);
        return;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {   /* one is running (or cannot tell): done */
        close(fd);
        close(dfd);
        return;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        log_warn("prefetch: cannot fork: %s", strerror(errno));
        close(fd);
        close(dfd);
        return;
    }
    if (pid == 0) {
        setsid();
        if (fork() != 0)
            _exit(0);   /* the lock goes with the grandchild (or with us if fork failed) */
        detach(fd, dfd);
        prefetch_run(st, name, 3, 4);
        _exit(0);
    }
    close(fd);
    close(dfd);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
}
