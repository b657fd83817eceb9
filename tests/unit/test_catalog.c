/*
 * test_catalog.c - the whole-repository inventory (src/repo/catalog.c) on fabricated
 * repositories (fx_repo.h): listing, sorting, incomplete / corrupt / foreign entries,
 * conflicts, bad history files, gaps, and what each backup can reach along each timeline.
 *
 * Base repository (as in test_restore_plan.c): 16 MiB segments, timeline 2 forked off
 * timeline 1 at 0/6000000, the old primary went on archiving timeline 1.
 *   B1  tli 1  0/2000028 - 0/2000100  stop T0
 *   B2  tli 1  0/5000028 - 0/5000100  stop T0 + 3600
 *   B3  tli 2  0/8000028 - 0/8000100  stop T0 + 7200
 *   WAL tli 1: segments 2..7, tli 2: 6..9, archived at T0 + 10000 + segno
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fx_repo.h"
#include "pgpitr/repo/catalog.h"
#include "pgpitr/repo/verify_check.h"
#include "pgpitr/pipe/pipe.h"

static FxRepo fx;

static void setup(void)
{
    fx_repo_init(&fx, "catalog");
    fx_save_backup(&fx, "B2", 1, 0x5000028, 0x5000100, FX_T0 + 3600, NULL);
    fx_save_backup(&fx, "B1", 1, 0x2000028, 0x2000100, FX_T0, NULL);
    fx_save_backup(&fx, "B3", 2, 0x8000028, 0x8000100, FX_T0 + 7200, NULL);
    fx_put_history(&fx, 2, "1\t0/6000000\tbefore 2026-11-22 04:30:00+00\n");
    for (uint64_t s = 2; s <= 7; s++)
        fx_put_wal(&fx, 1, s, NULL, FX_T0 + 10000 + (int64_t)s, NULL);
    for (uint64_t s = 6; s <= 9; s++)
        fx_put_wal(&fx, 2, s, NULL, FX_T0 + 10000 + (int64_t)s, NULL);
}

static void teardown(void)
{
    fx_repo_free(&fx);
}

static void load(Catalog *c)
{
    PgpErr err = {0};
    int rc = catalog_load(fx.repo, CATALOG_LOAD_BACKUPS | CATALOG_LOAD_WAL, c, &err);
    ck_assert_msg(rc == 0, "catalog_load: %s", err.msg);
}

static const CatalogBackup *backup(const Catalog *c, const char *label)
{
    for (size_t i = 0; i < c->n_backups; i++)
        if (strcmp(c->backups[i].label, label) == 0)
            return &c->backups[i];
    ck_abort_msg("backup %s not in the catalog", label);
    return NULL;
}

static void put_raw(const char *path)
{
    PgpErr err = {0};
    ck_assert_int_eq(storage_put_all(fx.st, path, 0, "x", 1, &err), 0);
}

START_TEST(test_lists_everything_sorted)
{
    Catalog c;
    load(&c);
    ck_assert(c.bound);
    ck_assert_uint_eq(c.id.system_identifier, FX_SYSID);
    ck_assert_uint_eq(c.n_backups, 3);
    ck_assert_str_eq(c.backups[0].label, "B1");
    ck_assert_str_eq(c.backups[1].label, "B2");
    ck_assert_str_eq(c.backups[2].label, "B3");
    ck_assert_int_eq(c.backups[0].status, CATALOG_BACKUP_COMPLETE);
    ck_assert_uint_eq(c.n_wal, 10);
    ck_assert_uint_eq(c.n_histories, 1);
    ck_assert_uint_eq(c.n_timelines, 2);
    const CatalogTimeline *t1 = catalog_timeline(&c, 1), *t2 = catalog_timeline(&c, 2);
    ck_assert_ptr_nonnull(t1);
    ck_assert_ptr_nonnull(t2);
    ck_assert(!t1->history_found);
    ck_assert(t2->history_found && !t2->history_bad);
    ck_assert_uint_eq(t2->history.n, 2);
    ck_assert_uint_eq(t1->n_segments, 6);
    ck_assert_uint_eq(t2->n_segments, 4);
    ck_assert_uint_eq(t2->first_wal, 6);
    ck_assert_uint_eq(c.wal[t2->first_wal].segno, 6);
    ck_assert_str_eq(c.wal[0].name, "000000010000000000000002");
    ck_assert_int_eq(c.wal[0].mtime, FX_T0 + 10002);
    ck_assert_int_eq(c.wal[0].codec, PIPE_CODEC_ZSTD);
    ck_assert_ptr_nonnull(catalog_segment(&c, 2, 9));
    ck_assert_ptr_null(catalog_segment(&c, 2, 5));
    ck_assert_str_eq(catalog_newest_complete(&c)->label, "B3");
    ck_assert_uint_eq(c.n_foreign, 0);
    CatalogGap *gaps;
    size_t n;
    PgpErr err = {0};
    ck_assert_int_eq(catalog_gaps(&c, &gaps, &n, &err), 0);
    ck_assert_uint_eq(n, 0);
    catalog_free(&c);
}
END_TEST

START_TEST(test_reach_follows_the_history)
{
    Catalog c;
    load(&c);
    CatalogReach r;
    /* B1 on timeline 2: segments 2..5 of timeline 1, then 6..9 of timeline 2 */
    catalog_reach(&c, backup(&c, "B1"), 2, &r);
    ck_assert(r.on_history && r.consistent && !r.gap);
    ck_assert_uint_eq(r.start_segno, 2);
    ck_assert_uint_eq(r.end_segno, 9);
    ck_assert_uint_eq(r.earliest_lsn, 0x2000100);
    ck_assert_uint_eq(r.latest_lsn, 0xA000000);
    ck_assert_int_eq(r.earliest_time, FX_T0);
    ck_assert_int_eq(r.latest_time, FX_T0 + 10009);
    ck_assert_uint_eq(r.missing_segno, 10);
    ck_assert_uint_eq(r.missing_tli, 2);
    /* on timeline 1 it ends with timeline 1's own segment 7 */
    catalog_reach(&c, backup(&c, "B1"), 1, &r);
    ck_assert(r.on_history && r.consistent);
    ck_assert_uint_eq(r.end_segno, 7);
    ck_assert_uint_eq(r.latest_lsn, 0x8000000);
    /* B3 is on timeline 2 only */
    catalog_reach(&c, backup(&c, "B3"), 1, &r);
    ck_assert(!r.on_history && !r.consistent);
    catalog_reach(&c, backup(&c, "B3"), 2, &r);
    ck_assert(r.on_history && r.consistent);
    ck_assert_uint_eq(r.start_segno, 8);
    catalog_free(&c);
}
END_TEST

START_TEST(test_gap_cuts_the_reach)
{
    fx_remove_wal(&fx, 1, 4);
    Catalog c;
    load(&c);
    CatalogGap *gaps;
    size_t n;
    PgpErr err = {0};
    ck_assert_int_eq(catalog_gaps(&c, &gaps, &n, &err), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(gaps[0].tli, 1);
    ck_assert_uint_eq(gaps[0].from_segno, 4);
    ck_assert_uint_eq(gaps[0].to_segno, 4);
    free(gaps);
    CatalogReach r;
    catalog_reach(&c, backup(&c, "B1"), 2, &r);
    ck_assert(r.consistent && r.gap);           /* B1 itself needs only segment 2 */
    ck_assert_uint_eq(r.end_segno, 3);
    ck_assert_uint_eq(r.missing_segno, 4);
    ck_assert_uint_eq(r.missing_tli, 1);
    catalog_reach(&c, backup(&c, "B2"), 2, &r);
    ck_assert(r.consistent && !r.gap);
    ck_assert_uint_eq(r.end_segno, 9);
    catalog_free(&c);
}
END_TEST

START_TEST(test_missing_backup_wal_is_inconsistent)
{
    fx_remove_wal(&fx, 1, 5);
    Catalog c;
    load(&c);
    CatalogReach r;
    catalog_reach(&c, backup(&c, "B2"), 1, &r);
    ck_assert(r.on_history && !r.consistent && r.gap);
    ck_assert_uint_eq(r.missing_segno, 5);
    catalog_free(&c);
}
END_TEST

START_TEST(test_conflict_is_not_reachable)
{
    fx_put_wal(&fx, 1, 3, "other content", FX_T0 + 20000, NULL);
    Catalog c;
    load(&c);
    ck_assert_uint_eq(c.n_wal, 11);
    const CatalogWal *w = catalog_segment(&c, 1, 3);
    ck_assert(w != NULL && w->conflict);
    CatalogReach r;
    catalog_reach(&c, backup(&c, "B1"), 1, &r);
    ck_assert_uint_eq(r.end_segno, 2);
    ck_assert_uint_eq(r.missing_segno, 3);
    ck_assert(r.gap);
    catalog_free(&c);
}
END_TEST

START_TEST(test_incomplete_corrupt_foreign_and_other_files)
{
    put_raw("backup/B0-incomplete/pg_data.tmp");
    PgpErr err = {0};
    ck_assert_int_eq(storage_put_all(fx.st, "backup/BX/manifest.json", 0, "{not json", 9, &err), 0);
    put_raw("archive/wal/0000000100000000/junk");
    put_raw("archive/wal/notadir");
    char sha[PIPE_SHA256_HEX_LEN + 1];
    memset(sha, 'b', PIPE_SHA256_HEX_LEN);
    sha[PIPE_SHA256_HEX_LEN] = '\0';
    char path[REPO_PATH_MAX];
    repo_archive_object_path("000000010000000000000003.partial", sha, PIPE_CODEC_ZSTD, path, NULL);
    put_raw(path);
    repo_archive_object_path("000000010000000000000002.00000028.backup", sha, PIPE_CODEC_NONE,
                             path, NULL);
    put_raw(path);
    Catalog c;
    load(&c);
    ck_assert_uint_eq(c.n_backups, 5);
    /* incomplete and corrupt first, by label */
    ck_assert_str_eq(c.backups[0].label, "B0-incomplete");
    ck_assert_int_eq(c.backups[0].status, CATALOG_BACKUP_INCOMPLETE);
    ck_assert_str_eq(c.backups[1].label, "BX");
    ck_assert_int_eq(c.backups[1].status, CATALOG_BACKUP_CORRUPT);
    ck_assert(c.backups[1].error[0] != '\0');
    ck_assert_ptr_null(c.backups[1].manifest);
    ck_assert_uint_eq(c.n_foreign, 2);
    ck_assert_uint_eq(c.n_wal, 12);
    ck_assert_uint_eq(catalog_timeline(&c, 1)->n_segments, 6);
    ck_assert_uint_eq(catalog_timeline(&c, 1)->n_wal, 8);
    const CatalogWal *w = catalog_segment(&c, 1, 3);
    ck_assert(w != NULL && w->kind == PG_WALFILE_SEGMENT && !w->conflict);
    ck_assert_int_eq(c.wal[0].kind, PG_WALFILE_SEGMENT);
    ck_assert_int_eq(c.wal[1].kind, PG_WALFILE_BACKUP);
    catalog_free(&c);
}
END_TEST

START_TEST(test_bad_history_is_recorded)
{
    fx_put_history(&fx, 3, "this is not a history\n");
    fx_put_wal(&fx, 3, 9, NULL, FX_T0 + 30000, NULL);
    Catalog c;
    load(&c);
    const CatalogTimeline *t3 = catalog_timeline(&c, 3);
    ck_assert_ptr_nonnull(t3);
    ck_assert(t3->history_bad && !t3->history_found);
    ck_assert(t3->error[0] != '\0');
    ck_assert_uint_eq(t3->history.n, 1);
    catalog_free(&c);
}
END_TEST

START_TEST(test_unbound_is_empty)
{
    FxRepo empty;
    memset(&empty, 0, sizeof empty);
    snprintf(empty.tdir, sizeof empty.tdir, "/tmp/pgpitr_fx_empty.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(empty.tdir));
    PgpErr err = {0};
    ck_assert_int_eq(storage_posix_new(empty.tdir, false, &empty.st, &err), 0);
    ck_assert_int_eq(repo_open(empty.st, &empty.repo, &err), 0);
    Catalog c;
    ck_assert_int_eq(catalog_load(empty.repo, CATALOG_LOAD_BACKUPS | CATALOG_LOAD_WAL, &c, &err),
                     0);
    ck_assert(!c.bound);
    ck_assert_uint_eq(c.n_backups + c.n_wal + c.n_timelines, 0);
    catalog_free(&c);
    fx_repo_free(&empty);
}
END_TEST

/* repo.json is read from the repository: every number in it within what it stands for. */
START_TEST(test_repo_json_tampered)
{
    static const char *const bad[] = {
        "{\"format\": 1, \"system_identifier\": \"-1\", \"pg_major\": 15, \"wal_segment_size\": 16777216}",
        "{\"format\": 1, \"system_identifier\": \"18446744073709551616\", \"pg_major\": 15, "
        "\"wal_segment_size\": 16777216}",
        "{\"format\": 1, \"system_identifier\": \" 7\", \"pg_major\": 15, \"wal_segment_size\": 16777216}",
        "{\"format\": 1, \"system_identifier\": \"7\", \"pg_major\": 4294967311, \"wal_segment_size\": 16777216}",
        "{\"format\": 1, \"system_identifier\": \"7\", \"pg_major\": 15, \"wal_segment_size\": 3}",
        "{\"format\": 1, \"system_identifier\": \"7\", \"pg_major\": 15, \"wal_segment_size\": 1099511627776}",
        "{\"format\": 1, \"system_identifier\": \"7\", \"pg_major\": 15, \"wal_segment_size\": -16777216}",
    };
    static const char good[] =
        "{\"format\": 1, \"system_identifier\": \"18446744073709551615\", \"pg_major\": 15, "
        "\"wal_segment_size\": 1048576}";
    for (size_t i = 0; i <= sizeof bad / sizeof bad[0]; i++) {
        const char *text = i < sizeof bad / sizeof bad[0] ? bad[i] : good;
        FxRepo r;
        memset(&r, 0, sizeof r);
        snprintf(r.tdir, sizeof r.tdir, "/tmp/pgpitr_fx_repojson.XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(r.tdir));
        PgpErr err = {0};
        ck_assert_int_eq(storage_posix_new(r.tdir, false, &r.st, &err), 0);
        ck_assert_int_eq(storage_put_all(r.st, "repo.json", 0, text, strlen(text), &err), 0);
        int rc = repo_open(r.st, &r.repo, &err);
        if (text == good) {
            ck_assert_msg(rc == 0, "%s", err.msg);
            ck_assert_uint_eq(repo_identity(r.repo)->system_identifier, UINT64_MAX);
            ck_assert_uint_eq(repo_identity(r.repo)->wal_segsize, 1048576);
        } else {
            ck_assert_msg(rc == PGP_ERR_CORRUPT, "accepted: %s", text);
            ck_assert_ptr_null(r.repo);
        }
        fx_repo_free(&r);
    }
}
END_TEST

/* The catalog keeps manifest headers only; the entries of one backup are read on demand, and
 * verify refuses to plan a backup whose entries were not read (it would verify nothing). */
START_TEST(test_headers_only_entries_on_demand)
{
    static const char *const objs[] = {"objects/aa/a.zst", "objects/bb/b.zst"};
    fx_save_backup_objects(&fx, "B4", 2, 0x9000028, 0x9000100, FX_T0 + 9000, objs, 2, NULL);
    Catalog c;
    load(&c);
    CatalogBackup *b = (CatalogBackup *)backup(&c, "B4");
    ck_assert_ptr_null(b->manifest->entries);
    ck_assert_uint_eq(b->manifest->n_entries, 0);
    ck_assert_uint_ge(b->manifest->n_listed, 2);
    size_t listed = b->manifest->n_listed;
    VerifyPlan plan;
    PgpErr err = {0};
    ck_assert_int_eq(verify_plan_build(&c, b, &plan, &err), PGP_ERR_INTERNAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "entries of backup \"B4\" not loaded"));
    ck_assert_int_eq(catalog_load_entries(fx.repo, b, &err), 0);
    ck_assert_uint_eq(b->manifest->n_entries, listed);
    ck_assert_str_eq(b->manifest->label, "B4");
    /* verify plans from the packed entries (catalog_load_files), not from manifest->entries */
    ck_assert_int_eq(verify_plan_build(&c, b, &plan, &err), PGP_ERR_INTERNAL);
    catalog_drop_entries(b);
    ck_assert_int_eq(catalog_load_files(fx.repo, b, &err), 0);
    ck_assert_ptr_nonnull(b->files);
    ck_assert_ptr_null(b->manifest->entries);
    ck_assert_uint_eq(manifest_pack_count(b->files), listed);
    ck_assert_str_eq(b->manifest->label, "B4");
    ck_assert_int_eq(verify_plan_build(&c, b, &plan, &err), 0);
    verify_plan_free(&plan);
    catalog_drop_entries(b);
    ck_assert_ptr_null(b->files);
    ck_assert_ptr_null(b->manifest->entries);
    ck_assert_uint_eq(b->manifest->n_listed, listed);
    catalog_free(&c);
}
END_TEST

START_TEST(test_format_time)
{
    char out[32];
    catalog_format_time(FX_T0, out);
    ck_assert_str_eq(out, "2026-11-22T03:00:00Z");
    catalog_format_time(0, out);
    ck_assert_str_eq(out, "-");
}
END_TEST

Suite *suite_catalog(void)
{
    Suite *s = suite_create("catalog");
    TCase *tc = tcase_create("catalog");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_lists_everything_sorted);
    tcase_add_test(tc, test_reach_follows_the_history);
    tcase_add_test(tc, test_gap_cuts_the_reach);
    tcase_add_test(tc, test_missing_backup_wal_is_inconsistent);
    tcase_add_test(tc, test_conflict_is_not_reachable);
    tcase_add_test(tc, test_incomplete_corrupt_foreign_and_other_files);
    tcase_add_test(tc, test_bad_history_is_recorded);
    tcase_add_test(tc, test_unbound_is_empty);
    tcase_add_test(tc, test_repo_json_tampered);
    tcase_add_test(tc, test_headers_only_entries_on_demand);
    tcase_add_test(tc, test_format_time);
    suite_add_tcase(s, tc);
    return s;
}
