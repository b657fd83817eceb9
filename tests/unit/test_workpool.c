/*
 * test_workpool.c - the worker pool (src/common/workpool.c): every item exactly once on one and
 * on several threads, progress, per-thread locals, cancel and the first error stopping the rest.
 */
#include <check.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "pgpitr/common/workpool.h"

#define N 200

typedef struct Ctx {
    atomic_int runs[N];                 /* how often each item ran */
    atomic_int locals, freed;           /* locals made, locals released */
    size_t fail_at;                     /* item that fails (N: none) */
    size_t cancel_at;                   /* item that sets cancel (N: none) */
    volatile sig_atomic_t cancel;
    int progress_calls;
    uint64_t last_done;
} Ctx;

static Ctx *new_ctx(void)
{
    Ctx *c = calloc(1, sizeof *c);
    ck_assert_ptr_nonnull(c);
    c->fail_at = c->cancel_at = N;
    return c;
}

static int item(void *ud, size_t i, void **local, PgpErr *err)
{
    Ctx *c = ud;
    ck_assert_uint_lt(i, N);
    if (*local == NULL) {
        *local = malloc(16);
        ck_assert_ptr_nonnull(*local);
        atomic_fetch_add(&c->locals, 1);
    }
    atomic_fetch_add(&c->runs[i], 1);
    if (i == c->cancel_at)
        c->cancel = 1;
    if (i == c->fail_at)
        return PGP_FAIL(err, PGP_ERR_CORRUPT, "item %zu is bad", i);
    return 0;
}

static Ctx *freeing_ctx;                /* local_free has no ud: count through this */

static void release_counted(void *local)
{
    atomic_fetch_add(&freeing_ctx->freed, 1);
    free(local);
}

static void progress(void *ud, uint64_t done)
{
    Ctx *c = ud;
    ck_assert_uint_ge(done, c->last_done); /* never goes back */
    c->progress_calls++;
    c->last_done = done;
}

static int run(Ctx *c, size_t n, int workers, uint64_t *done, PgpErr *err)
{
    freeing_ctx = c;
    WorkpoolOptions opt = {.workers = workers, .item = item, .ud = c,
                           .local_free = release_counted, .progress = progress,
                           .interval_ms = 1, .cancel = &c->cancel, .what = "test"};
    pgp_err_clear(err);
    return workpool_run(n, &opt, done, err);
}

static void all_once(int workers)
{
    Ctx *c = new_ctx();
    PgpErr err;
    uint64_t done = 0;
    ck_assert_int_eq(run(c, N, workers, &done, &err), 0);
    ck_assert_uint_eq(done, N);
    for (size_t i = 0; i < N; i++)
        ck_assert_msg(atomic_load(&c->runs[i]) == 1, "item %zu ran %d times", i,
                      atomic_load(&c->runs[i]));
    ck_assert_int_ge(c->progress_calls, 1);
    ck_assert_uint_eq(c->last_done, N); /* the final call, after every thread ended */
    ck_assert_int_ge(atomic_load(&c->locals), 1);
    ck_assert_int_le(atomic_load(&c->locals), workers);
    ck_assert_int_eq(atomic_load(&c->freed), atomic_load(&c->locals));
    free(c);
}

START_TEST(every_item_once_one_thread)
{
    all_once(1);
}
END_TEST

START_TEST(every_item_once_four_threads)
{
    all_once(4);
}
END_TEST

START_TEST(no_items)
{
    Ctx *c = new_ctx();
    PgpErr err;
    uint64_t done = 7;
    ck_assert_int_eq(run(c, 0, 4, &done, &err), 0);
    ck_assert_uint_eq(done, 0);
    ck_assert_int_eq(atomic_load(&c->locals), 0);
    free(c);
}
END_TEST

START_TEST(cancel_stops_early)
{
    Ctx *c = new_ctx();
    c->cancel_at = 9;
    PgpErr err;
    uint64_t done = 0;
    /* one thread: the check before each item sees the cancel set by item 9 */
    ck_assert_int_eq(run(c, N, 1, &done, &err), 0);
    ck_assert_uint_eq(done, 10);
    ck_assert_int_eq(atomic_load(&c->runs[9]), 1);
    ck_assert_int_eq(atomic_load(&c->runs[10]), 0);
    ck_assert_int_eq(atomic_load(&c->freed), atomic_load(&c->locals));
    free(c);

    c = new_ctx();
    c->cancel = 1; /* cancelled before the start: nothing runs */
    ck_assert_int_eq(run(c, N, 4, &done, &err), 0);
    ck_assert_uint_eq(done, 0);
    for (size_t i = 0; i < N; i++)
        ck_assert_int_eq(atomic_load(&c->runs[i]), 0);
    free(c);
}
END_TEST

START_TEST(error_stops_the_rest)
{
    Ctx *c = new_ctx();
    c->fail_at = 5;
    PgpErr err;
    uint64_t done = 0;
    ck_assert_int_eq(run(c, N, 1, &done, &err), PGP_ERR_CORRUPT);
    ck_assert_str_eq(err.msg, "item 5 is bad");
    ck_assert_uint_eq(done, 5); /* the failed item is not done */
    ck_assert_int_eq(atomic_load(&c->runs[5]), 1);
    for (size_t i = 6; i < N; i++)
        ck_assert_int_eq(atomic_load(&c->runs[i]), 0);
    ck_assert_int_eq(atomic_load(&c->freed), atomic_load(&c->locals));
    free(c);

    /* several threads: the error is returned, nothing runs twice, the failed one is not done */
    c = new_ctx();
    c->fail_at = 5;
    ck_assert_int_eq(run(c, N, 4, &done, &err), PGP_ERR_CORRUPT);
    ck_assert_str_eq(err.msg, "item 5 is bad");
    ck_assert_uint_lt(done, N);
    int ran = 0;
    for (size_t i = 0; i < N; i++) {
        ck_assert_int_le(atomic_load(&c->runs[i]), 1);
        ran += atomic_load(&c->runs[i]);
    }
    ck_assert_uint_eq(done, (uint64_t)ran - 1);
    ck_assert_int_eq(atomic_load(&c->freed), atomic_load(&c->locals));
    free(c);
}
END_TEST

Suite *suite_workpool(void)
{
    Suite *s = suite_create("workpool");
    TCase *tc = tcase_create("pool");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, every_item_once_one_thread);
    tcase_add_test(tc, every_item_once_four_threads);
    tcase_add_test(tc, no_items);
    tcase_add_test(tc, cancel_stops_early);
    tcase_add_test(tc, error_stops_the_rest);
    suite_add_tcase(s, tc);
    return s;
}
