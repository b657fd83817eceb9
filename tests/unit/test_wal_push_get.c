/*
 * test_wal_push_get.c - archiving and fetching one WAL file (src/archive/wal_push.c,
 * src/archive/wal_get.c) on a fabricated repository (fx_repo.h): the same content pushed
 * twice is success, different content under the same name is refused and leaves the archive
 * as it was; a push failing at each step of the write (fx_fail_storage) leaves no temp file
 * and nothing archived; a fetch of a damaged, misnamed or absent object, or into a missing
 * directory, leaves no destination and no temp file. History files need no WAL page header,
 * so they carry the tests (segments take the same path after their header check). The two
 * steps archive-push uses (wal_push_start before the repository is open, wal_push_finish
 * after): a job cancelled touches nothing, a missing file fails at the start, and a finish
 * that finds the file already archived stops the encoding and reports it.
 */
#include "pgpitr/archive/wal_get.h"
#include "pgpitr/archive/wal_push.h"

#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fx_dir.h"
#include "fx_repo.h"
#include "pgpitr/repo/wal_index.h"

#define HIST "00000002.history"
#define TEXT_A "1\t0/3000000\tno recovery target specified\n"
#define TEXT_B "1\t0/4000000\tno recovery target specified\n"

static FxRepo fx;
static char src[512], destdir[400], dest[512];

static void put_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return NULL;
    static char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

static void setup(void)
{
    fx_repo_init(&fx, "wal_push_get");
    snprintf(src, sizeof src, "%s/%s", fx.tdir, HIST);
    snprintf(destdir, sizeof destdir, "%.300s/pg_wal", fx.tdir);
    ck_assert_int_eq(mkdir(destdir, 0700), 0);
    snprintf(dest, sizeof dest, "%s/RECOVERYHISTORY", destdir);
}

static void teardown(void)
{
    fx_repo_free(&fx);
}

static int push(Repo *repo, const char *text, WalPushResult *res, PgpErr *err)
{
    put_file(src, text);
    WalPushOptions opt = {.codec = PIPE_CODEC_ZSTD, .level = 3};
    return wal_push_file(repo, src, &opt, res, err);
}

static int count_objects(void)
{
    int n = 0;
    char dir[512];
    snprintf(dir, sizeof dir, "%s/%s", fx.root, REPO_LAYOUT_HISTORY_DIR);
    DIR *d = opendir(dir);
    if (d == NULL)
        return 0;
    for (struct dirent *de; (de = readdir(d)) != NULL;)
        n += de->d_name[0] != '.';
    closedir(d);
    return n;
}

/* Entries of the destination directory besides dest itself (temp files). */
static int dest_leftovers(void)
{
    int n = 0;
    DIR *d = opendir(destdir);
    ck_assert_ptr_nonnull(d);
    for (struct dirent *de; (de = readdir(d)) != NULL;)
        n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0 &&
             strcmp(de->d_name, "RECOVERYHISTORY") != 0;
    closedir(d);
    return n;
}

START_TEST(test_same_content_twice_different_refused)
{
    WalPushResult r1, r2, r3;
    PgpErr err = {0};
    ck_assert_int_eq(push(fx.repo, TEXT_A, &r1, &err), 0);
    ck_assert(!r1.already_archived);
    ck_assert_uint_eq(r1.size, strlen(TEXT_A));
    char want[REPO_PATH_MAX];
    ck_assert_int_eq(repo_archive_object_path(HIST, r1.sha256_hex, PIPE_CODEC_ZSTD, want, NULL),
                     0);
    ck_assert_str_eq(r1.object_path, want);
    ck_assert(fx_exists(&fx, want));

    ck_assert_int_eq(push(fx.repo, TEXT_A, &r2, &err), 0);
    ck_assert(r2.already_archived);
    ck_assert_str_eq(r2.object_path, r1.object_path);
    ck_assert_str_eq(r2.sha256_hex, r1.sha256_hex);

    ck_assert_int_eq(push(fx.repo, TEXT_B, &r3, &err), PGP_ERR_CONFLICT);
    ck_assert_ptr_nonnull(strstr(err.msg, "already archived with different content"));
    ck_assert_ptr_nonnull(strstr(err.msg, r1.sha256_hex));
    ck_assert_int_eq(count_objects(), 1);
    ck_assert(fx_exists(&fx, r1.object_path));
    ck_assert_int_eq(fx_count_temp(&fx), 0);

    /* What comes back is what went in. */
    WalGetResult g;
    ck_assert_int_eq(wal_get_file(fx.repo, HIST, dest, &g, &err), 0);
    ck_assert_str_eq(read_file(dest), TEXT_A);
    ck_assert_uint_eq(g.size, strlen(TEXT_A));
    ck_assert_str_eq(g.object.sha256_hex, r1.sha256_hex);
    ck_assert_int_eq(dest_leftovers(), 0);
}
END_TEST

START_TEST(test_push_failure_at_each_step)
{
    const FxFailStep steps[] = {FX_FAIL_OPEN, FX_FAIL_WRITE, FX_FAIL_COMMIT};
    for (size_t i = 0; i < 3; i++) {
        Storage *s = fx_fail_storage(&fx, steps[i]);
        Repo *repo = NULL;
        PgpErr err = {0};
        ck_assert_int_eq(repo_open(s, &repo, &err), 0);
        WalPushResult r;
        int rc = push(repo, TEXT_A, &r, &err);
        ck_assert_msg(rc != 0, "step %zu: the push succeeded", i);
        ck_assert_ptr_nonnull(strstr(err.msg, "fx: "));
        ck_assert_int_eq(count_objects(), 0);
        ck_assert_int_eq(fx_count_temp(&fx), 0);
        repo_free(repo);
        storage_free(s);
    }
    /* Nothing was archived: a fetch says so. */
    WalGetResult g;
    PgpErr err = {0};
    ck_assert_int_eq(wal_get_file(fx.repo, HIST, dest, &g, &err), PGP_ERR_NOT_FOUND);
    ck_assert_ptr_null(read_file(dest));
    ck_assert_int_eq(dest_leftovers(), 0);
}
END_TEST

START_TEST(test_get_refuses_damage)
{
    WalPushResult r;
    WalGetResult g;
    PgpErr err = {0};
    ck_assert_int_eq(push(fx.repo, TEXT_A, &r, &err), 0);

    /* Into a directory that does not exist: a failure, but not "not archived". */
    char nodir[600];
    snprintf(nodir, sizeof nodir, "%s/missing/RECOVERYHISTORY", fx.tdir);
    int rc = wal_get_file(fx.repo, HIST, nodir, &g, &err);
    ck_assert_int_ne(rc, 0);
    ck_assert_int_ne(rc, PGP_ERR_NOT_FOUND);

    /* Under another checksum's name: the content does not match it. */
    char other[REPO_PATH_MAX], full_a[512], full_b[512];
    const char *zeros = "0000000000000000000000000000000000000000000000000000000000000000";
    ck_assert_int_eq(repo_archive_object_path(HIST, zeros, PIPE_CODEC_ZSTD, other, NULL), 0);
    snprintf(full_a, sizeof full_a, "%s/%s", fx.root, r.object_path);
    snprintf(full_b, sizeof full_b, "%s/%s", fx.root, other);
    ck_assert_int_eq(rename(full_a, full_b), 0);
    err = (PgpErr){0};
    ck_assert_int_eq(wal_get_file(fx.repo, HIST, dest, &g, &err), PGP_ERR_CORRUPT);
    ck_assert_ptr_nonnull(strstr(err.msg, "checksum mismatch"));
    ck_assert_ptr_null(read_file(dest));
    ck_assert_int_eq(dest_leftovers(), 0);
    ck_assert_int_eq(rename(full_b, full_a), 0);

    /* A flipped byte near the end (the frame's content or checksum). */
    fx_flip_bit(fx.root, r.object_path, -5);
    err = (PgpErr){0};
    rc = wal_get_file(fx.repo, HIST, dest, &g, &err);
    ck_assert_msg(rc == PGP_ERR_CORRUPT || rc == PGP_ERR_CODEC, "rc %d: %s", rc, err.msg);
    ck_assert_ptr_null(read_file(dest));
    ck_assert_int_eq(dest_leftovers(), 0);

    /* Truncated to nothing. */
    ck_assert_int_eq(truncate(full_a, 3), 0);
    err = (PgpErr){0};
    rc = wal_get_file(fx.repo, HIST, dest, &g, &err);
    ck_assert_msg(rc == PGP_ERR_CORRUPT || rc == PGP_ERR_CODEC, "rc %d: %s", rc, err.msg);
    ck_assert_ptr_null(read_file(dest));
    ck_assert_int_eq(dest_leftovers(), 0);
}
END_TEST

START_TEST(test_start_cancel_and_finish)
{
    PgpErr err = {0};
    WalPushJob *job = NULL;
    WalPushOptions opt = {.codec = PIPE_CODEC_ZSTD, .level = 1};
    char missing[600];
    snprintf(missing, sizeof missing, "%s/missing/%s", fx.tdir, HIST);
    ck_assert_int_ne(wal_push_start(missing, &opt, &job, &err), 0);
    ck_assert_ptr_null(job);
    ck_assert_ptr_nonnull(strstr(err.msg, "cannot archive"));

    /* Started, then cancelled (the repository could not be opened): nothing written. */
    put_file(src, TEXT_A);
    ck_assert_int_eq(wal_push_start(src, &opt, &job, &err), 0);
    ck_assert_ptr_nonnull(job);
    wal_push_cancel(job);
    wal_push_cancel(NULL);
    ck_assert_int_eq(count_objects(), 0);
    ck_assert_int_eq(fx_count_temp(&fx), 0);

    /* Finished: archived; finished again with the same content: already there. */
    WalPushResult r1, r2;
    ck_assert_int_eq(wal_push_start(src, &opt, &job, &err), 0);
    ck_assert_int_eq(wal_push_finish(job, fx.repo, &r1, &err), 0);
    ck_assert(!r1.already_archived);
    ck_assert_uint_gt(r1.stored_size, 0);
    ck_assert(fx_exists(&fx, r1.object_path));
    ck_assert_int_eq(wal_push_start(src, &opt, &job, &err), 0);
    ck_assert_int_eq(wal_push_finish(job, fx.repo, &r2, &err), 0);
    ck_assert(r2.already_archived);
    ck_assert_str_eq(r2.sha256_hex, r1.sha256_hex);
    ck_assert_int_eq(count_objects(), 1);
    ck_assert_int_eq(fx_count_temp(&fx), 0);
}
END_TEST

Suite *suite_wal_push_get(void)
{
    Suite *s = suite_create("wal_push_get");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_same_content_twice_different_refused);
    tcase_add_test(tc, test_push_failure_at_each_step);
    tcase_add_test(tc, test_get_refuses_damage);
    tcase_add_test(tc, test_start_cancel_and_finish);
    suite_add_tcase(s, tc);
    return s;
}
