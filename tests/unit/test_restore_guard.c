/*
 * test_restore_guard.c - unit tests of what keeps a restore off directories that are not its
 * own (restore_guard.c): /proc/locks lines, directory locks (within this process, and against
 * a forked child holding one), running servers found in a fabricated /proc tree, and the
 * tablespace location rule of --delta.
 */
#include "pgpitr/restore/restore_guard.h"

#include <check.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char tdir[128];

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static void setup(void)
{
    snprintf(tdir, sizeof tdir, "/tmp/pgpitr_test_guard.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tdir));
}

static void teardown(void)
{
    nftw(tdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* tdir/rel in one of eight rotating static buffers */
static const char *at(const char *rel)
{
    static char bufs[8][512];
    static int next;
    char *p = bufs[next++ % 8];
    snprintf(p, sizeof bufs[0], "%s/%s", tdir, rel);
    return p;
}

static void mkdirs(const char *const *rels, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(mkdir(at(rels[i]), 0700), 0);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
}

/* ---- /proc/locks ----------------------------------------------------------------------------- */

START_TEST(lock_lines)
{
    RestoreLockLine l;
    ck_assert(restore_parse_lock_line("1: FLOCK  ADVISORY  WRITE 4903 fe:00:10953891 0 EOF\n", &l));
    ck_assert(l.flock && l.write);
    ck_assert_int_eq(l.pid, 4903);
    ck_assert_uint_eq(l.major, 0xfe);
    ck_assert_uint_eq(l.minor, 0);
    ck_assert_uint_eq(l.ino, 10953891ULL);
    ck_assert(restore_parse_lock_line("12: POSIX  ADVISORY  READ 77 08:11:42 0 100", &l));
    ck_assert(!l.flock && !l.write);
    ck_assert_uint_eq(l.minor, 0x11);
    ck_assert(restore_parse_lock_line("3: OFDLCK ADVISORY  WRITE -1 00:2f:5 0 EOF", &l));
    ck_assert_int_eq(l.pid, -1);
    /* a waiter is nobody's lock */
    ck_assert(!restore_parse_lock_line("1: -> FLOCK  ADVISORY  WRITE 4904 fe:00:10953891 0 EOF", &l));
    ck_assert(!restore_parse_lock_line("", &l));
    ck_assert(!restore_parse_lock_line("1: FLOCK ADVISORY WRITE x fe:00:1 0 EOF", &l));
    ck_assert(!restore_parse_lock_line("garbage", &l));
}
END_TEST

/* ---- directory locks ------------------------------------------------------------------------- */

START_TEST(lock_in_process)
{
    static const char *const dirs[] = {"d", "d/sub", "other"};
    mkdirs(dirs, 3);
    RestoreLocks a = {0}, b = {0}, moved = {0};
    PgpErr err = {0};
    ck_assert_int_eq(restore_lock_dir(&a, at("d"), "target directory", &err), 0);
    ck_assert_uint_eq(a.n, 1);
    /* another lock on the same directory, even from this process, is refused */
    ck_assert_int_eq(restore_lock_dir(&b, at("d"), "target directory", &err), PGP_ERR_LOCKED);
    ck_assert_ptr_nonnull(strstr(err.msg, "is locked by another process"));
    char pid[32];
    snprintf(pid, sizeof pid, "(pid %ld)", (long)getpid());
    ck_assert_ptr_nonnull(strstr(err.msg, pid));
    ck_assert_ptr_nonnull(strstr(err.hint, "wait for it to end"));
    ck_assert_uint_eq(b.n, 0);
    /* below our own lock: fine (a drill's restore inside the drill's directory) */
    ck_assert_int_eq(restore_lock_dir(&b, at("d/sub"), "target directory", &err), 0);
    ck_assert_int_eq(restore_lock_probe(at("d/new/deeper"), "target directory", &err), 0);
    /* a missing directory cannot be locked */
    ck_assert_int_ne(restore_lock_dir(&b, at("missing"), "target directory", &err), 0);
    ck_assert_ptr_nonnull(strstr(err.msg, "missing"));
    ck_assert_int_eq(restore_locks_move(&moved, &a, &err), 0);
    ck_assert_int_eq(restore_locks_move(&moved, &b, &err), 0);
    ck_assert_uint_eq(moved.n, 2);
    ck_assert_uint_eq(a.n + b.n, 0);
    restore_locks_release(&moved);
    ck_assert_uint_eq(moved.n, 0);
    /* released: free again */
    ck_assert_int_eq(restore_lock_dir(&a, at("d"), "target directory", &err), 0);
    restore_locks_release(&a);
    restore_locks_release(&b);
}
END_TEST

/* Another process holds a lock on tdir/d: the directory, what lies below it and what would be
 * created below it are refused; a sibling is not. When the holder dies, the lock is gone. */
START_TEST(lock_other_process)
{
    static const char *const dirs[] = {"d", "d/sub", "other"};
    mkdirs(dirs, 3);
    int ready[2], done[2];
    ck_assert_int_eq(pipe(ready), 0);
    ck_assert_int_eq(pipe(done), 0);
    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        int fd = open(at("d"), O_RDONLY | O_DIRECTORY);
        char c = fd >= 0 && flock(fd, LOCK_EX) == 0 ? 'y' : 'n';
        (void)!write(ready[1], &c, 1);
        (void)!read(done[0], &c, 1);
        _exit(0);
    }
    char c = 0;
    ck_assert_int_eq(read(ready[0], &c, 1), 1);
    ck_assert_int_eq(c, 'y');
    RestoreLocks l = {0};
    PgpErr err = {0};
    char pid[32];
    snprintf(pid, sizeof pid, "(pid %ld)", (long)child);
    ck_assert_int_eq(restore_lock_dir(&l, at("d"), "target directory", &err), PGP_ERR_LOCKED);
    ck_assert_ptr_nonnull(strstr(err.msg, pid));
    ck_assert_int_eq(restore_lock_dir(&l, at("d/sub"), "target directory", &err), PGP_ERR_LOCKED);
    ck_assert_ptr_nonnull(strstr(err.msg, "lies inside a directory locked by another process"));
    ck_assert_ptr_nonnull(strstr(err.msg, pid));
    ck_assert_int_eq(restore_lock_probe(at("d"), "target directory", &err), PGP_ERR_LOCKED);
    ck_assert_ptr_nonnull(strstr(err.msg, "\" is locked by"));
    ck_assert_int_eq(restore_lock_probe(at("d/new/deeper"), "drill work directory", &err),
                     PGP_ERR_LOCKED);
    ck_assert_ptr_nonnull(strstr(err.msg, "drill work directory"));
    ck_assert_ptr_nonnull(strstr(err.msg, "lies inside"));
    ck_assert_uint_eq(l.n, 0);
    ck_assert_int_eq(restore_lock_probe(at("other/new"), "target directory", &err), 0);
    ck_assert_int_eq(restore_lock_dir(&l, at("other"), "target directory", &err), 0);
    /* the holder ends (killed or not): its lock goes with it */
    kill(child, SIGKILL);
    ck_assert_int_eq(waitpid(child, NULL, 0), child);
    ck_assert_int_eq(restore_lock_dir(&l, at("d/sub"), "target directory", &err), 0);
    ck_assert_int_eq(restore_lock_dir(&l, at("d"), "target directory", &err), 0);
    restore_locks_release(&l);
    close(ready[0]), close(ready[1]), close(done[0]), close(done[1]);
}
END_TEST

/* ---- running servers ------------------------------------------------------------------------- */

/* A fake /proc: process 4242 is a postmaster in tdir/data with tablespace 16385 at tdir/ts
 * (absolute link) and 16386 in place; process 4243 runs in that data directory too, but
 * postmaster.pid does not name it (a backend); process 77 runs elsewhere. */
static void fake_proc(void)
{
    static const char *const dirs[] = {"proc", "proc/4242", "proc/4243", "proc/77",
                                       "proc/self", "data", "data/pg_tblspc",
                                       "data/pg_tblspc/16386", "ts", "ts/PG_15_x", "other",
                                       "elsewhere"};
    mkdirs(dirs, sizeof dirs / sizeof dirs[0]);
    write_text(at("data/postmaster.pid"), "4242\n/some/where\n");
    ck_assert_int_eq(symlink(at("ts"), at("data/pg_tblspc/16385")), 0);
    ck_assert_int_eq(symlink("../../elsewhere", at("data/pg_tblspc/not_an_oid")), 0);
    ck_assert_int_eq(symlink(at("data"), at("proc/4242/cwd")), 0);
    ck_assert_int_eq(symlink("/", at("proc/4242/root")), 0);
    ck_assert_int_eq(symlink(at("data"), at("proc/4243/cwd")), 0);
    ck_assert_int_eq(symlink("/", at("proc/4243/root")), 0);
    ck_assert_int_eq(symlink(at("other"), at("proc/77/cwd")), 0);
    write_text(at("proc/4242/comm"), "postgres\n");
    write_text(at("proc/4243/comm"), "postgres\n");
    write_text(at("proc/77/comm"), "bash\n");
}

START_TEST(live_servers)
{
    fake_proc();
    RestoreLive live;
    PgpErr err = {0};
    ck_assert_int_eq(restore_live_scan(at("proc"), &live, &err), 0);
    ck_assert_uint_eq(live.n, 3); /* the data directory and two tablespaces, of 4242 only */
    for (size_t i = 0; i < live.n; i++) {
        ck_assert_int_eq(live.v[i].pid, 4242);
        ck_assert_str_eq(live.v[i].pgdata, at("data"));
        ck_assert_uint_gt(live.v[i].n_chain, 2);
    }
    struct {
        const char *rel, *rel_text, *role;
    } hits[] = {
        {"data", "is that server's data directory", NULL},
        {"data/base/new", "lies inside that server's data directory", NULL},
        {"ts", "is that server's tablespace 16385 location", "/ts\""},
        {"ts/PG_15_x", "lies inside that server's tablespace 16385", NULL},
        {"ts/new/deeper", "lies inside that server's tablespace 16385", NULL},
        {"data/pg_tblspc/16386", "is that server's tablespace 16386 location",
         "/data/pg_tblspc/16386\""},
        {"", "contains that server's", NULL},
    };
    for (size_t i = 0; i < sizeof hits / sizeof hits[0]; i++) {
        err = (PgpErr){0};
        ck_assert_int_eq(restore_live_check(&live, at(hits[i].rel), "target directory", &err),
                         PGP_ERR_LOCKED);
        ck_assert_msg(strstr(err.msg, hits[i].rel_text) != NULL, "%s: %s", hits[i].rel, err.msg);
        ck_assert_ptr_nonnull(strstr(err.msg, "in use by a running server (postmaster pid 4242"));
        if (hits[i].role != NULL)
            ck_assert_ptr_nonnull(strstr(err.msg, hits[i].role));
    }
    /* siblings, new directories beside, and what a relative link that is no oid names */
    static const char *const fine[] = {"other", "other/new", "elsewhere", "new/data", "tsx"};
    for (size_t i = 0; i < sizeof fine / sizeof fine[0]; i++)
        ck_assert_msg(restore_live_check(&live, at(fine[i]), "target directory", &err) == 0,
                      "%s: %s", fine[i], err.msg);
    restore_live_free(&live);

    /* not called postgres: not looked into */
    write_text(at("proc/4242/comm"), "postgres-fake\n");
    ck_assert_int_eq(restore_live_scan(at("proc"), &live, &err), 0);
    ck_assert_uint_eq(live.n, 0);
    restore_live_free(&live);
    write_text(at("proc/4242/comm"), "postmaster\n");
    ck_assert_int_eq(restore_live_scan(at("proc"), &live, &err), 0);
    ck_assert_uint_eq(live.n, 3);
    restore_live_free(&live);

    /* the postmaster.pid names another process: no server */
    write_text(at("data/postmaster.pid"), "999999\n");
    ck_assert_int_eq(restore_live_scan(at("proc"), &live, &err), 0);
    ck_assert_uint_eq(live.n, 0);
    ck_assert_int_eq(restore_live_check(&live, at("data"), "target directory", &err), 0);
    restore_live_free(&live);
    /* no /proc at all: a warning, nothing found */
    ck_assert_int_eq(restore_live_scan(at("no-proc"), &live, &err), 0);
    ck_assert_uint_eq(live.n, 0);
    restore_live_free(&live);
}
END_TEST

/* The real /proc finds nothing wrong with a fresh directory, and does not fail. */
START_TEST(live_real_proc)
{
    RestoreLive live;
    PgpErr err = {0};
    ck_assert_int_eq(restore_live_scan("/proc", &live, &err), 0);
    ck_assert_int_eq(restore_live_check(&live, at("new/data"), "target directory", &err), 0);
    restore_live_free(&live);
}
END_TEST

/* ---- the tablespace location rule -------------------------------------------------------------- */

START_TEST(ts_rule)
{
    PgpErr err = {0};
    RestoreTsFacts f = {.oid = 16385, .path = "/srv/ts", .real = "/srv/ts"};
    /* missing or empty: always */
    ck_assert_int_eq(restore_ts_location_rule(&f, &err), 0);
    f.delta = true;
    ck_assert_int_eq(restore_ts_location_rule(&f, &err), 0);

    /* content, another cluster's for all we know: refused, and never a hint to --delta */
    f.entry = "PG_15_202209061";
    for (int delta = 0; delta <= 1; delta++) {
        f.delta = delta;
        err = (PgpErr){0};
        ck_assert_int_eq(restore_ts_location_rule(&f, &err), PGP_ERR_USAGE);
        ck_assert_ptr_nonnull(strstr(err.msg, "tablespace 16385 location \"/srv/ts\" is not "
                                              "empty (it contains \"PG_15_202209061\")"));
        ck_assert_ptr_nonnull(strstr(err.hint, "--tablespace-map 16385=DIR"));
        ck_assert_ptr_null(strstr(err.hint, "--delta"));
    }
    ck_assert_ptr_nonnull(strstr(err.msg, "not the target's own"));

    /* the target links it: --delta may restore over it */
    f.own_link = "/srv/ts";
    ck_assert_int_eq(restore_ts_location_rule(&f, &err), 0);
    f.delta = false;
    ck_assert_int_eq(restore_ts_location_rule(&f, &err), PGP_ERR_USAGE);
    ck_assert_ptr_nonnull(strstr(err.hint, "--delta"));

    /* the target links another place: that is where its tablespace is */
    f.own_link = "/srv/ts_copy";
    f.delta = true;
    ck_assert_int_eq(restore_ts_location_rule(&f, &err), PGP_ERR_USAGE);
    ck_assert_ptr_nonnull(strstr(err.hint, "--tablespace-map 16385=/srv/ts_copy"));
    ck_assert_ptr_null(strstr(err.hint, "--delta"));

    /* named with --tablespace-map: the DBA chose it */
    f.mapped = true;
    ck_assert_int_eq(restore_ts_location_rule(&f, &err), 0);
    f.delta = false;
    ck_assert_int_eq(restore_ts_location_rule(&f, &err), PGP_ERR_USAGE);
    ck_assert_ptr_nonnull(strstr(err.hint, "--delta"));
}
END_TEST

/* ---- how two directories relate -------------------------------------------------------------- */

START_TEST(dir_relation)
{
    static const char *const dirs[] = {"a", "a/b", "a/b/c", "x"};
    mkdirs(dirs, 4);
    ck_assert_int_eq(symlink(at("a/b"), at("link_b")), 0);
    ck_assert_int_eq(restore_dir_relation(at("a/b"), at("a/b")), RESTORE_DIR_SAME);
    ck_assert_int_eq(restore_dir_relation(at("link_b"), at("a/b")), RESTORE_DIR_SAME);
    ck_assert_int_eq(restore_dir_relation(at("a/b/c"), at("a")), RESTORE_DIR_INSIDE);
    ck_assert_int_eq(restore_dir_relation(at("link_b/c"), at("a")), RESTORE_DIR_INSIDE);
    ck_assert_int_eq(restore_dir_relation(at("a"), at("link_b/c")), RESTORE_DIR_CONTAINS);
    ck_assert_int_eq(restore_dir_relation(at("x"), at("a")), RESTORE_DIR_UNRELATED);
    ck_assert_int_eq(restore_dir_relation(at("a"), at("x")), RESTORE_DIR_UNRELATED);
    /* a missing path would be made where its nearest existing parent is */
    ck_assert_int_eq(restore_dir_relation(at("a/b/new/deeper"), at("a/b")), RESTORE_DIR_INSIDE);
    ck_assert_int_eq(restore_dir_relation(at("a/new"), at("a/b")), RESTORE_DIR_UNRELATED);
    /* a missing dir holds nothing */
    ck_assert_int_eq(restore_dir_relation(at("a"), at("a/missing")), RESTORE_DIR_UNRELATED);
}
END_TEST

Suite *suite_restore_guard(void)
{
    Suite *s = suite_create("restore_guard");
    TCase *tc = tcase_create("guard");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, lock_lines);
    tcase_add_test(tc, lock_in_process);
    tcase_add_test(tc, lock_other_process);
    tcase_add_test(tc, live_servers);
    tcase_add_test(tc, live_real_proc);
    tcase_add_test(tc, ts_rule);
    tcase_add_test(tc, dir_relation);
    suite_add_tcase(s, tc);
    return s;
}
