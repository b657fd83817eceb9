/*
 * test_backup_store.c - what the files of one backup had in common (backup_dedup_*,
 * src/backup/backup_store.c), the counts of its summary line: a file not stored again is
 * "unchanged" when an earlier backup stored its content, a "duplicate" when an earlier file of
 * the same backup did. A first backup has duplicates (a fresh cluster's three databases share
 * most files) and nothing unchanged.
 */
#include <check.h>
#include <string.h>

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

Suite *suite_backup_store(void)
{
    Suite *s = suite_create("backup_store");
    TCase *tc = tcase_create("backup_store");
    tcase_add_test(tc, first_backup_has_only_duplicates);
    tcase_add_test(tc, later_backup_has_unchanged_files);
    suite_add_tcase(s, tc);
    return s;
}
