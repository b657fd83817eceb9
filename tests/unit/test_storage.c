/*
 * test_storage.c - unit tests of the generic storage wrapper and the posix driver.
 * Each test runs in its own mkdtemp directory, removed by the teardown.
 */
#include "pgpitr/storage/storage.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char base_dir[128];   /* per test case, made by the parent: removed even if tests fail */
static char tdir[256];      /* per test, inside base_dir */
static char root[300];
static Storage *st;

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw);

static void base_setup(void)
{
    snprintf(base_dir, sizeof base_dir, "/tmp/pgpitr_test_storage.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(base_dir));
}

static void base_teardown(void)
{
    nftw(base_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void setup(void)
{
    umask(027);
    snprintf(tdir, sizeof tdir, "%s/t.XXXXXX", base_dir);
    ck_assert_ptr_nonnull(mkdtemp(tdir));
    snprintf(root, sizeof root, "%s/repo", tdir);
    PgpErr err = {0};
    st = NULL;
    ck_assert_int_eq(storage_posix_new(root, true, &st, &err), 0);
    ck_assert_ptr_nonnull(st);
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static void teardown(void)
{
    storage_free(st);
    st = NULL;
    nftw(tdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- helpers ------------------------------------------------------------------------ */

static bool exists(const char *rel)
{
    char p[4096];
    struct stat sb;
    snprintf(p, sizeof p, "%s/%s", root, rel);
    return stat(p, &sb) == 0;
}

/* Number of entries of dir (relative to root) whose name starts with prefix. */
static int count_prefix(const char *rel, const char *prefix)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    DIR *d = opendir(p);
    if (d == NULL)
        return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (strncmp(de->d_name, prefix, strlen(prefix)) == 0)
            n++;
    closedir(d);
    return n;
}

static void raw_write(const char *rel, const char *content)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs(content, f);
    ck_assert_int_eq(fclose(f), 0);
}

static void assert_content(const char *rel, const char *want)
{
    PgpErr err = {0};
    char *got = NULL;
    size_t len = 0;
    ck_assert_msg(storage_get_all(st, rel, 1 << 20, &got, &len, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(len, strlen(want));
    ck_assert_str_eq(got, want);
    free(got);
}

/* ---- tests -------------------------------------------------------------------------- */

START_TEST(test_put_get_roundtrip)
{
    PgpErr err = {0};
    ck_assert_int_eq(storage_put_all(st, "f.txt", 0, "hello", 5, &err), 0);
    char *got = NULL;
    size_t len = 99;
    ck_assert_int_eq(storage_get_all(st, "f.txt", 100, &got, &len, &err), 0);
    ck_assert_uint_eq(len, 5);
    ck_assert_mem_eq(got, "hello\0", 6);                /* NUL-terminated */
    free(got);

    /* An empty object is a valid, NUL-terminated empty string. */
    ck_assert_int_eq(storage_put_all(st, "empty", 0, "", 0, &err), 0);
    ck_assert_int_eq(storage_get_all(st, "empty", 100, &got, &len, &err), 0);
    ck_assert_uint_eq(len, 0);
    ck_assert_str_eq(got, "");
    free(got);

    /* A larger object through a writer in pieces and a reader in small reads. */
    size_t big = 300000;
    unsigned char *data = malloc(big);
    for (size_t i = 0; i < big; i++)
        data[i] = (unsigned char)(i * 7 + 3);
    StorageWriter *w = NULL;
    ck_assert_int_eq(storage_open_write(st, "big", 0, &w, &err), 0);
    for (size_t off = 0; off < big; off += 65536)
        ck_assert_int_eq(storage_write(w, data + off, big - off < 65536 ? big - off : 65536,
                                       &err), 0);
    ck_assert_int_eq(storage_writer_commit(w, &err), 0);
    StorageReader *r = NULL;
    ck_assert_int_eq(storage_open_read(st, "big", &r, &err), 0);
    unsigned char buf[1000];
    size_t total = 0, n = 0;
    do {
        ck_assert_int_eq(storage_read(r, buf, sizeof buf, &n, &err), 0);
        ck_assert_int_eq(memcmp(buf, data + total, n), 0);
        total += n;
    } while (n > 0);
    ck_assert_uint_eq(total, big);
    storage_reader_close(r);
    free(data);

    /* File mode 0640 (umask 027 in setup does not mask any of it). */
    char p[4096];
    struct stat sb;
    snprintf(p, sizeof p, "%s/f.txt", root);
    ck_assert_int_eq(stat(p, &sb), 0);
    ck_assert_int_eq(sb.st_mode & 07777, 0640);
    ck_assert_str_eq(storage_driver_name(st), "posix");
    ck_assert_uint_eq(storage_features(st), STORAGE_FEATURE_PATH | STORAGE_FEATURE_FSYNC);
}
END_TEST

START_TEST(test_nested_dirs)
{
    PgpErr err = {0};
    ck_assert_int_eq(storage_put_all(st, "a/b/c/d.txt", 0, "x", 1, &err), 0);
    assert_content("a/b/c/d.txt", "x");
    char p[4096];
    struct stat sb;
    snprintf(p, sizeof p, "%s/a/b", root);
    ck_assert_int_eq(stat(p, &sb), 0);
    ck_assert(S_ISDIR(sb.st_mode));
    ck_assert_int_eq(sb.st_mode & 07777, 0750);
    /* A second file in an existing directory. */
    ck_assert_int_eq(storage_put_all(st, "a/b/e.txt", 0, "y", 1, &err), 0);
    assert_content("a/b/e.txt", "y");
    /* A file in the way of a directory is an error, not a crash. */
    ck_assert_int_ne(storage_put_all(st, "a/b/e.txt/f", 0, "z", 1, &err), 0);
}
END_TEST

START_TEST(test_conflict_without_replace)
{
    PgpErr err = {0};
    ck_assert_int_eq(storage_put_all(st, "d/seg", 0, "old", 3, &err), 0);
    ck_assert_int_eq(storage_put_all(st, "d/seg", 0, "new!", 4, &err), PGP_ERR_CONFLICT);
    ck_assert_ptr_nonnull(strstr(err.msg, "already exists"));
    ck_assert_ptr_nonnull(strstr(err.msg, root));           /* the full path */
    assert_content("d/seg", "old");
    ck_assert_int_eq(count_prefix("d", ".tmp."), 0);
}
END_TEST

START_TEST(test_replace_overwrites)
{
    PgpErr err = {0};
    ck_assert_int_eq(storage_put_all(st, "repo.json", 0, "old", 3, &err), 0);
    ck_assert_int_eq(storage_put_all(st, "repo.json", STORAGE_WRITE_REPLACE, "newer", 5, &err), 0);
    assert_content("repo.json", "newer");
    ck_assert_int_eq(count_prefix(".", ".tmp."), 0);
    /* REPLACE also creates when missing. */
    ck_assert_int_eq(storage_put_all(st, "x/new", STORAGE_WRITE_REPLACE, "n", 1, &err), 0);
    assert_content("x/new", "n");
}
END_TEST

/* commit_as into another directory (a content address known only at the end): created when
 * missing, the temp file moved there, nothing left behind; an existing object is never
 * replaced, and the temp file goes. */
START_TEST(test_commit_as_other_directory)
{
    PgpErr err = {0};
    StorageWriter *w = NULL;
    ck_assert_int_eq(storage_open_write(st, "objects/pending", STORAGE_WRITE_NAME_AT_COMMIT, &w,
                                        &err), 0);
    ck_assert_int_eq(storage_write(w, "abc", 3, &err), 0);
    ck_assert_int_eq(count_prefix("objects", ".tmp.pending."), 1);
    ck_assert_int_eq(storage_writer_commit_as(w, "objects/ab/abcdef.zst", &err), 0);
    assert_content("objects/ab/abcdef.zst", "abc");
    ck_assert_int_eq(count_prefix("objects", ".tmp."), 0);
    ck_assert(!exists("objects/pending"));

    ck_assert_int_eq(storage_open_write(st, "objects/pending", STORAGE_WRITE_NAME_AT_COMMIT, &w,
                                        &err), 0);
    ck_assert_int_eq(storage_write(w, "xyz!", 4, &err), 0);
    ck_assert_int_eq(storage_writer_commit_as(w, "objects/ab/abcdef.zst", &err), PGP_ERR_CONFLICT);
    assert_content("objects/ab/abcdef.zst", "abc");
    ck_assert_int_eq(count_prefix("objects", ".tmp."), 0);
    ck_assert_int_eq(count_prefix("objects/ab", ".tmp."), 0);
}
END_TEST

START_TEST(test_abort_leaves_nothing)
{
    PgpErr err = {0};
    StorageWriter *w = NULL;
    ck_assert_int_eq(storage_open_write(st, "d/file", 0, &w, &err), 0);
    ck_assert_int_eq(storage_write(w, "abc", 3, &err), 0);
    /* While writing, exactly one temp exists, in the same directory, and no final name. */
    ck_assert_int_eq(count_prefix("d", ".tmp.file."), 1);
    ck_assert(!exists("d/file"));
    storage_writer_abort(w);
    ck_assert_int_eq(count_prefix("d", ".tmp."), 0);
    ck_assert(!exists("d/file"));
    storage_writer_abort(NULL);
    storage_reader_close(NULL);
    storage_free(NULL);
}
END_TEST

START_TEST(test_temp_name_format)
{
    PgpErr err = {0};
    StorageWriter *w = NULL;
    ck_assert_int_eq(storage_open_write(st, "d/seg.gz", 0, &w, &err), 0);
    char host[256] = {0}, prefix[400], p[600];
    gethostname(host, sizeof host - 1);
    snprintf(prefix, sizeof prefix, ".tmp.seg.gz.%s.%ld.", host, (long)getpid());
    snprintf(p, sizeof p, "%s/d", root);
    DIR *d = opendir(p);
    ck_assert_ptr_nonnull(d);
    struct dirent *de;
    int found = 0;
    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, prefix, strlen(prefix)) != 0)
            continue;
        const char *hex = de->d_name + strlen(prefix);
        ck_assert_uint_gt(strlen(hex), 0);
        ck_assert_uint_eq(strspn(hex, "0123456789abcdef"), strlen(hex));
        snprintf(p, sizeof p, "%s/d/%s", root, de->d_name);
        struct stat sb;
        ck_assert_int_eq(stat(p, &sb), 0);
        ck_assert_int_eq(sb.st_mode & 07777, 0640);
        found++;
    }
    closedir(d);
    ck_assert_int_eq(found, 1);
    ck_assert_int_eq(storage_writer_commit(w, &err), 0);
    ck_assert_int_eq(count_prefix("d", ".tmp."), 0);
    ck_assert(exists("d/seg.gz"));
}
END_TEST

typedef struct Seen {
    int n;
    char names[16][64];
    StorageInfo info[16];
    int stop_after;
} Seen;

static int collect(void *ud, const char *name, const StorageInfo *info, PgpErr *err)
{
    Seen *s = ud;
    if (s->n < 16) {
        snprintf(s->names[s->n], sizeof s->names[s->n], "%s", name);
        s->info[s->n] = *info;
    }
    s->n++;
    if (s->stop_after > 0 && s->n >= s->stop_after) {
        PGP_FAIL(err, PGP_ERR_CONFLICT, "stopped at \"%s\"", name);
        return 42;      /* any value: storage_list hands it back unchanged */
    }
    return 0;
}

START_TEST(test_list)
{
    PgpErr err = {0};
    ck_assert_int_eq(storage_put_all(st, "d/b.txt", 0, "12345", 5, &err), 0);
    ck_assert_int_eq(storage_put_all(st, "d/a.txt", 0, "1", 1, &err), 0);
    ck_assert_int_eq(storage_put_all(st, "d/sub/x", 0, "1", 1, &err), 0);
    StorageWriter *w = NULL;                        /* an open writer's temp file */
    ck_assert_int_eq(storage_open_write(st, "d/c.txt", 0, &w, &err), 0);
    raw_write("d/.tmp.zzz.otherhost.1.00", "junk");  /* a stray temp */

    Seen s = {0};
    ck_assert_int_eq(storage_list(st, "d", collect, &s, &err), 0);
    ck_assert_int_eq(s.n, 3);
    ck_assert_str_eq(s.names[0], "a.txt");           /* sorted by name */
    ck_assert_str_eq(s.names[1], "b.txt");
    ck_assert_str_eq(s.names[2], "sub");
    ck_assert_uint_eq(s.info[0].size, 1);
    ck_assert_uint_eq(s.info[1].size, 5);
    ck_assert(!s.info[0].is_dir && !s.info[1].is_dir && s.info[2].is_dir);
    ck_assert_int_gt(s.info[1].mtime, 1600000000);
    storage_writer_abort(w);

    /* A non-zero return of the callback stops the listing and is returned, with the
     * message the callback wrote into storage_list's err. */
    Seen s2 = {.stop_after = 2};
    pgp_err_clear(&err);
    ck_assert_int_eq(storage_list(st, "d", collect, &s2, &err), 42);
    ck_assert_int_eq(s2.n, 2);
    ck_assert_int_eq(err.code, PGP_ERR_CONFLICT);
    ck_assert_str_eq(err.msg, "stopped at \"b.txt\"");

    /* Missing directory: empty listing, success. */
    Seen s3 = {0};
    ck_assert_int_eq(storage_list(st, "nope/deeper", collect, &s3, &err), 0);
    ck_assert_int_eq(s3.n, 0);

    /* By name prefix: only the names that begin with it; no temp file, however named. */
    ck_assert_int_eq(storage_put_all(st, "d/a.txt2", 0, "1", 1, &err), 0);
    raw_write("d/.tmp.a.txt.otherhost.1.00", "junk");
    Seen s4 = {0};
    ck_assert_int_eq(storage_list_prefix(st, "d", "a.txt", collect, &s4, &err), 0);
    ck_assert_int_eq(s4.n, 2);
    ck_assert_str_eq(s4.names[0], "a.txt");
    ck_assert_str_eq(s4.names[1], "a.txt2");
    Seen s5 = {0};
    ck_assert_int_eq(storage_list_prefix(st, "d", "zz", collect, &s5, &err), 0);
    ck_assert_int_eq(storage_list_prefix(st, "nope", "a", collect, &s5, &err), 0);
    ck_assert_int_eq(s5.n, 0);
    ck_assert_int_eq(storage_list_prefix(st, "d", "sub/x", collect, &s5, &err),
                     PGP_ERR_INVALID_NAME);
    ck_assert_int_eq(storage_list_prefix(st, "d", "", collect, &s5, &err), PGP_ERR_INVALID_NAME);
}
END_TEST

START_TEST(test_stat)
{
    PgpErr err = {0};
    StorageInfo info = {0};
    ck_assert_int_eq(storage_stat(st, "missing/file", &info, &err), PGP_ERR_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(err.msg, "missing/file"));
    ck_assert_int_eq(storage_put_all(st, "dir/f", 0, "abc", 3, &err), 0);
    ck_assert_int_eq(storage_stat(st, "dir/f", &info, &err), 0);
    ck_assert_uint_eq(info.size, 3);
    ck_assert(!info.is_dir);
    ck_assert_int_eq(storage_stat(st, "dir", &info, &err), 0);
    ck_assert(info.is_dir);
    /* A path through a file is not found either. */
    ck_assert_int_eq(storage_stat(st, "dir/f/g", &info, &err), PGP_ERR_NOT_FOUND);
    StorageReader *r = (StorageReader *)&info;
    ck_assert_int_eq(storage_open_read(st, "missing", &r, &err), PGP_ERR_NOT_FOUND);
    ck_assert_ptr_null(r);
}
END_TEST

/* Modification times from the file system are clamped to [0, STORAGE_MTIME_MAX]: callers
 * compute ages and microseconds with them. ext4 keeps times before 1970; tmpfs (and others)
 * keep any 64-bit time, so the far one is clamped here or by the file system. */
START_TEST(test_stat_mtime_clamped)
{
    PgpErr err = {0};
    StorageInfo info = {0};
    char path[512];
    ck_assert_int_eq(storage_put_all(st, "d/old", 0, "a", 1, &err), 0);
    ck_assert_int_eq(storage_put_all(st, "d/far", 0, "b", 1, &err), 0);
    struct timespec old[2] = {{.tv_sec = -86400}, {.tv_sec = -86400}};
    struct timespec far[2] = {{.tv_sec = INT64_C(1) << 62}, {.tv_sec = INT64_C(1) << 62}};
    snprintf(path, sizeof path, "%s/d/old", root);
    ck_assert_int_eq(utimensat(AT_FDCWD, path, old, 0), 0);
    snprintf(path, sizeof path, "%s/d/far", root);
    if (utimensat(AT_FDCWD, path, far, 0) != 0)
        ck_assert_int_eq(errno, EINVAL);             /* a file system that refuses it */
    ck_assert_int_eq(storage_stat(st, "d/old", &info, &err), 0);
    ck_assert_int_eq(info.mtime, 0);
    ck_assert_int_eq(storage_stat(st, "d/far", &info, &err), 0);
    ck_assert_int_ge(info.mtime, 0);
    ck_assert_int_le(info.mtime, STORAGE_MTIME_MAX);
    Seen s = {0};
    ck_assert_int_eq(storage_list(st, "d", collect, &s, &err), 0);
    ck_assert_int_eq(s.n, 2);
    for (int i = 0; i < s.n; i++)
        ck_assert(s.info[i].mtime >= 0 && s.info[i].mtime <= STORAGE_MTIME_MAX);
}
END_TEST

START_TEST(test_remove)
{
    PgpErr err = {0};
    ck_assert_int_eq(storage_put_all(st, "d/f", 0, "abc", 3, &err), 0);
    ck_assert_int_eq(storage_remove(st, "d", &err), PGP_ERR_IO);   /* not empty */
    ck_assert_int_eq(storage_remove(st, "d/f", &err), 0);
    ck_assert(!exists("d/f"));
    ck_assert_int_eq(storage_remove(st, "d/f", &err), PGP_ERR_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(err.msg, "d/f"));
    ck_assert_int_eq(storage_remove(st, "d", &err), 0);         /* now empty */
    ck_assert(!exists("d"));
    ck_assert_int_eq(storage_remove(st, "d/f", &err), PGP_ERR_NOT_FOUND);
}
END_TEST

/* Many objects at once: missing ones are no error, an invalid path stops everything before
 * anything is removed, more than one batch works. */
START_TEST(test_remove_objects)
{
    PgpErr err = {0};
    enum { N = STORAGE_REMOVE_BATCH + 5 };
    static char names[N][32];
    const char *paths[N];
    for (size_t i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "o/%zu", i);
        paths[i] = names[i];
        if (i % 2 == 0)   /* the odd ones never existed */
            ck_assert_int_eq(storage_put_all(st, names[i], 0, "x", 1, &err), 0);
    }
    const char *bad[] = {"o/0", "../escape", "o/2"};
    ck_assert_int_eq(storage_remove_objects(st, bad, 3, &err), PGP_ERR_INVALID_NAME);
    ck_assert(exists("o/0"));
    ck_assert(exists("o/2"));
    ck_assert_int_eq(storage_remove_objects(st, paths, N, &err), 0);
    for (size_t i = 0; i < N; i++) {
        char one[32];
        snprintf(one, sizeof one, "o/%zu", i);
        ck_assert_msg(!exists(one), "%s is still there", one);
    }
    ck_assert_int_eq(storage_remove_objects(st, paths, N, &err), 0);   /* again: all missing */
    ck_assert_int_eq(storage_remove_objects(st, paths, 0, &err), 0);
}
END_TEST

static int never(void *ud, const char *name, const StorageInfo *info, PgpErr *err)
{
    (void)ud, (void)name, (void)info, (void)err;
    return 1;
}

/* Names and paths longer than the file system takes are errors with a message naming the
 * path, never truncated into another name; nothing is left behind. */
START_TEST(test_path_too_long)
{
    char longname[300], deep[6000];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';          /* > NAME_MAX (255) */
    size_t off = 0;
    while (off + 101 < sizeof deep - 2) {          /* > PATH_MAX (4096) in 100-byte segments */
        memset(deep + off, 'd', 100);
        deep[off + 100] = '/';
        off += 101;
    }
    deep[off] = 'f';
    deep[off + 1] = '\0';
    const char *paths[] = {longname, deep};
    for (size_t i = 0; i < 2; i++) {
        PgpErr err = {0};
        char *buf = NULL;
        size_t len;
        StorageInfo info;
        StorageWriter *w = NULL;
        ck_assert_int_eq(storage_put_all(st, paths[i], 0, "x", 1, &err), PGP_ERR_INVALID_NAME);
        ck_assert_msg(strstr(err.msg, "too long") != NULL, "put: %s", err.msg);
        pgp_err_clear(&err);
        ck_assert_int_eq(storage_get_all(st, paths[i], 10, &buf, &len, &err),
                         PGP_ERR_INVALID_NAME);
        ck_assert_ptr_null(buf);
        ck_assert_msg(strstr(err.msg, "too long") != NULL, "get: %s", err.msg);
        pgp_err_clear(&err);
        ck_assert_int_eq(storage_stat(st, paths[i], &info, &err), PGP_ERR_INVALID_NAME);
        ck_assert_msg(strstr(err.msg, "too long") != NULL, "stat: %s", err.msg);
        /* committing a writer under such a name fails the same way and drops the temp */
        ck_assert_int_eq(storage_open_write(st, "ok", 0, &w, &err), 0);
        ck_assert_int_eq(storage_writer_commit_as(w, paths[i], &err), PGP_ERR_INVALID_NAME);
        ck_assert_msg(strstr(err.msg, "too long") != NULL, "commit_as: %s", err.msg);
    }
    /* nothing was created: no directory of the deep path, no name cut down from the long
     * one, no temp file; only the committed-nowhere writer's "ok" never appeared either */
    ck_assert_int_eq(count_prefix(".", "d"), 0);
    ck_assert_int_eq(count_prefix(".", "n"), 0);
    ck_assert_int_eq(count_prefix(".", ".tmp."), 0);
    ck_assert_int_eq(count_prefix(".", "ok"), 0);
}
END_TEST

START_TEST(test_path_validation)
{
    static const char *const bad[] = {"../x", "/abs", "a//b", "a/./b", "", "a/", ".", "..",
                                      "a/..", "./a", "x/../../etc/passwd"};
    ck_assert(storage_path_valid("a"));
    ck_assert(storage_path_valid("a/b.c/..d/.e"));
    ck_assert(!storage_path_valid(NULL));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *p = bad[i];
        PgpErr err = {0};
        StorageInfo info;
        StorageReader *r = NULL;
        StorageWriter *w = NULL;
        char *buf = NULL;
        size_t len;
        ck_assert_msg(!storage_path_valid(p), "\"%s\" accepted", p);
        ck_assert_int_eq(storage_stat(st, p, &info, &err), PGP_ERR_INVALID_NAME);
        ck_assert_int_eq(storage_list(st, p, never, NULL, &err), PGP_ERR_INVALID_NAME);
        ck_assert_int_eq(storage_open_read(st, p, &r, &err), PGP_ERR_INVALID_NAME);
        ck_assert_ptr_null(r);
        ck_assert_int_eq(storage_open_write(st, p, 0, &w, &err), PGP_ERR_INVALID_NAME);
        ck_assert_ptr_null(w);
        ck_assert_int_eq(storage_remove(st, p, &err), PGP_ERR_INVALID_NAME);
        ck_assert_int_eq(storage_get_all(st, p, 10, &buf, &len, &err), PGP_ERR_INVALID_NAME);
        ck_assert_ptr_null(buf);
        ck_assert_int_eq(storage_put_all(st, p, 0, "x", 1, &err), PGP_ERR_INVALID_NAME);
    }
    /* Nothing escaped the root. */
    char p[4096];
    struct stat sb;
    snprintf(p, sizeof p, "%s/x", tdir);
    ck_assert_int_ne(stat(p, &sb), 0);
    /* Temp-file names are reserved. */
    PgpErr err = {0};
    ck_assert_int_eq(storage_put_all(st, "d/.tmp.x", 0, "x", 1, &err), PGP_ERR_INVALID_NAME);
}
END_TEST

static pid_t dead_pid(void)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        _exit(0);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    return pid;
}

START_TEST(test_stale_temp_cleanup)
{
    PgpErr err = {0};
    char host[256] = {0}, name[600];
    gethostname(host, sizeof host - 1);
    pid_t dead = dead_pid();
    ck_assert_int_eq(storage_put_all(st, "d/other", 0, "o", 1, &err), 0);

    snprintf(name, sizeof name, "d/.tmp.seg.%s.%ld.0123abcd", host, (long)dead);
    raw_write(name, "stale");
    char live[600], other_host[600], other_base[600];
    snprintf(live, sizeof live, "d/.tmp.seg.%s.%ld.0123abcd", host, (long)getpid());
    raw_write(live, "live");
    snprintf(other_host, sizeof other_host, "d/.tmp.seg.not-%s.%ld.0123abcd", host, (long)dead);
    raw_write(other_host, "remote");
    snprintf(other_base, sizeof other_base, "d/.tmp.other.%s.%ld.0123abcd", host, (long)dead);
    raw_write(other_base, "other file");

    ck_assert_int_eq(storage_put_all(st, "d/seg", 0, "new", 3, &err), 0);
    ck_assert_msg(!exists(name), "stale temp of a dead pid was kept");
    ck_assert_msg(exists(live), "temp of a live pid was removed");
    ck_assert_msg(exists(other_host), "temp of another host was removed");
    ck_assert_msg(exists(other_base), "temp of another basename was removed");
    assert_content("d/seg", "new");
}
END_TEST

/*
 * In a child with a small RLIMIT_FSIZE (SIGXFSZ ignored), writing past the limit fails,
 * removes the temp file at once, and commit fails without publishing anything.
 * Child exit codes: 0 ok, 10+ which step misbehaved.
 */
static int write_error_child(void)
{
    struct rlimit rl = {.rlim_cur = 4096, .rlim_max = 4096};
    signal(SIGXFSZ, SIG_IGN);
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
        return 10;
    PgpErr err = {0};
    StorageWriter *w = NULL;
    if (storage_open_write(st, "d/seg", 0, &w, &err) != 0)
        return 11;
    static char buf[65536];
    memset(buf, 'x', sizeof buf);
    int rc = storage_write(w, buf, sizeof buf, &err);
    if (rc == 0)
        return 12;
    if (count_prefix("d", ".tmp.") != 0)                /* cleaned at once, before commit */
        return 13;
    if (strstr(err.msg, root) == NULL)
        return 14;
    if (storage_write(w, "y", 1, &err) == 0)            /* the writer stays dead */
        return 15;
    if (storage_writer_commit(w, &err) == 0)
        return 16;
    storage_free(st);
    return 0;
}

START_TEST(test_write_error_cleans_temp)
{
    PgpErr err = {0};
    ck_assert_int_eq(storage_put_all(st, "d/keep", 0, "k", 1, &err), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        _exit(write_error_child());
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 0);
    ck_assert_int_eq(count_prefix("d", ".tmp."), 0);
    ck_assert(!exists("d/seg"));
    Seen s = {0};
    ck_assert_int_eq(storage_list(st, "d", collect, &s, &err), 0);
    ck_assert_int_eq(s.n, 1);
}
END_TEST

START_TEST(test_get_all_max_len)
{
    PgpErr err = {0};
    char data[10000];
    memset(data, 'a', sizeof data);
    ck_assert_int_eq(storage_put_all(st, "f", 0, data, sizeof data, &err), 0);
    char *out = NULL;
    size_t len = 0;
    ck_assert_int_eq(storage_get_all(st, "f", sizeof data - 1, &out, &len, &err),
                     PGP_ERR_CORRUPT);
    ck_assert_ptr_nonnull(strstr(err.msg, "too large"));
    ck_assert_ptr_null(out);
    ck_assert_int_eq(storage_get_all(st, "f", sizeof data, &out, &len, &err), 0);
    ck_assert_uint_eq(len, sizeof data);
    ck_assert_int_eq(memcmp(out, data, sizeof data), 0);
    ck_assert_int_eq(out[len], '\0');
    free(out);
    ck_assert_int_eq(storage_get_all(st, "f", 0, &out, &len, &err), PGP_ERR_CORRUPT);
    ck_assert_int_eq(storage_get_all(st, "nope", 10, &out, &len, &err), PGP_ERR_NOT_FOUND);
    ck_assert_int_eq(storage_get_all(st, "d", 10, &out, &len, &err), PGP_ERR_NOT_FOUND);
    ck_assert_int_eq(storage_put_all(st, "d/x", 0, "", 0, &err), 0);
    ck_assert_int_eq(storage_get_all(st, "d", 10, &out, &len, &err), PGP_ERR_IO); /* a dir */
    ck_assert_ptr_null(out);
}
END_TEST

START_TEST(test_posix_new_root)
{
    PgpErr err = {0};
    Storage *s = NULL;
    char p[4096];
    snprintf(p, sizeof p, "%s/missing/root", tdir);
    ck_assert_int_eq(storage_posix_new(p, false, &s, &err), PGP_ERR_NOT_FOUND);
    ck_assert_ptr_null(s);
    ck_assert_ptr_nonnull(strstr(err.msg, p));
    ck_assert_int_eq(storage_posix_new(p, true, &s, &err), 0);   /* mkdir -p */
    ck_assert_ptr_nonnull(s);
    struct stat sb;
    ck_assert_int_eq(stat(p, &sb), 0);
    ck_assert(S_ISDIR(sb.st_mode));
    ck_assert_int_eq(sb.st_mode & 07777, 0750);
    storage_free(s);
    s = NULL;

    /* Trailing slashes are fine. */
    snprintf(p, sizeof p, "%s/missing/root//", tdir);
    ck_assert_int_eq(storage_posix_new(p, false, &s, &err), 0);
    storage_free(s);
    s = NULL;

    /* A file as root. */
    raw_write("afile", "x");
    snprintf(p, sizeof p, "%s/afile", root);
    ck_assert_int_eq(storage_posix_new(p, true, &s, &err), PGP_ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(err.msg, p));
    ck_assert_ptr_null(s);
    ck_assert_int_eq(storage_posix_new("", true, &s, &err), PGP_ERR_CONFIG);

    /* A relative root is made absolute (messages show the full path). */
    char *cwd = getcwd(NULL, 0);
    ck_assert_int_eq(chdir(tdir), 0);
    ck_assert_int_eq(storage_posix_new("rel", true, &s, &err), 0);
    ck_assert_int_eq(chdir(cwd), 0);
    free(cwd);
    StorageInfo info;
    ck_assert_int_eq(storage_stat(s, "nofile", &info, &err), PGP_ERR_NOT_FOUND);
    snprintf(p, sizeof p, "%s/rel/nofile", tdir);
    ck_assert_ptr_nonnull(strstr(err.msg, p));
    storage_free(s);
}
END_TEST

Suite *suite_storage(void)
{
    Suite *s = suite_create("storage");
    TCase *tc = tcase_create("posix");
    tcase_add_unchecked_fixture(tc, base_setup, base_teardown);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_put_get_roundtrip);
    tcase_add_test(tc, test_nested_dirs);
    tcase_add_test(tc, test_conflict_without_replace);
    tcase_add_test(tc, test_replace_overwrites);
    tcase_add_test(tc, test_abort_leaves_nothing);
    tcase_add_test(tc, test_commit_as_other_directory);
    tcase_add_test(tc, test_temp_name_format);
    tcase_add_test(tc, test_list);
    tcase_add_test(tc, test_stat);
    tcase_add_test(tc, test_stat_mtime_clamped);
    tcase_add_test(tc, test_remove);
    tcase_add_test(tc, test_remove_objects);
    tcase_add_test(tc, test_path_validation);
    tcase_add_test(tc, test_path_too_long);
    tcase_add_test(tc, test_stale_temp_cleanup);
    tcase_add_test(tc, test_write_error_cleans_temp);
    tcase_add_test(tc, test_get_all_max_len);
    tcase_add_test(tc, test_posix_new_root);
    suite_add_tcase(s, tc);
    return s;
}
