/*
 * test_s3_retry.c - the S3 retry policy (src/storage/s3_retry.c): which outcomes are
 * retried, which leave a write's outcome unknown, the backoff's bounds and jitter, and the
 * hints of final errors.
 */
#include "pgpitr/storage/s3_retry.h"

#include <check.h>
#include <string.h>

START_TEST(statuses)
{
    const long again[] = {408, 429, 500, 502, 503, 504};
    for (size_t i = 0; i < sizeof again / sizeof again[0]; i++)
        ck_assert_msg(s3_retry_wanted(S3_NET_OK, again[i]), "%ld not retried", again[i]);
    const long final[] = {200, 204, 206, 301, 400, 401, 403, 404, 409, 412, 501};
    for (size_t i = 0; i < sizeof final / sizeof final[0]; i++)
        ck_assert_msg(!s3_retry_wanted(S3_NET_OK, final[i]), "%ld retried", final[i]);
}
END_TEST

START_TEST(transport)
{
    ck_assert(s3_retry_wanted(S3_NET_CONNECT, 0));
    ck_assert(s3_retry_wanted(S3_NET_TIMEOUT, 0));
    ck_assert(s3_retry_wanted(S3_NET_BROKEN, 0));
    ck_assert(!s3_retry_wanted(S3_NET_TLS, 0));
    ck_assert(!s3_retry_wanted(S3_NET_OTHER, 0));
    /* nothing sent: known not stored; a lost answer or a gateway error: unknown */
    ck_assert(!s3_retry_outcome_unknown(S3_NET_CONNECT, 0));
    ck_assert(s3_retry_outcome_unknown(S3_NET_TIMEOUT, 0));
    ck_assert(s3_retry_outcome_unknown(S3_NET_BROKEN, 0));
    ck_assert(s3_retry_outcome_unknown(S3_NET_OK, 504));
    ck_assert(!s3_retry_outcome_unknown(S3_NET_OK, 403));
    ck_assert(!s3_retry_outcome_unknown(S3_NET_OK, 412));
    ck_assert(!s3_retry_outcome_unknown(S3_NET_TLS, 0));
}
END_TEST

START_TEST(backoff)
{
    /* attempt 1: 50..100 ms; doubling; capped at 2500..5000 ms */
    ck_assert_uint_eq(s3_retry_delay_ms(1, 60, 0), 50);
    ck_assert_uint_eq(s3_retry_delay_ms(1, 60, 50), 100);
    ck_assert_uint_eq(s3_retry_delay_ms(1, 60, 51), 50);
    ck_assert_uint_eq(s3_retry_delay_ms(2, 60, 0), 100);
    ck_assert_uint_eq(s3_retry_delay_ms(3, 60, 0), 200);
    for (unsigned a = 1; a < 100; a++)
        for (uint64_t r = 0; r < 7000; r += 997) {
            uint64_t d = s3_retry_delay_ms(a, 60, r);
            ck_assert_uint_le(d, 5000);
            ck_assert_uint_ge(d, 50);
        }
    ck_assert_uint_eq(s3_retry_delay_ms(40, 60, 0), 2500);
    ck_assert_uint_eq(s3_retry_delay_ms(UINT32_MAX, 60, UINT64_MAX - 1) <= 5000, 1);
    /* jitter: different random numbers spread the delay */
    ck_assert_uint_ne(s3_retry_delay_ms(5, 60, 1), s3_retry_delay_ms(5, 60, 400));
}
END_TEST

/* Attempts that fit in a timeout when every wait is the longest its jitter allows and the
 * attempts themselves take no time. */
static unsigned attempts_within(unsigned timeout_s)
{
    uint64_t spent = 0;
    unsigned attempts = 1;
    for (;;) {
        uint64_t d = s3_retry_delay_ms(attempts, timeout_s, UINT64_MAX - 1);
        if (!s3_retry_in_budget(timeout_s, spent, 0, 0, d))
            return attempts;
        spent += d;
        attempts++;
    }
}

START_TEST(backoff_fits_timeout)
{
    /* a short timeout shortens the waits, never below 100 ms */
    ck_assert_uint_le(s3_retry_delay_ms(40, 5, UINT64_MAX - 1), 625);
    ck_assert_uint_ge(s3_retry_delay_ms(40, 5, 0), 312);
    ck_assert_uint_eq(s3_retry_delay_ms(40, 0, 0), 50);
    ck_assert_uint_le(s3_retry_delay_ms(40, 0, UINT64_MAX - 1), 100);
    ck_assert_uint_eq(s3_retry_delay_ms(40, 60, 0), 2500);
    /* about ten attempts whatever the timeout (a 5 s timeout allowed 6 with a 5 s cap) */
    static const unsigned timeouts[] = {1, 2, 5, 10, 30, 60, 600};
    for (size_t i = 0; i < sizeof timeouts / sizeof timeouts[0]; i++)
        ck_assert_uint_ge(attempts_within(timeouts[i]), 9);
    ck_assert_uint_ge(attempts_within(5), 10);
}
END_TEST

START_TEST(budget)
{
    /* without stalls: io-timeout since the first attempt, the next delay included */
    ck_assert(s3_retry_in_budget(3, 0, 0, 0, 100));
    ck_assert(s3_retry_in_budget(3, 2900, 0, 0, 100));
    ck_assert(!s3_retry_in_budget(3, 2901, 0, 0, 100));
    /* a stall takes the whole timeout by itself and is retried all the same */
    ck_assert(s3_retry_in_budget(3, 3050, 3010, 1, 100));
    ck_assert(s3_retry_in_budget(3, 9500, 9000, 3, 2000));
    ck_assert(!s3_retry_in_budget(3, 9500, 6000, 2, 100));
    /* a store that never answers: the S3_STALLS_MAX-th stall ends the retries */
    ck_assert(!s3_retry_in_budget(3, 12000, 12000, S3_STALLS_MAX, 0));
    ck_assert(!s3_retry_in_budget(60, 0, 0, S3_STALLS_MAX, 0));
}
END_TEST

START_TEST(hints)
{
    ck_assert_ptr_nonnull(strstr(s3_retry_hint(403, "SignatureDoesNotMatch"), "s3-key-secret"));
    ck_assert_ptr_nonnull(strstr(s3_retry_hint(403, "InvalidAccessKeyId"), "s3-key"));
    ck_assert_ptr_nonnull(strstr(s3_retry_hint(403, ""), "IAM"));
    ck_assert_ptr_nonnull(strstr(s3_retry_hint(403, NULL), "IAM"));
    ck_assert_ptr_nonnull(strstr(s3_retry_hint(404, "NoSuchBucket"), "bucket"));
    ck_assert_ptr_nonnull(strstr(s3_retry_hint(400, "AuthorizationHeaderMalformed"), "region"));
    ck_assert_ptr_nonnull(strstr(s3_retry_hint(301, ""), "region"));
    ck_assert_ptr_nonnull(strstr(s3_retry_hint(400, ""), "path"));
    ck_assert_ptr_nonnull(strstr(s3_retry_hint(503, "SlowDown"), "io-timeout"));
    ck_assert_ptr_nonnull(strstr(s3_retry_hint(403, "RequestTimeTooSkewed"), "clock"));
}
END_TEST

Suite *suite_s3_retry(void)
{
    Suite *s = suite_create("s3_retry");
    TCase *tc = tcase_create("s3_retry");
    tcase_add_test(tc, statuses);
    tcase_add_test(tc, transport);
    tcase_add_test(tc, backoff);
    tcase_add_test(tc, backoff_fits_timeout);
    tcase_add_test(tc, budget);
    tcase_add_test(tc, hints);
    suite_add_tcase(s, tc);
    return s;
}
