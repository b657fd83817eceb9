/*
 * test_repolock.c - repository locks (src/repo/repolock.c) on a posix storage in a temp dir:
 * the conflict matrix, release, takeover of dead holders (exited pid, reused pid, earlier
 * boot, silent other host, old unreadable object), what blocks, waiting, the heartbeat, two
 * threads racing for one lock, and the read-only listing (repo_lock_list) with labels. Holder objects of other processes are written by hand.
 */
#include "pgpitr/repo/repolock.h"

#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pgpitr/cmd/cmd.h"
#include "pgpitr/common/proc.h"

static char tdir[128];
static char root[200];
static Storage *st;
static char host[PROC_HOST_MAX];
static char boot_id[PROC_BOOT_ID_LEN + 1];

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static void setup(void)
{
    snprintf(tdir, sizeof tdir, "/tmp/pgpitr_test_repolock.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tdir));
    snprintf(root, sizeof root, "%s/repo", tdir);
    PgpErr err = {0};
    ck_assert_int_eq(storage_posix_new(root, true, &st, &err), 0);
    ck_assert_int_eq(proc_hostname(host, &err), 0);
    ck_assert_int_eq(proc_boot_id(boot_id, &err), 0);
}

static void teardown(void)
{
    storage_free(st);
    st = NULL;
    nftw(tdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- helpers ------------------------------------------------------------------------------ */

/* Number of .json objects in locks/. */
static int n_holders(void)
{
    char p[300];
    snprintf(p, sizeof p, "%s/locks", root);
    DIR *d = opendir(p);
    if (d == NULL)
        return 0;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        n += strstr(de->d_name, ".json") != NULL && de->d_name[0] != '.';
    closedir(d);
    return n;
}

/* Acquire without the race retry (tests of a single attempt) unless race_ms given. */
static int take(RepoLockKind kind, const char *cmd, int wait_s, int race_ms, RepoLock **l,
                PgpErr *err)
{
    RepoLockOptions o = {.command = cmd, .wait_s = wait_s, .race_ms = race_ms};
    pgp_err_clear(err);
    return repo_lock_acquire(st, kind, &o, l, err);
}

static void iso(int64_t t, char out[32])
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

typedef struct Fake {
    const char *kind, *command, *host, *boot_id;
    long pid;
    uint64_t start;
    int64_t since, heartbeat;
} Fake;

/* A holder object of another process, as pgpitr writes them. */
static void put_fake(const char *name, const Fake *f)
{
    char since[32], beat[32], path[256];
    iso(f->since, since);
    iso(f->heartbeat, beat);
    json_t *j = json_pack("{s:s, s:s, s:I, s:s, s:s, s:I, s:s, s:s}", "kind", f->kind, "command",
                          f->command, "pid", (json_int_t)f->pid, "host", f->host, "boot_id",
                          f->boot_id, "proc_start", (json_int_t)f->start, "since", since,
                          "heartbeat", beat);
    char *text = json_dumps(j, 0);
    json_decref(j);
    snprintf(path, sizeof path, "locks/%s", name);
    PgpErr err = {0};
    ck_assert_int_eq(storage_put_all(st, path, 0, text, strlen(text), &err), 0);
    free(text);
}

static bool fake_exists(const char *name)
{
    char p[400];
    struct stat sb;
    snprintf(p, sizeof p, "%s/locks/%s", root, name);
    return stat(p, &sb) == 0;
}

static uint64_t my_start(void)
{
    uint64_t s = 0;
    PgpErr err = {0};
    ck_assert_int_eq(proc_start_time(getpid(), &s, NULL, &err), 0);
    return s;
}

/* stderr into a file, to check the takeover warning; returns the fd to restore. */
static int capture_stderr(const char *file)
{
    fflush(stderr);
    int saved = dup(2);
    int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    dup2(fd, 2);
    close(fd);
    return saved;
}

static char *end_capture(int saved, const char *file)
{
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    static char buf[4096];
    FILE *f = fopen(file, "r");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* ---- tests -------------------------------------------------------------------------------- */

START_TEST(conflict_matrix)
{
    static const RepoLockKind kinds[] = {REPO_LOCK_BACKUP, REPO_LOCK_EXPIRE, REPO_LOCK_READ,
                                         REPO_LOCK_KEY};
    /* conflict[held][wanted] */
    static const bool conflict[4][4] = {
        {true, true, false, false},    /* BACKUP held: backup, expire wait; readers run */
        {true, true, true, true},      /* EXPIRE excludes everything */
        {false, true, false, false},   /* READ held: only expire waits */
        {false, true, false, true},    /* KEY held: another rotation and expire wait */
    };
    char pid[32];
    snprintf(pid, sizeof pid, "pid %ld", (long)getpid());
    for (int a = 0; a < 4; a++) {
        for (int b = 0; b < 4; b++) {
            PgpErr err;
            RepoLock *first = NULL, *second = NULL;
            ck_assert_int_eq(take(kinds[a], "first-cmd", 0, -1, &first, &err), 0);
            int rc = take(kinds[b], "second", 0, -1, &second, &err);
            if (conflict[a][b]) {
                ck_assert_msg(rc == PGP_ERR_LOCKED, "%s then %s: rc %d",
                              repo_lock_kind_name(kinds[a]), repo_lock_kind_name(kinds[b]), rc);
                ck_assert_ptr_null(second);
                ck_assert_ptr_nonnull(strstr(err.msg, "locked by first-cmd"));
                ck_assert_ptr_nonnull(strstr(err.msg, pid));
                ck_assert_ptr_nonnull(strstr(err.msg, host));
                ck_assert_ptr_nonnull(strstr(err.hint, "--lock-wait"));
                ck_assert_int_eq(n_holders(), 1);   /* the refused one removed its object */
            } else {
                ck_assert_msg(rc == 0, "%s then %s: %s", repo_lock_kind_name(kinds[a]),
                              repo_lock_kind_name(kinds[b]), err.msg);
                ck_assert_int_eq(n_holders(), 2);
            }
            repo_lock_release(second);
            repo_lock_release(first);
            ck_assert_int_eq(n_holders(), 0);
        }
    }
    repo_lock_release(NULL);
}
END_TEST

START_TEST(release_lets_the_next_in)
{
    PgpErr err;
    RepoLock *a = NULL, *b = NULL;
    ck_assert_int_eq(take(REPO_LOCK_BACKUP, "backup", 0, -1, &a, &err), 0);
    ck_assert_int_eq(take(REPO_LOCK_BACKUP, "backup", 0, -1, &b, &err), PGP_ERR_LOCKED);
    repo_lock_release(a);
    ck_assert_int_eq(n_holders(), 0);
    ck_assert_int_eq(take(REPO_LOCK_BACKUP, "backup", 0, -1, &b, &err), 0);
    /* the holder object says who holds it */
    char p[300];
    snprintf(p, sizeof p, "%s/locks", root);
    DIR *d = opendir(p);
    struct dirent *de;
    char name[300] = "";
    while ((de = readdir(d)) != NULL)
        if (strstr(de->d_name, ".json") != NULL)
            snprintf(name, sizeof name, "locks/%s", de->d_name);
    closedir(d);
    ck_assert_ptr_nonnull(strstr(name, "locks/backup-"));
    char *text = NULL;
    size_t len = 0;
    ck_assert_int_eq(storage_get_all(st, name, 65536, &text, &len, &err), 0);
    json_t *j = json_loadb(text, len, 0, NULL);
    ck_assert_ptr_nonnull(j);
    ck_assert_str_eq(json_string_value(json_object_get(j, "kind")), "backup");
    ck_assert_str_eq(json_string_value(json_object_get(j, "host")), host);
    ck_assert_str_eq(json_string_value(json_object_get(j, "boot_id")), boot_id);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "pid")), getpid());
    ck_assert_uint_eq((uint64_t)json_integer_value(json_object_get(j, "proc_start")), my_start());
    ck_assert_uint_eq(strlen(json_string_value(json_object_get(j, "since"))), 20);
    json_decref(j);
    free(text);
    repo_lock_release(b);
    ck_assert_int_eq(n_holders(), 0);
}
END_TEST

START_TEST(dead_child_is_taken_over)
{
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(p[1]);
        char c;
        while (read(p[0], &c, 1) > 0)
            ;
        _exit(0);
    }
    close(p[0]);
    uint64_t start = 0;
    PgpErr err = {0};
    ck_assert_int_eq(proc_start_time(pid, &start, NULL, &err), 0);
    int64_t now = (int64_t)time(NULL);
    Fake f = {"expire", "expire", host, boot_id, (long)pid, start, now - 100, now};
    put_fake("expire-child.json", &f);
    RepoLock *l = NULL;
    /* alive: it blocks */
    ck_assert_int_eq(take(REPO_LOCK_READ, "restore", 0, -1, &l, &err), PGP_ERR_LOCKED);
    ck_assert_ptr_nonnull(strstr(err.msg, "locked by expire"));
    close(p[1]);
    ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
    char log[300];
    snprintf(log, sizeof log, "%s/stderr", tdir);
    int saved = capture_stderr(log);
    int rc = take(REPO_LOCK_READ, "restore", 0, -1, &l, &err);
    const char *out = end_capture(saved, log);
    ck_assert_msg(rc == 0, "%s", err.msg);
    ck_assert(!fake_exists("expire-child.json"));
    char want[512];
    snprintf(want, sizeof want, "taking over the lock of expire (pid %ld on host %s", (long)pid,
             host);
    ck_assert_msg(strstr(out, want) != NULL, "no \"%s\" in \"%s\"", want, out);
    ck_assert_ptr_nonnull(strstr(out, "that process is gone"));
    repo_lock_release(l);
}
END_TEST

START_TEST(live_pid_with_other_start_is_dead)
{
    int64_t now = (int64_t)time(NULL);
    Fake f = {"backup", "backup", host, boot_id, (long)getpid(), my_start() + 1, now, now};
    put_fake("reused.json", &f);
    PgpErr err;
    RepoLock *l = NULL;
    ck_assert_int_eq(take(REPO_LOCK_BACKUP, "backup", 0, -1, &l, &err), 0);
    ck_assert(!fake_exists("reused.json"));
    repo_lock_release(l);
}
END_TEST

START_TEST(other_boot_id)
{
    const char *other_boot = "00000000-1111-2222-3333-444444444444";
    int64_t booted = proc_boot_wall_time();
    /* heartbeat from before this boot: an earlier boot of this host, dead */
    Fake f = {"backup", "backup", host, other_boot, (long)getpid(), my_start(), booted - 7200,
              booted - 3600};
    put_fake("rebooted.json", &f);
    PgpErr err;
    RepoLock *l = NULL;
    ck_assert_int_eq(take(REPO_LOCK_BACKUP, "backup", 0, -1, &l, &err), 0);
    ck_assert(!fake_exists("rebooted.json"));
    repo_lock_release(l);
    /* a fresh heartbeat under another boot id: another machine with this host name, alive */
    int64_t now = (int64_t)time(NULL);
    Fake g = {"backup", "backup", host, other_boot, 1, 1, now - 10, now};
    put_fake("twin.json", &g);
    ck_assert_int_eq(take(REPO_LOCK_BACKUP, "backup", 0, -1, &l, &err), PGP_ERR_LOCKED);
    ck_assert(fake_exists("twin.json"));
}
END_TEST

START_TEST(other_host_by_heartbeat)
{
    int64_t now = (int64_t)time(NULL);
    /* pid 1 exists here, but it is not the holder: only the heartbeat counts on another host */
    Fake f = {"backup", "backup", "db-other.example", "abc", 999999, 5, now - 3600, now - 5};
    put_fake("backup-db-other.json", &f);
    PgpErr err;
    RepoLock *l = NULL;
    ck_assert_int_eq(take(REPO_LOCK_EXPIRE, "expire", 0, -1, &l, &err), PGP_ERR_LOCKED);
    ck_assert_ptr_nonnull(strstr(err.msg, "on host db-other.example"));
    ck_assert_ptr_nonnull(strstr(err.msg, "pid 999999"));
    ck_assert_ptr_nonnull(strstr(err.hint, "heartbeat"));
    f.heartbeat = now - REPO_LOCK_STALE_DEFAULT - 60;
    put_fake("backup-db-other2.json", &f);
    ck_assert_int_eq(take(REPO_LOCK_EXPIRE, "expire", 0, -1, &l, &err), PGP_ERR_LOCKED);
    PgpErr e2;
    ck_assert_int_eq(storage_remove(st, "locks/backup-db-other.json", &e2), 0);
    ck_assert_int_eq(take(REPO_LOCK_EXPIRE, "expire", 0, -1, &l, &err), 0);
    ck_assert(!fake_exists("backup-db-other2.json"));
    repo_lock_release(l);
    /* a shorter stale time makes a 5 s old heartbeat... still alive at 10 s, dead at 2 s */
    f.heartbeat = now - 5;
    put_fake("backup-db-other3.json", &f);
    RepoLockOptions o = {.command = "expire", .stale_s = 2, .race_ms = -1};
    ck_assert_int_eq(repo_lock_acquire(st, REPO_LOCK_EXPIRE, &o, &l, &err), 0);
    ck_assert(!fake_exists("backup-db-other3.json"));
    repo_lock_release(l);
}
END_TEST

START_TEST(unreadable_object_blocks_until_old)
{
    PgpErr err;
    const char *junk = "{\"kind\": \"backup\", truncated";
    ck_assert_int_eq(storage_put_all(st, "locks/junk.json", 0, junk, strlen(junk), &err), 0);
    RepoLock *l = NULL;
    /* even a reader: an unreadable holder could be an expire */
    ck_assert_int_eq(take(REPO_LOCK_READ, "drill", 0, -1, &l, &err), PGP_ERR_LOCKED);
    ck_assert_ptr_nonnull(strstr(err.msg, "\"locks/junk.json\""));
    ck_assert_ptr_nonnull(strstr(err.hint, "remove"));
    /* files that are not holder objects are not judged at all */
    ck_assert_int_eq(storage_put_all(st, "locks/backup.lock", 0, "x", 1, &err), 0);
    char p[300];
    snprintf(p, sizeof p, "%s/locks/junk.json", root);
    struct timespec old[2] = {{time(NULL) - REPO_LOCK_STALE_DEFAULT - 10, 0},
                              {time(NULL) - REPO_LOCK_STALE_DEFAULT - 10, 0}};
    ck_assert_int_eq(utimensat(AT_FDCWD, p, old, 0), 0);
    ck_assert_int_eq(take(REPO_LOCK_READ, "drill", 0, -1, &l, &err), 0);
    ck_assert(!fake_exists("junk.json"));
    ck_assert(fake_exists("backup.lock"));
    repo_lock_release(l);
}
END_TEST

typedef struct Releaser {
    RepoLock *held;
    int delay_ms;
    atomic_bool released;
} Releaser;

static void *release_later(void *arg)
{
    Releaser *r = arg;
    usleep((useconds_t)r->delay_ms * 1000);
    atomic_store(&r->released, true);
    repo_lock_release(r->held);
    return NULL;
}

START_TEST(wait_for_a_release)
{
    PgpErr err;
    Releaser r = {.delay_ms = 800};
    atomic_init(&r.released, false);
    ck_assert_int_eq(take(REPO_LOCK_EXPIRE, "expire", 0, -1, &r.held, &err), 0);
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, release_later, &r), 0);
    RepoLock *l = NULL;
    int rc = take(REPO_LOCK_BACKUP, "backup", 20, -1, &l, &err);
    ck_assert_msg(rc == 0, "%s", err.msg);
    ck_assert(atomic_load(&r.released));
    pthread_join(t, NULL);
    repo_lock_release(l);
    ck_assert_int_eq(n_holders(), 0);
}
END_TEST

START_TEST(fresh_holder_is_retried_even_without_wait)
{
    PgpErr err;
    Releaser r = {.delay_ms = 300};
    atomic_init(&r.released, false);
    ck_assert_int_eq(take(REPO_LOCK_BACKUP, "backup", 0, -1, &r.held, &err), 0);
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, release_later, &r), 0);
    RepoLock *l = NULL;
    /* wait 0, default race retry: the holder is seconds old, so it is retried */
    int rc = take(REPO_LOCK_BACKUP, "backup", 0, 0, &l, &err);
    ck_assert_msg(rc == 0, "%s", err.msg);
    ck_assert(atomic_load(&r.released));
    pthread_join(t, NULL);
    repo_lock_release(l);
    /* an old holder is not retried: refused at once even with the race retry on */
    int64_t now = (int64_t)time(NULL);
    Fake f = {"backup", "backup", host, boot_id, (long)getpid(), my_start(), now - 600, now};
    put_fake("old.json", &f);
    ck_assert_int_eq(take(REPO_LOCK_BACKUP, "backup", 0, 0, &l, &err), PGP_ERR_LOCKED);
}
END_TEST

static int64_t read_heartbeat(const char *path)
{
    char *text = NULL;
    size_t len = 0;
    PgpErr err;
    ck_assert_int_eq(storage_get_all(st, path, 65536, &text, &len, &err), 0);
    json_t *j = json_loadb(text, len, 0, NULL);
    free(text);
    struct tm tm = {0};
    const char *s = json_string_value(json_object_get(j, "heartbeat"));
    ck_assert_ptr_nonnull(s);
    ck_assert_ptr_nonnull(strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm));
    json_decref(j);
    return (int64_t)timegm(&tm);
}

START_TEST(heartbeat_advances)
{
    PgpErr err;
    RepoLock *l = NULL;
    RepoLockOptions o = {.command = "backup", .heartbeat_ms = 100};
    ck_assert_int_eq(repo_lock_acquire(st, REPO_LOCK_BACKUP, &o, &l, &err), 0);
    char path[300];
    snprintf(path, sizeof path, "locks/backup-");
    DIR *d;
    char dir[300];
    snprintf(dir, sizeof dir, "%s/locks", root);
    d = opendir(dir);
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (strncmp(de->d_name, "backup-", 7) == 0)
            snprintf(path, sizeof path, "locks/%s", de->d_name);
    closedir(d);
    int64_t first = read_heartbeat(path), last = first;
    /* seconds resolution: it must change within a few seconds of 100 ms beats */
    for (int i = 0; i < 100 && last == first; i++) {
        usleep(50000);
        last = read_heartbeat(path);
    }
    ck_assert_int_gt(last, first);
    /* removed behind its back: the heartbeat does not bring it back */
    ck_assert_int_eq(storage_remove(st, path, &err), 0);
    usleep(400000);
    ck_assert_int_eq(n_holders(), 0);
    repo_lock_release(l);
}
END_TEST

START_TEST(confirm_fails_once_the_object_is_gone)
{
    PgpErr err = {0};
    RepoLock *l = NULL;
    RepoLockOptions o = {.command = "backup", .heartbeat_ms = 60000};
    ck_assert_int_eq(repo_lock_acquire(st, REPO_LOCK_BACKUP, &o, &l, &err), 0);
    ck_assert_int_eq(n_holders(), 1);
    ck_assert_int_eq(repo_lock_confirm(l, &err), 0);
    ck_assert_int_eq(n_holders(), 1);
    char dir[300], path[300] = "";
    snprintf(dir, sizeof dir, "%s/locks", root);
    DIR *d = opendir(dir);
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (strncmp(de->d_name, "backup-", 7) == 0)
            snprintf(path, sizeof path, "locks/%s", de->d_name);
    closedir(d);
    ck_assert_int_eq(storage_remove(st, path, &err), 0);
    /* another host took it over: confirm says so, and does not write it back */
    ck_assert_int_eq(repo_lock_confirm(l, &err), PGP_ERR_LOCKED);
    ck_assert_msg(strstr(err.msg, "was taken away while this backup ran") != NULL, "%s", err.msg);
    ck_assert_msg(strstr(err.msg, path) != NULL, "%s", err.msg);
    ck_assert_int_eq(n_holders(), 0);
    repo_lock_release(l);
}
END_TEST

typedef struct Racer {
    atomic_int *inside;
    atomic_int *max_inside;
    int rounds;
    int failures;
} Racer;

static void *race(void *arg)
{
    Racer *r = arg;
    for (int i = 0; i < r->rounds; i++) {
        RepoLockOptions o = {.command = "backup", .wait_s = 30};
        RepoLock *l = NULL;
        PgpErr err;
        if (repo_lock_acquire(st, REPO_LOCK_BACKUP, &o, &l, &err) != 0) {
            r->failures++;
            continue;
        }
        int n = atomic_fetch_add(r->inside, 1) + 1;
        int m = atomic_load(r->max_inside);
        while (n > m && !atomic_compare_exchange_weak(r->max_inside, &m, n))
            ;
        usleep(2000);
        atomic_fetch_sub(r->inside, 1);
        repo_lock_release(l);
    }
    return NULL;
}

START_TEST(two_racers_never_hold_together)
{
    atomic_int inside, max_inside;
    atomic_init(&inside, 0);
    atomic_init(&max_inside, 0);
    Racer r[3];
    pthread_t t[3];
    for (int i = 0; i < 3; i++) {
        r[i] = (Racer){&inside, &max_inside, 6, 0};
        ck_assert_int_eq(pthread_create(&t[i], NULL, race, &r[i]), 0);
    }
    for (int i = 0; i < 3; i++) {
        pthread_join(t[i], NULL);
        ck_assert_int_eq(r[i].failures, 0);
    }
    ck_assert_int_eq(atomic_load(&max_inside), 1);
    ck_assert_int_eq(n_holders(), 0);
}
END_TEST

static void *remove_later(void *arg)
{
    usleep(500000);
    PgpErr err;
    storage_remove(st, arg, &err);
    return NULL;
}

/* cmd_lock_repo: --lock-wait > PGPITR_LOCK_WAIT > config, default 0. The holder is minutes
 * old (no race retry) and alive (this process), removed by a thread after 0.5 s. */
START_TEST(cmd_lock_wait_precedence)
{
    CmdSettings s = {0};
    PgpErr err;
    RepoLock *l = NULL;
    int64_t now = (int64_t)time(NULL);
    Fake f = {"expire", "expire", host, boot_id, (long)getpid(), my_start(), now - 600, now};
    put_fake("expire-old.json", &f);
    unsetenv("PGPITR_LOCK_WAIT");
    ck_assert_int_eq(cmd_lock_repo(&s, st, REPO_LOCK_READ, "verify", NULL, &l, &err),
                     PGP_ERR_LOCKED);
    setenv("PGPITR_LOCK_WAIT", "abc", 1);
    ck_assert_int_eq(cmd_lock_repo(&s, st, REPO_LOCK_READ, "verify", NULL, &l, &err),
                     PGP_ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(err.msg, "lock-wait"));
    setenv("PGPITR_LOCK_WAIT", "20", 1);
    /* the flag wins over the environment */
    ck_assert_int_eq(cmd_lock_repo(&s, st, REPO_LOCK_READ, "verify", "0", &l, &err),
                     PGP_ERR_LOCKED);
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, remove_later, "locks/expire-old.json"), 0);
    int rc = cmd_lock_repo(&s, st, REPO_LOCK_READ, "verify", NULL, &l, &err);
    ck_assert_msg(rc == 0, "%s", err.msg);
    ck_assert(!fake_exists("expire-old.json"));
    pthread_join(t, NULL);
    repo_lock_release(l);
    unsetenv("PGPITR_LOCK_WAIT");
}
END_TEST

/* ---- repo_lock_list ----------------------------------------------------------------------- */

/* mtime (ns) and size of locks/<name>, to prove the listing changed nothing. */
static void stat_fake(const char *name, struct stat *sb)
{
    char p[400];
    snprintf(p, sizeof p, "%s/locks/%s", root, name);
    ck_assert_int_eq(stat(p, sb), 0);
}

static const RepoLockHolder *find_holder(const RepoLockHolder *v, size_t n, const char *name)
{
    char path[300];
    snprintf(path, sizeof path, "locks/%s", name);
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].path, path) == 0)
            return &v[i];
    ck_abort_msg("no holder %s in the listing", path);
    return NULL;
}

START_TEST(list_judges_and_touches_nothing)
{
    PgpErr err = {0};
    RepoLockHolder *v = NULL;
    size_t n = 99;
    /* no locks/ at all: empty, and still nothing created */
    ck_assert_int_eq(repo_lock_list(st, 0, &v, &n, &err), 0);
    ck_assert_ptr_null(v);
    ck_assert_uint_eq(n, 0);
    /* a live holder of this very process, with a label (first: the others would block it) */
    RepoLock *l = NULL;
    ck_assert_int_eq(take(REPO_LOCK_READ, "verify", 0, -1, &l, &err), 0);
    ck_assert_int_eq(repo_lock_set_label(l, "base9", &err), 0);
    int64_t now = (int64_t)time(NULL);
    Fake dead = {"backup", "backup", host, boot_id, (long)getpid(), my_start() + 1, now - 50, now};
    Fake far = {"expire", "expire", "db-other.example", "abc", 4242, 5, now - 40, now - 5};
    Fake silent = {"read", "drill", "db-other.example", "abc", 4343, 5, now - 30,
                   now - REPO_LOCK_STALE_DEFAULT - 60};
    Fake newer = {"snapshot", "snapshot", "db-other.example", "abc", 4444, 5, now - 20, now};
    put_fake("dead.json", &dead);
    put_fake("far.json", &far);
    put_fake("silent.json", &silent);
    put_fake("newer.json", &newer);
    const char *junk = "{\"kind\": \"backup\", truncated";
    ck_assert_int_eq(storage_put_all(st, "locks/junk-new.json", 0, junk, strlen(junk), &err), 0);
    ck_assert_int_eq(storage_put_all(st, "locks/junk-old.json", 0, junk, strlen(junk), &err), 0);
    ck_assert_int_eq(storage_put_all(st, "locks/backup.lock", 0, "x", 1, &err), 0);
    char p[300];
    snprintf(p, sizeof p, "%s/locks/junk-old.json", root);
    struct timespec old[2] = {{now - REPO_LOCK_STALE_DEFAULT - 10, 0},
                              {now - REPO_LOCK_STALE_DEFAULT - 10, 0}};
    ck_assert_int_eq(utimensat(AT_FDCWD, p, old, 0), 0);
    const char *names[] = {"dead.json", "far.json", "silent.json", "newer.json", "junk-new.json",
                           "junk-old.json"};
    struct stat before[6], after;
    for (size_t i = 0; i < 6; i++)
        stat_fake(names[i], &before[i]);

    ck_assert_int_eq(repo_lock_list(st, 0, &v, &n, &err), 0);
    ck_assert_uint_eq(n, 7);                    /* backup.lock is not a holder object */
    for (size_t i = 0; i + 1 < n; i++)          /* ascending by since */
        ck_assert_int_le(v[i].since, v[i + 1].since);
    const RepoLockHolder *h = find_holder(v, n, "dead.json");
    ck_assert(h->parsed && !h->alive);          /* pid reused: acquisition would take it over */
    ck_assert_int_eq(h->kind, REPO_LOCK_BACKUP);
    h = find_holder(v, n, "far.json");
    ck_assert(h->parsed && h->alive);
    ck_assert_int_eq(h->pid, 4242);
    ck_assert_str_eq(h->host, "db-other.example");
    ck_assert_str_eq(h->command, "expire");
    ck_assert_int_eq(h->since, now - 40);
    ck_assert_int_eq(h->heartbeat, now - 5);
    ck_assert_str_eq(h->label, "");
    ck_assert(!find_holder(v, n, "silent.json")->alive);   /* heartbeat too old */
    h = find_holder(v, n, "newer.json");
    ck_assert(h->parsed && h->alive);
    ck_assert_int_eq(h->kind, -1);
    ck_assert_str_eq(h->kind_name, "snapshot");
    h = find_holder(v, n, "junk-new.json");
    ck_assert(!h->parsed && h->alive);          /* unreadable blocks until unchanged long */
    ck_assert_int_eq(h->kind, -1);
    h = find_holder(v, n, "junk-old.json");
    ck_assert(!h->parsed && !h->alive);
    bool mine = false;
    for (size_t i = 0; i < n; i++)
        if (strncmp(v[i].path, "locks/read-", 11) == 0) {
            mine = true;
            ck_assert(v[i].parsed && v[i].alive);
            ck_assert_int_eq(v[i].pid, (long)getpid());
            ck_assert_int_eq(v[i].kind, REPO_LOCK_READ);
            ck_assert_str_eq(v[i].command, "verify");
            ck_assert_str_eq(v[i].label, "base9");
        }
    ck_assert(mine);
    free(v);
    /* read-only: every object is still there, unchanged */
    for (size_t i = 0; i < 6; i++) {
        stat_fake(names[i], &after);
        ck_assert_msg(after.st_mtim.tv_sec == before[i].st_mtim.tv_sec &&
                      after.st_mtim.tv_nsec == before[i].st_mtim.tv_nsec &&
                      after.st_size == before[i].st_size, "%s was changed", names[i]);
    }
    ck_assert(fake_exists("backup.lock"));
    ck_assert_int_eq(n_holders(), 7);
    repo_lock_release(l);
}
END_TEST

/* The label survives the heartbeat's rewrites, and a bad optional label never makes a
 * holder unreadable. */
START_TEST(label_kept_by_heartbeat)
{
    PgpErr err = {0};
    RepoLock *l = NULL;
    RepoLockOptions o = {.command = "backup", .heartbeat_ms = 100, .race_ms = -1};
    ck_assert_int_eq(repo_lock_acquire(st, REPO_LOCK_BACKUP, &o, &l, &err), 0);
    char label[REPO_LOCK_LABEL_MAX + 2];
    memset(label, 'x', sizeof label - 1);
    label[sizeof label - 1] = '\0';
    ck_assert_int_ne(repo_lock_set_label(l, label, &err), 0);
    ck_assert_int_eq(repo_lock_set_label(l, "20261122T020000Z", &err), 0);
    RepoLockHolder *v = NULL;
    size_t n = 0;
    ck_assert_int_eq(repo_lock_list(st, 0, &v, &n, &err), 0);
    ck_assert_uint_eq(n, 1);
    char path[REPO_PATH_MAX];
    snprintf(path, sizeof path, "%s", v[0].path);
    free(v);
    int64_t first = read_heartbeat(path), last = first;
    for (int i = 0; i < 100 && last == first; i++) {
        usleep(50000);
        last = read_heartbeat(path);
    }
    ck_assert_int_gt(last, first);
    ck_assert_int_eq(repo_lock_list(st, 0, &v, &n, &err), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(v[0].label, "20261122T020000Z");
    ck_assert(v[0].alive);
    free(v);
    repo_lock_release(l);
    int64_t now = (int64_t)time(NULL);
    char since[32];
    iso(now, since);
    char text[512];
    snprintf(text, sizeof text, "{\"kind\": \"backup\", \"command\": \"backup\", \"pid\": 7, "
             "\"host\": \"h2\", \"boot_id\": \"b\", \"proc_start\": 1, \"since\": \"%s\", "
             "\"heartbeat\": \"%s\", \"label\": 42}", since, since);
    ck_assert_int_eq(storage_put_all(st, "locks/odd.json", 0, text, strlen(text), &err), 0);
    ck_assert_int_eq(repo_lock_list(st, 0, &v, &n, &err), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert(v[0].parsed && v[0].alive);
    ck_assert_str_eq(v[0].label, "");
    free(v);
}
END_TEST

Suite *suite_repolock(void)
{
    Suite *s = suite_create("repolock");
    TCase *tc = tcase_create("repolock");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, conflict_matrix);
    tcase_add_test(tc, release_lets_the_next_in);
    tcase_add_test(tc, dead_child_is_taken_over);
    tcase_add_test(tc, live_pid_with_other_start_is_dead);
    tcase_add_test(tc, other_boot_id);
    tcase_add_test(tc, other_host_by_heartbeat);
    tcase_add_test(tc, unreadable_object_blocks_until_old);
    tcase_add_test(tc, wait_for_a_release);
    tcase_add_test(tc, fresh_holder_is_retried_even_without_wait);
    tcase_add_test(tc, heartbeat_advances);
    tcase_add_test(tc, two_racers_never_hold_together);
    tcase_add_test(tc, cmd_lock_wait_precedence);
    tcase_add_test(tc, list_judges_and_touches_nothing);
    tcase_add_test(tc, label_kept_by_heartbeat);
    tcase_add_test(tc, confirm_fails_once_the_object_is_gone);
    suite_add_tcase(s, tc);
    return s;
}
