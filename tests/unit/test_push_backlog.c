/*
 * test_push_backlog.c - archive-push when the repository keeps failing (src/archive/
 * push_backlog.c and its use in src/cmd/archive_push.c), on a fabricated pg_wal and a real
 * posix repository that is made unreachable by putting a regular file where its parent
 * directory should be: a failure is remembered and counted, an alert is logged only once the
 * failures last archive-push-alert-after, nothing is dropped by default or under
 * archive-push-queue-max, `drop` records the segment durably and exits 0, the next success
 * clears the state and uploads the record, and the catalog marks the hole as dropped.
 */
#include "pgpitr/archive/push_backlog.h"

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fx_dir.h"
#include "fx_pgwal.h"
#include "pgpitr/archive/push_ahead.h"
#include "pgpitr/repo/catalog.h"
#include "pgpitr/repo/repo_layout.h"
#include "pgpitr/storage/storage.h"

static char dir[64], repo_dir[128], broken[128], wal[128], state[192];

static void setup(void)
{
    fx_dir_make(dir, sizeof dir, "backlog");
    snprintf(repo_dir, sizeof repo_dir, "%s/repo", dir);
    snprintf(broken, sizeof broken, "%s/file/repo", dir);   /* "file" is not a directory */
    fx_dir_put(dir, "file", "");
    snprintf(wal, sizeof wal, "%s/pg_wal", dir);
    snprintf(state, sizeof state, "%s/%s", wal, PUSH_AHEAD_DIR);
    ck_assert_int_eq(mkdir(wal, 0700), 0);
    char status[160];
    snprintf(status, sizeof status, "%s/archive_status", wal);
    ck_assert_int_eq(mkdir(status, 0700), 0);
    unsetenv("PGPITR_ARCHIVE_PUSH_QUEUE_MAX");
    unsetenv("PGPITR_ARCHIVE_PUSH_QUEUE_FULL");
    unsetenv("PGPITR_ARCHIVE_PUSH_ALERT_AFTER");
}

static void teardown(void)
{
    unsetenv("PGPITR_ARCHIVE_PUSH_QUEUE_MAX");
    unsetenv("PGPITR_ARCHIVE_PUSH_QUEUE_FULL");
    unsetenv("PGPITR_ARCHIVE_PUSH_ALERT_AFTER");
    fx_dir_remove(dir);
}

static int push(const char *repo, uint64_t segno, const char **log)
{
    return fx_pgwal_push(dir, repo, wal, segno, NULL, log);
}

static bool read_state(PushFailing *f)
{
    bool failing = false;
    PgpErr err = {0};
    ck_assert_msg(push_backlog_read_failing(wal, &failing, f, &err) == 0, "%s", err.msg);
    return failing;
}

/* Writes the failing state as an earlier call would have ("<since> <calls>"). */
static void put_state(const char *text)
{
    mkdir(state, 0700);
    fx_dir_put(state, PUSH_BACKLOG_FAILING, text);
}

static bool exists(const char *base, const char *name)
{
    char path[512];
    struct stat sb;
    snprintf(path, sizeof path, "%s/%s", base, name);
    return stat(path, &sb) == 0;
}

START_TEST(failures_are_counted_and_alerted_after_the_set_time)
{
    const char *log;
    fx_pgwal_segment(wal, 1, 1, true);
    ck_assert_int_ne(push(broken, 1, &log), 0);
    PushFailing f;
    ck_assert(read_state(&f));
    ck_assert_uint_eq(f.calls, 1);
    ck_assert_msg(strstr(log, "ALERT") == NULL, "%s", log);   /* not failing for long yet */
    /* failing since long ago (another run of the state): the second call alerts */
    put_state("1000000000 41\n");
    ck_assert_int_ne(push(broken, 1, &log), 0);
    ck_assert(read_state(&f));
    ck_assert_int_eq(f.since, 1000000000);
    ck_assert_uint_eq(f.calls, 42);
    ck_assert_msg(strstr(log, "ALERT: archiving has failed since 2001-09-09") != NULL, "%s",
                  log);
    ck_assert_msg(strstr(log, "1 WAL files (1 MiB) wait in pg_wal; PostgreSQL keeps them") !=
                  NULL, "%s", log);
    /* with a longer alert-after, the same state is no alert... */
    setenv("PGPITR_ARCHIVE_PUSH_ALERT_AFTER", "2h", 1);
    char recent[64];
    snprintf(recent, sizeof recent, "%lld 1\n", (long long)time(NULL) - 3600);
    put_state(recent);
    ck_assert_int_ne(push(broken, 1, &log), 0);
    ck_assert_msg(strstr(log, "ALERT") == NULL, "%s", log);
    /* a malformed state starts a new run */
    put_state("garbage\n");
    ck_assert_int_ne(push(broken, 1, &log), 0);
    ck_assert(read_state(&f));
    ck_assert_uint_eq(f.calls, 1);
    /* a success ends the run */
    ck_assert_int_eq(push(repo_dir, 1, &log), 0);
    ck_assert(!read_state(&f));
    ck_assert(!exists(state, PUSH_BACKLOG_FAILING));
}
END_TEST

START_TEST(drop_only_when_chosen_over_the_limit_and_recorded)
{
    const char *log;
    for (uint64_t s = 1; s <= 3; s++)
        fx_pgwal_segment(wal, s, 2, true);
    ck_assert_int_eq(push(repo_dir, 1, &log), 0);
    fx_pgwal_done(wal, 1);
    /* drop without a limit is a configuration error, before anything is pushed */
    setenv("PGPITR_ARCHIVE_PUSH_QUEUE_FULL", "drop", 1);
    ck_assert_int_eq(push(broken, 2, &log), PGP_ERR_CONFIG);
    ck_assert_msg(strstr(log, "needs archive-push-queue-max") != NULL, "%s", log);
    setenv("PGPITR_ARCHIVE_PUSH_QUEUE_FULL", "sometimes", 1);
    ck_assert_int_eq(push(broken, 2, &log), PGP_ERR_CONFIG);
    setenv("PGPITR_ARCHIVE_PUSH_QUEUE_FULL", "drop", 1);
    /* the ready backlog (2 MiB) is under the limit: no drop */
    setenv("PGPITR_ARCHIVE_PUSH_QUEUE_MAX", "4MiB", 1);
    put_state("1000000000 9\n");
    ck_assert_int_ne(push(broken, 2, &log), 0);
    ck_assert_msg(strstr(log, "not dropping: under archive-push-queue-max") != NULL, "%s", log);
    ck_assert(!exists(state, PUSH_BACKLOG_DROPPED_DIR "/000000010000000000000002"));
    /* failing for less than alert-after: no drop either, however big the backlog */
    setenv("PGPITR_ARCHIVE_PUSH_QUEUE_MAX", "1MiB", 1);
    put_state("4000000000 1\n");   /* in the future: now */
    ck_assert_int_ne(push(broken, 2, &log), 0);
    ck_assert_msg(strstr(log, "DROPPED") == NULL, "%s", log);
    /* over the limit after alert-after: dropped, recorded, exit 0 */
    put_state("1000000000 9\n");
    ck_assert_int_eq(push(broken, 2, &log), 0);
    ck_assert_msg(strstr(log, "DROPPED WAL segment \"000000010000000000000002\"") != NULL, "%s",
                  log);
    char drops[256];
    snprintf(drops, sizeof drops, "%s/%s", state, PUSH_BACKLOG_DROPPED_DIR);
    ck_assert(exists(drops, "000000010000000000000002"));
    fx_pgwal_done(wal, 2);
    /* the repository is back: the next push succeeds, uploads the record, clears the state */
    unsetenv("PGPITR_ARCHIVE_PUSH_QUEUE_FULL");
    ck_assert_int_eq(push(repo_dir, 3, &log), 0);
    ck_assert_msg(strstr(log, "recorded 1 dropped segment in the repository") != NULL, "%s",
                  log);
    ck_assert(!exists(drops, "000000010000000000000002"));
    ck_assert(!exists(state, PUSH_BACKLOG_FAILING));
    char obj[REPO_PATH_MAX];
    ck_assert_int_eq(repo_dropped_path("000000010000000000000002", obj, NULL), 0);
    ck_assert(exists(repo_dir, obj));
    /* the catalog: one hole, its segment dropped */
    Storage *st = NULL;
    Repo *repo = NULL;
    Catalog c;
    CatalogGap *gaps = NULL;
    size_t n = 0;
    PgpErr err = {0};
    ck_assert_int_eq(storage_posix_new(repo_dir, false, &st, &err), 0);
    ck_assert_int_eq(repo_open(st, &repo, &err), 0);
    ck_assert_msg(catalog_load(repo, CATALOG_LOAD_WAL, &c, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(c.n_dropped, 1);
    ck_assert_uint_eq(c.n_foreign, 0);
    ck_assert_int_eq(catalog_gaps(&c, &gaps, &n, &err), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(gaps[0].from_segno, 2);
    ck_assert_uint_eq(gaps[0].to_segno, 2);
    ck_assert_uint_eq(gaps[0].n_dropped, 1);
    ck_assert_int_gt(gaps[0].dropped_at, 0);
    free(gaps);
    catalog_free(&c);
    repo_free(repo);
    storage_free(st);
}
END_TEST

/* The push-ahead state of the fabricated pg_wal and the repository that drop records are
 * uploaded to, opened as archive-push opens them. */
typedef struct Drops {
    Storage *st;
    Repo *repo;
    int dfd;
} Drops;

static Drops drops_open(void)
{
    Drops d = {.dfd = -1};
    PgpErr err = {0};
    ck_assert_int_eq(storage_posix_new(repo_dir, true, &d.st, &err), 0);
    ck_assert_msg(repo_open(d.st, &d.repo, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(push_ahead_dir_open(wal, false, &d.dfd, &err), 0);
    return d;
}

static void drops_close(Drops *d)
{
    close(d->dfd);
    repo_free(d->repo);
    storage_free(d->st);
}

/* A FIFO planted under a segment's name in dropped/ (or as the failing state): opening it
 * waited for a writer, so archive-push hung after a successful push. Now refused at once. */
START_TEST(a_planted_fifo_is_refused_not_waited_for)
{
    char drops[256], fifo[512], failing[512];
    snprintf(drops, sizeof drops, "%s/%s", state, PUSH_BACKLOG_DROPPED_DIR);
    ck_assert_int_eq(mkdir(state, 0700), 0);
    ck_assert_int_eq(mkdir(drops, 0700), 0);
    snprintf(fifo, sizeof fifo, "%s/000000010000000000000002", drops);
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    snprintf(failing, sizeof failing, "%s/%s", state, PUSH_BACKLOG_FAILING);
    ck_assert_int_eq(mkfifo(failing, 0600), 0);
    Drops d = drops_open();
    PgpErr err = {0};
    size_t n = 9;
    ck_assert_int_eq(push_backlog_upload_drops(d.dfd, d.repo, &n, &err), PGP_ERR_CORRUPT);
    ck_assert_msg(strstr(err.msg, "not a regular file") != NULL, "%s", err.msg);
    ck_assert_uint_eq(n, 0);
    ck_assert(exists(drops, "000000010000000000000002"));
    bool is_failing = true;
    PushFailing f;
    ck_assert_int_eq(push_backlog_read_failing(wal, &is_failing, &f, &err), PGP_ERR_CORRUPT);
    ck_assert_msg(strstr(err.msg, "is not a regular file") != NULL, "%s", err.msg);
    ck_assert(!is_failing);
    /* a call that fails reads its state first: it starts a new run instead of waiting */
    push_backlog_note_failure(d.dfd, 1000, &f);
    ck_assert_int_eq(f.since, 1000);
    drops_close(&d);
}
END_TEST

START_TEST(an_oversized_drop_record_is_refused_not_cut)
{
    /* a record longer than any pgpitr writes: uploading the first 4 KiB would publish a
     * truncated record; it is refused and kept for the DBA to look at */
    char drops[256], big[PUSH_BACKLOG_DROP_RECORD_MAX + 2];
    snprintf(drops, sizeof drops, "%s/%s", state, PUSH_BACKLOG_DROPPED_DIR);
    ck_assert_int_eq(mkdir(state, 0700), 0);
    ck_assert_int_eq(mkdir(drops, 0700), 0);
    memset(big, ' ', sizeof big - 1);
    big[0] = '{';
    big[sizeof big - 2] = '}';
    big[sizeof big - 1] = '\0';
    fx_dir_put(drops, "000000010000000000000002", big);
    Drops d = drops_open();
    PgpErr err = {0};
    size_t n = 9;
    ck_assert_int_eq(push_backlog_upload_drops(d.dfd, d.repo, &n, &err), PGP_ERR_CORRUPT);
    ck_assert_msg(strstr(err.msg, "is over 4096 bytes") != NULL, "%s", err.msg);
    ck_assert_uint_eq(n, 0);
    ck_assert(exists(drops, "000000010000000000000002"));
    char obj[REPO_PATH_MAX];
    ck_assert_int_eq(repo_dropped_path("000000010000000000000002", obj, NULL), 0);
    ck_assert(!exists(repo_dir, obj));
    /* exactly the limit is accepted whole */
    big[PUSH_BACKLOG_DROP_RECORD_MAX - 1] = '}';
    big[PUSH_BACKLOG_DROP_RECORD_MAX] = '\0';
    fx_dir_put(drops, "000000010000000000000002", big);
    ck_assert_msg(push_backlog_upload_drops(d.dfd, d.repo, &n, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(n, 1);
    char path[512];
    snprintf(path, sizeof path, "%s/%s", repo_dir, obj);
    struct stat sb;
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_eq(sb.st_size, PUSH_BACKLOG_DROP_RECORD_MAX);
    drops_close(&d);
}
END_TEST

START_TEST(only_repository_trouble_on_plain_segments_may_drop)
{
    PgpErr e = {.code = PGP_ERR_IO};
    ck_assert(push_backlog_droppable(&e, "000000010000000000000002"));
    e.code = PGP_ERR_NO_SPACE;
    ck_assert(push_backlog_droppable(&e, "000000010000000000000002"));
    static const PgpErrCode never[] = {PGP_ERR_CONFLICT, PGP_ERR_WRONG_CLUSTER,
                                       PGP_ERR_CORRUPT, PGP_ERR_INVALID_NAME, PGP_ERR_CONFIG,
                                       PGP_ERR_NOMEM, PGP_ERR_LOCKED};
    for (size_t i = 0; i < sizeof never / sizeof never[0]; i++) {
        e.code = never[i];
        ck_assert(!push_backlog_droppable(&e, "000000010000000000000002"));
    }
    e.code = PGP_ERR_IO;
    ck_assert(!push_backlog_droppable(&e, "00000002.history"));
    ck_assert(!push_backlog_droppable(&e, "000000010000000000000002.partial"));
    ck_assert(!push_backlog_droppable(&e, "000000010000000000000002.00000028.backup"));
}
END_TEST

START_TEST(the_ready_backlog_counts_ready_files_and_their_bytes)
{
    for (uint64_t s = 1; s <= 3; s++)
        fx_pgwal_segment(wal, s, 3, s != 2);
    char status[160];
    snprintf(status, sizeof status, "%s/archive_status", wal);
    fx_dir_put(status, "000000010000000000000009.ready", "");   /* file gone: 0 bytes */
    fx_dir_put(status, "000000010000000000000002.done", "");
    uint64_t files, bytes;
    PgpErr err = {0};
    ck_assert_int_eq(push_backlog_ready(wal, &files, &bytes, &err), 0);
    ck_assert_uint_eq(files, 3);
    ck_assert_uint_eq(bytes, 2 * FX_PGWAL_SEGSIZE);
    ck_assert_int_ne(push_backlog_ready(dir, &files, &bytes, &err), 0);   /* no status */
}
END_TEST

Suite *suite_push_backlog(void)
{
    Suite *s = suite_create("push_backlog");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, failures_are_counted_and_alerted_after_the_set_time);
    tcase_add_test(tc, drop_only_when_chosen_over_the_limit_and_recorded);
    tcase_add_test(tc, an_oversized_drop_record_is_refused_not_cut);
    tcase_add_test(tc, a_planted_fifo_is_refused_not_waited_for);
    tcase_add_test(tc, only_repository_trouble_on_plain_segments_may_drop);
    tcase_add_test(tc, the_ready_backlog_counts_ready_files_and_their_bytes);
    suite_add_tcase(s, tc);
    return s;
}
