/*
 * test_bufpool.c - large buffers kept for reuse (src/common/bufpool.c): nothing is kept until
 * bufpool_set_keep says how many, and kept ones beyond a lower bound are freed; a buffer given back is
 * the one taken next, its pages already there (no page fault when written again); at most
 * BUFPOOL_KEEP are kept and small ones never; the smallest that fits is taken, and a full pool
 * keeps the larger of a buffer given back and its smallest; release frees them all. Each test runs in its own process (Check forks), so the pool starts
 * empty.
 */
#include "pgpitr/common/bufpool.h"

#include <check.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>

#include "fx_tool.h"

#define SEG (16u << 20)

static long minor_faults(void)
{
    struct rusage ru;
    ck_assert_int_eq(getrusage(RUSAGE_SELF, &ru), 0);
    return ru.ru_minflt;
}

START_TEST(nothing_is_kept_unless_asked)
{
    ck_assert(!bufpool_keeping());
    size_t cap = 0;
    void *a = bufpool_take(BUFPOOL_MIN, &cap);
    bufpool_give(a, cap);
    ck_assert_uint_eq(bufpool_kept(), 0);
    bufpool_set_keep(2);
    ck_assert(bufpool_keeping());
    a = bufpool_take(BUFPOOL_MIN, &cap);
    bufpool_give(a, cap);
    ck_assert_uint_eq(bufpool_kept(), 1);
    bufpool_set_keep(0);                  /* kept ones beyond the new bound are freed */
    ck_assert_uint_eq(bufpool_kept(), 0);
    ck_assert(!bufpool_keeping());
}
END_TEST

START_TEST(a_buffer_given_back_is_reused_without_faults)
{
    bufpool_set_keep(BUFPOOL_KEEP);
    size_t cap = 0;
    uint8_t *a = bufpool_take(SEG, &cap);
    ck_assert_ptr_nonnull(a);
    ck_assert_uint_ge(cap, SEG);
    memset(a, 1, SEG);
    bufpool_give(a, cap);
    ck_assert_uint_eq(bufpool_kept(), 1);
    long before = minor_faults();
    for (int i = 0; i < 8; i++) {
        size_t c2 = 0;
        uint8_t *b = bufpool_take(SEG, &c2);
        ck_assert_ptr_eq(b, a);
        memset(b, i, SEG);
        bufpool_give(b, c2);
    }
    long faults = minor_faults() - before;
    ck_assert_uint_eq(bufpool_made(), 1);
    /* 8 fresh 16 MiB buffers written would be 32,768 page faults */
    if (!fx_under_memory_tool())
        ck_assert_msg(faults < 64, "%ld page faults writing a reused buffer 8 times", faults);
    bufpool_release();
    ck_assert_uint_eq(bufpool_kept(), 0);
}
END_TEST

START_TEST(keeps_a_bounded_number_of_large_buffers)
{
    bufpool_set_keep(BUFPOOL_KEEP);
    void *b[BUFPOOL_KEEP + 2];
    size_t cap[BUFPOOL_KEEP + 2];
    for (int i = 0; i < BUFPOOL_KEEP + 2; i++)
        ck_assert_ptr_nonnull(b[i] = bufpool_take(BUFPOOL_MIN, &cap[i]));
    for (int i = 0; i < BUFPOOL_KEEP + 2; i++)
        bufpool_give(b[i], cap[i]);
    ck_assert_uint_eq(bufpool_kept(), BUFPOOL_KEEP);
    size_t c = 0;
    void *small = bufpool_take(100, &c);       /* a kept one fits: taken */
    ck_assert_uint_eq(bufpool_made(), BUFPOOL_KEEP + 2);
    bufpool_give(small, c);
    void *tiny = bufpool_take(BUFPOOL_MIN, &c);
    bufpool_give(tiny, c);
    bufpool_release();
    void *t2 = bufpool_take(100, &c);
    ck_assert_uint_eq(c, 100);
    bufpool_give(t2, c);                       /* too small to keep */
    ck_assert_uint_eq(bufpool_kept(), 0);
    bufpool_give(NULL, 0);
}
END_TEST

START_TEST(takes_the_smallest_that_fits_and_keeps_the_larger_when_full)
{
    bufpool_set_keep(BUFPOOL_KEEP);
    size_t c1 = 0, c2 = 0, c3 = 0;
    void *a = bufpool_take(BUFPOOL_MIN, &c1);
    void *b = bufpool_take(4 * BUFPOOL_MIN, &c2);
    bufpool_give(b, c2);
    bufpool_give(a, c1);
    ck_assert_ptr_eq(bufpool_take(BUFPOOL_MIN / 2, &c3), a);     /* the smallest that fits */
    bufpool_give(a, c3);
    void *big = bufpool_take(8 * BUFPOOL_MIN, &c3);               /* none fits: made */
    ck_assert_uint_eq(bufpool_made(), 3);
    bufpool_give(big, c3);
    ck_assert_uint_eq(bufpool_kept(), 3);
    /* fill the pool with small ones, then give a large one: it replaces a small one */
    void *s[BUFPOOL_KEEP];
    size_t sc[BUFPOOL_KEEP];
    for (int i = 0; i < BUFPOOL_KEEP; i++)
        s[i] = bufpool_take(BUFPOOL_MIN, &sc[i]);
    void *large = bufpool_take(16 * BUFPOOL_MIN, &c3);
    for (int i = 0; i < BUFPOOL_KEEP; i++)
        bufpool_give(s[i], sc[i]);
    ck_assert_uint_eq(bufpool_kept(), BUFPOOL_KEEP);
    bufpool_give(large, c3);
    ck_assert_uint_eq(bufpool_kept(), BUFPOOL_KEEP);
    ck_assert_ptr_eq(bufpool_take(16 * BUFPOOL_MIN, &c3), large);
    bufpool_give(large, c3);
    bufpool_release();
    ck_assert_uint_eq(bufpool_kept(), 0);
}
END_TEST

Suite *suite_bufpool(void)
{
    Suite *s = suite_create("bufpool");
    TCase *tc = tcase_create("bufpool");
    tcase_add_test(tc, nothing_is_kept_unless_asked);
    tcase_add_test(tc, a_buffer_given_back_is_reused_without_faults);
    tcase_add_test(tc, keeps_a_bounded_number_of_large_buffers);
    tcase_add_test(tc, takes_the_smallest_that_fits_and_keeps_the_larger_when_full);
    suite_add_tcase(s, tc);
    return s;
}
