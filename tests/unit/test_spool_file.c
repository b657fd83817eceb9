/*
 * test_spool_file.c - one file of the prefetch spool (src/archive/spool_file.c): publishing with
 * its record, and the checks of a take: a good file is moved to dest byte for byte; a file
 * rewritten or replaced after it was verified, cut short, without or with a bad record, a
 * symbolic link, a hard link, a FIFO or another user's file is refused without leaving
 * anything at dest; across filesystems the copy is hashed as it is written.
 */
#include "pgpitr/archive/spool_file.h"

#include <check.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pgpitr/pipe/pipe.h"

#define SEG 8192u
#define NAME "000000010000000000000007"

static char tdir[128], spool[256], dest[256];
static int dfd = -1;

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static void setup(void)
{
    snprintf(tdir, sizeof tdir, "/tmp/pgpitr_test_spool_file.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tdir));
    snprintf(spool, sizeof spool, "%s/spool", tdir);
    snprintf(dest, sizeof dest, "%s/RECOVERYXLOG", tdir);
    ck_assert_int_eq(mkdir(spool, 0700), 0);
    dfd = open(spool, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ck_assert_int_ge(dfd, 0);
}

static void teardown(void)
{
    close(dfd);
    nftw(tdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void write_file(const char *path, char fill, size_t len)
{
    static char buf[SEG * 2];
    memset(buf, fill, len);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, buf, len), (ssize_t)len);
    close(fd);
}

static void in_spool(char out[PATH_MAX], const char *name)
{
    snprintf(out, PATH_MAX, "%s/%s", spool, name);
}

/* The prefetcher's side: a verified work file published with its record. */
static void publish(char fill)
{
    char work[PATH_MAX], hex[PIPE_SHA256_HEX_LEN + 1];
    uint8_t digest[PIPE_SHA256_LEN];
    static char buf[SEG];
    memset(buf, fill, sizeof buf);
    in_spool(work, ".fetch." NAME);
    write_file(work, fill, SEG);
    ck_assert_int_eq(pipe_sha256_buf(buf, sizeof buf, digest, NULL), 0);
    pipe_hex(digest, sizeof digest, hex);
    PgpErr err;
    ck_assert_int_eq(spool_file_publish(dfd, ".fetch." NAME, NAME, hex, SEG, &err), 0);
}

static bool present(const char *path)
{
    struct stat sb;
    return lstat(path, &sb) == 0;
}

static bool spooled(void)
{
    char p[PATH_MAX];
    in_spool(p, NAME);
    return present(p);
}

static void assert_dest_is(const char *path, char fill)
{
    char buf[SEG + 1];
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    ck_assert_uint_eq(n, SEG);
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(buf[i], fill);
}

/* A take that must be refused: non-zero, not "not found", nothing at dest. */
static void assert_refused(const char *why)
{
    PgpErr err;
    pgp_err_clear(&err);
    unlink(dest);
    int rc = spool_file_take(dfd, NAME, SEG, dest, &err);
    ck_assert_msg(rc != 0 && rc != PGP_ERR_NOT_FOUND, "take returned %d", rc);
    ck_assert_msg(strstr(err.msg, why) != NULL, "\"%s\" not in \"%s\"", why, err.msg);
    ck_assert(!present(dest));
}

START_TEST(publish_and_take)
{
    PgpErr err;
    ck_assert_int_eq(spool_file_take(dfd, NAME, SEG, dest, &err), PGP_ERR_NOT_FOUND);
    publish('a');
    char p[PATH_MAX];
    in_spool(p, ".fetch." NAME);
    ck_assert(!present(p));
    in_spool(p, ".sha256." NAME);
    ck_assert(present(p));
    ck_assert_int_eq(spool_file_take(dfd, NAME, SEG, dest, &err), 0);
    assert_dest_is(dest, 'a');
    ck_assert(!spooled());
    ck_assert(present(p));   /* records are the prefetcher's to remove */
    /* a publish that cannot rename leaves no record behind */
    ck_assert_int_ne(spool_file_publish(dfd, ".fetch.gone", NAME, "00", SEG, &err), 0);
    char hex[PIPE_SHA256_HEX_LEN + 1];
    memset(hex, 'a', PIPE_SHA256_HEX_LEN);
    hex[PIPE_SHA256_HEX_LEN] = '\0';
    unlink(p);
    ck_assert_int_ne(spool_file_publish(dfd, ".fetch.gone", NAME, hex, SEG, &err), 0);
    ck_assert(!present(p));
}
END_TEST

START_TEST(changed_after_verification)
{
    char p[PATH_MAX], other[PATH_MAX];
    in_spool(p, NAME);
    /* rewritten in place: same inode, owner, size; only the hash tells */
    publish('a');
    int fd = open(p, O_WRONLY);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pwrite(fd, "evil", 4, 100), 4);
    close(fd);
    assert_refused("changed after it was verified");
    ck_assert(!spooled());   /* it was moved to dest, found bad, removed there */
    /* replaced by another file of the right size */
    publish('a');
    in_spool(other, "other");
    write_file(other, 'b', SEG);
    ck_assert_int_eq(rename(other, p), 0);
    assert_refused("changed after it was verified");
    /* cut short, or grown: refused before it moves, left where it is */
    publish('a');
    ck_assert_int_eq(truncate(p, SEG / 2), 0);
    assert_refused("not one segment");
    ck_assert(spooled());
    write_file(p, 'a', SEG * 2);
    assert_refused("not one segment");
}
END_TEST

START_TEST(records)
{
    char p[PATH_MAX], r[PATH_MAX];
    in_spool(p, NAME);
    in_spool(r, ".sha256." NAME);
    publish('a');
    unlink(r);
    assert_refused("record");
    ck_assert(spooled());
    const char *bad[] = {"", "zz 8192\n", "0123 8192\n",
                         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
                         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa 8192",
                         "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA 8192\n",
                         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa -1\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        FILE *f = fopen(r, "w");
        ck_assert_ptr_nonnull(f);
        fputs(bad[i], f);
        fclose(f);
        assert_refused("malformed");
    }
    /* a well-formed record of another size: refused before the move */
    FILE *f = fopen(r, "w");
    fputs("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa 8191\n", f);
    fclose(f);
    assert_refused("recorded 8191");
    ck_assert(spooled());
    /* the record as a symbolic link to a good record elsewhere */
    publish('a');
    char good[PATH_MAX];
    snprintf(good, sizeof good, "%s/good-record", tdir);
    ck_assert_int_eq(rename(r, good), 0);
    ck_assert_int_eq(symlink(good, r), 0);
    assert_refused("record");
}
END_TEST

START_TEST(not_a_plain_file)
{
    char p[PATH_MAX], elsewhere[PATH_MAX];
    in_spool(p, NAME);
    snprintf(elsewhere, sizeof elsewhere, "%s/elsewhere", tdir);
    /* a symbolic link to a file with the right content */
    publish('a');
    ck_assert_int_eq(rename(p, elsewhere), 0);
    ck_assert_int_eq(symlink(elsewhere, p), 0);
    assert_refused("symbolic link");
    ck_assert(present(elsewhere));
    unlink(p);
    /* a second hard link: whoever holds it could change the file after the check */
    publish('a');
    unlink(elsewhere);
    ck_assert_int_eq(link(p, elsewhere), 0);
    assert_refused("2 links");
    ck_assert(spooled());
    unlink(p);
    /* a FIFO: refused at once, never blocks */
    ck_assert_int_eq(mkfifo(p, 0600), 0);
    assert_refused("not a regular file");
    unlink(p);
    /* a directory */
    ck_assert_int_eq(mkdir(p, 0700), 0);
    assert_refused("not a regular file");
    rmdir(p);
    /* another user's file (root can make one), then another user's record */
    if (geteuid() == 0) {
        publish('a');
        ck_assert_int_eq(chown(p, 65534, 65534), 0);
        assert_refused("belongs to uid 65534");
        ck_assert(spooled());
        ck_assert_int_eq(chown(p, 0, 0), 0);
        char r[PATH_MAX];
        in_spool(r, ".sha256." NAME);
        ck_assert_int_eq(chown(r, 65534, 65534), 0);
        assert_refused("belongs to uid 65534");
    }
}
END_TEST

START_TEST(across_filesystems)
{
    struct stat a, b;
    if (stat("/dev/shm", &b) != 0 || stat(tdir, &a) != 0 || a.st_dev == b.st_dev ||
        access("/dev/shm", W_OK) != 0)
        return;   /* no second filesystem to try */
    char far[PATH_MAX], tmpl[] = "/dev/shm/pgpitr_test_spool_file.XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(tmpl));
    snprintf(far, sizeof far, "%s/RECOVERYXLOG", tmpl);
    PgpErr err;
    publish('c');
    ck_assert_int_eq(spool_file_take(dfd, NAME, SEG, far, &err), 0);
    assert_dest_is(far, 'c');
    ck_assert(!spooled());
    unlink(far);
    /* rewritten after verification: the copy is hashed as written, never renamed to dest */
    publish('c');
    char p[PATH_MAX];
    in_spool(p, NAME);
    int fd = open(p, O_WRONLY);
    ck_assert_int_eq(pwrite(fd, "evil", 4, SEG - 4), 4);
    close(fd);
    ck_assert_int_eq(spool_file_take(dfd, NAME, SEG, far, &err), PGP_ERR_CORRUPT);
    ck_assert(!present(far));
    ck_assert(spooled());
    ck_assert_int_eq(rmdir(tmpl), 0);   /* empty: no temp file left behind */
}
END_TEST

Suite *suite_spool_file(void)
{
    Suite *s = suite_create("spool_file");
    TCase *tc = tcase_create("take");
    tcase_set_timeout(tc, 20);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, publish_and_take);
    tcase_add_test(tc, changed_after_verification);
    tcase_add_test(tc, records);
    tcase_add_test(tc, not_a_plain_file);
    tcase_add_test(tc, across_filesystems);
    suite_add_tcase(s, tc);
    return s;
}
