/*
 * test_s3_write.c - memory of the S3 driver's writers (src/storage/s3_write.c): a writer holds
 * one part in memory, and gives it back to the system when it ends. Nothing here reaches a
 * server: a writer that is aborted before its first part is full sends no request.
 */
#include "pgpitr/storage/s3.h"
#include "pgpitr/storage/storage.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PART (16u << 20)
#define CHUNK (1u << 20)

/* Resident set size of this process in bytes (/proc/self/statm: pages). */
static long rss_bytes(void)
{
    long size = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fscanf(f, "%ld %ld", &size, &resident), 2);
    fclose(f);
    return resident * sysconf(_SC_PAGESIZE);
}

static Storage *open_s3(void)
{
    StorageS3Config cfg = {.endpoint = "http://127.0.0.1:9", .region = "us-east-1",
                           .path_style = true, .key = "k", .secret = "s", .part_size = PART};
    Storage *s = NULL;
    PgpErr err;
    ck_assert_msg(storage_s3_new("bucket", "repo", &cfg, &s, &err) == 0, "%s", err.msg);
    return s;
}

/* A writer filled to one whole part (every page of its buffer touched), then aborted. */
static void fill_and_abort(Storage *s, const unsigned char *chunk)
{
    StorageWriter *w = NULL;
    PgpErr err;
    ck_assert_msg(storage_open_write(s, "objects/aa/x.zst", 0, &w, &err) == 0, "%s", err.msg);
    for (size_t done = 0; done < PART; done += CHUNK)
        ck_assert_msg(storage_write(w, chunk, CHUNK, &err) == 0, "%s", err.msg);
    storage_writer_abort(w);
}

/* A backup opens and ends thousands of writers on several threads; a part that stayed
 * resident in the allocator after its writer ended (glibc raises its mmap threshold once a
 * 16 MiB block was freed, and later parts then come from heaps it does not trim) made the
 * peak RSS of a backup to S3 grow well past jobs x part size. */
START_TEST(ended_writers_give_their_part_back)
{
    static unsigned char chunk[CHUNK];
    memset(chunk, 0x5a, sizeof chunk);
    Storage *s = open_s3();
    fill_and_abort(s, chunk);                   /* warm-up: libraries, first allocations */
    long before = rss_bytes();
    for (int i = 0; i < 4; i++)
        fill_and_abort(s, chunk);
    long grown = rss_bytes() - before;
    ck_assert_msg(grown < (long)(PART / 4), "RSS grew by %ld KiB after 4 writers ended "
                  "(a part is %u KiB)", grown / 1024, PART / 1024);
    storage_free(s);
}
END_TEST

/* An object named at commit spills its parts beyond the first to a temporary file until its
 * name is known: in $TMPDIR, like every other temporary file of pgpitr (tmpfile() always used
 * /tmp). A TMPDIR that does not exist makes the spill fail, naming it; one that does works. */
START_TEST(spill_goes_to_tmpdir)
{
    static unsigned char chunk[CHUNK];
    memset(chunk, 0x3c, sizeof chunk);
    char *saved = getenv("TMPDIR") ? strdup(getenv("TMPDIR")) : NULL;
    char dir[] = "/tmp/pgpitr-spill-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char missing[64];
    snprintf(missing, sizeof missing, "%s/missing", dir);
    Storage *s = open_s3();
    PgpErr err;
    const char *tmpdirs[] = {missing, dir};
    for (int i = 0; i < 2; i++) {
        setenv("TMPDIR", tmpdirs[i], 1);
        StorageWriter *w = NULL;
        ck_assert_msg(storage_open_write(s, "objects/pending", STORAGE_WRITE_NAME_AT_COMMIT, &w,
                                         &err) == 0, "%s", err.msg);
        int rc = 0;
        for (size_t done = 0; rc == 0 && done <= PART; done += CHUNK)
            rc = storage_write(w, chunk, CHUNK, &err);
        if (i == 0) {
            ck_assert_int_ne(rc, 0);
            ck_assert_msg(strstr(err.msg, "cannot create a temporary file in $TMPDIR") != NULL,
                          "%s", err.msg);
        } else {
            ck_assert_msg(rc == 0, "%s", err.msg);
        }
        storage_writer_abort(w);
    }
    if (saved != NULL)
        setenv("TMPDIR", saved, 1);
    else
        unsetenv("TMPDIR");
    free(saved);
    storage_free(s);
    ck_assert_int_eq(rmdir(dir), 0);   /* empty: the spill file left no name behind */
}
END_TEST

Suite *suite_s3_write(void)
{
    Suite *s = suite_create("s3_write");
    TCase *tc = tcase_create("memory");
    tcase_add_test(tc, ended_writers_give_their_part_back);
    tcase_add_test(tc, spill_goes_to_tmpdir);
    suite_add_tcase(s, tc);
    return s;
}
