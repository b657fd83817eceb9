/*
 * test_backup_store.c - what the files of one backup had in common (backup_dedup_*,
 * src/backup/backup_store.c), the counts of its summary line: a file not stored again is
 * "unchanged" when an earlier backup stored its content, a "duplicate" when an earlier file of
 * the same backup did. A first backup has duplicates (a fresh cluster's three databases share
 * most files) and nothing unchanged.
 * The object pool on a temporary repository (fx_repo): a file's content stored once under its
 * SHA-256, a second file with that content not stored again, the pool's files counted
 * unchanged/duplicate, and a write failing at each step (fx_fail_storage) leaving no object
 * and no temp file.
 */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fx_repo.h"
#include "pgpitr/backup/backup_store.h"

static void note(BackupDedup *d, char c, bool reused)
{
    BackupStoreResult res;
    memset(&res, 0, sizeof res);
    memset(res.sha256_hex, c, PIPE_SHA256_HEX_LEN);
    res.reused = reused;
    backup_dedup_note(d, &res);
}

START_TEST(first_backup_has_only_duplicates)
{
    BackupDedup d = {0};
    note(&d, 'a', false);
    note(&d, 'a', true);
    note(&d, 'b', false);
    note(&d, 'a', true);
    note(&d, 'b', true);
    uint64_t unchanged = 9, dups = 9;
    ck_assert(backup_dedup_counts(&d, &unchanged, &dups));
    ck_assert_uint_eq(unchanged, 0);
    ck_assert_uint_eq(dups, 3);
    backup_dedup_free(&d);
    backup_dedup_free(&d);
}
END_TEST

START_TEST(later_backup_has_unchanged_files)
{
    BackupDedup d = {0};
    note(&d, 'c', true);    /* stored by an earlier backup */
    note(&d, 'd', false);
    note(&d, 'c', true);
    note(&d, 'd', true);    /* a duplicate of this backup's own file */
    note(&d, 'e', true);
    uint64_t unchanged, dups;
    ck_assert(backup_dedup_counts(&d, &unchanged, &dups));
    ck_assert_uint_eq(unchanged, 3);
    ck_assert_uint_eq(dups, 1);
    backup_dedup_free(&d);

    BackupDedup none = {0};
    ck_assert(backup_dedup_counts(&none, &unchanged, &dups));
    ck_assert_uint_eq(unchanged + dups, 0);
    none.lost = true;
    ck_assert(!backup_dedup_counts(&none, &unchanged, &dups));
}
END_TEST

/* ---- the object pool on a repository ---------------------------------------------------- */

static FxRepo fx;

static void setup(void) { fx_repo_init(&fx, "backup_store"); }
static void teardown(void) { fx_repo_free(&fx); }

static const BackupStoreOptions zstd3 = {.codec = PIPE_CODEC_ZSTD, .level = 3};

static void sha_hex(const char *content, char hex[PIPE_SHA256_HEX_LEN + 1])
{
    uint8_t d[PIPE_SHA256_LEN];
    ck_assert_int_eq(pipe_sha256_buf(content, strlen(content), d, NULL), 0);
    pipe_hex(d, sizeof d, hex);
}

static void store(Storage *s, const char *content, BackupStoreResult *res)
{
    PgpErr err = {0};
    ck_assert_int_eq(backup_store_file(s, &zstd3, (const uint8_t *)content, strlen(content), NULL,
                                       res, &err), 0);
}

/* Stored by content: the object is named by the SHA-256 of the file and holds it; the same
 * content again (digest given or not) is found, not written again. */
START_TEST(stored_by_content)
{
    const char *content = "base/1/1259 content, stored once";
    char hex[PIPE_SHA256_HEX_LEN + 1], path[REPO_PATH_MAX];
    sha_hex(content, hex);
    ck_assert_int_eq(repo_object_path(hex, PIPE_CODEC_ZSTD, path, NULL), 0);
    BackupStoreResult a, b;
    store(fx.st, content, &a);
    ck_assert(!a.reused);
    ck_assert_str_eq(a.sha256_hex, hex);
    ck_assert_str_eq(a.object, path);
    char *back = fx_read_object(&fx, path, PIPE_CODEC_ZSTD, hex, NULL);
    ck_assert_str_eq(back, content);
    free(back);
    StorageInfo info;
    PgpErr err = {0};
    ck_assert_int_eq(storage_stat(fx.st, path, &info, &err), 0);
    ck_assert_uint_eq(a.stored_size, info.size);

    uint8_t digest[PIPE_SHA256_LEN];
    ck_assert_int_eq(pipe_sha256_buf(content, strlen(content), digest, NULL), 0);
    /* A storage that cannot write proves the second store writes nothing. */
    Storage *ro = fx_fail_storage(&fx, FX_FAIL_OPEN);
    ck_assert_int_eq(backup_store_file(ro, &zstd3, (const uint8_t *)content, strlen(content),
                                       digest, &b, &err), 0);
    storage_free(ro);
    ck_assert(b.reused);
    ck_assert_str_eq(b.object, a.object);
    ck_assert_uint_eq(b.stored_size, a.stored_size);

    /* Other content: another object. */
    store(fx.st, "other content", &b);
    ck_assert(!b.reused);
    ck_assert_str_ne(b.object, a.object);
    ck_assert_int_eq(fx_count_temp(&fx), 0);
}
END_TEST

/* What stream_big does: the compressed bytes into a writer opened at the pending path, then
 * backup_store_pending. */
static int store_pending(Storage *s, const char *z, size_t zlen, const uint8_t *digest,
                         BackupStoreResult *res, PgpErr *err)
{
    StorageWriter *w = NULL;
    int rc = storage_open_write(s, REPO_PENDING_OBJECT, STORAGE_WRITE_NAME_AT_COMMIT, &w, err);
    if (rc == 0)
        rc = storage_write(w, z, zlen, err);
    if (rc != 0) {
        storage_writer_abort(w);
        return rc;
    }
    return backup_store_pending(s, &zstd3, w, zlen, digest, res, err);
}

/* A file compressed while it was received (a big file) is committed from its writer under
 * the digest of its original content, and found like any other object afterwards: then the
 * writer is dropped and nothing is left. */
START_TEST(stored_pending)
{
    const char *content = "a big relation file, compressed while received";
    char hex[PIPE_SHA256_HEX_LEN + 1];
    sha_hex(content, hex);
    uint8_t digest[PIPE_SHA256_LEN];
    ck_assert_int_eq(pipe_sha256_buf(content, strlen(content), digest, NULL), 0);
    /* The compressed bytes: those backup_store_file stored, taken out of the repository. */
    BackupStoreResult a, b;
    store(fx.st, content, &a);
    size_t zlen;
    char *z = NULL;
    ck_assert_int_eq(storage_get_all(fx.st, a.object, 1 << 20, &z, &zlen, NULL), 0);
    ck_assert_int_eq(storage_remove(fx.st, a.object, NULL), 0);
    PgpErr err = {0};
    ck_assert_int_eq(store_pending(fx.st, z, zlen, digest, &b, &err), 0);
    ck_assert(!b.reused);
    ck_assert_str_eq(b.object, a.object);
    ck_assert_uint_eq(b.stored_size, zlen);
    char *back = fx_read_object(&fx, b.object, PIPE_CODEC_ZSTD, hex, NULL);
    ck_assert_str_eq(back, content);
    free(back);
    ck_assert_int_eq(store_pending(fx.st, z, zlen, digest, &b, &err), 0);
    ck_assert(b.reused);
    ck_assert(!fx_exists(&fx, REPO_PENDING_OBJECT));
    ck_assert_int_eq(fx_count_temp(&fx), 0);
    free(z);
}
END_TEST

/* A write failing at each step (create, write, commit): an error naming the cause, no object
 * under the content's name, no temp file; the same content stores fine afterwards. */
START_TEST(failed_write_leaves_no_object)
{
    const FxFailStep steps[] = {FX_FAIL_OPEN, FX_FAIL_WRITE, FX_FAIL_COMMIT};
    const int codes[] = {PGP_ERR_IO, PGP_ERR_NO_SPACE, PGP_ERR_IO};
    const char *content = "a file the disk has no room for";
    char hex[PIPE_SHA256_HEX_LEN + 1], path[REPO_PATH_MAX];
    sha_hex(content, hex);
    ck_assert_int_eq(repo_object_path(hex, PIPE_CODEC_ZSTD, path, NULL), 0);
    uint8_t digest[PIPE_SHA256_LEN];
    ck_assert_int_eq(pipe_sha256_buf(content, strlen(content), digest, NULL), 0);
    for (size_t i = 0; i < 3; i++) {
        Storage *s = fx_fail_storage(&fx, steps[i]);
        BackupStoreResult res;
        PgpErr err = {0};
        ck_assert_int_eq(backup_store_file(s, &zstd3, (const uint8_t *)content, strlen(content),
                                           NULL, &res, &err), codes[i]);
        ck_assert_ptr_nonnull(strstr(err.msg, "fx: "));
        ck_assert(!fx_exists(&fx, path));
        ck_assert_int_eq(store_pending(s, content, strlen(content), digest, &res, &err),
                         codes[i]);
        ck_assert(!fx_exists(&fx, path));
        ck_assert_int_eq(fx_count_temp(&fx), 0);
        storage_free(s);
    }
    BackupStoreResult res;
    store(fx.st, content, &res);
    ck_assert(!res.reused);
    ck_assert(fx_exists(&fx, path));
}
END_TEST

/* ---- the pool ----------------------------------------------------------------------------- */

typedef struct PoolSeen {
    BackupDedup dedup;
    int done;
} PoolSeen;

static int pool_done(void *ud, const BackupFileJob *job, const BackupStoreResult *res,
                     PgpErr *err)
{
    (void)job, (void)err;
    PoolSeen *seen = ud;
    backup_dedup_note(&seen->dedup, res);
    seen->done++;
    return 0;
}

static int submit(BackupPool *p, const char *path, const char *content, PgpErr *err)
{
    size_t n = strlen(content);
    BackupFileJob job = {.path = strdup(path), .mode = 0600, .size = n, .data_len = n};
    ck_assert_ptr_nonnull(job.path);
    int rc = backup_pool_alloc(p, n, &job.data, err);
    if (rc != 0) {
        free(job.path);
        return rc;
    }
    memcpy(job.data, content, n);
    return backup_pool_submit(p, &job, err);
}

/* One backup's files through the pool (one worker: which of two equal files is stored first
 * is then fixed). */
static int run_backup(Storage *s, const char *const *contents, size_t n, PoolSeen *seen,
                      PgpErr *err)
{
    BackupPool *p = NULL;
    memset(seen, 0, sizeof *seen);
    ck_assert_int_eq(backup_pool_new(s, &zstd3, 1, 64, pool_done, seen, &p, err), 0);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char path[32];
        snprintf(path, sizeof path, "base/1/%zu", 16384 + i);
        rc = submit(p, path, contents[i], err);
    }
    int frc = backup_pool_finish(p, err);
    backup_pool_free(p);
    return rc != 0 ? rc : frc;
}

START_TEST(pool_counts_unchanged_and_duplicates)
{
    static const char *const first[] = {"pg_class", "template", "template", "pg_proc",
                                        "template"};
    PoolSeen seen;
    PgpErr err = {0};
    uint64_t unchanged, dups;
    ck_assert_int_eq(run_backup(fx.st, first, 5, &seen, &err), 0);
    ck_assert_int_eq(seen.done, 5);
    ck_assert(backup_dedup_counts(&seen.dedup, &unchanged, &dups));
    ck_assert_uint_eq(unchanged, 0);
    ck_assert_uint_eq(dups, 2);
    ck_assert_uint_eq(seen.dedup.n_written, 3);
    backup_dedup_free(&seen.dedup);

    /* The next backup: two files as before, one new written twice. */
    static const char *const second[] = {"pg_class", "new row", "template", "new row"};
    ck_assert_int_eq(run_backup(fx.st, second, 4, &seen, &err), 0);
    ck_assert(backup_dedup_counts(&seen.dedup, &unchanged, &dups));
    ck_assert_uint_eq(unchanged, 2);
    ck_assert_uint_eq(dups, 1);
    ck_assert_uint_eq(seen.dedup.n_written, 1);
    backup_dedup_free(&seen.dedup);
    for (size_t i = 0; i < 4; i++) {
        char hex[PIPE_SHA256_HEX_LEN + 1], path[REPO_PATH_MAX];
        sha_hex(second[i], hex);
        ck_assert_int_eq(repo_object_path(hex, PIPE_CODEC_ZSTD, path, NULL), 0);
        char *back = fx_read_object(&fx, path, PIPE_CODEC_ZSTD, hex, NULL);
        ck_assert_str_eq(back, second[i]);
        free(back);
    }
    ck_assert_int_eq(fx_count_temp(&fx), 0);
}
END_TEST

/* Files of 0 bytes count in the budget too (each queued job holds its node and path): with the
 * one worker held in its done callback, a submitter of empty files stops at the budget
 * instead of queueing all of them. */
typedef struct Held {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool release;
    int done;
    size_t submitted;
    BackupPool *p;
} Held;

static int held_done(void *ud, const BackupFileJob *job, const BackupStoreResult *res,
                     PgpErr *err)
{
    (void)job, (void)res, (void)err;
    Held *h = ud;
    pthread_mutex_lock(&h->mu);
    h->done++;
    while (!h->release)
        pthread_cond_wait(&h->cv, &h->mu);
    pthread_mutex_unlock(&h->mu);
    return 0;
}

static void *submit_empty(void *ud)
{
    Held *h = ud;
    PgpErr err = {0};
    for (size_t i = 0; i < 500; i++) {
        char path[32];
        snprintf(path, sizeof path, "base/1/%zu", 20000 + i);
        ck_assert_int_eq(submit(h->p, path, "", &err), 0);
        pthread_mutex_lock(&h->mu);
        h->submitted++;
        pthread_mutex_unlock(&h->mu);
    }
    return NULL;
}

START_TEST(pool_budget_counts_empty_files)
{
    Held h = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    PgpErr err = {0};
    ck_assert_int_eq(backup_pool_new(fx.st, &zstd3, 1, 16 * 1024, held_done, &h, &h.p, &err), 0);
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, submit_empty, &h), 0);
    for (int i = 0; i < 100; i++) {   /* until the worker is held and the submitter waits */
        usleep(20000);
        pthread_mutex_lock(&h.mu);
        bool held = h.done == 1;
        pthread_mutex_unlock(&h.mu);
        if (held && i >= 10)
            break;
    }
    pthread_mutex_lock(&h.mu);
    size_t queued = h.submitted;
    h.release = true;
    pthread_cond_broadcast(&h.cv);
    pthread_mutex_unlock(&h.mu);
    pthread_join(t, NULL);
    ck_assert_int_eq(backup_pool_finish(h.p, &err), 0);
    backup_pool_free(h.p);
    /* 16 KiB at 256 bytes a job: 64 queued, one more held by the worker */
    ck_assert_msg(queued <= 66, "%zu empty files queued within a 16 KiB budget", queued);
    ck_assert_uint_eq(h.done, 500);
}
END_TEST

/* A worker's failure is the pool's: finish (or the next alloc/submit) returns it with the
 * file's path, and nothing of that file is left in the repository. */
START_TEST(pool_failure_names_the_file)
{
    static const char *const files[] = {"a file that cannot be written"};
    Storage *s = fx_fail_storage(&fx, FX_FAIL_WRITE);
    PoolSeen seen;
    PgpErr err = {0};
    ck_assert_int_eq(run_backup(s, files, 1, &seen, &err), PGP_ERR_NO_SPACE);
    storage_free(s);
    ck_assert_int_eq(seen.done, 0);
    ck_assert_ptr_nonnull(strstr(err.msg, "cannot back up \"base/1/16384\""));
    char hex[PIPE_SHA256_HEX_LEN + 1], path[REPO_PATH_MAX];
    sha_hex(files[0], hex);
    ck_assert_int_eq(repo_object_path(hex, PIPE_CODEC_ZSTD, path, NULL), 0);
    ck_assert(!fx_exists(&fx, path));
    ck_assert_int_eq(fx_count_temp(&fx), 0);
    backup_dedup_free(&seen.dedup);
}
END_TEST

Suite *suite_backup_store(void)
{
    Suite *s = suite_create("backup_store");
    TCase *tc = tcase_create("backup_store");
    tcase_add_test(tc, first_backup_has_only_duplicates);
    tcase_add_test(tc, later_backup_has_unchanged_files);
    suite_add_tcase(s, tc);
    TCase *repo = tcase_create("object pool");
    tcase_add_checked_fixture(repo, setup, teardown);
    tcase_set_timeout(repo, 20);
    tcase_add_test(repo, stored_by_content);
    tcase_add_test(repo, stored_pending);
    tcase_add_test(repo, failed_write_leaves_no_object);
    tcase_add_test(repo, pool_counts_unchanged_and_duplicates);
    tcase_add_test(repo, pool_budget_counts_empty_files);
    tcase_add_test(repo, pool_failure_names_the_file);
    suite_add_tcase(s, repo);
    return s;
}
