/*
 * test_pull_bridge.c - a pushing producer read by a pulling consumer on another thread
 * (src/pipe/pull_bridge.c): bytes arrive whole and in order through a ring smaller than any
 * write, the producer's error wins over the consumer's, and the producer always runs to its
 * end (a decoder's final check is never skipped) whatever the consumer did.
 */
#include "pgpitr/pipe/pull_bridge.h"

#include <check.h>
#include <stdint.h>
#include <string.h>

#define TOTAL (1u << 20)

static uint8_t pattern(size_t i) { return (uint8_t)(i * 31u + (i >> 9)); }

typedef struct Producer {
    size_t total;               /* bytes to write; 0: TOTAL */
    size_t fail_after;          /* bytes written before failing; TOTAL: never fails */
    int fail_code;
    size_t written;             /* bytes handed to the sink */
} Producer;

static int produce(void *ud, PipeSink out, PgpErr *err)
{
    Producer *p = ud;
    size_t total = p->total != 0 ? p->total : TOTAL;
    static const size_t sizes[] = {1, 7, 4096, 13, 65536, 3, 100000};
    uint8_t buf[100000];
    size_t k = 0;
    while (p->written < total) {
        size_t n = sizes[k++ % 7];
        if (n > total - p->written)
            n = total - p->written;
        if (p->written + n > p->fail_after)
            return PGP_FAIL(err, p->fail_code, "bad frame at %zu", p->written);
        for (size_t i = 0; i < n; i++)
            buf[i] = pattern(p->written + i);
        int rc = out.write(out.ud, buf, n, err);
        if (rc != 0)
            return rc;
        p->written += n;
    }
    return 0;
}

typedef struct Consumer {
    size_t stop_after;          /* bytes read before returning; SIZE_MAX: to the end */
    int stop_code;              /* returned then: 0 or an error */
    size_t read;
    bool mismatch, saw_error;
} Consumer;

static int consume(void *ud, PullReadFn rd, void *rd_ud, PgpErr *err)
{
    Consumer *c = ud;
    uint8_t buf[5];
    for (;;) {
        if (c->read >= c->stop_after)
            return c->stop_code != 0 ? PGP_FAIL(err, c->stop_code, "parse error") : 0;
        size_t got;
        int rc = rd(rd_ud, buf, sizeof buf, &got, err);
        if (rc != 0) {
            c->saw_error = true;
            return rc;
        }
        if (got == 0)
            return 0;
        for (size_t i = 0; i < got; i++)
            c->mismatch |= buf[i] != pattern(c->read + i);
        c->read += got;
    }
}

START_TEST(bytes_arrive_whole_and_in_order)
{
    /* a ring smaller than most writes (each waits for room, wraps) and one of 4093 bytes */
    Producer p = {.total = 20000, .fail_after = TOTAL};
    Consumer c = {.stop_after = SIZE_MAX};
    PgpErr err = {0};
    ck_assert_int_eq(pull_bridge_run(produce, &p, consume, &c, 13, &err), 0);
    ck_assert_uint_eq(c.read, 20000);
    ck_assert(!c.mismatch);
    Producer p2 = {.fail_after = TOTAL};
    Consumer c2 = {.stop_after = SIZE_MAX};
    ck_assert_int_eq(pull_bridge_run(produce, &p2, consume, &c2, 4093, &err), 0);
    ck_assert_uint_eq(c2.read, TOTAL);
    ck_assert(!c2.mismatch);
}
END_TEST

START_TEST(the_producers_error_wins)
{
    Producer p = {.fail_after = 70000, .fail_code = PGP_ERR_CORRUPT};
    Consumer c = {.stop_after = SIZE_MAX};
    PgpErr err = {0};
    ck_assert_int_eq(pull_bridge_run(produce, &p, consume, &c, 4096, &err), PGP_ERR_CORRUPT);
    ck_assert_msg(strstr(err.msg, "bad frame") != NULL, "%s", err.msg);
    ck_assert(c.saw_error);                 /* unblocked with an error, not a clean end */
    ck_assert_uint_le(c.read, 70000);
    ck_assert(!c.mismatch);
}
END_TEST

START_TEST(a_producer_that_fails_at_once)
{
    Producer p = {.fail_after = 0, .fail_code = PGP_ERR_NOT_FOUND};
    Consumer c = {.stop_after = SIZE_MAX};
    PgpErr err = {0};
    ck_assert_int_eq(pull_bridge_run(produce, &p, consume, &c, 0, &err), PGP_ERR_NOT_FOUND);
    ck_assert_uint_eq(c.read, 0);
}
END_TEST

START_TEST(the_consumers_error_and_the_producer_runs_to_its_end)
{
    Producer p = {.fail_after = TOTAL};
    Consumer c = {.stop_after = 10, .stop_code = PGP_ERR_CORRUPT};
    PgpErr err = {0};
    ck_assert_int_eq(pull_bridge_run(produce, &p, consume, &c, 4093, &err), PGP_ERR_CORRUPT);
    ck_assert_str_eq(err.msg, "parse error");
    ck_assert_uint_eq(p.written, TOTAL);
}
END_TEST

START_TEST(a_consumer_done_early_still_lets_the_producer_check_everything)
{
    Producer p = {.fail_after = TOTAL - 1, .fail_code = PGP_ERR_CORRUPT};
    Consumer c = {.stop_after = 1, .stop_code = 0};
    PgpErr err = {0};
    /* the consumer is content; the producer's last check fails: that is the answer */
    ck_assert_int_eq(pull_bridge_run(produce, &p, consume, &c, 4093, &err), PGP_ERR_CORRUPT);
    Producer ok = {.fail_after = TOTAL};
    Consumer c2 = {.stop_after = 1, .stop_code = 0};
    ck_assert_int_eq(pull_bridge_run(produce, &ok, consume, &c2, 4093, &err), 0);
    ck_assert_uint_eq(ok.written, TOTAL);
}
END_TEST

Suite *suite_pull_bridge(void)
{
    Suite *s = suite_create("pull_bridge");
    TCase *tc = tcase_create("pull_bridge");
    tcase_add_test(tc, bytes_arrive_whole_and_in_order);
    tcase_add_test(tc, the_producers_error_wins);
    tcase_add_test(tc, a_producer_that_fails_at_once);
    tcase_add_test(tc, the_consumers_error_and_the_producer_runs_to_its_end);
    tcase_add_test(tc, a_consumer_done_early_still_lets_the_producer_check_everything);
    suite_add_tcase(s, tc);
    return s;
}
