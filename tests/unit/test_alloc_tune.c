/*
 * test_alloc_tune.c - the CLI's allocator settings (src/common/alloc_tune.c): after them, a
 * backup's pattern of buffers (many megabyte buffers in flight, all freed, again) reuses the
 * same pages instead of page-faulting fresh ones in every round. With glibc's defaults the
 * freed heap top is trimmed back to the kernel each round (4,096 faults a round here).
 * Not asserted under ASan or valgrind, whose allocators ignore the settings.
 */
#include "pgpitr/common/alloc_tune.h"

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "fx_tool.h"

#define BUFS 16
#define BUF_SIZE (1u << 20)
#define ROUNDS 20

static long minor_faults(void)
{
    struct rusage ru;
    ck_assert_int_eq(getrusage(RUSAGE_SELF, &ru), 0);
    return ru.ru_minflt;
}

/* One round: BUFS buffers allocated and written (as the stream is copied into them), then
 * all freed (as the workers finish). */
static void one_round(void)
{
    uint8_t *b[BUFS];
    for (int i = 0; i < BUFS; i++) {
        b[i] = malloc(BUF_SIZE);
        ck_assert_ptr_nonnull(b[i]);
        memset(b[i], i + 1, BUF_SIZE);
    }
    for (int i = 0; i < BUFS; i++)
        free(b[i]);
}

START_TEST(freed_buffers_are_reused_without_faults)
{
    if (fx_under_memory_tool())
        return;
    ck_assert(alloc_keep_buffers());
    one_round();                          /* the first round faults its pages in, once */
    long before = minor_faults();
    for (int r = 1; r < ROUNDS; r++)
        one_round();
    long faults = minor_faults() - before;
    /* 19 rounds of 16 MiB: 77,824 pages if each round came fresh from the kernel */
    ck_assert_msg(faults < (long)(BUFS * BUF_SIZE / 4096) / 4,
                  "%ld page faults in %d rounds after the first", faults, ROUNDS - 1);
}
END_TEST

Suite *suite_alloc_tune(void)
{
    Suite *s = suite_create("alloc_tune");
    TCase *tc = tcase_create("alloc_tune");
    tcase_add_test(tc, freed_buffers_are_reused_without_faults);
    suite_add_tcase(s, tc);
    return s;
}
