/*
 * test_meta_routes.c - every writer and reader of metadata routed through meta_io (issue #16),
 * with the vectors' repository key: backup manifests (manifest_save, manifest_load,
 * manifest_load_header, manifest_load_packed, object_refs_add_backup (expire's and backup's
 * reader), restore_select_backup), drill reports (drill_report_store,
 * drill_report_find_newest, serve's /api/v1/drills endpoints) and verify summaries. For each: no plaintext marker in the stored
 * bytes, and it reads back; a manifest or report copied under another name does not.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "fx_crypto.h"
#include "fx_repo.h"
#include "pgpitr/drill/drill_report.h"
#include "pgpitr/repo/manifest_pack.h"
#include "pgpitr/repo/object_refs.h"
#include "pgpitr/repo/verify_summary.h"
#include "pgpitr/restore/restore_files.h"
#include "pgpitr/serve/serve_http.h"

#define MARKER "MARKER-9e2d"
#define N_ENTRIES 1500   /* a manifest of several 64 KiB chunks */

/* The stored bytes of path hold no MARKER (and are not empty). */
static void assert_no_marker(FxRepo *fx, const char *path)
{
    char *raw = NULL;
    size_t len = 0;
    PgpErr err = {0};
    ck_assert_msg(storage_get_all(fx->st, path, 1u << 26, &raw, &len, &err) == 0, "%s", err.msg);
    ck_assert_uint_gt(len, 0);
    ck_assert_msg(memmem(raw, len, MARKER, strlen(MARKER)) == NULL, "plaintext in \"%s\"", path);
    free(raw);
}

/* Copies the stored bytes of from to to (an attacker renaming objects). */
static void copy_raw(FxRepo *fx, const char *from, const char *to)
{
    char *raw = NULL;
    size_t len = 0;
    PgpErr err = {0};
    ck_assert_int_eq(storage_get_all(fx->st, from, 1u << 26, &raw, &len, &err), 0);
    ck_assert_int_eq(storage_put_all(fx->st, to, 0, raw, len, &err), 0);
    free(raw);
}

static BackupManifest *sample(const char *label)
{
    BackupManifest *m = fx_manifest(label, 1, 0x3000028, 0x3000100, FX_T0);
    PgpErr err = {0};
    for (int i = 0; i < N_ENTRIES; i++) {
        char path[64], object[REPO_PATH_MAX];
        snprintf(path, sizeof path, i == 0 ? "PG_VERSION" : "base/1/" MARKER "-%d", i);
        ManifestEntry e = {.path = path, .type = MANIFEST_FILE, .size = 3, .mode = 0600,
                           .mtime = FX_T0, .object = object, .stored_size = 3};
        snprintf(e.sha256, sizeof e.sha256, "%064x", i);
        ck_assert_int_eq(repo_object_path(e.sha256, PIPE_CODEC_ZSTD, object, &err), 0);
        ck_assert_msg(manifest_add_entry(m, &e, &err) == 0, "%s", err.msg);
    }
    return m;
}

START_TEST(manifests)
{
    FxRepo fx;
    fx_repo_init(&fx, "meta_routes_m");
    CryptoRepoKey *key = fx_crypto_repo_key();
    PgpErr err = {0};
    BackupManifest *m = sample("b1"), *back = NULL;
    ck_assert_msg(manifest_save(fx.st, key, "b1", m, &err) == 0, "%s", err.msg);
    assert_no_marker(&fx, "backup/b1/manifest.json");
    /* every reader */
    ck_assert_msg(manifest_load(fx.st, key, "b1", &back, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(back->n_entries, N_ENTRIES);
    ck_assert_str_eq(back->entries[N_ENTRIES - 1].path, "base/1/" MARKER "-1499");
    manifest_free(back);
    ck_assert_int_eq(manifest_load_header(fx.st, key, "b1", &back, &err), 0);
    ck_assert_uint_eq(back->n_listed, N_ENTRIES);
    manifest_free(back);
    ManifestPack *files = NULL;
    ck_assert_int_eq(manifest_load_packed(fx.st, key, "b1", &back, &files, &err), 0);
    manifest_free(back);
    manifest_pack_free(files);
    ObjectRefs refs = {0};
    ck_assert_int_eq(object_refs_add_backup(&refs, fx.st, key, "b1", &err), 0);
    ck_assert_uint_eq(refs.n, N_ENTRIES);
    object_refs_free(&refs);
    RestoreSelection sel = {0};
    ck_assert_msg(restore_select_backup(fx.st, key, NULL, &sel, &err) == 0, "%s", err.msg);
    ck_assert_str_eq(sel.manifest->label, "b1");
    manifest_free(sel.manifest);
    /* without the key it is not a manifest */
    ck_assert_int_eq(manifest_load(fx.st, NULL, "b1", &back, &err), PGP_ERR_CORRUPT);
    /* an authentic manifest copied to another backup's name is corrupt, naming the path */
    copy_raw(&fx, "backup/b1/manifest.json", "backup/b2/manifest.json");
    ck_assert_int_eq(manifest_load_header(fx.st, key, "b2", &back, &err), PGP_ERR_CORRUPT);
    ck_assert_ptr_null(back);
    ck_assert_msg(strstr(err.msg, "backup/b2/manifest.json") != NULL, "%s", err.msg);
    ck_assert_int_eq(object_refs_add_backup(&refs, fx.st, key, "b2", &err), PGP_ERR_CORRUPT);
    object_refs_free(&refs);
    ck_assert_int_eq(restore_select_backup(fx.st, key, "b2", &sel, &err), PGP_ERR_CORRUPT);
    manifest_free(m);
    crypto_repo_key_free(key);
    fx_repo_free(&fx);
}
END_TEST

static void store_report(FxRepo *fx, const CryptoRepoKey *key, const char *id)
{
    DrillReport r;
    drill_report_init(&r);
    snprintf(r.id, sizeof r.id, "%s", id);
    const char *json = "{\"status\": \"passed\", \"started\": \"2026-11-22T04:00:00Z\", "
                       "\"host\": \"" MARKER "\", \"phases\": {\"total_s\": 42.5}}";
    PgpErr err = {0};
    ck_assert_msg(drill_report_store(fx->st, key, &r, json, &err) == 0, "%s", err.msg);
    drill_report_free(&r);
}

START_TEST(drill_reports)
{
    FxRepo fx;
    fx_repo_init(&fx, "meta_routes_d");
    CryptoRepoKey *key = fx_crypto_repo_key();
    PgpErr err = {0};
    store_report(&fx, key, "20261122T040000Z-0001");
    assert_no_marker(&fx, "drill/20261122T040000Z-0001.json");
    DrillReportSummary d;
    ck_assert_int_eq(drill_report_find_newest(fx.st, key, NULL, &d, &err), 0);
    ck_assert(d.found);
    ck_assert_str_eq(d.id, "20261122T040000Z-0001");
    ck_assert(d.has_total);
    /* copied under a newer id: skipped (with a warning), the authentic one is found */
    copy_raw(&fx, "drill/20261122T040000Z-0001.json", "drill/20261123T040000Z-0002.json");
    ck_assert_int_eq(drill_report_find_newest(fx.st, key, NULL, &d, &err), 0);
    ck_assert_str_eq(d.id, "20261122T040000Z-0001");
    /* serve's endpoints read them with the key */
    ServeApi api;
    serve_api_init(&api, NULL, fx.st, key);
    ServeRoute rt = {.id = SERVE_R_DRILL, .param = "20261122T040000Z-0001"};
    ServeReply rep = {0};
    serve_api_handle(&api, &rt, false, NULL, 0, NULL, &rep);
    ck_assert_int_eq(rep.status, 200);
    ck_assert_ptr_nonnull(memmem(rep.body, rep.len, MARKER, strlen(MARKER)));
    free(rep.body);
    snprintf(rt.param, sizeof rt.param, "20261123T040000Z-0002");
    rep = (ServeReply){0};
    serve_api_handle(&api, &rt, false, NULL, 0, NULL, &rep);
    ck_assert_int_eq(rep.status, 500);
    ck_assert_ptr_nonnull(strstr(rep.body, "drill/20261123T040000Z-0002.json"));
    free(rep.body);
    rt = (ServeRoute){.id = SERVE_R_DRILLS};
    rep = (ServeReply){0};
    serve_api_handle(&api, &rt, false, NULL, 0, NULL, &rep);
    ck_assert_int_eq(rep.status, 200);
    ck_assert_ptr_nonnull(strstr(rep.body, "\"passed\""));      /* the authentic one */
    ck_assert_ptr_nonnull(strstr(rep.body, "\"unreadable\""));  /* the copy */
    free(rep.body);
    serve_api_free(&api);
    crypto_repo_key_free(key);
    fx_repo_free(&fx);
}
END_TEST

/* Stored bytes of the only verify summary. */
static int find_summary(void *ud, const char *name, const StorageInfo *info, PgpErr *err)
{
    (void)info;
    (void)err;
    snprintf(ud, REPO_PATH_MAX, REPO_LAYOUT_VERIFY_DIR "/%s", name);
    return 0;
}

START_TEST(verify_summaries)
{
    FxRepo fx;
    fx_repo_init(&fx, "meta_routes_v");
    CryptoRepoKey *key = fx_crypto_repo_key();
    PgpErr err = {0};
    VerifySummary v = {.finished = FX_T0, .objects = 1234567, .errors = 3}, back;
    ck_assert_int_eq(verify_summary_store(fx.st, key, &v, &err), 0);
    char path[REPO_PATH_MAX] = "";
    ck_assert_int_eq(storage_list(fx.st, REPO_LAYOUT_VERIFY_DIR, find_summary, path, &err), 0);
    char *raw = NULL;
    size_t len = 0;
    ck_assert_int_eq(storage_get_all(fx.st, path, 4096, &raw, &len, &err), 0);
    ck_assert_ptr_null(memmem(raw, len, "1234567", 7));
    ck_assert_ptr_null(memmem(raw, len, "objects", 7));
    free(raw);
    ck_assert_int_eq(verify_summary_find_newest(fx.st, key, &back, &err), 0);
    ck_assert(back.found);
    ck_assert_uint_eq(back.objects, 1234567);
    ck_assert_uint_eq(back.errors, 3);
    /* without the key: not a summary, skipped */
    ck_assert_int_eq(verify_summary_find_newest(fx.st, NULL, &back, &err), 0);
    ck_assert(!back.found);
    crypto_repo_key_free(key);
    fx_repo_free(&fx);
}
END_TEST

Suite *suite_meta_routes(void)
{
    Suite *s = suite_create("meta_routes");
    TCase *tc = tcase_create("meta_routes");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, manifests);
    tcase_add_test(tc, drill_reports);
    tcase_add_test(tc, verify_summaries);
    suite_add_tcase(s, tc);
    return s;
}
