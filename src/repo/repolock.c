/*
 * repolock.c - repository locks as holder objects in locks/ (see repolock.h): writing this
 * process's object, judging every other holder (live, dead, unreadable), taking over dead
 * ones, waiting, and keeping the heartbeat fresh from a thread; and listing the holders
 * read-only (repo_lock_list, for info) with the same judgement. It never touches anything
 * outside locks/.
 *
 * Why this is safe without any atomic "create if no other lock exists" in the storage:
 * every acquirer first makes its own object visible, and only THEN lists locks/ and reads
 * the others. Of two conflicting acquirers A and B, whichever lists second lists after the
 * other's write (write_A < list_A < list_B, or the mirror), so at least one of them sees the
 * other and backs off; possibly both do, and then both retry. There is deliberately no
 * tie-break (lowest pid, oldest since, ...) that would let one of them ignore a conflicting
 * holder it has seen: a tie-break is exactly what lets two conflicting holders proceed when
 * their views of the directory differ. This needs read-after-write listing, which posix
 * directories have (and S3 has had since 2020).
 */
#include "pgpitr/repo/repolock.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pgpitr/common/grow.h"
#include "pgpitr/common/log.h"
#include "pgpitr/common/proc.h"
#include "pgpitr/common/timefmt.h"
#include "pgpitr/repo/repo.h"

#define HOLDER_MAX_BYTES (64u << 10)
/* A conflicting holder at most this old may be a process acquiring at the same moment. */
#define RACE_FRESH_S 3
/* A holder of another boot of this host must have stopped before this boot began; a heartbeat
 * this much newer than the boot comes from another machine with the same name. */
#define BOOT_SLACK_S 60

struct RepoLock {
    Storage *st;
    RepoLockKind kind;
    char path[REPO_PATH_MAX];
    char command[REPO_LOCK_COMMAND_MAX];
    char host[PROC_HOST_MAX];
    char boot_id[PROC_BOOT_ID_LEN + 1];
    char label[REPO_LOCK_LABEL_MAX + 1];   /* under write_mu once the heartbeat runs */
    pid_t pid;
    uint64_t start;
    int64_t since;
    int heartbeat_ms;
    bool thread_started;
    bool stop;              /* under mu */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* Serializes rewrites of the object (heartbeat, repo_lock_set_label): an older text
     * written after a newer one would drop the label again. */
    pthread_mutex_t write_mu;
};

/* What one holder object says (or that it says nothing readable). */
typedef RepoLockHolder Holder;

typedef struct Names {
    char **v;
    int64_t *mtime;
    size_t n, cap;
} Names;

static atomic_uint lock_counter;

const char *repo_lock_kind_name(RepoLockKind kind)
{
    switch (kind) {
    case REPO_LOCK_BACKUP: return "backup";
    case REPO_LOCK_EXPIRE: return "expire";
    case REPO_LOCK_READ: return "read";
    case REPO_LOCK_KEY: return "key";
    }
    return "unknown";
}

static int kind_parse(const char *s)
{
    for (int k = REPO_LOCK_BACKUP; k <= REPO_LOCK_KEY; k++)
        if (strcmp(s, repo_lock_kind_name((RepoLockKind)k)) == 0)
            return k;
    return -1;
}

/* The matrix of repolock.h; an unknown kind (a newer pgpitr's) conflicts with everything. */
static bool conflicts(RepoLockKind mine, int theirs)
{
    if (theirs < 0 || mine == REPO_LOCK_EXPIRE || theirs == REPO_LOCK_EXPIRE)
        return true;
    return (mine == REPO_LOCK_BACKUP && theirs == REPO_LOCK_BACKUP) ||
           (mine == REPO_LOCK_KEY && theirs == REPO_LOCK_KEY);
}

/* ---- time ------------------------------------------------------------------------------- */

static void iso_time(int64_t t, char out[32])
{
    if (!timefmt_iso(t, 0, out, 32))
        snprintf(out, 32, "%" PRId64, t);
}

static bool iso_parse(const char *s, int64_t *out)
{
    struct tm tm = {0};
    int n = 0;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
               &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6 || n == 0 || s[n] != '\0')
        return false;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t t = timegm(&tm);
    /* Only a time the writer can write back (years 1..9999) is read: a holder that parses
     * but cannot be rewritten would turn unreadable at its first heartbeat. */
    char again[TIMEFMT_MAX];
    if (t == (time_t)-1 || !timefmt_iso((int64_t)t, 0, again, sizeof again))
        return false;
    *out = (int64_t)t;
    return true;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* 100..500 ms, different in every process: two processes retrying in step would otherwise
 * keep seeing each other. */
static int64_t jitter_ms(unsigned *seed)
{
    return 100 + rand_r(seed) % 401;
}

/* ---- this process's holder object -------------------------------------------------------- */

int repo_lock_holder_to_json(const RepoLockHolder *h, char **out, PgpErr *err)
{
    char since[32], beat[32];
    iso_time(h->since, since);
    iso_time(h->heartbeat, beat);
    json_t *j = json_pack("{s:s, s:s, s:I, s:s, s:s, s:I, s:s, s:s}", "kind", h->kind_name,
                          "command", h->command, "pid", (json_int_t)h->pid, "host", h->host,
                          "boot_id", h->boot_id, "proc_start", (json_int_t)h->start, "since",
                          since, "heartbeat", beat);
    /* Optional: pgpitr without labels ignores it, and judging never depends on it. */
    if (j != NULL && h->label[0] != '\0' &&
        json_object_set_new(j, "label", json_string(h->label)) != 0) {
        json_decref(j);
        j = NULL;
    }
    *out = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(j);
    if (*out == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    return 0;
}

static int holder_json(const RepoLock *l, int64_t heartbeat, char **out, PgpErr *err)
{
    Holder h = {.kind = (int)l->kind, .pid = (long)l->pid, .start = l->start,
                .since = l->since, .heartbeat = heartbeat};
    snprintf(h.kind_name, sizeof h.kind_name, "%s", repo_lock_kind_name(l->kind));
    snprintf(h.command, sizeof h.command, "%s", l->command);
    snprintf(h.host, sizeof h.host, "%s", l->host);
    snprintf(h.boot_id, sizeof h.boot_id, "%s", l->boot_id);
    snprintf(h.label, sizeof h.label, "%s", l->label);
    return repo_lock_holder_to_json(&h, out, err);
}

static int write_holder(RepoLock *l, unsigned flags, int64_t heartbeat, PgpErr *err)
{
    char *text = NULL;
    int rc = holder_json(l, heartbeat, &text, err);
    if (rc == 0)
        rc = storage_put_all(l->st, l->path, flags, text, strlen(text), err);
    free(text);
    if (rc != 0)
        pgp_err_context(err, "cannot write the lock object \"%s\"", l->path);
    return rc;
}

static void remove_own(RepoLock *l)
{
    PgpErr e = {0};
    int rc = storage_remove(l->st, l->path, &e);
    if (rc != 0 && rc != PGP_ERR_NOT_FOUND)
        log_warn("cannot remove the lock object \"%s\": %s", l->path, e.msg);
}

static int lock_new(Storage *st, RepoLockKind kind, const RepoLockOptions *o, RepoLock **out,
                    PgpErr *err)
{
    RepoLock *l = calloc(1, sizeof *l);
    if (l == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    l->st = st;
    l->kind = kind;
    l->pid = getpid();
    l->heartbeat_ms = o->heartbeat_ms > 0 ? o->heartbeat_ms : REPO_LOCK_HEARTBEAT_S * 1000;
    snprintf(l->command, sizeof l->command, "%s",
             o->command ? o->command : repo_lock_kind_name(kind));
    int rc = proc_hostname(l->host, err);
    if (rc == 0)
        rc = proc_boot_id(l->boot_id, err);
    if (rc == 0)
        rc = proc_start_time(l->pid, &l->start, NULL, err);
    if (rc != 0) {
        free(l);
        return pgp_err_context(err, "cannot identify this process for a repository lock");
    }
    char host[PROC_HOST_NAME_PART];
    proc_host_name_part(l->host, host);
    snprintf(l->path, sizeof l->path, REPO_LOCK_DIR "/%s-%s-%ld-%" PRIu64 "-%u.json",
             repo_lock_kind_name(kind), host, (long)l->pid, l->start,
             atomic_fetch_add(&lock_counter, 1u));
    pthread_mutex_init(&l->mu, NULL);
    pthread_mutex_init(&l->write_mu, NULL);
    *out = l;
    return 0;
}

static void lock_free(RepoLock *l)
{
    pthread_mutex_destroy(&l->mu);
    pthread_mutex_destroy(&l->write_mu);
    free(l);
}

/* ---- the other holders -------------------------------------------------------------------- */

static int collect_name(void *ud, const char *name, const StorageInfo *info, PgpErr *err)
{
    Names *n = ud;
    size_t len = strlen(name);
    /* Only holder objects: anything else in locks/ (the flock file of pgpitr 0.1) is not ours
     * to judge. */
    if (info->is_dir || len < 6 || strcmp(name + len - 5, ".json") != 0)
        return 0;
    size_t cap_v = n->cap;      /* parallel arrays: n->cap moves once both have grown */
    if (GROW(n->v, n->n, cap_v, 16, "lock names", err) != 0 ||
        GROW(n->mtime, n->n, n->cap, 16, "lock names", err) != 0)
        return PGP_ERR_NOMEM;
    if ((n->v[n->n] = strdup(name)) == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory for lock name \"%s\"", name);
    n->mtime[n->n++] = info->mtime;
    return 0;
}

static void names_free(Names *n)
{
    for (size_t i = 0; i < n->n; i++)
        free(n->v[i]);
    free(n->v);
    free(n->mtime);
}

static bool copy_str(json_t *j, const char *key, char *out, size_t size)
{
    const char *s = json_string_value(json_object_get(j, key));
    if (s == NULL || s[0] == '\0' || strlen(s) >= size)
        return false;
    memcpy(out, s, strlen(s) + 1);
    return true;
}

/* The optional label is only informative: a bad one is ignored, never makes it unreadable. */
void repo_lock_holder_parse(const char *text, size_t len, RepoLockHolder *h)
{
    json_t *j = json_loadb(text, len, 0, NULL);
    char since[32], beat[32];
    json_t *pid = json_object_get(j, "pid"), *start = json_object_get(j, "proc_start");
    h->parsed = j != NULL && json_is_object(j) &&
                copy_str(j, "kind", h->kind_name, sizeof h->kind_name) &&
                copy_str(j, "command", h->command, sizeof h->command) &&
                copy_str(j, "host", h->host, sizeof h->host) &&
                copy_str(j, "boot_id", h->boot_id, sizeof h->boot_id) &&
                copy_str(j, "since", since, sizeof since) &&
                copy_str(j, "heartbeat", beat, sizeof beat) && json_is_integer(pid) &&
                json_integer_value(pid) > 0 && json_integer_value(pid) <= INT32_MAX &&
                json_is_integer(start) && json_integer_value(start) >= 0 &&
                iso_parse(since, &h->since) && iso_parse(beat, &h->heartbeat);
    if (h->parsed) {
        h->kind = kind_parse(h->kind_name);
        h->pid = (long)json_integer_value(pid);
        h->start = (uint64_t)json_integer_value(start);
        if (!copy_str(j, "label", h->label, sizeof h->label))
            h->label[0] = '\0';
    } else {
        h->kind = -1;
        h->kind_name[0] = '\0';
    }
    json_decref(j);
}

/* Reads one holder; *gone when it was removed meanwhile (released or taken over). */
static int holder_read(Storage *st, const char *name, int64_t mtime, Holder *h, bool *gone,
                       PgpErr *err)
{
    memset(h, 0, sizeof *h);
    *gone = false;
    snprintf(h->path, sizeof h->path, REPO_LOCK_DIR "/%s", name);
    h->mtime = mtime;
    char *text = NULL;
    size_t len = 0;
    int rc = storage_get_all(st, h->path, HOLDER_MAX_BYTES, &text, &len, err);
    if (rc == PGP_ERR_NOT_FOUND) {
        *gone = true;
        return 0;
    }
    if (rc == PGP_ERR_CORRUPT) {        /* too big to be ours: unreadable */
        h->kind = -1;
        return 0;
    }
    if (rc != 0)
        return pgp_err_context(err, "cannot read the lock object \"%s\"", h->path);
    repo_lock_holder_parse(text, len, h);
    free(text);
    return 0;
}

/* Dead per repolock.h, seen from host and boot_id (this process's). Same-host liveness is
 * the process itself, never the heartbeat. */
static bool holder_dead(const char *host, const char *boot_id, const Holder *h, int stale_s,
                        int64_t now)
{
    if (!h->parsed)
        return now - h->mtime > stale_s;
    if (strcmp(h->host, host) == 0) {
        if (strcmp(h->boot_id, boot_id) == 0)
            return !proc_alive((pid_t)h->pid, h->start);
        if (h->heartbeat < proc_boot_wall_time() + BOOT_SLACK_S)
            return true;    /* from an earlier boot of this host: nothing of it runs */
        /* Beat after this boot began: another machine with this host name. */
    }
    return now - h->heartbeat > stale_s;
}

static void take_over(const RepoLock *l, const Holder *h, int64_t now)
{
    PgpErr e = {0};
    if (h->parsed) {
        char since[32];
        iso_time(h->since, since);
        if (strcmp(h->host, l->host) == 0 && strcmp(h->boot_id, l->boot_id) == 0)
            log_warn("taking over the lock of %s (pid %ld on host %s, since %s): that process "
                     "is gone", h->command, h->pid, h->host, since);
        else if (strcmp(h->host, l->host) == 0 && h->heartbeat < proc_boot_wall_time())
            log_warn("taking over the lock of %s (pid %ld on host %s, since %s): that process "
                     "is gone (the host rebooted since)", h->command, h->pid, h->host, since);
        else
            log_warn("taking over the lock of %s (pid %ld on host %s, since %s): that process "
                     "is gone (no heartbeat for %" PRId64 " s)", h->command, h->pid, h->host,
                     since, now - h->heartbeat);
    } else {
        log_warn("removing the unreadable lock object \"%s\": unchanged for %" PRId64 " s",
                 h->path, now - h->mtime);
    }
    int rc = storage_remove(l->st, h->path, &e);
    /* NOT_FOUND: another process took it over first, which is just as good. */
    if (rc != 0 && rc != PGP_ERR_NOT_FOUND)
        log_warn("cannot remove the lock object \"%s\": %s", h->path, e.msg);
}

/* Lists locks/ and judges every conflicting holder but l's own object. *blocked (with the
 * first live conflicting holder in *blocker) or not. Dead ones are taken over on the way. */
static int scan(RepoLock *l, int stale_s, Holder *blocker, bool *blocked, PgpErr *err)
{
    Names names = {0};
    *blocked = false;
    const char *own = strrchr(l->path, '/') + 1;
    int rc = storage_list(l->st, REPO_LOCK_DIR, collect_name, &names, err);
    if (rc != 0)
        pgp_err_context(err, "cannot list \"%s\"", REPO_LOCK_DIR);
    for (size_t i = 0; rc == 0 && i < names.n && !*blocked; i++) {
        if (strcmp(names.v[i], own) == 0)
            continue;
        bool gone;
        rc = holder_read(l->st, names.v[i], names.mtime[i], blocker, &gone, err);
        if (rc != 0 || gone || !conflicts(l->kind, blocker->kind))
            continue;
        int64_t now = (int64_t)time(NULL);
        if (holder_dead(l->host, l->boot_id, blocker, stale_s, now))
            take_over(l, blocker, now);
        else
            *blocked = true;
    }
    names_free(&names);
    return rc;
}

static int fail_locked(const RepoLock *l, const Holder *h, int stale_s, PgpErr *err)
{
    const char *mine = repo_lock_kind_name(l->kind);
    if (!h->parsed) {
        PGP_FAIL(err, PGP_ERR_LOCKED, "cannot take the %s lock: repository is locked by the "
                 "unreadable lock object \"%s\"", mine, h->path);
        pgp_err_hint(err, "if no pgpitr process holds it, remove that object; it is removed "
                     "automatically once unchanged for %d s", stale_s);
        return PGP_ERR_LOCKED;
    }
    char since[32];
    iso_time(h->since, since);
    PGP_FAIL(err, PGP_ERR_LOCKED, "cannot take the %s lock: repository is locked by %s (pid %ld "
             "on host %s, since %s)", mine, h->command, h->pid, h->host, since);
    if (strcmp(h->host, l->host) == 0)
        pgp_err_hint(err, "wait for it to finish, or wait for it with --lock-wait SECONDS (or "
                     "lock-wait in the configuration); the lock of a process that is gone is "
                     "taken over automatically");
    else
        pgp_err_hint(err, "wait for it to finish, or wait for it with --lock-wait SECONDS (or "
                     "lock-wait in the configuration); a holder on another host is taken over "
                     "automatically after %d s without a heartbeat", stale_s);
    return PGP_ERR_LOCKED;
}

/* ---- heartbeat ---------------------------------------------------------------------------- */

/* Rewrites the object with a fresh heartbeat, under write_mu. *removed (nothing written) when
 * it is gone: someone removed it (by hand, or another host judged this one dead), and
 * writing it again would hide that two holders now run. */
static int refresh(RepoLock *l, bool *removed, PgpErr *err)
{
    pthread_mutex_lock(&l->write_mu);
    StorageInfo info;
    int rc = storage_stat(l->st, l->path, &info, err);
    *removed = rc == PGP_ERR_NOT_FOUND;
    if (rc == 0)
        rc = write_holder(l, STORAGE_WRITE_REPLACE, (int64_t)time(NULL), err);
    pthread_mutex_unlock(&l->write_mu);
    return *removed ? 0 : rc;
}

static void warn_removed(const RepoLock *l)
{
    log_warn("the lock object \"%s\" was removed while this %s held it: another process may "
             "now run alongside", l->path, l->command);
}

static void *heartbeat_main(void *arg)
{
    RepoLock *l = arg;
    pthread_mutex_lock(&l->mu);
    while (!l->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t ns = ts.tv_nsec + (int64_t)(l->heartbeat_ms % 1000) * 1000000;
        ts.tv_sec += l->heartbeat_ms / 1000 + (time_t)(ns / 1000000000);
        ts.tv_nsec = (long)(ns % 1000000000);
        while (!l->stop && pthread_cond_timedwait(&l->cv, &l->mu, &ts) != ETIMEDOUT)
            ;
        if (l->stop)
            break;
        pthread_mutex_unlock(&l->mu);
        PgpErr e = {0};
        bool removed;
        int rc = refresh(l, &removed, &e);
        if (removed) {
            warn_removed(l);        /* and stop beating */
            pthread_mutex_lock(&l->mu);
            break;
        }
        if (rc != 0)
            log_warn("cannot refresh the heartbeat of \"%s\": %s", l->path, e.msg);
        pthread_mutex_lock(&l->mu);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

static int heartbeat_start(RepoLock *l, PgpErr *err)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int e = pthread_cond_init(&l->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (e != 0)
        return PGP_FAIL_ERRNO(err, PGP_ERR_INTERNAL, e, "cannot create a condition variable");
    e = pthread_create(&l->thread, NULL, heartbeat_main, l);
    if (e != 0) {
        pthread_cond_destroy(&l->cv);
        return PGP_FAIL_ERRNO(err, PGP_ERR_INTERNAL, e, "cannot start the lock heartbeat");
    }
    l->thread_started = true;
    return 0;
}

/* ---- acquire / release ------------------------------------------------------------------ */

int repo_lock_acquire(Storage *s, RepoLockKind kind, const RepoLockOptions *o, RepoLock **out,
                      PgpErr *err)
{
    *out = NULL;
    RepoLock *l = NULL;
    int rc = lock_new(s, kind, o, &l, err);
    if (rc != 0)
        return rc;
    int stale_s = o->stale_s > 0 ? o->stale_s : REPO_LOCK_STALE_DEFAULT;
    int64_t race_ms = o->race_ms == 0 ? REPO_LOCK_RACE_MS : o->race_ms < 0 ? 0 : o->race_ms;
    int64_t t0 = mono_ms(), wait_ms = o->wait_s > 0 ? (int64_t)o->wait_s * 1000 : 0;
    unsigned seed = (unsigned)l->pid ^ (unsigned)t0 ^ (unsigned)(uintptr_t)l;
    bool told = false;
    for (;;) {
        l->since = (int64_t)time(NULL);
        /* Without REPLACE: the name is unique to this process and call. */
        rc = write_holder(l, 0, l->since, err);
        if (rc != 0)
            break;
        Holder h;
        bool blocked = false;
        rc = scan(l, stale_s, &h, &blocked, err);
        if (rc == 0 && !blocked) {
            rc = heartbeat_start(l, err);
            if (rc == 0) {
                *out = l;
                return 0;
            }
        }
        remove_own(l);
        if (rc != 0)
            break;
        int64_t elapsed = mono_ms() - t0;
        bool fresh = h.parsed && (int64_t)time(NULL) - h.since <= RACE_FRESH_S;
        if (elapsed >= wait_ms && !(fresh && elapsed < race_ms)) {
            rc = fail_locked(l, &h, stale_s, err);
            break;
        }
        if (!told && elapsed < wait_ms) {
            if (h.parsed)
                log_info("waiting up to %d s for the lock held by %s (pid %ld on host %s)",
                         o->wait_s, h.command, h.pid, h.host);
            else
                log_info("waiting up to %d s for the unreadable lock object \"%s\"", o->wait_s,
                         h.path);
            told = true;
        }
        sleep_ms(jitter_ms(&seed));
    }
    lock_free(l);
    return rc;
}

void repo_lock_release(RepoLock *l)
{
    if (l == NULL)
        return;
    if (l->thread_started) {
        pthread_mutex_lock(&l->mu);
        l->stop = true;
        pthread_cond_signal(&l->cv);
        pthread_mutex_unlock(&l->mu);
        pthread_join(l->thread, NULL);
        pthread_cond_destroy(&l->cv);
    }
    remove_own(l);
    lock_free(l);
}

int repo_lock_set_label(RepoLock *l, const char *label, PgpErr *err)
{
    if (strlen(label) > REPO_LOCK_LABEL_MAX)
        return PGP_FAIL(err, PGP_ERR_INTERNAL, "lock label \"%s\" is too long", label);
    pthread_mutex_lock(&l->write_mu);
    snprintf(l->label, sizeof l->label, "%s", label);
    pthread_mutex_unlock(&l->write_mu);
    bool removed;
    int rc = refresh(l, &removed, err);
    if (removed)
        warn_removed(l);
    return rc;
}

int repo_lock_confirm(RepoLock *l, PgpErr *err)
{
    bool removed;
    int rc = refresh(l, &removed, err);
    if (rc != 0)
        return pgp_err_context(err, "cannot confirm the %s lock \"%s\"",
                               repo_lock_kind_name(l->kind), l->path);
    if (!removed)
        return 0;
    PGP_FAIL(err, PGP_ERR_LOCKED, "the %s lock was taken away while this %s ran: its object "
             "\"%s\" is gone (another host judged this process dead after a stall without "
             "heartbeat, or it was removed by hand)", repo_lock_kind_name(l->kind), l->command,
             l->path);
    pgp_err_hint(err, "what the process that took over did (an expire removes the objects of "
                 "an unfinished backup) may have undone this work: run it again");
    return PGP_ERR_LOCKED;
}

/* ---- listing (read-only) ------------------------------------------------------------------ */

static int holder_cmp(const void *a, const void *b)
{
    const Holder *x = a, *y = b;
    if (x->since != y->since)
        return x->since < y->since ? -1 : 1;
    return strcmp(x->path, y->path);
}

int repo_lock_list(Storage *s, int stale_s, RepoLockHolder **out, size_t *n, PgpErr *err)
{
    *out = NULL;
    *n = 0;
    char host[PROC_HOST_MAX], boot_id[PROC_BOOT_ID_LEN + 1];
    Names names = {0};
    Holder *v = NULL;
    size_t k = 0;
    stale_s = stale_s > 0 ? stale_s : REPO_LOCK_STALE_DEFAULT;
    int rc = proc_hostname(host, err);
    if (rc == 0)
        rc = proc_boot_id(boot_id, err);
    if (rc != 0) {
        pgp_err_context(err, "cannot identify this host to judge the repository locks");
        goto out;
    }
    rc = storage_list(s, REPO_LOCK_DIR, collect_name, &names, err);   /* none: empty */
    if (rc != 0)
        pgp_err_context(err, "cannot list \"%s\"", REPO_LOCK_DIR);
    if (rc == 0 && names.n > 0 && (v = calloc(names.n, sizeof *v)) == NULL)
        rc = PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < names.n; i++) {
        bool gone;
        rc = holder_read(s, names.v[i], names.mtime[i], &v[k], &gone, err);
        if (rc != 0 || gone)
            continue;
        v[k].alive = !holder_dead(host, boot_id, &v[k], stale_s, (int64_t)time(NULL));
        k++;
    }
    if (rc == 0 && k > 0) {
        qsort(v, k, sizeof *v, holder_cmp);
        *out = v;
        *n = k;
        v = NULL;
    }
out:
    free(v);
    names_free(&names);
    return rc;
}
