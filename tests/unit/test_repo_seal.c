/*
 * test_repo_seal.c - a repository path's seal decided from the path alone (repo_seal.c, for
 * `pgpitr repo-get` and `repo-put`): every path the layout's builders make maps to the
 * associated data its writer uses (object_io for WAL and content, meta_io's path for
 * metadata and backup_manifest), the plain files stay plain, no key means no seal, and paths
 * that could leave the repository are refused.
 */
#include "pgpitr/repo/repo_seal.h"

#include <check.h>
#include <string.h>

#include "fx_crypto.h"

#define SHA "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define SEG "000000010000000A000000FF"

static void assert_seal(const CryptoRepoKey *key, const char *path, RepoSealKind kind,
                        const char *ad)
{
    ObjectSeal seal;
    char buf[REPO_PATH_MAX];
    PgpErr err = {0};
    ck_assert_int_eq(repo_seal_kind(path), kind);
    ck_assert_msg(repo_seal_of(key, path, &seal, buf, &err) == 0, "%s: %s", path, err.msg);
    if (ad == NULL) {
        ck_assert_ptr_null(seal.key);
        return;
    }
    ck_assert_ptr_eq(seal.key, key);
    ck_assert_str_eq(seal.ad, ad);
}

START_TEST(test_layout_paths)
{
    CryptoRepoKey *key = fx_crypto_repo_key();
    char p[REPO_PATH_MAX];
    PgpErr err = {0};
    ck_assert_int_eq(repo_archive_object_path(SEG, SHA, PIPE_CODEC_ZSTD, p, &err), 0);
    assert_seal(key, p, REPO_SEAL_WAL, SEG);
    ck_assert_int_eq(repo_archive_object_path("00000002.history", SHA, PIPE_CODEC_NONE, p, &err),
                     0);
    assert_seal(key, p, REPO_SEAL_WAL, "00000002.history");
    ck_assert_int_eq(repo_object_path(SHA, PIPE_CODEC_LZ4, p, &err), 0);
    assert_seal(key, p, REPO_SEAL_CONTENT, OBJECT_AD_CONTENT);
    ck_assert_int_eq(repo_backup_file("b1", REPO_LAYOUT_MANIFEST, p, &err), 0);
    assert_seal(key, p, REPO_SEAL_PATH, p);
    ck_assert_int_eq(repo_backup_pg_manifest_path("b1", PIPE_CODEC_ZSTD, p, &err), 0);
    assert_seal(key, p, REPO_SEAL_PATH, p);
    ck_assert_int_eq(repo_dropped_path(SEG, p, &err), 0);
    assert_seal(key, p, REPO_SEAL_PATH, p);
    ck_assert_int_eq(repo_drill_report_path("20260102T030405Z-00aa", p, &err), 0);
    assert_seal(key, p, REPO_SEAL_PATH, p);
    assert_seal(key, "verify/20260102T030405Z-1234.json", REPO_SEAL_PATH,
                "verify/20260102T030405Z-1234.json");
    /* never encrypted: identity, key document, locks, leases, the in-progress marker */
    ck_assert_int_eq(repo_backup_file("b1", REPO_LAYOUT_INPROGRESS, p, &err), 0);
    const char *plain[] = {REPO_LAYOUT_IDENTITY, REPO_LAYOUT_KEY_DOC, p, REPO_PENDING_OBJECT,
                           "locks/expire-h-1-2-3.json", "leases/recovery-h-1.json",
                           "backup/manifest.json"};
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++)
        assert_seal(key, plain[i], REPO_SEAL_PLAIN, NULL);
    /* no key: nothing is sealed, whatever the kind */
    ck_assert_int_eq(repo_object_path(SHA, PIPE_CODEC_ZSTD, p, &err), 0);
    ObjectSeal seal;
    char buf[REPO_PATH_MAX];
    ck_assert_int_eq(repo_seal_of(NULL, p, &seal, buf, &err), 0);
    ck_assert_ptr_null(seal.key);
    /* an archived name without "-<hex>" has no name to bind */
    ck_assert_int_eq(repo_seal_of(key, "archive/wal/000000010000000A/" SEG, &seal, buf, &err),
                     PGP_ERR_INVALID_NAME);
    crypto_repo_key_free(key);
}
END_TEST

START_TEST(test_path_valid)
{
    ck_assert(repo_path_valid("repo.json"));
    ck_assert(repo_path_valid("backup/b1/manifest.json"));
    ck_assert(repo_path_valid("a/.b/c.."));
    const char *bad[] = {"", "/etc/passwd", "../x", "a/../b", "a/./b", "a//b", "a/", ".",
                         "a/..", "a\nb", "a\x7f"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(!repo_path_valid(bad[i]), "accepted \"%s\"", bad[i]);
    char longp[REPO_PATH_MAX + 1];
    memset(longp, 'a', REPO_PATH_MAX);
    longp[REPO_PATH_MAX] = '\0';
    ck_assert(!repo_path_valid(longp));
    longp[REPO_PATH_MAX - 1] = '\0';
    ck_assert(repo_path_valid(longp));
}
END_TEST

Suite *suite_repo_seal(void)
{
    Suite *s = suite_create("repo_seal");
    TCase *tc = tcase_create("repo_seal");
    tcase_add_test(tc, test_layout_paths);
    tcase_add_test(tc, test_path_valid);
    suite_add_tcase(s, tc);
    return s;
}
