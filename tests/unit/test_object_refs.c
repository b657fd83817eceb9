/*
 * test_object_refs.c - the set of objects backups reference (src/repo/object_refs.c): built by
 * streaming manifests saved in a posix Storage, each object once (shared across backups, and
 * compacted while a big manifest streams by), the stored bytes of the distinct ones, lookups,
 * and a backup without a manifest.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fx_dir.h"
#include "fx_tool.h"
#include "pgpitr/repo/manifest.h"
#include "pgpitr/repo/object_refs.h"

#define SHA "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* A backup `label` of n files whose objects cycle through `objects` names (objects/NN/oK). */
static void save_backup(Storage *s, const char *label, size_t n, size_t objects, size_t first)
{
    BackupManifest *m = manifest_new();
    m->label = strdup(label);
    m->status = strdup(MANIFEST_STATUS_COMPLETE);
    m->compress = strdup("zstd");
    m->system_identifier = 7;
    m->pg_version_num = 150004;
    m->pg_major = 15;
    m->timeline = 1;
    m->start_time = m->stop_time = 1795316400;
    PgpErr err;
    size_t failed = 0;    /* counted, checked once: a check per entry costs a message to Check's parent */
    for (size_t i = 0; i < n; i++) {
        char path[64], obj[64];
        snprintf(path, sizeof path, "base/1/%zu", i);
        snprintf(obj, sizeof obj, "objects/%02zu/o%zu.zst", (first + i % objects) % 100,
                 first + i % objects);
        ManifestEntry e = {.path = path, .type = MANIFEST_FILE, .size = 10, .mode = 0600,
                           .object = obj, .stored_size = 100 + first + i % objects};
        snprintf(e.sha256, sizeof e.sha256, "%s", SHA);
        failed += manifest_add_entry(m, &e, &err) != 0;
    }
    ck_assert_uint_eq(failed, 0);
    ManifestEntry d = {.path = "base", .type = MANIFEST_DIR, .mode = 0700};
    ck_assert_int_eq(manifest_add_entry(m, &d, &err), 0);
    ck_assert_msg(manifest_save(s, label, m, &err) == 0, "%s", err.msg);
    manifest_free(m);
}

START_TEST(distinct_across_backups)
{
    char dir[64];
    fx_dir_make(dir, sizeof dir, "objrefs");
    Storage *s = NULL;
    PgpErr err;
    ck_assert_int_eq(storage_posix_new(dir, false, &s, &err), 0);
    /* 200,000 files sharing 3 objects: compacted while streaming (every 65,536 new
     * references at first), 3 in the end; 70,000 (one compaction on the way) under a memory
     * tool, where 200,000 cost a minute */
    save_backup(s, "a", fx_under_memory_tool() ? 70000 : 200000, 3, 0);
    save_backup(s, "b", 10, 5, 2);          /* o2..o6: o2 shared with a */
    ObjectRefs r = {0};
    ck_assert_int_eq(object_refs_add_backup(&r, s, "a", &err), 0);
    ck_assert_uint_eq(r.n, 3);
    ck_assert_uint_eq(r.stored_bytes, 100 + 101 + 102);
    ck_assert_int_eq(object_refs_add_backup(&r, s, "b", &err), 0);
    ck_assert_uint_eq(r.n, 7);
    ck_assert_uint_eq(r.stored_bytes, 100 + 101 + 102 + 103 + 104 + 105 + 106);
    for (size_t k = 0; k < 7; k++) {
        char obj[64];
        snprintf(obj, sizeof obj, "objects/%02zu/o%zu.zst", k, k);
        ck_assert_msg(object_refs_has(&r, obj), "%s", obj);
    }
    ck_assert(!object_refs_has(&r, "objects/07/o7.zst"));
    ck_assert(!object_refs_has(&r, "objects/00/o0.zs"));
    ck_assert_str_eq(object_refs_path(&r, 0), "objects/00/o0.zst");
    ck_assert_int_eq(object_refs_add_backup(&r, s, "none", &err), PGP_ERR_NOT_FOUND);
    ck_assert_uint_eq(r.n, 7);
    object_refs_free(&r);
    ck_assert_uint_eq(r.n, 0);
    object_refs_free(&r);
    storage_free(s);
    fx_dir_remove(dir);
}
END_TEST

Suite *suite_object_refs(void)
{
    Suite *s = suite_create("object_refs");
    TCase *tc = tcase_create("object_refs");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, distinct_across_backups);
    suite_add_tcase(s, tc);
    return s;
}
