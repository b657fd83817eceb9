/*
 * test_extsort.c - the bounded-memory sorted set (src/common/extsort.c): records in any order
 * and with repeats come back sorted and once each, whether they fitted in memory, spilled as
 * runs, or spilled into more runs than are merged at once; memory stays the buffer's however
 * many records go in; a temporary directory that cannot be written is an error, not a crash.
 */
#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fx_tool.h"
#include "pgpitr/common/extsort.h"

typedef struct Rec {
    uint64_t key;
    uint32_t extra;             /* equal for equal keys, as a chunk's length is */
    uint32_t pad;
} Rec;

static int rec_cmp(const void *a, const void *b)
{
    const Rec *x = a, *y = b;
    return (x->key > y->key) - (x->key < y->key);
}

/* Record i of n added: keys 0 .. distinct-1, scattered, each about n / distinct times. */
static Rec rec_at(size_t i, size_t distinct)
{
    uint64_t k = (i * 2654435761u) % distinct;
    return (Rec){.key = k * 7 + 3, .extra = (uint32_t)(k ^ 0x5a5a)};
}

static void fill_and_check(size_t n, size_t distinct, size_t mem, size_t want_runs_min)
{
    ExtSort *s = NULL;
    PgpErr err = {0};
    ck_assert_int_eq(extsort_new(sizeof(Rec), rec_cmp, mem, NULL, &s, &err), 0);
    for (size_t i = 0; i < n; i++) {
        Rec r = rec_at(i, distinct);
        ck_assert_int_eq(extsort_add(s, &r, &err), 0);
    }
    ck_assert_msg(extsort_finish(s, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(extsort_count(s), distinct);
    ck_assert_uint_ge(extsort_spilled_runs(s), want_runs_min);
    for (size_t i = 0; i < distinct; i++) {
        Rec r;
        ck_assert_int_eq(extsort_get(s, i, &r, &err), 0);
        ck_assert_uint_eq(r.key, i * 7 + 3);
        ck_assert_uint_eq(r.extra, (uint32_t)(i ^ 0x5a5a));
    }
    extsort_free(s);
}

START_TEST(sorted_and_unique)
{
    fill_and_check(0, 0, 16, 0);
    fill_and_check(5000, 1000, 10000, 0);               /* fits: nothing written */
    fill_and_check(5000, 1000, 64, 1);                  /* spilled runs */
    /* more runs than merged at once: collapsed on the way */
    fill_and_check(40000, 3000, 128, EXTSORT_MAX_RUNS + 1);
    fill_and_check(20000, 20000, 100, EXTSORT_MAX_RUNS + 1);   /* all distinct */
}
END_TEST

/* Peak RSS growth does not follow the records: 3,000,000 records (24 bytes; 1,000,000
 * distinct) through a buffer of 65,536 grow it by the buffer (1.5 MiB) and the merge's
 * cursors (64 x 64 KiB), not by 24 bytes a record (72 MiB held, 24 MiB distinct). */
START_TEST(memory_bounded)
{
    bool meaningful = !fx_under_memory_tool();
    size_t n = meaningful ? 3000000 : 30000, distinct = n / 3;
    long before = fx_peak_rss_kib();
    fill_and_check(n, distinct, meaningful ? 65536 : 4096, 1);
    long grew = fx_peak_rss_kib() - before;
    fprintf(stderr, "extsort: %zu records (%zu distinct): peak RSS grew %ld KiB\n", n, distinct,
            grew);
    ck_assert_msg(grew < 8 * 1024 || !meaningful, "peak RSS grew %ld KiB", grew);
}
END_TEST

START_TEST(temp_dir_unwritable)
{
    ExtSort *s = NULL;
    PgpErr err = {0};
    ck_assert_int_eq(extsort_new(sizeof(Rec), rec_cmp, 4, "/nonexistent/pgpitr", &s, &err), 0);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < 100; i++) {
        Rec r = rec_at(i, 50);
        rc = extsort_add(s, &r, &err);
    }
    ck_assert_int_eq(rc, PGP_ERR_IO);
    ck_assert_ptr_nonnull(strstr(err.msg, "cannot create a temporary file in \"/nonexistent"));
    extsort_free(s);
    extsort_free(NULL);
}
END_TEST

Suite *suite_extsort(void)
{
    Suite *s = suite_create("extsort");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, sorted_and_unique);
    tcase_add_test(tc, memory_bounded);
    tcase_add_test(tc, temp_dir_unwritable);
    suite_add_tcase(s, tc);
    return s;
}
