/*
 * test_grow.c - the growable array (src/common/grow.c): the first capacity, doubling, no
 * realloc while there is room, room for several at once, and a size that would overflow
 * refused with the caller's message while the array stays as it was.
 */
#include "pgpitr/common/grow.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

START_TEST(test_first_and_doubling)
{
    int *v = NULL;
    size_t n = 0, cap = 0;
    PgpErr err = {0};
    ck_assert_int_eq(GROW(v, n, cap, 4, "ints", &err), 0);
    ck_assert_ptr_nonnull(v);
    ck_assert_uint_eq(cap, 4);
    for (int i = 0; i < 100; i++) {
        ck_assert_int_eq(GROW(v, n, cap, 4, "ints", &err), 0);
        ck_assert_uint_gt(cap, n);
        v[n++] = i;
        if (n == 5)
            ck_assert_uint_eq(cap, 8);       /* 4 -> 8 at the fifth */
    }
    ck_assert_uint_eq(cap, 128);            /* 4, 8, ... 128: doubling, not one by one */
    for (int i = 0; i < 100; i++)
        ck_assert_int_eq(v[i], i);          /* the contents move with the array */
    free(v);
}
END_TEST

START_TEST(test_room_left_no_realloc)
{
    size_t cap = 8;
    long *v = malloc(cap * sizeof *v);
    long *before = v;
    ck_assert_int_eq(GROW(v, 7, cap, 16, "longs", NULL), 0);
    ck_assert_ptr_eq(v, before);
    ck_assert_uint_eq(cap, 8);
    ck_assert_int_eq(GROW_N(v, 4, 4, cap, 16, "longs", NULL), 0);   /* exactly fits */
    ck_assert_ptr_eq(v, before);
    ck_assert_uint_eq(cap, 8);
    free(v);
}
END_TEST

START_TEST(test_need_several)
{
    char (*names)[32] = NULL;          /* an array of arrays: sizeof *names is 32 */
    size_t cap = 0;
    ck_assert_int_eq(GROW_N(names, 0, 3, cap, 16, "names", NULL), 0);
    ck_assert_uint_eq(cap, 16);
    ck_assert_int_eq(GROW_N(names, 16, 40, cap, 16, "names", NULL), 0);
    ck_assert_uint_eq(cap, 56);        /* doubling (32) is short: exactly what is needed */
    names[55][31] = 'x';               /* ASan: the last element is really there */
    ck_assert_int_eq(GROW_N(names, 56, 1, cap, 16, "names", NULL), 0);
    ck_assert_uint_eq(cap, 112);
    free(names);
}
END_TEST

START_TEST(test_overflow_refused)
{
    uint64_t *v = malloc(4 * sizeof *v);
    uint64_t *before = v;
    size_t cap = SIZE_MAX / 8;          /* fake: nothing of that size is allocated */
    PgpErr err = {0};
    ck_assert_int_eq(GROW(v, cap, cap, 16, "segments", &err), PGP_ERR_NOMEM);
    ck_assert_ptr_eq(v, before);
    ck_assert_uint_eq(cap, SIZE_MAX / 8);
    ck_assert_int_eq(err.code, PGP_ERR_NOMEM);
    ck_assert_msg(strncmp(err.msg, "out of memory for ", 18) == 0 &&
                  strstr(err.msg, " segments") != NULL, "%s", err.msg);
    /* n + need itself overflowing */
    ck_assert_int_eq(GROW_N(v, SIZE_MAX - 1, 2, cap, 16, NULL, &err), PGP_ERR_NOMEM);
    ck_assert_ptr_eq(v, before);
    ck_assert_str_eq(err.msg, "out of memory");
    /* err may be NULL: the code alone */
    ck_assert_int_eq(GROW(v, cap, cap, 16, "segments", NULL), PGP_ERR_NOMEM);
    ck_assert_ptr_eq(v, before);
    free(v);
}
END_TEST

START_TEST(test_message_names_capacity)
{
    /* What a failed realloc says, made reachable with a capacity whose doubling overflows
     * in bytes: the capacity tried and the caller's words. */
    int *v = NULL;
    size_t cap = SIZE_MAX / sizeof *v / 2 + 1;
    PgpErr err = {0};
    ck_assert_int_eq(GROW(v, cap, cap, 16, "archive directories", &err), PGP_ERR_NOMEM);
    char want[96];
    snprintf(want, sizeof want, "out of memory for %zu archive directories", cap * 2);
    ck_assert_str_eq(err.msg, want);
    ck_assert_ptr_null(v);
}
END_TEST

Suite *suite_grow(void)
{
    Suite *s = suite_create("grow");
    TCase *tc = tcase_create("grow");
    tcase_add_test(tc, test_first_and_doubling);
    tcase_add_test(tc, test_room_left_no_realloc);
    tcase_add_test(tc, test_need_several);
    tcase_add_test(tc, test_overflow_refused);
    tcase_add_test(tc, test_message_names_capacity);
    suite_add_tcase(s, tc);
    return s;
}
