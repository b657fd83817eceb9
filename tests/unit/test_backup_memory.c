/*
 * test_backup_memory.c - issue #14's memory bound for `pgpitr backup`, at the seam where a
 * backup holds every file of the cluster at once: its own manifest's entries (kept packed
 * from the first file: manifest_use_pack, as backup_run does), then, once the stream ended,
 * PostgreSQL's backup_manifest as received (its text), walked one file at a time to check
 * every file against it (backup_check_pg_manifest_text, as backup_run does). A fabricated
 * cluster of 400,000 files (each its own content, CRC32C checksums as PostgreSQL 15+ writes them when
 * pgpitr asks) must stay under 300 bytes a file of peak RSS growth, the target for the
 * whole command. Saving the manifest streams it (manifest_save): not here.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fx_pgmanifest.h"
#include "fx_tool.h"
#include "pgpitr/backup/backup_finish.h"
#include "pgpitr/backup/backup_store.h"
#include "pgpitr/pg/pgmanifest.h"
#include "pgpitr/pipe/pipe.h"
#include "pgpitr/repo/manifest.h"
#include "pgpitr/repo/manifest_pack.h"
#include "pgpitr/repo/repo_layout.h"

static uint32_t crc_of(size_t i)
{
    return (uint32_t)(i * 2654435761u);
}

/* File i: base/16384/<10000 + i>, 8192 bytes, its own content (sha256 and crc32c). */
static void add_files(BackupManifest *m, size_t n)
{
    PgpErr err = {0};
    for (size_t i = 0; i < n; i++) {
        char path[64], object[REPO_PATH_MAX];
        ManifestEntry e = {.path = path, .type = MANIFEST_FILE, .size = 8192, .mode = 0600,
                           .mtime = 1795316400, .stored_size = 100, .object = object,
                           .crc32c = crc_of(i), .has_crc32c = true};
        snprintf(path, sizeof path, "base/16384/%zu", 10000 + i);
        snprintf(e.sha256, sizeof e.sha256, "%064zx", i * 2654435761u);
        ck_assert_int_eq(repo_object_path(e.sha256, PIPE_CODEC_ZSTD, object, &err), 0);
        ck_assert_int_eq(manifest_add_entry(m, &e, &err), 0);
    }
}

/* The backup_manifest PostgreSQL would send for those files: file `bad` (if < n) with another
 * CRC, and line `listed_twice` naming file 0 again. */
static size_t bad_file = SIZE_MAX;
static size_t listed_twice = SIZE_MAX;

static void pg_file(size_t i, size_t *id, uint32_t *crc)
{
    *id = i == listed_twice ? 0 : i;
    *crc = crc_of(*id) ^ (*id == bad_file ? 0x100u : 0);
}

static char *pg_text(size_t n, size_t bad, size_t *len)
{
    bad_file = bad;
    return fx_pg_manifest_many(n, pg_file, len);
}

/* Measured 267 bytes a file: entries packed (~100: 66 + path + 4 of crc32c + 8 of index), the
 * received text (~150: PostgreSQL writes a line of JSON a file), the check's index (4 bytes and
 * a bit), the summary line's dedup counts (8: a 64-bit digest prefix; the hex text it held
 * before made the whole 323). Bound 300. Parsing backup_manifest into PgManifestFile records first cost 113 more
 * (363); with ManifestEntry lists and a jansson tree of it, as before, about 1,600
 * (230 + 150 + 1216). */
START_TEST(files_and_pg_manifest_bounded)
{
    bool meaningful = !fx_under_memory_tool();
    size_t n = meaningful ? 400000 : 3000, len = 0;
    long before = fx_peak_rss_kib();
    BackupManifest *m = manifest_new();
    ck_assert_ptr_nonnull(m);
    PgpErr err = {0};
    ck_assert_int_eq(manifest_use_pack(m, &err), 0);
    add_files(m, n);
    /* the summary line's counts: every file noted, as the pool's done callback does */
    BackupDedup dedup = {0};
    for (size_t i = 0; i < n; i++) {
        BackupStoreResult res = {.reused = i % 3 != 0};
        snprintf(res.sha256_hex, sizeof res.sha256_hex, "%064zx", i * 2654435761u);
        backup_dedup_note(&dedup, &res);
    }
    char *text = pg_text(n, SIZE_MAX, &len);
    int rc = backup_check_pg_manifest_text(m, text, len, &err);
    ck_assert_msg(rc == 0, "%s", err.msg);
    long per = (fx_peak_rss_kib() - before) * 1024 / (long)n;
    uint64_t unchanged = 0, dups = 0;
    ck_assert(backup_dedup_counts(&dedup, &unchanged, &dups));
    ck_assert_uint_eq(unchanged + dups, n - (n + 2) / 3);
    backup_dedup_free(&dedup);
    ck_assert_ptr_null(m->entries);
    ck_assert_uint_eq(m->n_entries, n);
    ManifestUnpacked u;
    const ManifestEntry *e = manifest_entry_at(m, n - 1, &u);
    ck_assert(e->has_crc32c);
    ck_assert_uint_eq(e->crc32c, crc_of(n - 1));
    ck_assert_int_eq(manifest_pack_check_duplicates(m->pack, &err), 0);
    free(text);
    manifest_free(m);
    ck_assert_msg(per < 300 || !meaningful, "%ld bytes a file", per);
}
END_TEST

/* The check as backup runs it (backup_check_pg_manifest_text: backup_manifest walked, no parsed
 * copy kept) finds each difference through the packed entries (it reads crc32c back). */
START_TEST(packed_entries_still_checked)
{
    size_t len = 0;
    BackupManifest *m = manifest_new();
    PgpErr err = {0};
    ck_assert_int_eq(manifest_use_pack(m, &err), 0);
    add_files(m, 10);
    char *text = pg_text(10, 7, &len);
    ck_assert_int_eq(backup_check_pg_manifest_text(m, text, len, &err), PGP_ERR_CORRUPT);
    ck_assert_ptr_nonnull(strstr(err.msg, "\"base/16384/10007\": received content has crc32c"));
    ck_assert_ptr_null(strstr(err.msg, "is invalid"));
    free(text);
    text = pg_text(11, SIZE_MAX, &len);                  /* one more file than received */
    ck_assert_int_eq(backup_check_pg_manifest_text(m, text, len, &err), PGP_ERR_CORRUPT);
    ck_assert_ptr_nonnull(strstr(err.msg, "backup_manifest lists 11 files but 10 were received"));
    free(text);
    text = pg_text(9, SIZE_MAX, &len);                   /* one file received but not listed */
    ck_assert_int_eq(backup_check_pg_manifest_text(m, text, len, &err), PGP_ERR_CORRUPT);
    ck_assert_ptr_nonnull(strstr(err.msg, "\"base/16384/10009\" was received but is not in"));
    text[len - 3] ^= 1;                                  /* the checksum line: does not parse */
    ck_assert_int_eq(backup_check_pg_manifest_text(m, text, len, &err), PGP_ERR_CORRUPT);
    ck_assert_ptr_nonnull(strstr(err.msg, "backup_manifest is invalid"));
    free(text);
    listed_twice = 10;                                   /* file 0 listed twice */
    text = pg_text(11, SIZE_MAX, &len);
    ck_assert_int_eq(backup_check_pg_manifest_text(m, text, len, &err), PGP_ERR_CORRUPT);
    ck_assert_ptr_nonnull(strstr(err.msg, "duplicate path \"base/16384/10000\""));
    free(text);
    ck_assert_int_eq(manifest_use_pack(m, &err), PGP_ERR_INTERNAL);   /* entries exist */
    manifest_free(m);
}
END_TEST

Suite *suite_backup_memory(void)
{
    Suite *s = suite_create("backup_memory");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, files_and_pg_manifest_bounded);
    tcase_add_test(tc, packed_entries_still_checked);
    suite_add_tcase(s, tc);
    return s;
}
