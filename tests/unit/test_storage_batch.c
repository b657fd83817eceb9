/*
 * test_storage_batch.c - batched commits at the storage seam (storage.h, "Batched commits";
 * src/storage/posix_batch.c), on a posix root in a mkdtemp directory:
 *   - a committed writer is invisible (stat, list, the final directory) until the flush, then
 *     whole; commit_as into another directory too; the batch says it holds it meanwhile;
 *     nothing temporary is left after free;
 *   - the limits flush by themselves; an existing object is kept (no replace), replaced with
 *     STORAGE_WRITE_REPLACE; the same address twice in one batch is one object;
 *   - a failing flush (a final directory that cannot be made) names nothing partial, removes
 *     every temp file, and poisons the batch with a one-line error;
 *   - a process SIGKILLed with a batch pending leaves only its hidden batch directory, which
 *     the next batch on the same dir removes;
 *   - writers committed from several threads at once (auto-flushing) all end up named;
 *   - a flush into many new directories costs two syncfs and no fsync (fx_syncs): the first
 *     before any name, the second once every name (and new directory) is there; without
 *     syncfs (ENOSYS), an fsync of each file, then of each directory once named;
 *   - a driver without batches commits each writer at once.
 */
#include "pgpitr/storage/storage.h"

#include <check.h>
#include <dirent.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fx_dir.h"
#include "fx_syncs.h"

static char tdir[128];
static char root[256];
static Storage *st;

static void setup(void)
{
    fx_dir_make(tdir, sizeof tdir, "test_batch");
    snprintf(root, sizeof root, "%s/repo", tdir);
    PgpErr err = {0};
    ck_assert_int_eq(storage_posix_new(root, true, &st, &err), 0);
}

static void teardown(void)
{
    storage_free(st);
    st = NULL;
    fx_dir_remove(tdir);
}

static int temps;
static int count_temp(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    if (strstr(p + strlen(root), "/.tmp.") != NULL)
        temps++;
    return 0;
}

/* Temp entries below the root: ".tmp.*" names and what a batch's ".tmp.batch.*" holds. */
static int count_temps(void)
{
    temps = 0;
    ck_assert_int_eq(nftw(root, count_temp, 16, FTW_PHYS), 0);
    return temps;
}

static bool named(const char *rel)
{
    StorageInfo info;
    PgpErr err = {0};
    return storage_stat(st, rel, &info, &err) == 0;
}

static void assert_content(const char *rel, const char *want)
{
    char *got = NULL;
    size_t len = 0;
    PgpErr err = {0};
    ck_assert_msg(storage_get_all(st, rel, 1 << 20, &got, &len, &err) == 0, "%s", err.msg);
    ck_assert_str_eq(got, want);
    free(got);
}

static int put(StorageBatch *b, const char *rel, unsigned flags, const char *text, PgpErr *err)
{
    StorageWriter *w = NULL;
    int rc = storage_batch_open_write(b, rel, flags, &w, err);
    if (rc == 0)
        rc = storage_write(w, text, strlen(text), err);
    if (rc != 0) {
        storage_writer_abort(w);
        return rc;
    }
    return storage_writer_commit(w, err);
}

static const StorageBatchLimits big = {.max_objects = 1000, .max_bytes = 1 << 30};

static int n_listed;
static int count_listed(void *ud, const char *name, const StorageInfo *info, PgpErr *err)
{
    (void)ud, (void)name, (void)info, (void)err;
    n_listed++;
    return 0;
}

START_TEST(visible_only_after_flush)
{
    PgpErr err = {0};
    StorageBatch *b = NULL;
    ck_assert_int_eq(storage_batch_new(st, "objects", &big, &b, &err), 0);
    ck_assert(storage_batch_deferred(b));
    ck_assert_int_eq(put(b, "objects/aa/aa1", 0, "one", &err), 0);
    ck_assert_int_eq(put(b, "objects/bb/bb2", 0, "two", &err), 0);
    StorageWriter *w = NULL;
    ck_assert_int_eq(storage_batch_open_write(b, "objects/x", 0, &w, &err), 0);
    ck_assert_int_eq(storage_write(w, "three", 5, &err), 0);
    ck_assert_int_eq(storage_writer_commit_as(w, "objects/cc/cc3", &err), 0);
    ck_assert(!named("objects/aa/aa1") && !named("objects/bb/bb2") && !named("objects/cc/cc3"));
    ck_assert(!named("objects/x"));
    uint64_t size = 0;
    ck_assert(storage_batch_holds(b, "objects/cc/cc3", &size));    /* what a stat misses */
    ck_assert_uint_eq(size, 5);
    ck_assert(!storage_batch_holds(b, "objects/x", NULL));
    n_listed = 0;
    ck_assert_int_eq(storage_list(st, "objects", count_listed, NULL, &err), 0);
    ck_assert_int_eq(n_listed, 0);          /* the batch's directory is hidden */
    ck_assert_int_eq(count_temps(), 4);     /* its directory and three files */
    ck_assert_msg(storage_batch_flush(b, &err) == 0, "%s", err.msg);
    assert_content("objects/aa/aa1", "one");
    assert_content("objects/bb/bb2", "two");
    assert_content("objects/cc/cc3", "three");
    ck_assert(!named("objects/x"));
    ck_assert(!storage_batch_holds(b, "objects/cc/cc3", NULL));    /* a stat sees it now */
    ck_assert_int_eq(count_temps(), 1);     /* the (empty) batch directory until free */
    ck_assert_int_eq(storage_batch_flush(b, &err), 0);     /* nothing left: a no-op */
    storage_batch_free(b);
    ck_assert_int_eq(count_temps(), 0);
}
END_TEST

START_TEST(limits_flush_by_themselves)
{
    PgpErr err = {0};
    StorageBatch *b = NULL;
    StorageBatchLimits two = {.max_objects = 2, .max_bytes = 1 << 30};
    ck_assert_int_eq(storage_batch_new(st, "objects", &two, &b, &err), 0);
    ck_assert_int_eq(put(b, "objects/a/1", 0, "1", &err), 0);
    ck_assert(!named("objects/a/1"));
    ck_assert_int_eq(put(b, "objects/a/2", 0, "2", &err), 0);
    ck_assert(named("objects/a/1") && named("objects/a/2"));
    ck_assert_int_eq(put(b, "objects/a/3", 0, "3", &err), 0);
    ck_assert(!named("objects/a/3"));
    storage_batch_free(b);                  /* not flushed: discarded, never named */
    ck_assert(!named("objects/a/3"));
    ck_assert_int_eq(count_temps(), 0);

    StorageBatchLimits bytes = {.max_objects = 100, .max_bytes = 8};
    ck_assert_int_eq(storage_batch_new(st, "objects", &bytes, &b, &err), 0);
    ck_assert_int_eq(put(b, "objects/a/4", 0, "1234", &err), 0);
    ck_assert(!named("objects/a/4"));
    ck_assert_int_eq(put(b, "objects/a/5", 0, "5678", &err), 0);
    ck_assert(named("objects/a/4") && named("objects/a/5"));
    storage_batch_free(b);
}
END_TEST

START_TEST(existing_object_kept_or_replaced)
{
    PgpErr err = {0};
    ck_assert_int_eq(storage_put_all(st, "objects/ab/abc", 0, "old", 3, &err), 0);
    ck_assert_int_eq(storage_put_all(st, "objects/ab/rep", 0, "old", 3, &err), 0);
    StorageBatch *b = NULL;
    ck_assert_int_eq(storage_batch_new(st, "objects", &big, &b, &err), 0);
    ck_assert_int_eq(put(b, "objects/ab/abc", 0, "new", &err), 0);
    ck_assert_int_eq(put(b, "objects/ab/rep", STORAGE_WRITE_REPLACE, "new", &err), 0);
    ck_assert_int_eq(put(b, "objects/ab/dup", 0, "same", &err), 0);
    ck_assert_int_eq(put(b, "objects/ab/dup", 0, "same", &err), 0);
    ck_assert_msg(storage_batch_flush(b, &err) == 0, "%s", err.msg);
    assert_content("objects/ab/abc", "old");
    assert_content("objects/ab/rep", "new");
    assert_content("objects/ab/dup", "same");
    storage_batch_free(b);
    ck_assert_int_eq(count_temps(), 0);
}
END_TEST

START_TEST(failed_flush_names_nothing_partial)
{
    PgpErr err = {0};
    /* A file where a final directory must be: its objects cannot be named. */
    ck_assert_int_eq(storage_put_all(st, "objects/bb", 0, "x", 1, &err), 0);
    StorageBatch *b = NULL;
    ck_assert_int_eq(storage_batch_new(st, "objects", &big, &b, &err), 0);
    ck_assert_int_eq(put(b, "objects/aa/1", 0, "whole one", &err), 0);
    ck_assert_int_eq(put(b, "objects/bb/2", 0, "two", &err), 0);
    ck_assert_int_eq(put(b, "objects/cc/3", 0, "three", &err), 0);
    int rc = storage_batch_flush(b, &err);
    ck_assert_int_ne(rc, 0);
    ck_assert_ptr_null(strchr(err.msg, '\n'));
    ck_assert_msg(strstr(err.msg, "objects/bb") != NULL, "%s", err.msg);
    /* Named before the failure: whole and durable. After it: nothing, no temp file. */
    assert_content("objects/aa/1", "whole one");
    ck_assert(!named("objects/cc/3"));
    ck_assert_int_eq(count_temps(), 1);     /* only the batch's (empty) directory */
    /* The batch stays failed: nothing more goes through it. */
    PgpErr err2 = {0};
    ck_assert_int_eq(put(b, "objects/dd/4", 0, "four", &err2), rc);
    ck_assert_int_eq(storage_batch_flush(b, &err2), rc);
    ck_assert_str_eq(err2.msg, err.msg);
    ck_assert(!named("objects/dd/4"));
    storage_batch_free(b);
    ck_assert_int_eq(count_temps(), 0);
}
END_TEST

START_TEST(killed_leaves_only_temps)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        PgpErr err = {0};
        StorageBatch *b = NULL;
        if (storage_batch_new(st, "objects", &big, &b, &err) != 0 ||
            put(b, "objects/aa/1", 0, "one", &err) != 0 ||
            put(b, "objects/bb/2", 0, "two", &err) != 0)
            _exit(1);
        kill(getpid(), SIGKILL);
        _exit(2);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    ck_assert(!named("objects/aa/1") && !named("objects/bb/2"));
    ck_assert_int_eq(count_temps(), 3);     /* the dead batch's directory and two files */
    PgpErr err = {0};
    StorageBatch *b = NULL;
    ck_assert_int_eq(storage_batch_new(st, "objects", &big, &b, &err), 0);
    ck_assert_int_eq(count_temps(), 1);     /* only the new batch's own directory */
    storage_batch_free(b);
    ck_assert_int_eq(count_temps(), 0);
}
END_TEST

/* ---- several threads ------------------------------------------------------------------ */

typedef struct Worker {
    pthread_t t;
    StorageBatch *b;
    int id, rc;
} Worker;

#define PER_THREAD 150

static void *worker(void *arg)
{
    Worker *wk = arg;
    PgpErr err = {0};
    for (int i = 0; i < PER_THREAD && wk->rc == 0; i++) {
        char rel[64], text[32];
        /* Half the addresses are shared by all threads (same content, as content addresses). */
        int key = i % 2 == 0 ? i : 1000 * (wk->id + 1) + i;
        snprintf(rel, sizeof rel, "objects/%02x/obj%d", key % 7, key);
        snprintf(text, sizeof text, "content %d", key);
        wk->rc = put(wk->b, rel, 0, text, &err);
    }
    return NULL;
}

START_TEST(concurrent_writers)
{
    PgpErr err = {0};
    StorageBatch *b = NULL;
    StorageBatchLimits lim = {.max_objects = 16, .max_bytes = 1 << 30};
    ck_assert_int_eq(storage_batch_new(st, "objects", &lim, &b, &err), 0);
    Worker wk[4];
    for (int i = 0; i < 4; i++) {
        wk[i] = (Worker){.b = b, .id = i};
        ck_assert_int_eq(pthread_create(&wk[i].t, NULL, worker, &wk[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(wk[i].t, NULL);
        ck_assert_int_eq(wk[i].rc, 0);
    }
    ck_assert_int_eq(storage_batch_flush(b, &err), 0);
    storage_batch_free(b);
    for (int id = 0; id < 4; id++) {
        for (int i = 0; i < PER_THREAD; i++) {
            char rel[64], text[32];
            int key = i % 2 == 0 ? i : 1000 * (id + 1) + i;
            snprintf(rel, sizeof rel, "objects/%02x/obj%d", key % 7, key);
            snprintf(text, sizeof text, "content %d", key);
            assert_content(rel, text);
        }
    }
    ck_assert_int_eq(count_temps(), 0);
}
END_TEST

/* ---- a driver without batches ----------------------------------------------------------- */

static int fwd_stat(void *drv, const char *path, StorageInfo *out, PgpErr *err)
{
    return storage_stat(drv, path, out, err);
}

static int fwd_open_write(void *drv, const char *path, unsigned flags, StorageWriter **out,
                          PgpErr *err)
{
    return storage_open_write(drv, path, flags, out, err);
}

START_TEST(driver_without_batches_commits_at_once)
{
    static const StorageDriver fwd = {.name = "forward", .stat = fwd_stat,
                                      .open_write = fwd_open_write};
    Storage *outer = storage_new(&fwd, st);
    ck_assert_ptr_nonnull(outer);
    PgpErr err = {0};
    StorageBatch *b = NULL;
    ck_assert_int_eq(storage_batch_new(outer, "objects", &big, &b, &err), 0);
    ck_assert(!storage_batch_deferred(b));
    ck_assert_int_eq(put(b, "objects/aa/1", 0, "one", &err), 0);
    assert_content("objects/aa/1", "one");          /* named by the commit itself */
    ck_assert_int_eq(storage_batch_flush(b, &err), 0);
    storage_batch_free(b);
    storage_free(outer);            /* no free in its vtable: st stays the fixture's */
    ck_assert_int_eq(count_temps(), 0);
}
END_TEST

/* 300 objects in 150 directories that do not exist yet, one flush: the bytes are made durable
 * by one syncfs before anything is named, the names and the new directories by one more after
 * the last rename; no fsync of a file or directory (the flush used to fsync each directory it
 * created and each final directory once it was renamed into: 300 fsyncs here). */
#define SYNC_OBJECTS 300
static int named_at_syncfs[2];

/* Object i of the test: "objects/<i % 150 in hex>/<i>", its own path as content. */
static void sync_object(int i, char *rel, size_t size)
{
    snprintf(rel, size, "objects/%02x/%d", i % 150, i);
}

static int count_named(void)
{
    int n = 0;
    for (int i = 0; i < SYNC_OBJECTS; i++) {
        char rel[64];
        sync_object(i, rel, sizeof rel);
        n += named(rel);
    }
    return n;
}

/* A batch holding the SYNC_OBJECTS objects, not flushed; counts reset. */
static StorageBatch *sync_batch(void)
{
    PgpErr err = {0};
    StorageBatch *b = NULL;
    ck_assert_int_eq(storage_batch_new(st, "objects", &big, &b, &err), 0);
    for (int i = 0; i < SYNC_OBJECTS; i++) {
        char rel[64];
        sync_object(i, rel, sizeof rel);
        ck_assert_msg(put(b, rel, 0, rel, &err) == 0, "%s", err.msg);
    }
    fx_syncs_reset();
    return b;
}

static void record_named(int before)
{
    if (before < 2)
        named_at_syncfs[before] = count_named();
}

START_TEST(flush_syncs_the_file_system_twice)
{
    PgpErr err = {0};
    StorageBatch *b = sync_batch();
    fx_syncs.on_syncfs = record_named;
    ck_assert_msg(storage_batch_flush(b, &err) == 0, "%s", err.msg);
    fx_syncs.on_syncfs = NULL;
    ck_assert_int_eq(fx_syncs.syncfs, 2);
    ck_assert_int_eq(fx_syncs.fsyncs, 0);
    ck_assert_int_eq(fx_syncs.fdatasyncs, 0);
    ck_assert_int_eq(named_at_syncfs[0], 0);
    ck_assert_int_eq(named_at_syncfs[1], SYNC_OBJECTS);
    assert_content("objects/95/149", "objects/95/149");
    storage_batch_free(b);
    ck_assert_int_eq(count_temps(), 0);
}
END_TEST

/* A kernel without syncfs: each file fsynced before any name, each new directory and each
 * final directory fsynced; everything named. */
START_TEST(flush_without_syncfs_fsyncs_each)
{
    PgpErr err = {0};
    StorageBatch *b = sync_batch();
    fx_syncs.syncfs_enosys = 1;
    fx_syncs.on_syncfs = record_named;
    ck_assert_msg(storage_batch_flush(b, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(fx_syncs.syncfs, 1);               /* tried once, never again */
    ck_assert_int_eq(named_at_syncfs[0], 0);
    /* 300 files, 150 new directories (their parent, objects/, each time), 150 directories. */
    ck_assert_int_eq(fx_syncs.fsyncs, SYNC_OBJECTS + 150 + 150);
    ck_assert_int_eq(count_named(), SYNC_OBJECTS);
    storage_batch_free(b);
    ck_assert_int_eq(count_temps(), 0);
}
END_TEST

Suite *suite_storage_batch(void)
{
    Suite *s = suite_create("storage_batch");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, visible_only_after_flush);
    tcase_add_test(tc, limits_flush_by_themselves);
    tcase_add_test(tc, existing_object_kept_or_replaced);
    tcase_add_test(tc, failed_flush_names_nothing_partial);
    tcase_add_test(tc, killed_leaves_only_temps);
    tcase_add_test(tc, concurrent_writers);
    tcase_add_test(tc, driver_without_batches_commits_at_once);
    tcase_add_test(tc, flush_syncs_the_file_system_twice);
    tcase_add_test(tc, flush_without_syncfs_fsyncs_each);
    suite_add_tcase(s, tc);
    return s;
}
