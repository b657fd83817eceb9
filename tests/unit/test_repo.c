/*
 * test_repo.c - repo.json's text (repo_identity_parse / repo_identity_to_json,
 * src/repo/repo.c): the round trip, what is refused, and errors that quote what they report.
 * Binding through storage is exercised by the suites that use fx_repo.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "fx_err.h"
#include "pgpitr/repo/repo.h"

START_TEST(round_trip)
{
    RepoIdentity id = {.system_identifier = 18446744073709551615ULL, .pg_major = 15,
                       .wal_segsize = 16u << 20}, back = {0};
    char *text = NULL;
    size_t len = 0;
    PgpErr err;
    ck_assert_int_eq(repo_identity_to_json(&id, &text, &len, &err), 0);
    ck_assert_uint_gt(len, 0);
    ck_assert_int_eq(text[len - 1], '\n');
    char *z = strndup(text, len);
    ck_assert_ptr_nonnull(strstr(z, "\"system_identifier\": \"18446744073709551615\""));
    ck_assert_int_eq(repo_identity_parse(z, &back, &err), 0);
    ck_assert(back.system_identifier == id.system_identifier);
    ck_assert_int_eq(back.pg_major, 15);
    ck_assert_uint_eq(back.wal_segsize, 16u << 20);
    free(z);
    free(text);
}
END_TEST

START_TEST(refused)
{
    static const char *const docs[] = {
        "",
        "[]",
        "{\"format\": 1}",
        "{\"format\": 2, \"system_identifier\": \"1\", \"pg_major\": 15, \"wal_segment_size\": 1}",
        "{\"format\": 1, \"system_identifier\": \"x1\", \"pg_major\": 15, \"wal_segment_size\": 1}",
        "{\"format\": 1, \"system_identifier\": \"1\", \"pg_major\": 0, \"wal_segment_size\": 1}",
        "{\"format\": 1, \"system_identifier\": \"1\", \"pg_major\": 15, \"wal_segment_size\": 0}",
        /* What strtoull or a cast would have turned into another value (found by
         * tests/fuzz/fuzz_repo_json): a sign, a blank, saturation, pg_major above INT_MAX
         * (4294967311 would have read as 15). */
        "{\"format\": 1, \"system_identifier\": \"-1\", \"pg_major\": 15, \"wal_segment_size\": 1}",
        "{\"format\": 1, \"system_identifier\": \" 7\", \"pg_major\": 15, \"wal_segment_size\": 1}",
        "{\"format\": 1, \"system_identifier\": \"18446744073709551616\", \"pg_major\": 15, "
        "\"wal_segment_size\": 1}",
        "{\"format\": 1, \"system_identifier\": \"7\", \"pg_major\": 4294967311, "
        "\"wal_segment_size\": 1}",
    };
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        RepoIdentity id;
        PgpErr err;
        ck_assert_int_eq(repo_identity_parse(docs[i], &id, &err), PGP_ERR_CORRUPT);
        fx_assert_printable_err(&err, NULL);
    }
}
END_TEST

/* jansson's error text quotes the bytes it stopped at, raw: they reach the message quoted
 * (found by tests/fuzz/fuzz_repo_json). */
START_TEST(json_error_quoted)
{
    static const char *const docs[] = {"\x01", "{\"format\": \x0a\x01}", "{\"a\"\x1b[2J: 1}"};
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        RepoIdentity id;
        PgpErr err;
        ck_assert_int_eq(repo_identity_parse(docs[i], &id, &err), PGP_ERR_CORRUPT);
        fx_assert_printable_err(&err, "is not valid json");
    }
}
END_TEST

Suite *suite_repo(void)
{
    Suite *s = suite_create("repo");
    TCase *tc = tcase_create("repo_json");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, round_trip);
    tcase_add_test(tc, refused);
    tcase_add_test(tc, json_error_quoted);
    suite_add_tcase(s, tc);
    return s;
}
