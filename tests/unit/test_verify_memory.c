/*
 * test_verify_memory.c - issue #14's memory bound for `pgpitr verify`, at the seam where verify
 * holds every file of the backups it checks: the catalog's packed entries
 * (CatalogBackup.files, manifest_pack.h) plus the plan (verify_plan_build: one reference per
 * file, one VerifyObject per distinct object). A fabricated backup of 400,000 files, each with
 * its own object (the worst case: a real cluster's files rarely share content), must stay
 * under 300 bytes a file of peak RSS growth, which is the target for the whole command.
 * Reading the manifest into the pack is bounded on its own in the manifest_stream suite.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fx_tool.h"
#include "pgpitr/repo/catalog.h"
#include "pgpitr/repo/manifest_pack.h"
#include "pgpitr/repo/repo_layout.h"
#include "pgpitr/repo/verify_check.h"

/* Peak RSS means nothing under a sanitizer or valgrind: there the bound is not asserted and
 * fewer files are made (the plan is still checked). */
static bool rss_is_meaningful(void)
{
    return !fx_under_memory_tool();
}

/* File i: base/16384/<10000 + i>, content i (a distinct checksum), its own zstd object. */
static void add_files(ManifestPack *p, size_t n)
{
    PgpErr err = {0};
    for (size_t i = 0; i < n; i++) {
        char path[64], object[REPO_PATH_MAX];
        ManifestEntry e = {.path = path, .type = MANIFEST_FILE, .size = 8192, .mode = 0600,
                           .mtime = 1795316400, .stored_size = 100, .object = object};
        snprintf(path, sizeof path, "base/16384/%zu", 10000 + i);
        snprintf(e.sha256, sizeof e.sha256, "%064zx", i * 2654435761u);
        ck_assert_int_eq(repo_object_path(e.sha256, PIPE_CODEC_ZSTD, object, &err), 0);
        ck_assert_int_eq(manifest_pack_add(p, &e, &err), 0);
    }
}

/* Measured 197 bytes a file (pack ~92, reference 16 and index 8, object 88); bound 300. Before
 * the pack the same plan held a ManifestEntry list (253 bytes an entry in the manifest_stream
 * suite) and 192-byte objects: about 470. */
START_TEST(plan_of_a_big_backup_bounded)
{
    size_t n = rss_is_meaningful() ? 400000 : 5000;
    Catalog c = {.bound = true};
    CatalogBackup b = {.status = CATALOG_BACKUP_COMPLETE};
    snprintf(b.label, sizeof b.label, "big");
    b.manifest = calloc(1, sizeof *b.manifest);
    ck_assert_ptr_nonnull(b.manifest);
    b.manifest->n_listed = n;
    c.backups = &b;
    c.n_backups = 1;

    long before = fx_peak_rss_kib();
    b.files = manifest_pack_new();
    ck_assert_ptr_nonnull(b.files);
    add_files(b.files, n);
    VerifyPlan plan;
    PgpErr err = {0};
    ck_assert_int_eq(verify_plan_build(&c, NULL, &plan, &err), 0);
    long per = (fx_peak_rss_kib() - before) * 1024 / (long)n;

    ck_assert_uint_eq(plan.n_file_objs, n);
    ck_assert_uint_eq(plan.n_objs, n);
    ck_assert_uint_eq(plan.n_backups_checked, 1);
    char buf[REPO_PATH_MAX];
    const char *obj = verify_object_path(&plan.objs[0], buf);
    ck_assert_str_eq(obj + strlen(obj) - 4, ".zst");
    ck_assert_ptr_null(plan.objs[0].head);   /* heads are for WAL only */
    ck_assert_uint_eq(plan.chunks.n_lists, 0);
    verify_plan_free(&plan);
    manifest_pack_free(b.files);
    free(b.manifest);
    ck_assert_msg(per < 300 || !rss_is_meaningful(), "%ld bytes a file", per);
}
END_TEST

Suite *suite_verify_memory(void)
{
    Suite *s = suite_create("verify_memory");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, plan_of_a_big_backup_bounded);
    suite_add_tcase(s, tc);
    return s;
}
